"""README.md stays the true front door: the CSV column table, the settings table and the commands."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_tiktok.report_settings import SETTING_DEFAULTS
from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, COLUMN_DOCS, VIDEO_COLUMNS

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(start: str, end: str) -> str:
    begin = README.index(start)
    return README[begin : README.index(end, begin)]


def _where(column: str) -> str:
    in_video, in_account = column in VIDEO_COLUMNS, column in ACCOUNT_COLUMNS
    return "both" if in_video and in_account else "video" if in_video else "account"


def test_column_table_is_the_writers_contract() -> None:
    table = _section("<!-- columns:start", "<!-- columns:end -->")
    rows = re.findall(r"^\| `([a-z_]+)` \| (\w+) \| (.+) \|$", table, flags=re.MULTILINE)
    expected = [*VIDEO_COLUMNS, *(c for c in ACCOUNT_COLUMNS if c not in VIDEO_COLUMNS)]
    assert [name for name, _, _ in rows] == expected
    for name, where, meaning in rows:
        assert where == _where(name), name
        assert meaning == COLUMN_DOCS[name], name


def test_settings_table_lists_every_setting() -> None:
    table = _section("### The report's settings", "The schedule is read")
    documented = re.findall(r"^\| `([a-z_]+)`[^|]*\|", table, flags=re.MULTILINE)
    assert set(documented) == {*SETTING_DEFAULTS, "accounts"}


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)", README))
    assert {"demo", "test", "airflow", "bench"} <= named
    assert named <= targets


def test_the_two_commands_open_the_readme_and_ci_runs_the_test_one() -> None:
    first_block = README[README.index("```bash") : README.index("```", README.index("```bash") + 3)]
    assert [line.split()[:2] for line in first_block.splitlines()[1:]] == [["make", "demo"], ["make", "test"]]
    assert re.search(r"^make test$", (REPO / ".ci" / "run").read_text(), flags=re.MULTILINE)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an absolute URL
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.MULTILINE)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken
