"""TikTokRefreshTokensOperator through Airflow's real task runner (``dag.test()``: Task SDK, in process),
the emulator over HTTP and the sqlite metadata DB: one broken account never blocks the others, rotated
tokens land in the rotation Variable, no token in XCom, strict rotation holds across runs."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.models import Variable

from airflow_provider_tiktok.connections import (
    REGISTRY_VARIABLE,
    AccountInfo,
    rotation_variable_key,
)
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH
from airflow_provider_tiktok.operators.refresh import TikTokRefreshTokensOperator
from airflow_provider_tiktok.testing.connections import account_connection, app_connection
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

pytestmark = pytest.mark.integration

SCOPES = "user.info.basic,user.info.stats,video.list"
FAST_HOOK = {"timeout": (2, 5), "max_retries": 1, "backoff_base": 0.01, "backoff_cap": 0.05}


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """Access tokens live 5 minutes (< the 30 minute margin): every run has to refresh."""
    return tiktok_emulator_factory(users=3, videos=1, non_target_users=0, access_ttl=300)


@pytest.fixture
def accounts(emu: TikTokEmulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The app connection and three linked accounts as AIRFLOW_CONN_* env vars (seen by the task runner)."""
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(emu)))
    ids = []
    for n, person in enumerate(emu.target_users):
        now = datetime.fromtimestamp(emu.clock.now(), tz=timezone.utc)
        tokens = TokenSet.from_token_response(
            emu.issue_tokens(person.open_id, scopes=SCOPES), now=now, linked_at=now
        )
        info = AccountInfo(
            f"tiktok_account_r{n}", "tiktok_default", person.open_id, person.display_name, None, now
        )
        monkeypatch.setenv(f"AIRFLOW_CONN_TIKTOK_ACCOUNT_R{n}", json.dumps(account_connection(info, tokens)))
        ids.append(info.conn_id)
    return ids


@pytest.fixture(autouse=True)
def _clean_variables() -> Iterator[None]:
    yield
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("tiktok%")))


DAG_FILE = """
import datetime
from airflow.sdk import DAG
from airflow_provider_tiktok.operators.refresh import TikTokRefreshTokensOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)):
    TikTokRefreshTokensOperator(task_id="refresh", **{kwargs!r})
"""


@pytest.fixture
def run_refresh(tmp_path: Path) -> Callable[..., tuple[str, Any]]:
    """Run a one-task DAG file with the operator through ``dag.test()``; returns (task state, XCom result).

    ``dag.test()`` only runs DAGs it finds serialized, so the DAG is written to a file and synced first.
    """

    def _run(**op_kwargs: Any) -> tuple[str, Any]:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

        dag_id = f"tiktok_refresh_{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{dag_id}.py"
        path.write_text(DAG_FILE.format(dag_id=dag_id, kwargs={"hook_kwargs": FAST_HOOK, **op_kwargs}))
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(bag, "dags-folder", None)
        run = bag.dags[dag_id].test(logical_date=datetime(2026, 1, 2, tzinfo=timezone.utc))
        (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "refresh"]
        return str(ti.state), xcom_return(dag_id, run.run_id)

    return _run


def xcom_return(dag_id: str, run_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id, key="return_value").one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


def test_operator_defaults_make_it_the_single_writer() -> None:
    op = TikTokRefreshTokensOperator(task_id="t", account_conn_ids="{{ var.value.x }}")
    assert op.max_active_tis_per_dag == 1
    assert "account_conn_ids" in op.template_fields


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["a", "b", "a"], ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),
        ("a, b,,c", ["a", "b", "c"]),
    ],
)
def test_account_ids_accept_rendered_templates(given: Any, expected: list[str]) -> None:
    assert TikTokRefreshTokensOperator(task_id="t", account_conn_ids=given).resolve_conn_ids() == expected


def test_one_broken_account_does_not_fail_the_others(
    emu: TikTokEmulator,
    accounts: list[str],
    run_refresh: Callable[..., tuple[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, broken, also_good = accounts
    emu.revoke_all(emu.target_users[1].open_id)
    linked = {conn_id: TokenStore().load(conn_id)[1] for conn_id in accounts}

    state, result = run_refresh(account_conn_ids=accounts)

    assert state == "success"
    logs = "".join(capsys.readouterr())
    assert "NOT refreshed" in logs
    for tokens in linked.values():
        assert tokens.refresh_token not in logs
    assert result["refreshed"] == [good, also_good]
    assert list(result["failed"]) == [broken]
    assert "relink account" in result["failed"][broken]
    assert "/plugin/tiktok-accounts" in result["failed"][broken]
    for conn_id in (good, also_good):
        rotated = TokenStore().load_rotated(conn_id)  # written by the task through the Task SDK
        assert rotated is not None
        assert rotated.refresh_token != linked[conn_id].refresh_token
    assert TokenStore().refresh_failure(broken) is not None
    text = json.dumps(result)
    for tokens in linked.values():
        assert tokens.access_token not in text
        assert tokens.refresh_token not in text
    assert "act." not in text
    assert "rft." not in text


def test_fail_on_error_fails_after_trying_everyone(
    emu: TikTokEmulator, accounts: list[str], run_refresh: Callable[..., tuple[str, Any]]
) -> None:
    emu.revoke_all(emu.target_users[0].open_id)
    state, _ = run_refresh(account_conn_ids=accounts, fail_on_error=True)
    assert state == "failed"
    for conn_id in accounts[1:]:
        assert TokenStore().load_rotated(conn_id) is not None


def test_registry_variable_and_strict_rotation_across_runs(
    emu: TikTokEmulator, accounts: list[str], run_refresh: Callable[..., tuple[str, Any]]
) -> None:
    Variable.set(REGISTRY_VARIABLE, json.dumps(accounts))
    for _ in range(3):  # each run must refresh with the token the previous run saved
        state, result = run_refresh()
        assert state == "success"
        assert result["failed"] == {}
        assert sorted(result["refreshed"]) == sorted(accounts)
    assert emu.count(TOKEN_PATH) == 3 * len(accounts)
    assert {r.status for r in emu.requests if r.path == TOKEN_PATH} == {200}  # zero invalid_grant
    key = rotation_variable_key(accounts[0])
    assert json.loads(Variable.get(key))["issued_at"]


def test_refresh_is_skipped_when_not_needed(
    emu: TikTokEmulator, accounts: list[str], run_refresh: Callable[..., tuple[str, Any]]
) -> None:
    state, result = run_refresh(account_conn_ids=accounts[:1], margin=timedelta(seconds=10))
    assert state == "success"
    assert result["unchanged"] == accounts[:1]
    assert result["accounts"][accounts[0]]["refreshed"] is False
    assert emu.count(TOKEN_PATH) == 0
