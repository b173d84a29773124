"""Benchmark the daily report: DAG parse cost, end-to-end overhead of a run, memory of one report task.

Run: ``uv run python bench/bench_report.py``. Everything runs on loopback in a temporary Airflow home
(sqlite metadata DB) that is removed at the end; the TikTok emulator (``tiktok-emulator`` CLI) and
``moto_server`` run in their own processes and are stopped at the end. Takes about 3 minutes.

1. Parse: ``DagBag(dag_folder=<file>)`` of ``dags/tiktok_daily_report.py`` vs a one-EmptyOperator DAG,
   each in fresh processes (7 runs each, interleaved, medians), timed after Airflow and the ``airflow.*``
   modules the file imports are loaded (the dag-processor pre-imports those). Target: ratio <= 1.2.
2. End to end: ``dag.test()`` of the report over 20 accounts x 500 videos (linked through the real OAuth
   code flow; emulator without latency or rate limit; moto_server as S3) vs a DAG of the same shape whose
   tasks do nothing, each run in a fresh process (one warm-up each, then 3 runs each, interleaved,
   medians). Prints both times, the ratio, our overhead and rows/s; the manifest and CSV rows are checked.
3. Memory: peak RSS of a process running ``TikTokToS3Operator.execute`` for one account with 1,000 and
   with 100,000 videos (the emulator runs in another process). Target: constant (streams to a temp file).

Child processes get a bytecode cache in the temporary directory: this environment sets
PYTHONDONTWRITEBYTECODE=1, and recompiling Airflow in every process would swamp every figure.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Context

REPO_ROOT = Path(__file__).resolve().parent.parent
REPORT_DAG_FILE = REPO_ROOT / "dags" / "tiktok_daily_report.py"
PARSE_RUNS = 7
PARSE_TARGET = 1.2
E2E_ACCOUNTS = 20
#: 25 pages per account: a run's 500 /v2/video/list/ calls stay under the hook's client-side limit (600
#: a minute per process), which dag.test() would otherwise hit: it runs every task in one process.
E2E_VIDEOS = 500
E2E_RUNS = 3
MEMORY_SIZES = (1_000, 100_000)
APP_CONN_ID = "tiktok_default"
AWS_CONN_ID = "aws_bench"
BUCKET = "tiktok-bench-reports"
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
RESULT_PREFIX = "BENCH_RESULT "

TRIVIAL_DAG = '''"""The smallest DAG file: the baseline of the parse benchmark."""
from datetime import datetime, timezone

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("bench_trivial", schedule="0 2 * * *", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
         catchup=False):
    EmptyOperator(task_id="noop")
'''

# Same shape as tiktok_daily_report: prepare (XComs accounts/run, returns one kwargs dict per account)
# -> refresh_tokens -> report (mapped with expand_kwargs, templated, labelled) -> finalize (all_done).
NOOP_DAG = '''"""tiktok_daily_report's shape with tasks that do nothing: the baseline of bench_report.py."""
from datetime import datetime, timezone

from airflow.sdk import BaseOperator, TriggerRule, XComArg, dag

ACCOUNTS = %(accounts)d


class NoopRefresh(BaseOperator):
    template_fields = ("account_conn_ids",)

    def __init__(self, *, account_conn_ids, **kwargs):
        super().__init__(**kwargs)
        self.account_conn_ids = account_conn_ids

    def execute(self, context):
        return None


class NoopReport(BaseOperator):
    template_fields = ("account_conn_id", "bucket", "report_date")

    def __init__(self, *, account_conn_id, bucket, report_date, **kwargs):
        super().__init__(**kwargs)
        self.account_conn_id, self.bucket, self.report_date = account_conn_id, bucket, report_date

    def execute(self, context):
        return None


class NoopPrepare(BaseOperator):
    def execute(self, context):
        accounts = [f"tiktok_account_{i}" for i in range(ACCOUNTS)]
        context["ti"].xcom_push(key="accounts", value=accounts)
        context["ti"].xcom_push(key="run", value={"accounts": accounts, "report_date": context["ds"]})
        return [{"account_conn_id": a, "bucket": "b", "report_date": context["ds"]} for a in accounts]


class NoopFinalize(BaseOperator):
    template_fields = ("run",)

    def __init__(self, *, run, **kwargs):
        super().__init__(trigger_rule=TriggerRule.ALL_DONE, **kwargs)
        self.run = run

    def execute(self, context):
        return {"accounts": len(self.run["accounts"])}


