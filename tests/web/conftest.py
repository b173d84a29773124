"""Fixtures of the accounts page tests: the real Airflow API app, signed-in clients, the emulator as TikTok.

Authentication is real: each client carries a JWT issued by Airflow's SimpleAuthManager (``generate_jwt``)
in the UI's ``_token`` cookie, and every permission check goes through that auth manager.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
from page_flow import CALLBACK_URI, SERVER, write_app_connection

os.environ.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,op:op,viewer:viewer")
os.environ.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

ROLES = {"admin": "admin", "op": "op", "viewer": "viewer"}


@pytest.fixture(scope="session")
def airflow_api(airflow_db: Any) -> FastAPI:
    """Airflow's own API app ("core": UI API, auth manager, plugins), with this package's plugin mounted."""
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    return create_app(apps="core")


@pytest.fixture
def make_client(airflow_api: FastAPI) -> Iterator[Callable[..., TestClient]]:
    """Build TestClients signed in as a SimpleAuthManager user (``None``: not signed in)."""
    from fastapi.testclient import TestClient

    clients: list[TestClient] = []

    def factory(user: str | None = "op", *, base_url: str = SERVER) -> TestClient:
        client = TestClient(airflow_api, base_url=base_url, follow_redirects=False)
        if user is not None:
            client.cookies.set("_token", jwt_for(user), path="/")
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def jwt_for(user: str) -> str:
    """A JWT for ``user`` issued by the running auth manager, as the login form would."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role=ROLES[user]))


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client signed in as ``op`` (may view and edit connections)."""
    return make_client("op")


@pytest.fixture(autouse=True)
def clean_db(airflow_db: Any) -> Iterator[None]:
    """Every test starts and ends without TikTok connections and Variables."""
    _wipe()
    yield
    _wipe()


def _wipe() -> None:
    from airflow.models.connection import Connection
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_type == "tiktok"))
        session.execute(delete(Variable).where(Variable.key.startswith("tiktok_")))


@pytest.fixture
def emulator(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """The emulator as TikTok, with this test server's callback registered."""
    return tiktok_emulator_factory(redirect_uris=(CALLBACK_URI,))


@pytest.fixture
def app_connection(emulator: TikTokEmulator) -> TikTokEmulator:
    """The app connection ``tiktok_default`` pointing at the emulator; returns the emulator."""
    write_app_connection(emulator)
    return emulator
