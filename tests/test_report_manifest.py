"""The ``_manifest.json`` contract (:mod:`airflow_provider_tiktok.report_manifest`): one entry per account
the run was meant to report, in that order, complete only when every one landed; a rerun of fewer accounts
keeps the others' entries; the failure message names each failed account and what to do."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_tiktok.report_manifest import (
    MANIFEST_VERSION,
    as_list,
    build_manifest,
    carry_over,
    failure_message,
)
from airflow_provider_tiktok.reports import ACCOUNT_COLUMNS, VIDEO_COLUMNS

AT = datetime(2026, 11, 30, 3, 4, 5, tzinfo=timezone.utc)
URI = "s3://reports/tiktok/video_stats/dt=2026-11-29/_manifest.json"


def summary(conn_id: str, rows: int, skipped: int = 0) -> dict[str, Any]:
    """A report task's ``report_summary`` XCom."""
    return {
        "account_conn_id": conn_id,
        "account": f"@{conn_id[-1]}",
        "open_id": f"open-{conn_id[-1]}",
        "report_date": "2026-11-29",
        "rows": rows,
        "skipped_rows": skipped,
        "bucket": "reports",
        "keys": [f"k/{conn_id}/video_stats.csv", f"k/{conn_id}/account_stats.csv"],
        "written_at": "2026-11-30T03:00:00Z",
    }


def manifest(
    accounts: list[str],
    summaries: list[dict[str, Any]],
    errors: list[dict[str, Any]] | None = None,
    run_id: str = "scheduled__2026-11-29T02:00:00+00:00",
) -> dict[str, Any]:
    return build_manifest(
        accounts=accounts,
        summaries=summaries,
        errors=errors or [],
        report_date="2026-11-29",
        bucket="reports",
        timezone_name="Europe/Paris",
        run_id=run_id,
        dag_id="tiktok_daily_report",
        generated_at=AT,
    )


# -- as_list ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pulled", "expected"),
    [
        (None, []),
        ({"a": 1}, [{"a": 1}]),
        ([{"a": 1}, None, {"b": 2}], [{"a": 1}, {"b": 2}]),  # an unfinished map index pulls None
        ([None, None], []),
        ([], []),
    ],
)
def test_as_list_normalises_what_xcom_pull_returns_over_map_indexes(pulled: Any, expected: list[Any]) -> None:
    assert as_list(pulled) == expected


# -- build_manifest --------------------------------------------------------------------------------------
def test_a_run_where_every_account_landed_is_complete() -> None:
    built = manifest(
        ["tiktok_account_a", "tiktok_account_b"],
        [summary("tiktok_account_b", 7, skipped=1), summary("tiktok_account_a", 5)],
    )
    assert {k: v for k, v in built.items() if k != "accounts"} == {
        "manifest_version": MANIFEST_VERSION,
        "dag_id": "tiktok_daily_report",
        "run_id": "scheduled__2026-11-29T02:00:00+00:00",
        "report_date": "2026-11-29",
        "timezone": "Europe/Paris",
        "generated_at": "2026-11-30T03:04:05Z",
        "bucket": "reports",
        "complete": True,
        "totals": {"accounts": 2, "succeeded": 2, "failed": 0, "rows": 12, "skipped_rows": 1},
        "columns": {"video_stats": list(VIDEO_COLUMNS), "account_stats": list(ACCOUNT_COLUMNS)},
    }
    # One entry per account, in the order the run meant to report them (not the order tasks finished).
    assert [e["account_conn_id"] for e in built["accounts"]] == ["tiktok_account_a", "tiktok_account_b"]
    assert built["accounts"][1] == {
        "account_conn_id": "tiktok_account_b",
        "account": "@b",
        "open_id": "open-b",
        "status": "ok",
        "rows": 7,
        "skipped_rows": 1,
        "keys": ["k/tiktok_account_b/video_stats.csv", "k/tiktok_account_b/account_stats.csv"],
        "written_at": "2026-11-30T03:00:00Z",
    }
    assert json.loads(json.dumps(built)) == built  # what is uploaded is what was built


