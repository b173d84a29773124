"""Benchmark TikTokHook against the real emulator: requests per account report, paging throughput, memory.

Run: ``uv run python bench/bench_hook.py``. Emulators run in this process (threads); the hook's throughput
and memory are measured in fresh subprocesses (this script with ``--worker``) so neither the emulator's
data set nor an earlier run's peak counts. Connections are ``AIRFLOW_CONN_*`` env vars; a temporary
AIRFLOW_HOME with a migrated sqlite DB holds the rotation Variable a refresh writes. Everything is removed
at the end. Takes about 40 s.

Targets: an account report costs 1 user info + max(1, ceil(videos/20)) list calls, +1 token request only
when ``refresh_if_needed()`` finds the access token near expiry; paging 10,000 videos at 20 ms latency
reaches ideal/actual >= 0.9 (ideal = 500 pages x 20 ms); peak RSS grows < 10 MB from 1,000 to 100,000
videos.
"""

from __future__ import annotations

import json
import math
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

REQUEST_SIZES = (0, 1, 20, 21, 500)
PAGE_SIZE = 20
NEAR_EXPIRY_TTL = 300  # seconds: inside the hook's default 10-minute refresh margin
THROUGHPUT_VIDEOS = 10_000
THROUGHPUT_LATENCY = 0.02
TARGET_RATIO = 0.9
MEMORY_SIZES = (1_000, 100_000)
TARGET_GROWTH_MB = 10.0
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
DAY = 86400
RESULT_PREFIX = "RESULT "
# Endpoint paths repeated here: importing the hook module would import Airflow before its home is set.
TOKEN_PATH = "/v2/oauth/token/"
USER_INFO_PATH = "/v2/user/info/"
VIDEO_LIST_PATH = "/v2/video/list/"


# ----------------------------------------------------------------- environment


def configure_airflow_home() -> Path:
    """Point Airflow at a fresh temporary home and sqlite DB; must run before anything imports Airflow."""
    from cryptography.fernet import Fernet

    home = Path(tempfile.mkdtemp(prefix="tiktok-bench-airflow-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # keep the figures readable
        }
    )
    # The token store reads (and a refresh writes) rotation Variables: without tables every read logs
    # a traceback and the refresh cannot save, so the DB is migrated.
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    return home


def start_emulator(stack: ExitStack, videos: int, **knobs: Any) -> TikTokEmulator:
    """An emulator with one target user holding ``videos`` videos, stopped when ``stack`` closes."""
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

    config = EmulatorConfig(users=1, videos=videos, non_target_users=0, **knobs)
    return stack.enter_context(TikTokEmulator(config))


def app_connection(emu: TikTokEmulator) -> str:
    """Register an app connection for ``emu`` as an env var; returns its conn id."""
    from airflow_provider_tiktok.testing import connections

    conn_id = f"tiktok_bench_{emu.base_url.rsplit(':', 1)[1]}"
    conn = connections.app_connection(emu, scopes=SCOPES)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return conn_id


def link_account(emu: TikTokEmulator, app_conn_id: str, tag: str, access_ttl: int = DAY) -> str:
    """An account connection (env var) for the emulator's user, as the accounts page writes it."""
    from airflow_provider_tiktok.connections import AccountInfo
    from airflow_provider_tiktok.testing.connections import account_connection
    from airflow_provider_tiktok.tokens import TokenSet

    person = emu.target_users[0]
    emu.configure(access_ttl=access_ttl)
    now = datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)
    response = emu.issue_tokens(person.open_id, scopes=SCOPES)
    emu.configure(access_ttl=DAY)
    tokens = TokenSet.from_token_response(response, now=now, linked_at=now)
    conn_id = f"tiktok_account_bench_{tag}"
    info = AccountInfo(
        conn_id=conn_id,
        app_conn_id=app_conn_id,
        open_id=person.open_id,
        display_name=person.display_name,
        username=person.username,
        linked_at=now,
        linked_by="bench",
    )
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(account_connection(info, tokens))
    return conn_id


# ----------------------------------------------------------------- 1. requests per account report