@dag(dag_id="bench_noop_report", schedule="0 2 * * *", catchup=False,
     start_date=datetime(2024, 1, 1, tzinfo=timezone.utc))
def bench_noop_report():
    prepare = NoopPrepare(task_id="prepare")
    refresh = NoopRefresh(task_id="refresh_tokens", account_conn_ids=XComArg(prepare, key="accounts"))
    report = NoopReport.partial(
        task_id="report", map_index_template="{{ task.account_conn_id }}"
    ).expand_kwargs(XComArg(prepare))
    finalize = NoopFinalize(task_id="finalize", run=XComArg(prepare, key="run"))
    prepare >> refresh >> report >> finalize


bench_noop_report()
'''


# ----------------------------------------------------------------------------- set-up and processes
def configure_environment(root: Path) -> None:
    """Point Airflow (here and in every child) at a fresh home and sqlite DB, before Airflow is imported."""
    from cryptography.fernet import Fernet

    home = root / "airflow-home"
    home.mkdir()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPORT_DAG_FILE.parent),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__SECRET_KEY": "bench-only-secret-key",
            "AIRFLOW__API_AUTH__JWT_SECRET": "bench-only-jwt-secret-" + "j" * 43,
            "AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS": json.dumps({"bucket": BUCKET, "aws_conn_id": AWS_CONN_ID}),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
        }
    )
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def run_child(*args: str, dags_folder: Path | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Run this script as a child in ``args`` mode; returns the JSON it printed after RESULT_PREFIX."""
    env = os.environ.copy()
    if dags_folder is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    result = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            data: dict[str, Any] = json.loads(line.removeprefix(RESULT_PREFIX))
            return data
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    raise RuntimeError(f"child {args} exited {result.returncode} without a result:\n{output}")


def migrate_db() -> None:
    """Create the sqlite metadata DB."""
    command = [sys.executable, "-m", "airflow", "db", "migrate"]
    subprocess.run(command, check=True, capture_output=True, env=os.environ.copy(), timeout=300)


@dataclass
class Emulator:
    """A ``tiktok-emulator`` CLI process and what its banner said."""

    proc: subprocess.Popen[str]
    values: dict[str, str] = field(default_factory=dict)
    open_ids: list[str] = field(default_factory=list)

    # What the app connection needs (``testing.connections.EmulatedApp``), from the banner.
    @property
    def client_key(self) -> str:
        """The app's client key."""
        return self.values["client_key"]

    @property
    def client_secret(self) -> str:
        """The app's client secret."""
        return self.values["client_secret"]

    @property
    def redirect_uri(self) -> str:
        """The registered redirect URI."""
        return self.values["redirect_uri"]

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the emulator."""
        return self.values["base_url"]

    def stop(self) -> None:
        """SIGTERM, then wait (it stops within a second)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_emulator(users: int, videos: int, *extra: str) -> Emulator:
    """The emulator in its own process (its CPU and memory are not ours), no latency, no rate limit."""
    command = [sys.executable, "-m", "airflow_provider_tiktok.testing.emulator_cli", "--users", str(users)]
    command += ["--videos", str(videos), "--non-target-users", "0", "--rate-limit-per-minute", "0"]
    command += ["--latency", "0", *extra]
    emulator = Emulator(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    assert emulator.proc.stdout is not None
    for line in iter(emulator.proc.stdout.readline, ""):
        if line.startswith("Admin:"):
            return emulator
        if line.startswith("user open_id="):
            emulator.open_ids.append(line.split()[1].removeprefix("open_id="))
        elif "=" in line:
            key, value = line.strip().split("=", 1)
            emulator.values[key] = value
    emulator.stop()
    raise RuntimeError(f"the emulator exited before printing its banner: {emulator.values}")


def set_app_connection(emulator: Emulator) -> None:
    """The TikTok app connection (environment variable, seen by every child) pointing at ``emulator``."""
    from airflow_provider_tiktok.testing.connections import app_connection

    os.environ[f"AIRFLOW_CONN_{APP_CONN_ID.upper()}"] = json.dumps(app_connection(emulator, scopes=SCOPES))


def link_accounts(emulator: Emulator) -> list[str]:
    """Link every emulator user the way the accounts page does (PKCE code flow -> link_account)."""
    import requests

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.linking import link_account

    logging.getLogger("airflow_provider_tiktok.linking").setLevel(logging.WARNING)  # one line per account
    conn_ids = []
    with TikTokHook(APP_CONN_ID) as hook:
        for open_id in emulator.open_ids:
            verifier, challenge = hook.new_pkce_pair()
            url = hook.build_authorize_url(state="bench", code_challenge=challenge)
            consent = requests.get(url, params={"emulator_user": open_id}, allow_redirects=False, timeout=10)
            code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
            result = link_account(
                app_conn_id=APP_CONN_ID,
                code=code,
                code_verifier=verifier,
                redirect_uri=emulator.values["redirect_uri"],
                linked_by="bench_report",
            )
            conn_ids.append(result.account.conn_id)
    return conn_ids


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the moto_server."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def s3_keys(s3: Any, prefix: str) -> list[str]:
    """Every key under ``prefix``."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def csv_rows(s3: Any, key: str) -> int:
    """Data rows of one CSV object (csv parsing: values hold line breaks)."""
    text = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
    return sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1


def median(values: list[float]) -> float:
    """Median of ``values``."""
    return float(statistics.median(values))


# ----------------------------------------------------------------------------- 1. parse time
def bench_parse(root: Path) -> None:
    """Median DagBag time of the report DAG file vs a trivial one, fresh processes, interleaved."""
    folder = root / "parse"
    folder.mkdir()
    trivial = folder / "trivial_dag.py"
    trivial.write_text(TRIVIAL_DAG)
    # Warms DagBag's own lazy imports in each child: an "airflow"/"dag" file that defines no DAG.
    warmup = folder / "warmup.py"
    warmup.write_text('"""Warm-up of DagBag for the parse benchmark: an airflow file with no dag."""\n')
    shape = folder / "noop_shape_dag.py"
    shape.write_text(NOOP_DAG % {"accounts": E2E_ACCOUNTS})
    files = {"report": REPORT_DAG_FILE, "trivial": trivial, "shape": shape}
    for path in files.values():  # fills the bytecode cache, untimed
        run_child("parse", str(path), str(warmup))
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in files}
    for _ in range(PARSE_RUNS):
        for name, path in files.items():
            samples[name].append(run_child("parse", str(path), str(warmup)))
    print_parse(samples)


def print_parse(samples: dict[str, list[dict[str, Any]]]) -> None:
    """Both medians and ratios (DagBag; DagBag + serialization, as the dag-processor does)."""
    bag = {name: median([s["bag"] for s in runs]) for name, runs in samples.items()}
    full = {name: median([s["bag"] + s["serialize"] for s in runs]) for name, runs in samples.items()}
    ratio = bag["report"] / bag["trivial"]
    print(
        f"parse: {PARSE_RUNS} fresh processes per file, interleaved; medians after Airflow is imported "
        "(heap frozen, as the dag-processor does)"
    )
    print(f"  DagBag tiktok_daily_report.py: {bag['report'] * 1000:.1f} ms")
    print(f"  DagBag trivial (1 EmptyOperator): {bag['trivial'] * 1000:.1f} ms")
    verdict = "OK" if ratio <= PARSE_TARGET else "ABOVE TARGET"
    print(f"  ratio {ratio:.2f} (target <= {PARSE_TARGET}) -> {verdict}")
    print(
        f"  DagBag same shape with no-op operators defined in the file: {bag['shape'] * 1000:.1f} ms; "
        f"ratio report/shape {bag['report'] / bag['shape']:.2f} (what our modules and params add)"
    )
    print(
        f"  with serialization: {full['report'] * 1000:.1f} ms vs {full['trivial'] * 1000:.1f} ms, "
        f"ratio {full['report'] / full['trivial']:.2f}"
    )


def child_parse(path: str, warmup: str) -> dict[str, Any]:
    """Time ``DagBag`` of ``path`` in this fresh process, after what the dag-processor pre-imports."""
    import gc
    import importlib

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.file import iter_airflow_imports

    for module in iter_airflow_imports(path):
        importlib.import_module(module)
    DagBag(dag_folder=warmup)
    # The dag-processor freezes its heap before forking parsers; without this, whichever file happens
    # to trigger the next full collection of Airflow's ~200k objects pays ~100 ms for it.
    gc.freeze()
    started = time.perf_counter()
    bag = DagBag(dag_folder=path)
    parsed = time.perf_counter()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    serialized = time.perf_counter()
    if bag.import_errors or not bag.dags:
        raise RuntimeError(f"{path} did not parse: {bag.import_errors}")
    return {"bag": parsed - started, "serialize": serialized - parsed}


# ----------------------------------------------------------------------------- 2. end to end
def bench_end_to_end(root: Path, s3: Any) -> None:
    """dag.test() of the report over linked emulator accounts vs the same shape with no-op tasks."""
    noop_folder = root / "noop-dags"
    noop_folder.mkdir()
    (noop_folder / "bench_noop_report.py").write_text(NOOP_DAG % {"accounts": E2E_ACCOUNTS})
    emulator = start_emulator(E2E_ACCOUNTS, E2E_VIDEOS)
    try:
        set_app_connection(emulator)
        accounts = link_accounts(emulator)
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        base = datetime(yesterday.year, yesterday.month, yesterday.day, 2, tzinfo=timezone.utc)
        times: dict[str, list[float]] = {"noop": [], "report": []}
        rows = 0
        for run in range(E2E_RUNS + 1):  # run 0 warms the bytecode cache, untimed
            logical = (base + timedelta(minutes=run)).isoformat()
            times["noop"].append(run_child("dagrun", "noop", logical, dags_folder=noop_folder)["seconds"])
            times["report"].append(report_run(s3, logical, yesterday.isoformat()))
            rows = count_report(s3, yesterday.isoformat(), len(accounts))
    finally:
        emulator.stop()
    print_end_to_end({name: values[1:] for name, values in times.items()}, rows, len(accounts))


def report_run(s3: Any, logical: str, report_date: str) -> float:
    """One timed report run; the date's objects are removed first, so what is counted is this run's."""
    keys = s3_keys(s3, f"tiktok/video_stats/dt={report_date}/")
    if keys:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys]})
    seconds: float = run_child("dagrun", "report", logical, dags_folder=REPORT_DAG_FILE.parent)["seconds"]
    return seconds


def count_report(s3: Any, report_date: str, accounts: int) -> int:
    """Check the manifest landed, complete, and that its row total matches the CSVs' rows."""
    prefix = f"tiktok/video_stats/dt={report_date}/"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "_manifest.json")["Body"].read())
    video_keys = [k for k in s3_keys(s3, prefix) if k.endswith("/video_stats.csv")]
    rows = sum(csv_rows(s3, key) for key in video_keys)
    totals = manifest["totals"]
    if not manifest["complete"] or totals["succeeded"] != accounts or len(video_keys) != accounts:
        raise RuntimeError(f"incomplete report: {totals}, {len(video_keys)} CSVs")
    if totals["rows"] != rows:
        raise RuntimeError(f"the manifest says {totals['rows']} rows, the CSVs hold {rows}")
    return rows


def print_end_to_end(times: dict[str, list[float]], rows: int, accounts: int) -> None:
    """Both medians, the ratio, our overhead and rows per second."""
    noop, report = median(times["noop"]), median(times["report"])
    print(
        f"end to end: dag.test(), {accounts} accounts x {E2E_VIDEOS} videos, fresh process per run, "
        f"medians of {len(times['report'])} (after 1 warm-up)"
    )
    print(f"  tiktok_daily_report: {report:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['report'])})")
    print(f"  same shape, no-op tasks: {noop:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times['noop'])})")
    overhead = report - noop
    print(f"  ratio {report / noop:.2f}, our overhead {overhead:.2f} s ({overhead / accounts:.3f} s/account)")
    print(
        f"  rows: {rows:,} (manifest complete, equals the CSVs' rows) -> {rows / report:,.0f} rows/s "
        f"end to end, {rows / max(overhead, 1e-9):,.0f} rows/s of our own time"
    )


def child_dagrun(kind: str, logical: str) -> dict[str, Any]:
    """Parse the DAGs folder, then time ``dag.test()`` of one run."""
    from airflow.dag_processing.dagbag import DagBag

    dag_id = "bench_noop_report" if kind == "noop" else "tiktok_daily_report"
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.dags[dag_id]
    for task in dag.tasks:
        task.retries = 0  # a failure must show at once, not after minutes of retry delay
    started = time.perf_counter()
    run = dag.test(logical_date=datetime.fromisoformat(logical))
    seconds = time.perf_counter() - started
    if str(run.state) != "success":
        states = {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in run.get_task_instances()}
        raise RuntimeError(f"{dag_id} run {run.state}: {states}")
    return {"seconds": seconds}


# ----------------------------------------------------------------------------- 3. memory
def bench_memory(s3: Any) -> None:
    """Peak RSS of one report task process per size; the emulator serves from another process."""
    results = {}
    report_date = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
    for videos in MEMORY_SIZES:
        # Its own seed per size: another user (open_id), so another account connection.
        emulator = start_emulator(1, videos, "--seed", str(videos))
        try:
            set_app_connection(emulator)
            (account,) = link_accounts(emulator)
            results[videos] = run_child("execute", account, report_date, timeout=600)
        finally:
            emulator.stop()
        results[videos]["csv_rows"] = csv_rows(s3, results[videos]["key"])
    print_memory(results)


def print_memory(results: dict[int, dict[str, Any]]) -> None:
    """Peak RSS per size, the growth and the ratio."""
    print("memory: TikTokToS3Operator.execute in a fresh process per size (emulator in another process)")
    for videos, result in results.items():
        print(
            f"  {videos:>7,} videos: {result['rows']:>7,} rows (CSV on S3: {result['csv_rows']:,}) in "
            f"{result['seconds']:.1f} s ({result['rows'] / result['seconds']:,.0f} rows/s); "
            f"peak RSS {result['peak_mib']:.1f} MiB (before execute {result['before_mib']:.1f}, "
            f"CSVs written {result['written_mib']:.1f})"
        )
    small, large = (results[size]["peak_mib"] for size in MEMORY_SIZES)
    print(
        f"  growth {large - small:+.1f} MiB for {MEMORY_SIZES[1] // MEMORY_SIZES[0]}x the videos, "
        f"ratio {large / small:.3f} (target: constant, ratio ~1.0)"
    )


class RecordingTaskInstance:
    """Stands in for the task instance's XCom API (``execute`` is called outside a task runner)."""

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def peak_rss_mib() -> float:
    """This process's peak RSS so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_execute(account: str, report_date: str) -> dict[str, Any]:
    """Run one report task for ``account`` and return its rows, time and peak RSS."""
    from typing import cast

    # Loaded before the baseline so that "before execute" holds the libraries, not the data.
    import airflow.providers.amazon.aws.hooks.s3  # noqa: F401

    import airflow_provider_tiktok.hooks.tiktok  # noqa: F401
    from airflow_provider_tiktok.operators.tiktok import TikTokToS3Operator
    from airflow_provider_tiktok.xcom import SUMMARY_XCOM_KEY

    class MeasuredOperator(TikTokToS3Operator):
        """Notes the peak RSS once the CSVs are written, before the upload (boto3 buffers) starts."""

        written_mib = 0.0

        def _upload_all(self, files: list[tuple[str, str]]) -> None:
            self.written_mib = peak_rss_mib()
            super()._upload_all(files)

    operator = MeasuredOperator(
        task_id="report",
        account_conn_id=account,
        bucket=BUCKET,
        report_date=report_date,
        aws_conn_id=AWS_CONN_ID,
        # The client-side limit (600/min, per process) would stretch 5,000 pages over 8 minutes.
        hook_kwargs={"requests_per_minute": 0},
    )
    ti = RecordingTaskInstance()
    before = peak_rss_mib()
    started = time.perf_counter()
    operator.execute(cast("Context", {"ti": ti}))
    seconds = time.perf_counter() - started
    summary = ti.xcoms[SUMMARY_XCOM_KEY]
    return {
        "rows": summary["rows"],
        "key": summary["keys"][0],
        "seconds": seconds,
        "before_mib": before,
        "written_mib": operator.written_mib,
        "peak_mib": peak_rss_mib(),
    }


# ----------------------------------------------------------------------------- entry points
def child_main(mode: str, args: list[str]) -> int:
    """A measurement in this (fresh) process; prints its JSON result on one line."""
    children = {"parse": child_parse, "dagrun": child_dagrun, "execute": child_execute}
    result = children[mode](*args)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def start_s3(stack: ExitStack) -> Any:
    """Start moto_server (stopped with ``stack``), set the aws connection, create the bucket; its client."""
    from dev.moto_s3 import MotoS3Server

    server = stack.enter_context(MotoS3Server())
    os.environ[f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"] = server.aws_connection_uri()
    s3 = s3_client(server.endpoint_url)
    s3.create_bucket(Bucket=BUCKET)
    return s3


def main() -> int:
    """Run the three measurements and print figures and ratios."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="tiktok-bench-report-"))
    try:
        configure_environment(root)
        migrate_db()
        bench_parse(root)
        with ExitStack() as stack:
            s3 = start_s3(stack)
            bench_end_to_end(root, s3)
            bench_memory(s3)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f} s; servers stopped, temporary home removed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(child_main(sys.argv[1], sys.argv[2:]))
    sys.exit(main())
