"""docs/runbook.md stays true to the files it documents: services, settings, URLs and the CSV contract."""

from __future__ import annotations

import re
from typing import Any

import pytest
from compose_model import REPO_ROOT, environment_of

RUNBOOK = (REPO_ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")


def test_commands_name_real_services(compose_raw: dict[str, Any]) -> None:
    services = set(compose_raw["services"])
    named = re.findall(r"docker compose (?:exec|run --rm|cp|restart|up -d) ([a-z][a-z0-9-]+)", RUNBOOK)
    assert named, "the runbook shows no docker compose command"
    assert set(named) - {"--build", "--scale"} <= services


def test_settings_table_matches_env_example(env_example: dict[str, str]) -> None:
    section = RUNBOOK[RUNBOOK.index("### Settings (.env)") : RUNBOOK.index("## 2.")]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert documented - set(env_example) == set(), "documented but not in .env.example"
    assert set(env_example) - documented == set(), "in .env.example but not documented"


def test_local_redirect_uri_is_the_one_the_stack_uses(services: dict[str, dict[str, Any]]) -> None:
    redirect_uri = environment_of(services["tiktok-demo-setup"])["TIKTOK_REDIRECT_URI"]
    assert f"| local (this stack) | `{redirect_uri}` |" in RUNBOOK


@pytest.mark.parametrize(
    ("heading", "columns_name"),
    [
        ("`video_stats.csv`, one row per", "VIDEO_COLUMNS"),
        ("`account_stats.csv`, one row:", "ACCOUNT_COLUMNS"),
    ],
)
def test_csv_contract_matches_the_writer(heading: str, columns_name: str) -> None:
    from airflow_provider_tiktok import reports

    start = RUNBOOK.index(heading)
    paragraph = RUNBOOK[start : RUNBOOK.index("\n\n", start)]
    # The first backticked, comma-separated list after the file name.
    listed = re.search(r"`([a-z_]+(?:,\s*[a-z_]+)+)`", paragraph[len(heading) :])
    assert listed is not None, paragraph
    columns = [name.strip() for name in listed.group(1).split(",")]
    assert columns == list(getattr(reports, columns_name))


def test_s3_layout_matches_the_default_key_templates() -> None:
    from airflow_provider_tiktok import report_settings as rs

    layout = RUNBOOK[RUNBOOK.index("## 6.") :]
    for template in (
        rs.DEFAULT_KEY_TEMPLATE,
        rs.DEFAULT_ACCOUNT_KEY_TEMPLATE,
        rs.DEFAULT_MANIFEST_KEY_TEMPLATE,
    ):
        key = template.format(report_date="YYYY-MM-DD", open_id="<open_id>")
        assert f"s3://<bucket>/{key}" in layout
