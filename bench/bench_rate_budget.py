"""Benchmark one TikTok rate budget for every worker, under a real scheduler (LocalExecutor, Task SDK).

Run: ``uv run python bench/bench_rate_budget.py`` (about 10 minutes on a loaded 2-core machine). Everything
runs on loopback: the TikTok emulator (in this process), ``moto_server`` and an ``AirflowStack`` (scheduler,
dag-processor, API server, sqlite) in a temporary home, all stopped at the end.

1. Rate budget: ``tiktok_daily_report`` over 16 accounts x 2,000 videos (100 list pages each), 16 report
   tasks in parallel, the emulator limiting the app to TikTok's 600 requests per endpoint per window with
   the window scaled from 60 s to 30 s (twice TikTok's rate, to keep the bench short), once with and once
   without ``Retry-After``. Prints the accepted ``/v2/video/list/`` requests per second against the ceiling
   (600 per 30 s = 20/s; target >= 0.9), the 429s, failed tasks and retried tries (target 0) and pages
   fetched twice within an attempt (target 0).
2. Against a hand-written DAG: the same 16 accounts, no rate limit, 0.2 s of latency on every TikTok call
   (about TikTok's own), the daily DAG vs what a user would write by hand: one PythonOperator per account
   with ``requests`` and ``S3Hook.load_file`` (the same user-info and list calls, the same CSV uploads) and a
   task writing the manifest. Runs are interleaved; prints each wall time (run start to end) and the ratio
   (target <= 1.1). ``--only-handwritten`` runs this part alone.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from dev.airflow_stack import AirflowStack

REPO_ROOT = Path(__file__).resolve().parent.parent
DAILY = "tiktok_daily_report"
HANDWRITTEN = "bench_handwritten_report"
ACCOUNTS = 16
VIDEOS = 2_000
PAGE = 20
LIMIT = 600  # TikTok's requests per endpoint and window
WINDOW = 30.0  # TikTok's 60 s, halved
COMPARE_LATENCY = 0.2
COMPARE_REPEATS = 3  # best of three each: one slow task start on a shared machine moves a run by 10 %
BUCKET = "tiktok-bench-rate"
AWS_CONN_ID = "aws_test"  # what the linking helper puts in the settings
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
LIST_PATH = "/v2/video/list/"

HANDWRITTEN_DAG = '''"""What a user writes by hand: PythonOperators with requests and S3Hook.load_file."""

import csv
import json
import tempfile
from datetime import datetime

import requests
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseHook, Variable

ACCOUNTS = %(accounts)r
API = %(api)r
BUCKET = %(bucket)r
AWS = %(aws)r
FIELDS = (
    "id,create_time,title,video_description,duration,share_url,"
    "view_count,like_count,comment_count,share_count"
).split(",")
# what the granted scopes allow (user.info.basic and user.info.stats), as the provider asks
USER_FIELDS = "open_id,display_name,follower_count,following_count,likes_count,video_count"


def write_videos(session, headers, writer):
    writer.writerow(FIELDS)
    body = {"max_count": 20}
    while True:
        params = {"fields": ",".join(FIELDS)}
        page = session.post(API + "/v2/video/list/", params=params, json=body, headers=headers, timeout=30)
        page.raise_for_status()
        data = page.json()["data"]
        for video in data["videos"]:
            writer.writerow([video.get(name, "") for name in FIELDS])
        if not data["has_more"]:
            return
        body = {"max_count": 20, "cursor": data["cursor"]}


def report(conn_id, ds):
    # the newest token set, as the provider keeps it: a refreshed one in a Variable, else the connection's
    rotated = Variable.get("tiktok_token__" + conn_id, default=None)
    tokens = json.loads(rotated) if rotated else BaseHook.get_connection(conn_id).extra_dejson
    headers = {"Authorization": "Bearer " + tokens["access_token"]}
    session = requests.Session()
    answer = session.get(API + "/v2/user/info/", params={"fields": USER_FIELDS}, headers=headers, timeout=30)
    answer.raise_for_status()
    user = answer.json()["data"]["user"]
    prefix = f"handwritten/dt={ds}/account={user['open_id']}/"
    s3 = S3Hook(aws_conn_id=AWS)
    with tempfile.NamedTemporaryFile("w", newline="", suffix=".csv") as videos:
        write_videos(session, headers, csv.writer(videos))
        videos.flush()
        s3.load_file(videos.name, prefix + "video_stats.csv", bucket_name=BUCKET, replace=True)
    with tempfile.NamedTemporaryFile("w", newline="", suffix=".csv") as account:
        csv.writer(account).writerows([list(user), list(user.values())])
        account.flush()
        s3.load_file(account.name, prefix + "account_stats.csv", bucket_name=BUCKET, replace=True)
    return prefix


def manifest(ds, ti):
    keys = ti.xcom_pull(task_ids=[f"report_{i}" for i in range(len(ACCOUNTS))])
    body = json.dumps({"report_date": ds, "accounts": keys})
    key = f"handwritten/dt={ds}/_manifest.json"
    S3Hook(aws_conn_id=AWS).load_string(body, key, bucket_name=BUCKET, replace=True)


with DAG("%(dag_id)s", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=32):
    done = PythonOperator(task_id="manifest", python_callable=manifest)
    for number, conn_id in enumerate(ACCOUNTS):
        kwargs = {"conn_id": conn_id}
        PythonOperator(task_id=f"report_{number}", python_callable=report, op_kwargs=kwargs) >> done
'''


def stack_env(emu: TikTokEmulator, s3_connection: str) -> tuple[dict[str, str], list[str]]:
    """Environment of the stack: every target user linked through the code flow, the registry, the
    settings, S3, and the app connection with the scaled budget."""

    sys.path.insert(0, str(REPO_ROOT))
    from tests.scheduler.linking_env import report_stack_env

    env, conn_ids = report_stack_env(emu, BUCKET)
    del env["AIRFLOW_CONN_TIKTOK_DEFAULT"]  # in the metadata DB instead, so each scenario can set its budget
    env[f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"] = s3_connection
    env["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] = "32"
    return env, conn_ids


def dags_folder(root: Path, emu: TikTokEmulator, conn_ids: list[str]) -> Path:
    """The daily DAG file and the hand-written one, side by side."""
    folder = root / "dags"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "dags" / f"{DAILY}.py", folder / f"{DAILY}.py")
    values = {
        "accounts": conn_ids,
        "api": emu.base_url,
        "bucket": BUCKET,
        "aws": AWS_CONN_ID,
        "dag_id": HANDWRITTEN,
    }
    (folder / f"{HANDWRITTEN}.py").write_text(HANDWRITTEN_DAG % values)
    return folder


def set_app_budget(airflow: AirflowStack, emu: TikTokEmulator, limit: int) -> None:
    """(Re)write the app connection in the metadata DB with ``limit`` requests per window."""
    from airflow_provider_tiktok.testing.connections import app_connection

    app = app_connection(emu, scopes=SCOPES, rate_limit=limit, rate_window_seconds=WINDOW)
    airflow.cli("connections", "delete", "tiktok_default", check=False)
    airflow.cli("connections", "add", "tiktok_default", f"--conn-json={json.dumps(app)}")


def run_dag(airflow: AirflowStack, dag_id: str, day: int) -> dict[str, Any]:
    """Trigger ``dag_id`` for ``day`` days ago and wait until it finished; returns the run."""
    logical = (datetime.now(timezone.utc) - timedelta(days=day)).replace(
        hour=2, minute=0, second=0, microsecond=0
    )
    created = airflow.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical.isoformat()})
    created.raise_for_status()
    run_id = created.json()["dag_run_id"]
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:  # bounded: the run ends or the deadline passes
        run = airflow.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()
        if run["state"] in ("success", "failed"):
            return dict(run)
        time.sleep(2)
    raise TimeoutError(f"{dag_id} {run_id} did not finish\n{airflow.logs_tail()}")


def wall_seconds(run: dict[str, Any]) -> float:
    """Seconds from the run's start to its end, as the metadata DB recorded them."""
    start = datetime.fromisoformat(run["start_date"])
    return (datetime.fromisoformat(run["end_date"]) - start).total_seconds()


