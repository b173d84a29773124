"""``make airflow``: a local ``airflow standalone`` with this package, the TikTok emulator and local S3.

What it starts, all on loopback, until Ctrl-C:

1. the TikTok emulator (two sandbox target users and one user who is not a target);
2. ``moto_server`` as S3, with the report bucket;
3. Airflow's scheduler, dag-processor, triggerer and API server (what ``airflow standalone`` runs, started
   one by one so that the scheduler and triggerer can skip their log servers, which would listen on
   every interface) in a temporary home with a sqlite DB, the API server on HTTPS with a self-signed
   certificate made at start (TikTok redirects only to HTTPS), the connection Test button enabled, the
   app connection ``tiktok_default`` pointing at the emulator, the ``aws`` connection pointing at
   ``moto_server`` and the report settings.

Then it prints the URL, the login, how to run the ``airflow`` CLI against this home
(``<home>/airflow.env``) and what to try. SIGINT (Ctrl-C, ``kill -INT <pid>``) or SIGTERM stops
everything, also while starting; GNU make does not pass SIGINT on to a recipe, so signal this process
(its pid is in the banner), or send SIGTERM to ``make``. Everything is gone afterwards: the emulator
keeps its tokens in memory, so a linked account would not survive a restart anyway.

Run with ``uv run python -m dev.local_airflow [--port 8443] [--host localhost]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_tiktok.testing.connections import app_connection
from dev.env_file import write_env_file

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from dev.airflow_stack import AirflowStack

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"
APP_CONN_ID = "tiktok_default"
AWS_CONN_ID = "aws_local"
BUCKET = "tiktok-local-reports"
ADMIN = "admin"
SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--port", type=int, default=8443, help="HTTPS port of the Airflow UI (8443)")
    parser.add_argument(
        "--host",
        default="localhost",
        choices=("localhost", "127.0.0.1"),
        help="host name in the UI's URL and the redirect URI (localhost)",
    )
    parser.add_argument("--videos", type=int, default=40, help="videos per emulated user (40)")
    return parser.parse_args(argv)


def callback_url(host: str, port: int) -> str:
    """The redirect URI: the page's OAuth callback on this server."""
    return f"https://{host}:{port}/users/auth/tiktok/callback"


def configure(airflow: AirflowStack, emulator: TikTokEmulator, s3_connection: str, redirect_uri: str) -> None:
    """Store the connections and report settings in the metadata DB, where the UI shows and edits them."""
    app = json.dumps(app_connection(emulator, redirect_uri=redirect_uri, scopes=SCOPES))
    airflow.cli("connections", "add", APP_CONN_ID, f"--conn-json={app}")
    airflow.cli("connections", "add", AWS_CONN_ID, f"--conn-json={s3_connection}")
    settings = json.dumps({"bucket": BUCKET, "aws_conn_id": AWS_CONN_ID})
    airflow.cli("variables", "set", "tiktok_report_settings", settings)


def banner(airflow: AirflowStack, emulator: TikTokEmulator, s3_endpoint: str, env_file: Path) -> str:
    """What to open and try, printed once everything is up."""
    from airflow_provider_tiktok.errors import accounts_page_url

    targets = ", ".join(f"@{u.username}" for u in emulator.target_users)
    outsiders = ", ".join(f"@{u.username}" for u in emulator.users if not u.is_target_user)
    airflow_bin = Path(sys.executable).parent / "airflow"
    return "\n".join(
        [
            "",
            f"  Airflow UI       {airflow.api_url}/  (self-signed certificate: accept it once)",
            f"  login            {ADMIN} / {airflow.passwords[ADMIN]}",
            f"  TikTok accounts  {accounts_page_url(airflow.api_url)}  (Admin > TikTok accounts)",
            f"  TikTok emulator  {emulator.base_url}  target users {targets}; not a target: {outsiders}",
            f"  S3 (moto_server) {s3_endpoint}  bucket {BUCKET}",
            f"  Airflow home     {airflow.home}  (component logs in logs/*.out)",
            f"  Airflow CLI      . {env_file} && {airflow_bin} dags list",
            "",
            "  Try: link an account, Regenerate token, link the non-target user to see that error,",
            "  then unpause and trigger tiktok_daily_report.",
            f"  Ctrl-C stops everything (from another shell: kill -INT {os.getpid()}).",
            "",
        ]
    )


def _stop_on_signal(signum: int, frame: object) -> None:
    """First SIGINT/SIGTERM: unwind (stop everything); later ones are ignored so the stop completes."""
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """Make SIGINT and SIGTERM stop everything, from the first line on (also when SIGINT was ignored,
    as it is for a command started with ``&`` by a non-interactive shell)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_on_signal)


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM (raises KeyboardInterrupt; see :func:`stop_on_signals`)."""
    while True:
        signal.pause()


def main(argv: Sequence[str] | None = None) -> int:
    """Start everything, print the banner, wait for Ctrl-C, stop everything."""
    stop_on_signals()
    args = parse_args(argv)
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
    from dev.airflow_stack import AirflowStack
    from dev.moto_s3 import MotoS3Server

    redirect_uri = callback_url(args.host, args.port)
    config = EmulatorConfig(users=2, videos=args.videos, non_target_users=1, redirect_uris=(redirect_uri,))
    with ExitStack() as stack:
        try:
            print("Starting the TikTok emulator, moto_server and Airflow (about a minute) ...", flush=True)
            emulator = stack.enter_context(TikTokEmulator(config))
            s3 = stack.enter_context(MotoS3Server())
            s3.client().create_bucket(Bucket=BUCKET)
            airflow = AirflowStack(
                DAGS_FOLDER,
                https=True,
                api_port=args.port,
                host=args.host,
                triggerer=True,
                users={ADMIN: "admin"},
                # The README sends users to the connection form's Test button (disabled by default).
                env={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
            )
            stack.enter_context(airflow)
            configure(airflow, emulator, s3.aws_connection_uri(), redirect_uri)
            env_file = write_env_file(airflow.home, airflow.env)
            print(banner(airflow, emulator, s3.endpoint_url, env_file), flush=True)
            wait_for_interrupt()
        except KeyboardInterrupt:
            print("Stopping ...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
