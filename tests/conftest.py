"""Session-wide test environment: an isolated Airflow home with a real (sqlite) metadata DB, and local S3.

The environment variables are set at import time, before any test module imports Airflow, because
Airflow reads its configuration once, on first import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator
    from tests.dags.report_dag_support import Deployment

#: The emulator fixtures (``tiktok_emulator``, ``tiktok_emulator_factory``): opted in here, since the package
#: registers no pytest11 entry point (it would load into every environment the provider is installed in).
pytest_plugins = ["airflow_provider_tiktok.testing.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="tiktok-tests-airflow-home-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__API__SECRET_KEY": "tests-only-secret-key-" + "k" * 43,
        # HS512: PyJWT warns about keys under 64 bytes (a test fails on that warning).
        "AIRFLOW__API_AUTH__JWT_SECRET": "tests-only-jwt-secret-" + "j" * 43,
        # boto3 must never look for real credentials or instance metadata.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Path:
    """Migrate the session's sqlite metadata DB once; returns the Airflow home."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real ``moto_server`` on loopback; sets the ``aws_test`` connection; yields its endpoint URL."""
    from dev.moto_s3 import MotoS3Server

    with MotoS3Server() as server:
        os.environ["AIRFLOW_CONN_AWS_TEST"] = server.aws_connection_uri()
        yield server.endpoint_url
        os.environ.pop("AIRFLOW_CONN_AWS_TEST", None)


@pytest.fixture
def deployment(
    tiktok_emulator_factory: Callable[..., TikTokEmulator], moto_s3: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """An emulator (3 target users x 45 videos), the app connection, a bucket and the settings Variable
    (:class:`tests.dags.report_dag_support.Deployment`): for the DAG tests and the report run's own."""
    import json
    import uuid

    import boto3

    from airflow_provider_tiktok.testing.connections import app_connection
    from tests.dags.report_dag_support import SCOPES, Deployment, delete_tiktok_variables

    emu = tiktok_emulator_factory(users=3, videos=45, non_target_users=0, hang_seconds=2.0)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu, scopes=SCOPES)))
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    bucket = f"reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    setup = Deployment(emu=emu, s3=s3, bucket=bucket, monkeypatch=monkeypatch)
    setup.settings(bucket=bucket, aws_conn_id="aws_test")
    yield setup
    delete_tiktok_variables()
