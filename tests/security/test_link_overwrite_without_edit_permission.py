"""Attack: a user who may *create* connections but not *edit* them relinks (overwrites) an existing account.

The plain Link flow once wrote over an existing account's connection (its tokens and ``linked_by``) when
the consenting TikTok user was already linked. Overwriting is a relink, which needs the edit permission
on that connection; without it the callback refuses and writes nothing.

A real API server (``AirflowStack``, HTTPS) with the FAB auth manager, where such a role can exist: FAB role
``TikTokLinker`` holds only ``can_read`` and ``can_create`` on Connections.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_tiktok.testing.connections import app_connection
from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
from dev.airflow_stack import AirflowStack
from dev.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
USERS = {"admin": "Admin", "linker": "TikTokLinker"}

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowStack, TikTokEmulator]]:
    """Emulator + Airflow on HTTPS with the FAB auth manager, an Admin and a create-only linker."""
    port = free_port()
    callback = f"https://127.0.0.1:{port}/users/auth/tiktok/callback"
    with TikTokEmulator(EmulatorConfig(users=2, videos=1, redirect_uris=(callback,))) as emulator:
        env = {
            "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
            "AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(app_connection(emulator, redirect_uri=callback)),
        }
        airflow = AirflowStack(
            tmp_path_factory.mktemp("dags"), https=True, api_port=port, env=env, users=USERS
        )
        with airflow:
            airflow.cli("roles", "create", "TikTokLinker")
            airflow.cli(
                "roles", "add-perms", "TikTokLinker", "-r", "Connections", "-a", "can_read", "can_create"
            )  # fmt: skip
            for user, role in USERS.items():
                airflow.create_fab_user(user, role)
            yield airflow, emulator


def _signed_in(airflow: AirflowStack, user: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = airflow.env["AIRFLOW__API__SSL_CERT"]
    session.headers["Authorization"] = f"Bearer {airflow.token(user)}"
    return session


def _link(airflow: AirflowStack, session: requests.Session, open_id: str) -> requests.Response:
    """Post the Link form, consent on the emulator as ``open_id``, follow the callback."""
    page = session.get(f"{airflow.api_url}/tiktok/accounts", timeout=30)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, "no form with a CSRF token"
    started = session.post(
        f"{airflow.api_url}/tiktok/accounts/link",
        data={"csrf": csrf.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert started.status_code == 303, started.text
    consent = requests.get(
        started.headers["location"], params={"emulator_user": open_id}, allow_redirects=False, timeout=10
    )
    callback = urlsplit(consent.headers["location"])
    return session.get(
        f"{airflow.api_url}{callback.path}?{callback.query}", allow_redirects=False, timeout=30
    )


def _accounts(airflow: AirflowStack) -> dict[str, dict[str, Any]]:
    listed = airflow.api(
        "GET", "/connections", user="admin", params={"connection_id_pattern": "tiktok_account"}
    )
    assert listed.status_code == 200, listed.text
    return {c["connection_id"]: c for c in listed.json()["connections"]}


def test_create_only_user_cannot_overwrite_an_existing_account(
    stack: tuple[AirflowStack, TikTokEmulator],
) -> None:
    airflow, emulator = stack
    first, second = emulator.target_users
    admin, linker = _signed_in(airflow, "admin"), _signed_in(airflow, "linker")
    assert _link(airflow, admin, first.open_id).status_code == 303
    (conn_id,) = _accounts(airflow)
    before = airflow.cli("connections", "get", conn_id, "-o", "json").stdout

    refused = _link(airflow, linker, first.open_id)
    assert refused.status_code == 403
    assert 'data-problem="already_linked"' in refused.text
    assert "permission to edit connections" in refused.text
    after = airflow.cli("connections", "get", conn_id, "-o", "json").stdout
    assert after == before  # tokens and linked_by untouched

    # Creating is what the role allows: a new account links.
    created = _link(airflow, linker, second.open_id)
    assert created.status_code == 303, created.text
    accounts = _accounts(airflow)
    assert len(accounts) == 2
    assert second.open_id in {json.loads(c["extra"] or "{}").get("open_id") for c in accounts.values()}
