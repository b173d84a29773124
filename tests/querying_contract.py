"""The column types of the CSV contract, and the SQL statements of ``docs/querying.md``.

Types come from the contract's own words in :data:`airflow_provider_tiktok.reports.COLUMN_DOCS` (the
README's column table): "(integer" -> integer, ``YYYY-MM-DD`` -> date, "ISO-8601 UTC" -> timestamp,
anything else text. ``test_querying_docs`` checks these against the writer's integer fields.
"""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_tiktok.reports import COLUMN_DOCS

QUERYING_DOC = Path(__file__).resolve().parent.parent / "docs" / "querying.md"
#: A named statement in the doc: a fenced block opened with "```sql <name>".
_SQL_BLOCK = re.compile(r"^```sql (?P<name>[a-z0-9-]+)\n(?P<sql>.*?)^```$", re.MULTILINE | re.DOTALL)


def contract_type(column: str) -> str:
    """``integer``, ``date``, ``timestamp`` or ``text``: the documented type of a CSV column."""
    meaning = COLUMN_DOCS[column]
    if "(integer" in meaning:
        return "integer"
    if "YYYY-MM-DD" in meaning:
        return "date"
    if "ISO-8601 UTC" in meaning:
        return "timestamp"
    return "text"


def sql_statements() -> dict[str, str]:
    """Every named SQL block of ``docs/querying.md``, by name."""
    text = QUERYING_DOC.read_text(encoding="utf-8")
    return {m["name"]: m["sql"] for m in _SQL_BLOCK.finditer(text)}
