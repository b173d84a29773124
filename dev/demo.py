"""``make demo``: the whole product on loopback, non-interactively, in about a minute.

1. a temporary Airflow home with a migrated sqlite metadata DB;
2. the TikTok emulator and a local S3 (``moto_server``) on 127.0.0.1, a bucket;
3. the TikTok app connection (pointing at the emulator), the aws connection, the report settings;
4. three sandbox accounts linked through the real OAuth code path: authorize URL -> consent at the
   emulator -> the callback's code and state -> :func:`airflow_provider_tiktok.linking.link_account`;
5. ``airflow dags test tiktok_daily_report <yesterday>``;
6. the S3 keys written, the manifest and the first lines of one CSV; everything started is stopped.

With ``--keep`` (``make demo KEEP=1``) the Airflow home stays, the objects written to S3 are copied into
``<home>/s3/<bucket>/`` before the S3 server stops, and ``<home>/airflow.env`` sets up a shell for the
``airflow`` CLI against that home (task logs, ``airflow dags list-runs``, ...).

Run with ``uv run python -m dev.demo [--keep]``. Nothing here imports Airflow before the
temporary home is configured (Airflow reads its configuration once, on first import).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from dev.env_file import write_env_file

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The repository's dags folder; TIKTOK_DEMO_DAGS_FOLDER names another (``make compat`` runs the demo from a
#: snapshot of dev/ and dags/ in throwaway venvs, against the installed wheel).
DAGS_FOLDER = Path(os.environ.get("TIKTOK_DEMO_DAGS_FOLDER", REPO_ROOT / "dags"))
APP_CONN_ID = "tiktok_default"
AWS_CONN_ID = "aws_demo"
BUCKET = "tiktok-demo-reports"
ACCOUNTS = 3
PREVIEW_ROWS = 3
DUMMY_AWS_KEY = "demo-access-key"
DUMMY_AWS_SECRET = "demo-secret-key"  # noqa: S105 - moto_server accepts anything


def say(message: str) -> None:
    """Print one progress line (flushed, so `make demo` shows progress live)."""
    print(f"[demo] {message}", flush=True)


def configure_airflow_home() -> Path:
    """Point Airflow at a fresh temporary home and sqlite DB (before anything imports Airflow)."""
    from cryptography.fernet import Fernet

    home = Path(tempfile.mkdtemp(prefix="tiktok-demo-airflow-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(48),
            # JWTs are HS512: PyJWT warns about a key under 64 bytes (64 characters here).
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AWS_ACCESS_KEY_ID": DUMMY_AWS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_AWS_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return home


def airflow_cli(*args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    """Run ``airflow <args>`` with the demo's environment; raise with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        raise RuntimeError(f"`airflow {' '.join(args)}` exited {result.returncode}:\n{output}")
    return result


def create_connections(emu: TikTokEmulator, s3_endpoint: str) -> None:
    """Store the app connection, the aws connection and the report settings in the metadata DB."""
    from airflow.models import Connection, Variable
    from airflow.utils.session import create_session

    from airflow_provider_tiktok.testing.connections import app_connection

    app = app_connection(emu, scopes="user.info.basic,user.info.profile,user.info.stats,video.list")
    aws_extra = {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}
    with create_session() as session:
        session.add(
            Connection(
                conn_id=APP_CONN_ID,
                conn_type=app["conn_type"],
                login=app["login"],
                password=app["password"],
                extra=json.dumps(app["extra"]),
            )
        )
        # moto_server accepts any credentials: placeholders, not secrets.
        aws = Connection(conn_id=AWS_CONN_ID, conn_type="aws", extra=json.dumps(aws_extra))
        aws.login, aws.password = DUMMY_AWS_KEY, DUMMY_AWS_SECRET
        session.add(aws)
    Variable.set("tiktok_report_settings", json.dumps({"bucket": BUCKET, "aws_conn_id": AWS_CONN_ID}))


def link_through_oauth(emu: TikTokEmulator, open_id: str) -> str:
    """Link one sandbox user the way the accounts page does; returns the account label.

    Authorize URL with PKCE -> the emulator's consent (``emulator_user`` picks who consents) ->
    the redirect to the callback with ``code`` and ``state`` -> ``link_account`` (the callback's code).
    """
    import requests

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.linking import link_account

    state = secrets.token_urlsafe(16)
    with TikTokHook(APP_CONN_ID) as hook:
        verifier, challenge = hook.new_pkce_pair()
        url = hook.build_authorize_url(state=state, code_challenge=challenge)
    consent = requests.get(url, params={"emulator_user": open_id}, allow_redirects=False, timeout=10)
    if consent.status_code != 302:
        raise RuntimeError(
            f"the emulator's consent page answered {consent.status_code}: {consent.text[:300]}"
        )
    callback = parse_qs(urlsplit(consent.headers["Location"]).query)
    if callback.get("state") != [state]:
        raise RuntimeError("the OAuth state came back changed; refusing the code")
    result = link_account(
        app_conn_id=APP_CONN_ID,
        code=callback["code"][0],
        code_verifier=verifier,
        redirect_uri=emu.redirect_uri,
        linked_by="make demo",
    )
    return f"{result.account.label} -> connection {result.account.conn_id}"


