"""The compatibility claims say what ``make compat`` proves: pyproject's bounds and classifiers, the
committed constraints and the table in docs/compatibility.md all follow ``compat/matrix.py``'s matrix.
(The matrix itself takes about 45 minutes, so it runs as ``make compat``, not here.)"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from compat.matrix import AIRFLOW, MATRIX, PYTHONS, SCHEDULER_DAG_CHECK, constraints_file

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DOC = (REPO / "docs" / "compatibility.md").read_text(encoding="utf-8")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_every_pair_has_pinned_constraints_of_its_airflow() -> None:
    for airflow, python in MATRIX:
        pins = constraints_file(airflow, python).read_text(encoding="utf-8").splitlines()
        assert f"apache-airflow=={AIRFLOW[airflow]}" in pins
        assert all(re.fullmatch(r"[A-Za-z0-9._-]+(\[[a-z,-]+\])?==\S+", p) for p in pins if p[:1] not in "# ")
    committed = {p.name for p in (REPO / "compat" / "constraints").glob("*.txt")}
    assert committed == {constraints_file(a, p).name for a, p in MATRIX}


def test_the_matrix_covers_oldest_and_newest_of_each() -> None:
    for airflow in AIRFLOW:
        assert {(airflow, python) for python in PYTHONS} <= set(MATRIX)
    proven_pythons = sorted({python for _, python in MATRIX}, key=_minor)
    newest = max(AIRFLOW, key=_minor)
    assert [p for a, p in MATRIX if a == newest] == proven_pythons


def test_pyproject_claims_exactly_the_proven_range() -> None:
    project = PYPROJECT["project"]
    oldest = min(AIRFLOW.values(), key=_minor)
    assert f"apache-airflow>={oldest}" in project["dependencies"]
    pythons = sorted({python for _, python in MATRIX}, key=_minor)
    major, last = _minor(pythons[-1])
    assert project["requires-python"] == f">={pythons[0]},<{major}.{last + 1}"
    classified = [c.rsplit(" ", 1)[1] for c in project["classifiers"] if re.search(r":: 3\.\d+$", c)]
    assert classified == pythons


def test_the_doc_table_lists_every_pair_and_says_how_it_went() -> None:
    table = DOC[DOC.index("<!-- matrix:start -->") : DOC.index("<!-- matrix:end -->")]
    rows = re.findall(r"^\| (\d+\.\d+\.\d+) \| (3\.\d+) \| (.+) \|$", table, flags=re.MULTILINE)
    assert [(version, python) for version, python, _ in rows] == [(AIRFLOW[a], p) for a, p in MATRIX]
    for (airflow, _), (_, _, cells) in zip(MATRIX, rows, strict=True):
        dag = "ok (scheduler)" if airflow in SCHEDULER_DAG_CHECK else "ok"
        assert cells.split(" | ")[:4] == ["ok", "ok", "ok", dag]
