"""The accounts page under the FAB auth manager (what most production installs and our compose file use).

A real API server (``AirflowStack``, HTTPS) with ``FabAuthManager``: FAB users with the Admin and Viewer
roles sign in through ``/auth/token``; the Admin links an account through the emulator, the Viewer (no
connection permissions in FAB) is refused with a plain 403.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
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
ROLES = {"admin": "Admin", "viewer": "Viewer"}

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowStack, TikTokEmulator]]:
    """Emulator + Airflow on HTTPS with the FAB auth manager and one FAB user per role."""
    port = free_port()
    callback = f"https://127.0.0.1:{port}/users/auth/tiktok/callback"
    with TikTokEmulator(EmulatorConfig(users=1, videos=1, redirect_uris=(callback,))) as emulator:
        env = {
            "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
            "AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps(app_connection(emulator, redirect_uri=callback)),
        }
        airflow = AirflowStack(
            tmp_path_factory.mktemp("dags"), https=True, api_port=port, env=env, users=ROLES
        )
        # A generated password may start with "-" (token_urlsafe does, 1 time in 32): make that the
        # case here, so passing values as --flag=value is tested on every run, not by chance.
        airflow.passwords = {user: f"-{password}" for user, password in airflow.passwords.items()}
        with airflow:
            for user, role in ROLES.items():
                airflow.create_fab_user(user, role)
            yield airflow, emulator


def _signed_in(airflow: AirflowStack, user: str) -> requests.Session:
    """A session carrying the FAB user's JWT from ``/auth/token``."""
    session = requests.Session()
    session.trust_env = False
    session.verify = airflow.env["AIRFLOW__API__SSL_CERT"]
    session.headers["Authorization"] = f"Bearer {airflow.token(user)}"
    return session


def test_admin_links_an_account_under_the_fab_auth_manager(
    stack: tuple[AirflowStack, TikTokEmulator],
) -> None:
    airflow, emulator = stack
    admin = _signed_in(airflow, "admin")
    page = admin.get(f"{airflow.api_url}/tiktok/accounts", timeout=30)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, "no form with a CSRF token for an Admin"

    started = admin.post(
        f"{airflow.api_url}/tiktok/accounts/link",
        data={"csrf": csrf.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert started.status_code == 303, started.text
    person = emulator.target_users[0]
    consent = requests.get(
        started.headers["location"],
        params={"emulator_user": person.open_id},
        allow_redirects=False,
        timeout=10,
    )
    callback = urlsplit(consent.headers["location"])
    assert f"{callback.scheme}://{callback.netloc}" == airflow.api_url

    done = admin.get(f"{airflow.api_url}{callback.path}?{callback.query}", timeout=30)
    assert done.status_code == 200, done.text
    listed = airflow.api(
        "GET", "/connections", user="admin", params={"connection_id_pattern": "tiktok_account"}
    )
    (connection,) = listed.json()["connections"]
    assert json.loads(connection["extra"])["open_id"] == person.open_id
    assert "act." not in done.text


def test_viewer_is_refused_with_a_plain_403(stack: tuple[AirflowStack, TikTokEmulator]) -> None:
    airflow, _ = stack
    page = _signed_in(airflow, "viewer").get(f"{airflow.api_url}/tiktok/accounts", timeout=30)
    assert page.status_code == 403
    assert "permission" in page.text.lower()
    assert "Traceback" not in page.text