def timeline(airflow: AirflowStack, dag_id: str, run: dict[str, Any]) -> str:
    """Where a run's time went: each task's first start and last end, in seconds from the run's start."""
    begin = datetime.fromisoformat(run["start_date"])
    spans: dict[str, list[float]] = {}
    for ti in airflow.task_instances(dag_id, run["dag_run_id"]):
        if ti["start_date"] and ti["end_date"]:
            times = [
                (datetime.fromisoformat(ti[k]) - begin).total_seconds()
                for k in ("queued_when", "start_date", "end_date")
            ]
            task = "report_*" if ti["task_id"].startswith("report_") else ti["task_id"]
            span = spans.setdefault(task, times)
            spans[task] = [min(span[0], times[0]), min(span[1], times[1]), max(span[2], times[2])]
    return ", ".join(
        f"{task} queued {q:.1f}, ran {a:.1f}-{b:.1f}"
        for task, (q, a, b) in sorted(spans.items(), key=lambda i: i[1])
    )


def report_tries(airflow: AirflowStack, run: dict[str, Any]) -> tuple[int, int]:
    """(failed report tasks, report tries beyond the first)."""
    tis = [t for t in airflow.task_instances(DAILY, run["dag_run_id"]) if t["task_id"] == "report"]
    return sum(t["state"] != "success" for t in tis), sum(max(0, t["try_number"] - 1) for t in tis)