def test_generated_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    built = build_manifest(
        accounts=[],
        summaries=[],
        errors=[],
        report_date="2026-11-29",
        bucket="reports",
        timezone_name="UTC",
        run_id="r",
        dag_id="d",
    )
    generated = datetime.strptime(built["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before <= generated <= datetime.now(timezone.utc)


def test_a_failed_account_is_an_entry_with_its_error_and_the_run_is_incomplete() -> None:
    built = manifest(
        ["tiktok_account_a", "tiktok_account_b"],
        [summary("tiktok_account_a", 5)],
        [{"account_conn_id": "tiktok_account_b", "error": "Relink TikTok account @b: invalid_grant"}],
    )
    assert built["complete"] is False
    assert built["totals"] == {"accounts": 2, "succeeded": 1, "failed": 1, "rows": 5, "skipped_rows": 0}
    assert built["accounts"][1] == {
        "account_conn_id": "tiktok_account_b",
        "status": "failed",
        "error": "Relink TikTok account @b: invalid_grant",
    }


def test_an_account_with_neither_summary_nor_error_failed_and_says_to_read_its_log() -> None:
    built = manifest(["tiktok_account_a"], [])
    assert built["complete"] is False
    (entry,) = built["accounts"]
    assert entry["status"] == "failed"
    assert entry["error"] == "the report task did not run or did not finish (see its log)"


def test_a_summary_wins_over_an_error_of_an_earlier_try() -> None:
    """A report that failed, then landed on a retry, is ok (its error XCom may still be there)."""
    built = manifest(
        ["tiktok_account_a"],
        [summary("tiktok_account_a", 3)],
        [{"account_conn_id": "tiktok_account_a", "error": "timeout"}],
    )
    assert built["complete"] is True
    assert built["accounts"][0]["status"] == "ok"


def test_summaries_of_accounts_the_run_did_not_mean_to_report_are_left_out() -> None:
    built = manifest(["tiktok_account_a"], [summary("tiktok_account_a", 3), summary("tiktok_account_z", 9)])
    assert [e["account_conn_id"] for e in built["accounts"]] == ["tiktok_account_a"]
    assert built["totals"]["rows"] == 3


def test_missing_counts_in_a_summary_count_as_zero() -> None:
    thin = {"account_conn_id": "tiktok_account_a", "rows": None}
    (entry,) = manifest(["tiktok_account_a"], [thin])["accounts"]
    assert (entry["status"], entry["rows"], entry["skipped_rows"], entry["keys"]) == ("ok", 0, 0, [])


def test_a_run_of_no_account_is_trivially_complete() -> None:
    built = manifest([], [])
    assert built["complete"] is True
    assert built["totals"] == {"accounts": 0, "succeeded": 0, "failed": 0, "rows": 0, "skipped_rows": 0}


# -- carry_over ------------------------------------------------------------------------------------------
ALL = ["tiktok_account_a", "tiktok_account_b", "tiktok_account_c"]


def first_run() -> dict[str, Any]:
    return manifest(ALL, [summary(c, rows) for c, rows in zip(ALL, (5, 7, 11), strict=True)], run_id="first")


@pytest.mark.parametrize("previous", [None, {}, {"accounts": "not a list"}, {"run_id": "x"}])
def test_without_a_usable_earlier_manifest_the_run_is_its_own(previous: Any) -> None:
    built = manifest(["tiktok_account_a"], [summary("tiktok_account_a", 5)])
    assert carry_over(built, previous) is built


def test_a_rerun_of_one_account_keeps_the_others_marked_with_the_run_that_wrote_them() -> None:
    rerun = manifest(["tiktok_account_b"], [summary("tiktok_account_b", 8)], run_id="rerun")
    merged = carry_over(rerun, first_run())
    assert [e["account_conn_id"] for e in merged["accounts"]] == [
        "tiktok_account_b",
        "tiktok_account_a",
        "tiktok_account_c",
    ]
    assert merged["accounts"][0]["rows"] == 8  # this run's entry replaces the earlier one
    assert "run_id" not in merged["accounts"][0]
    assert [e["run_id"] for e in merged["accounts"][1:]] == ["first", "first"]
    assert merged["totals"] == {"accounts": 3, "succeeded": 3, "failed": 0, "rows": 24, "skipped_rows": 0}
    assert merged["complete"] is True
    assert merged["run_id"] == "rerun"


def test_an_entry_keeps_the_run_id_it_already_carries() -> None:
    """Carried twice: the entry names the run that wrote its files, not the run that last carried it."""
    second = carry_over(
        manifest(["tiktok_account_b"], [summary("tiktok_account_b", 8)], run_id="second"), first_run()
    )
    third = carry_over(
        manifest(["tiktok_account_c"], [summary("tiktok_account_c", 1)], run_id="third"), second
    )
    runs = {e["account_conn_id"]: e.get("run_id") for e in third["accounts"]}
    assert runs == {"tiktok_account_c": None, "tiktok_account_b": "second", "tiktok_account_a": "first"}


def test_a_carried_failure_keeps_the_date_incomplete() -> None:
    previous = manifest(
        ALL[:2], [summary("tiktok_account_a", 5)], [{"account_conn_id": "tiktok_account_b", "error": "boom"}]
    )
    merged = carry_over(manifest(["tiktok_account_c"], [summary("tiktok_account_c", 1)]), previous)
    assert merged["complete"] is False
    assert merged["totals"] == {"accounts": 3, "succeeded": 2, "failed": 1, "rows": 6, "skipped_rows": 0}


def test_a_rerun_covering_every_earlier_account_carries_nothing() -> None:
    rerun = manifest(ALL, [summary(c, 1) for c in ALL], run_id="rerun")
    assert carry_over(rerun, first_run()) is rerun


def test_entries_of_a_hand_edited_earlier_manifest_that_are_not_objects_are_dropped() -> None:
    previous = {
        "run_id": "old",
        "accounts": ["junk", {"account_conn_id": "tiktok_account_z", "status": "ok"}],
    }
    merged = carry_over(manifest(["tiktok_account_a"], [summary("tiktok_account_a", 5)]), previous)
    assert [e["account_conn_id"] for e in merged["accounts"]] == ["tiktok_account_a", "tiktok_account_z"]
    assert merged["totals"]["rows"] == 5  # the carried entry had no counts: zero


# -- failure_message -------------------------------------------------------------------------------------
def test_the_failure_message_names_each_failed_account_its_error_the_manifest_and_the_fix() -> None:
    built = manifest(
        ALL,
        [summary("tiktok_account_a", 5)],
        [{"account_conn_id": "tiktok_account_b", "error": "Relink TikTok account @b: invalid_grant"}],
    )
    assert failure_message(built, URI).splitlines() == [
        f"2 of 3 TikTok account(s) were not reported for 2026-11-29 (manifest: {URI}):",
        "- tiktok_account_b: Relink TikTok account @b: invalid_grant",
        "- tiktok_account_c: the report task did not run or did not finish (see its log)",
        "Fix the cause, then clear the failed report tasks of this run to retry only those accounts.",
    ]