def run_report(report_date: str) -> float:
    """``airflow dags test tiktok_daily_report <date>``; returns its wall time in seconds."""
    started = time.monotonic()
    airflow_cli("dags", "test", "tiktok_daily_report", report_date, timeout=300)
    return time.monotonic() - started


def show_results(s3: Any, report_date: str) -> None:
    """Print the keys written, the manifest totals and the first lines of one CSV.

    :param s3: a boto3 S3 client of the demo's S3 server.
    """
    prefix = f"tiktok/video_stats/dt={report_date}/"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))
    say(f"S3 objects written to s3://{BUCKET}/{prefix}:")
    for key in keys:
        print(f"  s3://{BUCKET}/{key}")
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "_manifest.json")["Body"].read())
    say(f"manifest totals: {json.dumps(manifest['totals'])}, complete={manifest['complete']}")
    if not manifest["complete"]:
        raise RuntimeError(f"the report run was incomplete: {json.dumps(manifest['accounts'], indent=2)}")
    video_csv = next(key for key in keys if key.endswith("video_stats.csv"))
    text = s3.get_object(Bucket=BUCKET, Key=video_csv)["Body"].read().decode("utf-8")
    say(f"header and first {PREVIEW_ROWS} rows of s3://{BUCKET}/{video_csv} (line breaks in values as \\n):")
    for record in preview_records(text, PREVIEW_ROWS + 1):
        print(f"  {record}")


def preview_records(text: str, count: int) -> list[str]:
    """The first ``count`` CSV records of ``text`` exactly as written, line breaks in values escaped."""
    records = []
    for row in itertools.islice(csv.reader(io.StringIO(text, newline="")), count):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        record = buffer.getvalue().removesuffix("\r\n")
        records.append(record.replace("\r", "\\r").replace("\n", "\\n"))
    return records


def keep_objects(s3: Any, target: Path) -> list[Path]:
    """Copy every object of the demo bucket to ``target/<bucket>/<key>``; returns the files written.

    :param s3: a boto3 S3 client of the demo's S3 server.
    :param target: local folder (created).
    """
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            path = target / BUCKET / obj["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(BUCKET, obj["Key"], str(path))
            written.append(path)
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="make demo: the daily report on embedded defaults")
    parser.add_argument(
        "--keep", action="store_true", help="keep the Airflow home and a copy of the S3 objects written"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    args = parse_args(argv)
    started = time.monotonic()
    home = configure_airflow_home()
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
    from dev.moto_s3 import MotoS3Server

    try:
        with ExitStack() as stack:
            say(f"Airflow home {home}: migrating the sqlite metadata DB ...")
            airflow_cli("db", "migrate")
            emu = stack.enter_context(TikTokEmulator(EmulatorConfig(users=ACCOUNTS, videos=60)))
            s3_server = stack.enter_context(MotoS3Server())
            say(f"TikTok emulator at {emu.base_url}, S3 (moto_server) at {s3_server.endpoint_url}")
            s3_server.client().create_bucket(Bucket=BUCKET)
            create_connections(emu, s3_server.endpoint_url)
            for user in emu.target_users[:ACCOUNTS]:
                say(f"linked {link_through_oauth(emu, user.open_id)}")
            report_date = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
            say(f"running `airflow dags test tiktok_daily_report {report_date}` ...")
            say(f"report run finished in {run_report(report_date):.1f}s")
            show_results(s3_server.client(), report_date)
            if args.keep:
                kept = keep_objects(s3_server.client(), home / "s3")
                say(f"kept {len(kept)} S3 objects under {home / 's3' / BUCKET}/")
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    elapsed = time.monotonic() - started
    if args.keep:
        env_file = write_env_file(home, os.environ)
        say(f"done in {elapsed:.0f}s; emulator and S3 server stopped. Kept the Airflow home {home}")
        say(f"  airflow CLI against it: . {env_file} && airflow dags list-runs tiktok_daily_report")
        say(f"  remove it when done: rm -rf {home}")
    else:
        say(f"done in {elapsed:.0f}s; emulator, S3 server and the temporary home are gone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