def budget_figures(emu: TikTokEmulator, airflow: AirflowStack, run: dict[str, Any]) -> dict[str, Any]:
    """Throughput of the list endpoint against the ceiling, 429s, failures and pages fetched twice."""
    listed = [r for r in emu.requests if r.path == LIST_PATH]
    accepted = sorted(r.time for r in listed if r.status == 200)
    per_account = Counter(r.open_id for r in listed if r.status == 200)
    pages = math.ceil(VIDEOS / PAGE)
    span = accepted[-1] - accepted[0]
    failed, retried = report_tries(airflow, run)
    firsts = [min(r.time for r in listed if r.open_id == who) for who in per_account]
    lasts = [max(r.time for r in listed if r.open_id == who and r.status == 200) for who in per_account]
    return {
        "ramp_s": max(firsts) - min(firsts),
        "tail_s": max(lasts) - min(lasts),
        "per_10s": Counter(int((t - accepted[0]) // 10) for t in accepted),
        "state": run["state"],
        "wall_s": wall_seconds(run),
        "accepted": len(accepted),
        "refused_429": sum(r.status == 429 for r in listed),
        "span_s": span,
        "ideal_s": (len(accepted) - 1) / (LIMIT / WINDOW),
        "ratio": (len(accepted) - 1) / span / (LIMIT / WINDOW),
        "failed_tasks": failed,
        "retried_tries": retried,
        "peak_window": emu.busiest_window(LIST_PATH),  # counted at admission, as TikTok does
        "pages_twice": sum(max(0, n - pages) for n in per_account.values()),
        "accounts_listed": len(per_account),
    }


def warm_up(emu: TikTokEmulator, airflow: AirflowStack) -> None:
    """Unpause both DAGs; the daily one then starts its latest scheduled run: let it finish unlimited."""
    emu.configure(rate_limit_per_minute=0)
    set_app_budget(airflow, emu, LIMIT)
    airflow.unpause(HANDWRITTEN)
    airflow.unpause(DAILY)
    runs = airflow.wait_for_runs(DAILY, 1, timeout=1200)
    print(f"  warm-up: the scheduled run {runs[0]['state']} in {wall_seconds(runs[0]):.1f}s")


def bench_budget(emu: TikTokEmulator, airflow: AirflowStack) -> None:
    """Scenario 1, with and without Retry-After."""
    print(
        f"== 1. rate budget: {ACCOUNTS} accounts x {VIDEOS} videos, "
        f"{LIMIT} requests per {WINDOW:g} s per endpoint"
    )
    for day, retry_after in ((3, True), (4, False)):  # never the scheduled run's day (1 or 2 days ago)
        emu.configure(send_retry_after=retry_after, rate_limit_per_minute=LIMIT, latency=0.0)
        emu.reset_rate_limits()  # the previous scenario's requests leave the window
        emu.reset_requests()
        f = budget_figures(emu, airflow, run_dag(airflow, DAILY, day))
        print(
            f"  Retry-After {'sent' if retry_after else 'absent'}: run {f['state']} in {f['wall_s']:.1f}s; "
            f"{f['accepted']} list pages in {f['span_s']:.1f}s vs ideal {f['ideal_s']:.1f}s "
            f"(ratio {f['ratio']:.2f}, target >= 0.9); 429s {f['refused_429']}; failed report tasks "
            f"{f['failed_tasks']}, retried tries {f['retried_tries']} (target 0); pages fetched "
            f"twice {f['pages_twice']} (target 0); accounts listed {f['accounts_listed']}; busiest "
            f"{WINDOW:g} s: {f['peak_window']} accepted"
        )
        per_10s = f["per_10s"]
        print(
            f"    tasks' first list requests spread over {f['ramp_s']:.1f}s, "
            f"their last over {f['tail_s']:.1f}s; "
            f"accepted per 10 s: {' '.join(str(per_10s[i]) for i in range(max(per_10s) + 1))}"
        )


def bench_handwritten(emu: TikTokEmulator, airflow: AirflowStack) -> None:
    """Scenario 2: the daily DAG against the hand-written one, interleaved."""
    print(
        f"== 2. daily DAG vs hand-written PythonOperator DAG: {ACCOUNTS} accounts x {VIDEOS} videos, "
        f"{COMPARE_LATENCY:g} s latency per call, no rate limit"
    )
    emu.configure(rate_limit_per_minute=0, latency=COMPARE_LATENCY)
    set_app_budget(airflow, emu, 1_000_000)  # neither DAG is held back by a budget here
    times: dict[str, list[float]] = {DAILY: [], HANDWRITTEN: []}
    day = 10
    for _ in range(COMPARE_REPEATS):
        for dag_id in (DAILY, HANDWRITTEN):
            run = run_dag(airflow, dag_id, day)
            day += 1
            times[dag_id].append(wall_seconds(run))
            print(f"  {dag_id}: run {run['state']} in {times[dag_id][-1]:.1f}s", flush=True)
            print(f"    {timeline(airflow, dag_id, run)}", flush=True)
    daily, hand = min(times[DAILY]), min(times[HANDWRITTEN])
    print(
        f"  daily DAG {', '.join(f'{t:.1f}' for t in times[DAILY])} s; hand-written "
        f"{', '.join(f'{t:.1f}' for t in times[HANDWRITTEN])} s; best of each: ratio {daily / hand:.2f} "
        "(target <= 1.1)"
    )


def main(argv: list[str]) -> int:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
    from dev.airflow_stack import AirflowStack
    from dev.moto_s3 import MotoS3Server

    # SIGTERM (a CI timeout, a kill) unwinds the ExitStack, so no stack process outlives the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with ExitStack() as stack:
        root = Path(tempfile.mkdtemp(prefix="tiktok-bench-rate-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        s3 = stack.enter_context(MotoS3Server())
        s3.client().create_bucket(Bucket=BUCKET)
        config = EmulatorConfig(
            users=ACCOUNTS, videos=VIDEOS, non_target_users=0, rate_window_seconds=WINDOW, access_ttl=86_400
        )
        emu = stack.enter_context(TikTokEmulator(config))
        env, conn_ids = stack_env(emu, s3.aws_connection_uri())
        airflow = stack.enter_context(
            AirflowStack(dags_folder(root, emu, conn_ids), env=env, parallelism=ACCOUNTS + 4)
        )
        for dag_id in (DAILY, HANDWRITTEN):
            airflow.wait_for_dag(dag_id, timeout=600)
        warm_up(emu, airflow)
        if "--only-handwritten" not in argv:
            bench_budget(emu, airflow)
        bench_handwritten(emu, airflow)
    print(f"load average at end: {os.getloadavg()[0]:.1f}; bench took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
