"""One run of ``tiktok_daily_report`` under a real scheduler, for ``make compat`` (run inside a pair's venv).

Airflow 3.2.2's ``airflow dags test`` starts an in-process execution API per task without waiting for
its startup (3.3 waits), so on a busy machine a task can fail before it starts (``'State' object has no
attribute 'svcs_registry'``). The matrix therefore also runs the DAG the way a deployment does:
``AirflowStack`` (scheduler, dag-processor, API server, LocalExecutor; sqlite on loopback) with the
emulator and ``moto_server``, three accounts linked as connections, one triggered run for yesterday,
then the manifest read back from S3. Exits 0 when the run succeeded and the manifest is complete.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, time, timedelta, timezone
from pathlib import Path


def main() -> int:
    """Run the DAG once under a real scheduler; print the manifest's totals."""
    from airflow_provider_tiktok.connections import AccountInfo
    from airflow_provider_tiktok.testing.connections import account_connection, app_connection
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
    from airflow_provider_tiktok.tokens import TokenSet
    from dev.airflow_stack import AirflowStack
    from dev.moto_s3 import MotoS3Server

    dags = Path(os.environ["TIKTOK_DEMO_DAGS_FOLDER"])
    bucket = "tiktok-compat-reports"
    scopes = "user.info.basic,user.info.profile,user.info.stats,video.list"
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    with TikTokEmulator(EmulatorConfig(users=3, videos=40)) as emu, MotoS3Server() as s3:
        s3.client().create_bucket(Bucket=bucket)
        now = datetime.now(timezone.utc)
        env = {
            "AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(app_connection(emu, scopes=scopes)),
            "AIRFLOW_CONN_AWS_COMPAT": s3.aws_connection_uri(),
            "AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS": json.dumps({"bucket": bucket, "aws_conn_id": "aws_compat"}),
        }
        accounts = []
        for user in emu.target_users[:3]:
            response = emu.issue_tokens(user.open_id, scopes=scopes)
            tokens = TokenSet.from_token_response(response, now=now, linked_at=now)
            info = AccountInfo(
                conn_id=f"tiktok_account_{user.username.replace('.', '_')}",
                app_conn_id="tiktok_default",
                open_id=user.open_id,
                display_name=user.display_name,
                username=user.username,
                linked_at=now,
                linked_by="make compat",
            )
            env[f"AIRFLOW_CONN_{info.conn_id.upper()}"] = json.dumps(account_connection(info, tokens))
            accounts.append(info.conn_id)
        env["AIRFLOW_VAR_TIKTOK_ACCOUNTS"] = json.dumps(accounts)
        with AirflowStack(dags, env=env) as stack:
            stack.wait_for_dag("tiktok_daily_report", timeout=300)
            stack.unpause("tiktok_daily_report")
            logical_date = datetime.combine(yesterday, time(2, 0), tzinfo=timezone.utc).isoformat()
            stack.api(
                "POST", "/dags/tiktok_daily_report/dagRuns", json={"logical_date": logical_date}
            ).raise_for_status()
            (run,) = stack.wait_for_runs("tiktok_daily_report", 1, timeout=600)
            print(f"[scheduler] run {run['dag_run_id']}: {run['state']}", flush=True)
            if run["state"] != "success":
                print(stack.logs_tail(), flush=True)
                return 1
        key = f"tiktok/video_stats/dt={yesterday.isoformat()}/_manifest.json"
        manifest = json.loads(s3.client().get_object(Bucket=bucket, Key=key)["Body"].read())
        print(
            f"[scheduler] manifest totals: {json.dumps(manifest['totals'])}, complete={manifest['complete']}"
        )
        return 0 if manifest["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