@dataclass(frozen=True)
class ReportCount:
    """Requests one account report made, counted on the emulator's log."""

    label: str
    videos: int
    yielded: int
    token: int
    user_info: int
    video_list: int
    not_ok: int
    expected_token: int
    refreshed: bool

    @property
    def total(self) -> int:
        """Token, user info and video list requests together."""
        return self.token + self.user_info + self.video_list

    @property
    def expected(self) -> int:
        """The request count the issue expects."""
        # The hook always asks for the first page, even for an account without videos.
        return self.expected_token + 1 + max(1, math.ceil(self.videos / PAGE_SIZE))

    def problems(self) -> list[str]:
        """What differs from the expectation (empty when the row is OK)."""
        found = []
        if self.total != self.expected:
            found.append(f"{self.total} requests, expected {self.expected}")
        if self.token != self.expected_token:
            found.append(f"{self.token} token requests, expected {self.expected_token}")
        if self.refreshed != bool(self.expected_token):
            found.append(f"refresh_if_needed() reported refreshed={self.refreshed}")
        if self.yielded != self.videos:
            found.append(f"{self.yielded} videos yielded")
        if self.not_ok:
            found.append(f"{self.not_ok} non-200 responses (retries)")
        return found


def account_report(emu: TikTokEmulator, conn_id: str, *, refresh: bool) -> tuple[int, bool]:
    """What a report task does: (optionally refresh,) user info, every video; returns (yielded, refreshed)."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    emu.reset_requests()
    refreshed = False
    with TikTokHook(conn_id) as hook:
        if refresh:
            refreshed = hook.refresh_if_needed().refreshed
        hook.get_user_info()
        yielded = sum(1 for _ in hook.iter_videos())
    return yielded, refreshed


def count_report(
    emu: TikTokEmulator, conn_id: str, label: str, *, refresh: bool = False, expect_token: int = 0
) -> ReportCount:
    """Run one account report and count its requests on the emulator by endpoint."""
    yielded, refreshed = account_report(emu, conn_id, refresh=refresh)
    return ReportCount(
        label=label,
        videos=emu.target_users[0].video_count,
        yielded=yielded,
        token=emu.count(TOKEN_PATH),
        user_info=emu.count(USER_INFO_PATH),
        video_list=emu.count(VIDEO_LIST_PATH),
        not_ok=sum(1 for r in emu.requests if r.status != 200),
        expected_token=expect_token,
        refreshed=refreshed,
    )


def request_counts() -> list[ReportCount]:
    """One row per video count, then a fresh and a near-expiry token with refresh_if_needed() first."""
    rows = []
    for videos in REQUEST_SIZES:
        with ExitStack() as stack:
            emu = start_emulator(stack, videos)
            app_id = app_connection(emu)
            rows.append(count_report(emu, link_account(emu, app_id, f"v{videos}"), f"{videos} videos"))
            if videos == REQUEST_SIZES[-1]:
                fresh = link_account(emu, app_id, "fresh")
                rows.append(count_report(emu, fresh, f"{videos}, token fresh, refresh first", refresh=True))
                near = link_account(emu, app_id, "near", access_ttl=NEAR_EXPIRY_TTL)
                label = f"{videos}, token near expiry, refresh first"
                rows.append(count_report(emu, near, label, refresh=True, expect_token=1))
    return rows


def print_counts(rows: list[ReportCount]) -> None:
    """The request table with OK/MISMATCH per line."""
    print("1. API requests per account report (user info + every video), counted on the emulator:")
    print("   expected = 1 user info + max(1, ceil(videos/20)) list calls (+1 token only when refreshed);")
    print("   the hook always sends the first list call, so 0 videos still costs 1 list call")
    head = f"   {'account':<40} {'videos':>6} {'yielded':>7} {'token':>5} {'user':>4} {'list':>4}"
    print(head + f" {'total':>5} {'expected':>8}  verdict")
    for row in rows:
        problems = row.problems()
        verdict = "OK" if not problems else "MISMATCH: " + "; ".join(problems)
        print(
            f"   {row.label:<40} {row.videos:>6} {row.yielded:>7} {row.token:>5} {row.user_info:>4} "
            f"{row.video_list:>4} {row.total:>5} {row.expected:>8}  {verdict}"
        )


# ----------------------------------------------------------------- worker subprocess (2. and 3.)


def peak_rss_mb() -> float:
    """Peak RSS of this process image, MB: VmHWM from /proc (ru_maxrss where there is no /proc).

    On Linux ru_maxrss survives fork and exec, so a worker started by a parent that holds 100,000
    emulated videos reports the parent's peak; VmHWM belongs to the worker's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return max_rss_mb()


def max_rss_mb() -> float:
    """ru_maxrss, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(conn_id: str) -> int:
    """In a fresh process: iterate every video of ``conn_id`` without keeping them; print one JSON line."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    with TikTokHook(conn_id, requests_per_minute=0) as hook:
        # Warm up outside the measurement: connection and token reads, HTTP session, first JSON parse.
        hook.get_user_info()
        before = peak_rss_mb()
        started = time.perf_counter()
        count = sum(1 for _ in hook.iter_videos())
        seconds = time.perf_counter() - started
        after = peak_rss_mb()
    result = {
        "videos": count,
        "seconds": seconds,
        "peak_before_mb": before,
        "peak_after_mb": after,
        "ru_maxrss_mb": max_rss_mb(),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def run_worker(conn_id: str) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter (same env: AIRFLOW_HOME and connections)."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", conn_id],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(f"worker exited {done.returncode} without a result:\n{done.stderr[-3000:]}")


