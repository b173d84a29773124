"""Benchmark what keeping tokens valid costs: refresh grants per account-day under TikTok's lifetimes.

Run: ``uv run python bench/bench_token_refresh.py``. The emulator runs in this process with TikTok's
current lifetimes (access 2 h, refresh 180 days) and its clock is driven, so two simulated weeks take
seconds. Each day the daily run refreshes (``refresh_tokens``: 30-minute margin) and then reports every
account (each report asks for 5 minutes of validity); on day 7 a 10-date backfill runs too, one run every
3 simulated minutes, and one report is retried 3 hours after its run. Rotation Variables go to a
temporary sqlite metadata DB. Takes about a minute (most of it the metadata DB's writes).

Target: at most ~1 refresh grant per account-day (a grant only when a token has really aged), against
one per report task if every task refreshed unconditionally (printed as the ratio).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parent))
from bench_hook import configure_airflow_home  # a sibling script, not a package

if TYPE_CHECKING:
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

ACCOUNTS = 5
DAYS = 14
BACKFILL_DAY = 7
BACKFILL_DATES = 10
SCOPES = "user.info.basic,user.info.stats,video.list"
TOKEN_PATH = "/v2/oauth/token/"
DAY = 86400


def link_accounts(emu: TikTokEmulator) -> list[str]:
    """Account connections as env vars, linked at the emulator's current time."""
    from airflow_provider_tiktok.connections import AccountInfo
    from airflow_provider_tiktok.testing.connections import account_connection, app_connection
    from airflow_provider_tiktok.tokens import TokenSet

    os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(app_connection(emu))
    ids = []
    for n, user in enumerate(emu.target_users):
        now = emu_now(emu)
        tokens = TokenSet.from_token_response(
            emu.issue_tokens(user.open_id, scopes=SCOPES), now=now, linked_at=now
        )
        info = AccountInfo(
            f"tiktok_account_b{n}", "tiktok_default", user.open_id, user.display_name, None, now
        )
        os.environ[f"AIRFLOW_CONN_{info.conn_id.upper()}"] = json.dumps(account_connection(info, tokens))
        ids.append(info.conn_id)
    return ids


def emu_now(emu: TikTokEmulator) -> datetime:
    return datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)


def hook(emu: TikTokEmulator, conn_id: str) -> TikTokHook:
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter

    return TikTokHook(conn_id, clock=lambda: emu_now(emu), limiter=SlidingWindowRateLimiter(0))


def run_once(emu: TikTokEmulator, accounts: list[str]) -> int:
    """One DAG run: the refresh task, then one report per account; returns the report tasks run."""
    for conn_id in accounts:
        with hook(emu, conn_id) as refresher:
            refresher.refresh_if_needed()
    emu.clock.advance(30)
    for conn_id in accounts:
        report(emu, conn_id)
    return len(accounts)


def report(emu: TikTokEmulator, conn_id: str) -> None:
    with hook(emu, conn_id) as reporter:
        reporter.valid_tokens()
        reporter.get_user_info(fields=["open_id"])
        sum(1 for _ in reporter.iter_videos(fields=["id"]))


def simulate(emu: TikTokEmulator, accounts: list[str]) -> int:
    """Two weeks of daily runs, a backfill and a late retry; returns the number of report tasks."""
    reports = 0
    start = emu.clock.now()
    for day in range(DAYS):
        emu.clock.advance(start + day * DAY - emu.clock.now())  # the daily run, one day after the last
        reports += run_once(emu, accounts)
        if day == BACKFILL_DAY:
            for _ in range(BACKFILL_DATES):
                emu.clock.advance(180)
                reports += run_once(emu, accounts)
            emu.clock.advance(3 * 3600)  # a report cleared and retried three hours later
            report(emu, accounts[0])
            reports += 1
    return reports


def main() -> None:
    home = configure_airflow_home()
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    try:
        config = EmulatorConfig(users=ACCOUNTS, videos=25, non_target_users=0)  # TikTok's 2 h / 180 d
        with TikTokEmulator(config) as emu:
            accounts = link_accounts(emu)
            emu.reset_requests()
            started = time.perf_counter()
            reports = simulate(emu, accounts)
            elapsed = time.perf_counter() - started
            grants = emu.count(TOKEN_PATH, "POST")
            refused = sum(1 for r in emu.requests if r.path == TOKEN_PATH and r.status != 200)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    account_days = ACCOUNTS * DAYS
    print(f"{DAYS} days x {ACCOUNTS} accounts: {reports} report tasks (daily runs, a {BACKFILL_DATES}-date")
    lifetimes = f"{config.access_ttl} s / {config.refresh_ttl} s"
    print(f"  backfill, a retry 3 h late); lifetimes {lifetimes}; {elapsed:.1f} s")
    print(f"refresh grants: {grants} ({grants / account_days:.2f} per account-day), refused: {refused}")
    print(f"grants if every report task refreshed: {reports} -> ratio {grants / reports:.2f}")


if __name__ == "__main__":
    main()
