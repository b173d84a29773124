"""One deployment for every stack test: the compose topology (PostgreSQL, Redis, CeleryExecutor with two
workers, FAB) started once per session, with ``moto_server`` as S3 and the emulator as TikTok.

Three target users are linked through the real OAuth code flow and stored the way the accounts page stores
them: connections and the ``tiktok_accounts`` registry in PostgreSQL, through the REST API. A fourth is left
for the browser test to link through the page.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.connections import REGISTRY_VARIABLE
from airflow_provider_tiktok.testing.connections import app_connection
from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
from dev.celery_stack import CeleryStack
from dev.moto_s3 import MotoS3Server
from dev.ports import free_port
from tests.scheduler.linking_env import APP_CONN_ID, link_through_code_flow
from tests.stack.stack_support import DAG_FILES, Deployment

if TYPE_CHECKING:
    from collections.abc import Iterator

BUCKET = "stack-reports"
LINKED_BY_FIXTURE = 3


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The running stack, its emulator and S3, and the accounts linked before the tests."""
    dags = tmp_path_factory.mktemp("stack-dags")
    for dag_file in DAG_FILES:
        shutil.copy(dag_file, dags)
    port = free_port()
    callback = f"https://127.0.0.1:{port}/users/auth/tiktok/callback"
    config = EmulatorConfig(
        users=LINKED_BY_FIXTURE + 1, videos=45, non_target_users=0, strict_rotation=True,
        access_ttl=600, redirect_uris=(callback,),
    )  # fmt: skip
    with TikTokEmulator(config) as emulator, MotoS3Server() as s3:
        s3.client().create_bucket(Bucket=BUCKET)
        stack = CeleryStack(dags, bucket=BUCKET, aws_connection=s3.aws_connection_uri(), api_port=port)
        with stack:
            app = app_connection(emulator, redirect_uri=callback)
            conn_ids = _link_accounts(stack, emulator, json.dumps(app))
            yield Deployment(stack=stack, emulator=emulator, s3=s3.client(), bucket=BUCKET, conn_ids=conn_ids)


def _link_accounts(stack: CeleryStack, emulator: TikTokEmulator, app: str) -> list[str]:
    """Link the first target users and store app, accounts and registry in the stack's database."""
    stored = json.loads(app)
    _post_connection(stack, APP_CONN_ID, stored)
    conn_ids = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{APP_CONN_ID.upper()}", app)  # the hook in this process links
        for user in emulator.target_users[:LINKED_BY_FIXTURE]:
            info, conn_json = link_through_code_flow(emulator, user.open_id)
            _post_connection(stack, info.conn_id, json.loads(conn_json))
            conn_ids.append(info.conn_id)
    variable = {"key": REGISTRY_VARIABLE, "value": json.dumps(conn_ids)}
    stack.api("POST", "/variables", json=variable).raise_for_status()
    return conn_ids


def _post_connection(stack: CeleryStack, conn_id: str, conn: dict[str, object]) -> None:
    body = {
        "connection_id": conn_id,
        "conn_type": conn["conn_type"],
        "login": conn.get("login"),
        "password": conn.get("password"),
        "extra": json.dumps(conn["extra"]),
    }
    stack.api("POST", "/connections", json=body).raise_for_status()
