"""docs/querying.md stays true: its Athena and Trino DDL name every column of the CSV contract, in file
order, with the contract's type (neither engine runs here, so the statements are parsed, not run; the
DuckDB statements are run against real files by ``tests/dags/test_query_engine.py``)."""

from __future__ import annotations

import re

import pytest

from airflow_provider_tiktok import reports
from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS
from tests.querying_contract import contract_type, sql_statements

STATEMENTS = sql_statements()
#: How each view turns the raw text column ``{c}`` into the contract's type (Athena and Trino SQL).
VIEW_EXPRESSIONS = {
    "text": (r"{c}", r"NULLIF\({c}, ''\)"),
    "integer": (r"CAST\(NULLIF\({c}, ''\) AS bigint\)",),
    "date": (r"CAST\({c} AS date\)",),
    "timestamp": (r"from_iso8601_timestamp\({c}\)", r"from_iso8601_timestamp\(NULLIF\({c}, ''\)\)"),
}


def table_columns(ddl: str) -> list[tuple[str, str]]:
    """``(name, type)`` of a ``CREATE ... TABLE name (...)`` column list."""
    body = ddl[ddl.index("(") + 1 : ddl.index("\n)")]
    return re.findall(r"^\s+([a-z_]+) ([a-z]+),?$", body, flags=re.MULTILINE)


def view_columns(ddl: str) -> list[tuple[str, str]]:
    """``(name, expression)`` of a ``CREATE VIEW ... AS SELECT ...`` column list."""
    select = ddl[ddl.index("SELECT") + len("SELECT") : ddl.index("\nFROM")]
    return [
        (name, expr) for expr, name in re.findall(r"^\s+(.+) AS ([a-z_]+),?$", select, flags=re.MULTILINE)
    ]


def test_the_types_read_from_the_contract_are_the_writers() -> None:
    integers = {c for c in (*VIDEO_COLUMNS, *ACCOUNT_COLUMNS) if contract_type(c) == "integer"}
    assert integers == {*reports._VIDEO_INT_FIELDS, *reports.ACCOUNT_STAT_FIELDS}
    assert [c for c in VIDEO_COLUMNS if contract_type(c) == "date"] == ["report_date"]
    assert [c for c in VIDEO_COLUMNS if contract_type(c) == "timestamp"] == ["fetched_at", "create_time"]
    assert contract_type("video_id") == "text"
    assert contract_type("account_open_id") == "text"


@pytest.mark.parametrize(
    ("name", "text_type"), [("athena-video-stats", "string"), ("trino-video-stats", "varchar")]
)
def test_raw_tables_hold_every_column_as_text_in_file_order(name: str, text_type: str) -> None:
    columns = table_columns(STATEMENTS[name])
    partitions = ["dt"] if name.startswith("athena") else ["dt", "account"]
    if name.startswith("athena"):
        assert re.search(r"PARTITIONED BY \(dt string\)", STATEMENTS[name])
    else:
        assert "partitioned_by = ARRAY['dt', 'account']" in STATEMENTS[name]
    # The OpenCSV SerDe reads non-text types only from Unix numbers and no empty cells: text, then a view.
    assert columns == [(c, text_type) for c in VIDEO_COLUMNS] + (
        [] if name.startswith("athena") else [(p, text_type) for p in partitions]
    )
    assert (
        "skip.header.line.count' = '1'" in STATEMENTS[name]
        or "skip_header_line_count = 1" in STATEMENTS[name]
    )


def test_athena_projects_the_dt_partition_over_the_hive_keys() -> None:
    ddl = STATEMENTS["athena-video-stats"]
    assert "'projection.enabled' = 'true'" in ddl
    assert "'projection.dt.type' = 'date'" in ddl
    assert "'projection.dt.format' = 'yyyy-MM-dd'" in ddl
    assert "'storage.location.template' = 's3://your-bucket/tiktok/video_stats/dt=${dt}/'" in ddl
    assert "LOCATION 's3://your-bucket/tiktok/video_stats/'" in ddl


@pytest.mark.parametrize("name", ["athena-video-stats-view", "trino-video-stats-view"])
def test_views_give_every_column_the_contract_type(name: str) -> None:
    ddl = STATEMENTS[name]
    partitions = ["dt"] if name.startswith("athena") else ["dt", "account"]
    columns = view_columns(ddl)
    assert [column for column, _ in columns] == [*VIDEO_COLUMNS, *partitions]
    for column, expression in columns:
        kind = "date" if column == "dt" else "text" if column == "account" else contract_type(column)
        patterns = [p.format(c=column) for p in VIEW_EXPRESSIONS[kind]]
        assert any(re.fullmatch(p, expression) for p in patterns), (column, kind, expression)
    # Only video_stats.csv: a date's folders also hold account_stats.csv and _manifest.json.
    assert ddl.rstrip().endswith("""WHERE "$path" LIKE '%/video_stats.csv';""")


def test_duckdb_views_name_every_column_with_the_contract_type() -> None:
    duckdb_types = {"integer": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMPTZ", "text": "VARCHAR"}
    for name, columns in (("duckdb-video-stats", VIDEO_COLUMNS), ("duckdb-account-stats", ACCOUNT_COLUMNS)):
        declared = re.findall(r"^\s+'([a-z_]+)': '([A-Z]+)',?$", STATEMENTS[name], flags=re.MULTILINE)
        assert declared == [(c, duckdb_types[contract_type(c)]) for c in columns], name
