"""Drive the accounts page like a browser would: forms, TikTok (emulator) consent, callback."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from airflow_provider_tiktok.testing.connections import app_connection

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

SERVER = "https://testserver"
CALLBACK_URI = f"{SERVER}/users/auth/tiktok/callback"


def write_app_connection(emulator: TikTokEmulator, *, conn_id: str = "tiktok_default", **extra: Any) -> None:
    """Create (or replace) the app connection pointing at the emulator; ``extra`` overrides fields."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    app = app_connection(emulator, redirect_uri=CALLBACK_URI)
    fields = {**app["extra"], **extra}  # an override of None drops the field
    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
        conn = Connection(
            conn_id=conn_id,
            conn_type=app["conn_type"],
            login=app["login"],
            password=app["password"],
            extra=json.dumps({k: v for k, v in fields.items() if v is not None}),
        )
        session.add(conn)


def csrf_of(client: TestClient) -> str:
    """Open the accounts page and return the CSRF token of its forms."""
    page = client.get("/tiktok/accounts")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, "the accounts page has no form with a CSRF token"
    return match.group(1)


@dataclass
class Consent:
    """Where a started flow went: TikTok's authorize URL and the callback path TikTok redirected to."""

    authorize_url: str
    callback: str


def start_flow(client: TestClient, path: str = "/tiktok/accounts/link") -> str:
    """Post a link/relink form like the page does; return TikTok's authorize URL."""
    response = client.post(path, data={"csrf": csrf_of(client)})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def consent(authorize_url: str, open_id: str | None, *, deny: bool = False) -> str:
    """Give (or deny) consent on the emulator as ``open_id``; return the callback path + query."""
    params = {"emulator_deny": "1"} if deny else {"emulator_user": open_id}
    answer = requests.get(authorize_url, params=params, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == SERVER
    return f"{location.path}?{location.query}"


def link_as(client: TestClient, open_id: str, path: str = "/tiktok/accounts/link") -> Any:
    """The whole flow: post the form, consent as ``open_id``, follow the callback; return its response."""
    callback = consent(start_flow(client, path), open_id)
    return client.get(callback)


def stored_extra(conn_id: str) -> dict[str, Any]:
    """The extra of a connection in the metadata DB."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conn = session.scalar(select(Connection).where(Connection.conn_id == conn_id))
        assert conn is not None, f"connection {conn_id} is missing"
        return dict(json.loads(conn.extra))


def variable(key: str) -> str | None:
    """A Variable's value from the metadata DB (None when absent)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(Variable).where(Variable.key == key))
        return None if row is None else row.get_val()


def target_users(emulator: TikTokEmulator) -> list[Any]:
    """The emulator's sandbox target users."""
    return [u for u in emulator.users if u.is_target_user]


def non_target_user(emulator: TikTokEmulator) -> Any:
    """A user of the emulator who is not a sandbox target."""
    return next(u for u in emulator.users if not u.is_target_user)