# ----------------------------------------------------------------- 2. throughput


def timed_pass(emu: TikTokEmulator, conn_id: str, latency: float) -> tuple[dict[str, Any], int]:
    """One worker paging every video at ``latency``; returns its result and the list calls served."""
    emu.configure(latency=latency)
    emu.reset_requests()
    result = run_worker(conn_id)
    return result, emu.count(VIDEO_LIST_PATH)


def throughput() -> None:
    """Page 10,000 videos at 20 ms emulator latency, no rate limits; compare with pages x latency."""
    with ExitStack() as stack:
        emu = start_emulator(stack, THROUGHPUT_VIDEOS, rate_limit_per_minute=0)
        conn_id = link_account(emu, app_connection(emu), "throughput")
        # A pass without latency first: the per-page cost of the hook and emulator themselves.
        base, _ = timed_pass(emu, conn_id, 0.0)
        result, pages = timed_pass(emu, conn_id, THROUGHPUT_LATENCY)
    expected_pages = math.ceil(THROUGHPUT_VIDEOS / PAGE_SIZE)
    seconds = result["seconds"]
    ideal = expected_pages * THROUGHPUT_LATENCY
    ratio = ideal / seconds
    print(
        f"2. throughput: {result['videos']:,} videos in {pages} list calls (expected {expected_pages}), "
        f"latency {THROUGHPUT_LATENCY * 1000:.0f} ms, rate limits off: {seconds:.2f} s"
    )
    per_page = seconds / max(pages, 1)
    print(
        f"   per page {per_page * 1000:.2f} ms = latency + {(per_page - THROUGHPUT_LATENCY) * 1000:.2f} ms "
        f"overhead; {result['videos'] / seconds:,.0f} videos/s"
    )
    print(
        f"   same paging at 0 ms latency: {base['seconds']:.2f} s = "
        f"{base['seconds'] / max(pages, 1) * 1000:.2f} ms per page (hook + emulator work alone)"
    )
    verdict = "OK" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(
        f"   ideal {expected_pages} pages x {THROUGHPUT_LATENCY * 1000:.0f} ms = {ideal:.2f} s; "
        f"ratio ideal/actual {ratio:.3f} (target >= {TARGET_RATIO}) -> {verdict}"
    )


# ----------------------------------------------------------------- 3. memory


def memory_run(videos: int) -> dict[str, Any]:
    """Iterate ``videos`` videos in a fresh worker; the emulator (and its data) stays in this process."""
    with ExitStack() as stack:
        emu = start_emulator(stack, videos, rate_limit_per_minute=0)
        return run_worker(link_account(emu, app_connection(emu), f"mem{videos}"))


def memory() -> None:
    """Peak RSS of the worker after iterating 1,000 and 100,000 videos, and the growth between them."""
    print("3. peak RSS (VmHWM) of a fresh worker process iterating every video, rows not kept:")
    results = {videos: memory_run(videos) for videos in MEMORY_SIZES}
    for videos, result in results.items():
        before, after = result["peak_before_mb"], result["peak_after_mb"]
        print(
            f"   {videos:>7,} videos: peak before {before:.1f} MB, after {after:.1f} MB "
            f"(+{after - before:.1f} MB during iteration), {result['videos']:,} yielded in "
            f"{result['seconds']:.2f} s; ru_maxrss {result['ru_maxrss_mb']:.1f} MB (counts the parent's peak)"
        )
    small, large = (results[videos]["peak_after_mb"] for videos in MEMORY_SIZES)
    growth = large - small
    verdict = "OK" if growth < TARGET_GROWTH_MB else "ABOVE TARGET"
    print(
        f"   peak growth {MEMORY_SIZES[0]:,} -> {MEMORY_SIZES[1]:,} videos: {growth:+.1f} MB "
        f"(target < {TARGET_GROWTH_MB:.0f} MB) -> {verdict}"
    )


# ----------------------------------------------------------------- main


def main() -> int:
    """Set up a throw-away Airflow home, run the three measurements, remove everything."""
    started = time.perf_counter()
    home = configure_airflow_home()
    try:
        print_counts(request_counts())
        throughput()
        memory()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(worker(sys.argv[2]))
    sys.exit(main())
