"""Attack: an ``open_id`` that walks out of its S3 partition.

``open_id`` went into S3 keys unvalidated: ``x/../../dt=2000-01-01/account=victim`` produced a key outside
its partition. An open_id outside TikTok's id alphabet (letters, digits, ``-``, ``_``, ``.``; real ones look
like UUIDs or ``-000OBX2o...``) is refused, naming the account: when the account is linked (the callback)
and when a report fills its keys.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowFailException
from page_flow import link_as, target_users, variable

from airflow_provider_tiktok.connections import AccountInfo, is_valid_open_id
from airflow_provider_tiktok.operators.tiktok import TikTokToS3Operator
from airflow_provider_tiktok.testing.connections import account_connection
from airflow_provider_tiktok.tokens import TokenSet
from tests.xcom_stand_in import XComTaskInstance

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from report_dag_support import Deployment

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

TRAVERSAL = "x/../../dt=2000-01-01/account=victim"


@pytest.mark.parametrize(
    "open_id", ["723f24d7-e717-40f8-a2b6-cb8464cd23b4", "-000OBX2oClC2dFk0y5u3-YFpcVgMMgmw7PB", "a_b.c-1"]
)
def test_real_open_ids_are_accepted(open_id: str) -> None:
    assert is_valid_open_id(open_id)


@pytest.mark.parametrize("open_id", [TRAVERSAL, "..", "a/b", ".hidden", "a..b", "", "x" * 129, "a b", "é"])
def test_ids_that_could_leave_a_partition_are_refused(open_id: str) -> None:
    assert not is_valid_open_id(open_id)


def test_report_refuses_the_key_naming_the_account(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = deployment
    user = setup.emu.target_users[0]
    now = datetime.now(timezone.utc)
    tokens = TokenSet.from_token_response(
        setup.emu.issue_tokens(user.open_id, scopes="user.info.basic,video.list"), now=now, linked_at=now
    )
    info = AccountInfo(
        conn_id="tiktok_account_mallory",
        app_conn_id="tiktok_default",
        open_id=TRAVERSAL,
        display_name="Mallory",
        username="mallory",
        linked_at=now,
        linked_by="tests",
    )
    tokens = replace(tokens, open_id=TRAVERSAL)  # what a connection written with that open_id holds
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_ACCOUNT_MALLORY", json.dumps(account_connection(info, tokens)))
    operator = TikTokToS3Operator(
        task_id="report",
        account_conn_id=info.conn_id,
        bucket=setup.bucket,
        report_date=(now - timedelta(days=1)).date().isoformat(),
        aws_conn_id="aws_test",
    )
    with pytest.raises(
        AirflowFailException, match=r"TikTok account tiktok_account_mallory: open_id .* is not"
    ):
        operator.execute({"ti": XComTaskInstance()})  # type: ignore[typeddict-item]
    assert setup.keys("") == []
    assert setup.emu.count() == 0  # refused before anything was fetched


def test_link_refuses_an_open_id_outside_tiktoks_alphabet(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    user = target_users(app_connection)[0]
    # TikTok (the emulator over HTTP) answers this user's consent, token and profile with the hostile id.
    users = app_connection._state.users_by_id  # a hostile TikTok has no public knob
    users[TRAVERSAL] = users.pop(user.open_id)
    user.open_id = TRAVERSAL
    page = link_as(client, TRAVERSAL)
    assert page.status_code == 502
    assert 'data-problem="invalid_open_id"' in page.text
    assert "is not a TikTok id" in page.text
    assert json.loads(variable("tiktok_accounts") or "[]") == []
