"""The demo profile for real: the emulator started with the compose command, and deploy/demo-setup.sh
writing the app connection into a real metadata database, then one OAuth round trip through the provider.

Only what exists solely inside the compose network is substituted: the emulator listens on 127.0.0.1 and
a free port instead of 0.0.0.0:8900, and the connection's URLs point there instead of at the service
name and the published port. Credentials, redirect URI and scopes are the compose file's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from compose_model import DEPLOY_DIR, command_of, environment_of

from dev.ports import free_port, wait_for_port

if TYPE_CHECKING:
    from collections.abc import Iterator

CONN_ID = "tiktok_deploy_demo_test"  # not tiktok_default: the session's DB is shared with other tests
BIN_DIR = Path(sys.executable).parent


@pytest.fixture(scope="module")
def emulator_url(services: dict[str, dict[str, Any]]) -> Iterator[str]:
    """The emulator run as the demo profile runs it (entrypoint + command), on a loopback port."""
    svc = services["tiktok-emulator"]
    args = command_of(svc)
    port = free_port()
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    process = subprocess.Popen(
        [str(BIN_DIR / svc["entrypoint"][0]), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert wait_for_port("127.0.0.1", port, timeout=30), "the emulator did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _run_demo_setup(services: dict[str, dict[str, Any]], emulator_url: str, **overrides: str) -> str:
    # The script's inputs from compose; the Airflow settings stay the test session's (sqlite, Fernet key).
    inputs = {
        k: v for k, v in environment_of(services["tiktok-demo-setup"]).items() if k.startswith("TIKTOK_")
    }
    env = {**os.environ, **inputs}
    env.update(
        TIKTOK_API_BASE_URL=emulator_url,
        TIKTOK_AUTH_BASE_URL=emulator_url,
        TIKTOK_APP_CONN_ID=CONN_ID,
        # Outside the image there is no /entrypoint: run the airflow command of this virtualenv directly.
        AIRFLOW_ENTRYPOINT="env",
        PATH=f"{BIN_DIR}{os.pathsep}{os.environ['PATH']}",
    )
    env.update(overrides)
    result = subprocess.run(
        ["bash", str(DEPLOY_DIR / "demo-setup.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def demo_connection(services: dict[str, dict[str, Any]], emulator_url: str) -> Iterator[Any]:
    """The app connection demo-setup.sh wrote (run twice: it must be idempotent), read back with the ORM."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    _run_demo_setup(services, emulator_url)
    assert CONN_ID in _run_demo_setup(services, emulator_url)
    try:
        with create_session() as session:
            rows = session.query(Connection).filter(Connection.conn_id == CONN_ID).all()
            assert len(rows) == 1
            session.expunge(rows[0])
        yield rows[0]
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == CONN_ID).delete()


def test_emulator_healthcheck_answers(services: dict[str, dict[str, Any]], emulator_url: str) -> None:
    healthcheck = urlsplit(services["tiktok-emulator"]["healthcheck"]["test"][-1])
    response = requests.get(emulator_url + healthcheck.path, timeout=10)
    assert response.status_code == 200
    assert response.json()


def test_demo_connection_is_a_valid_app_connection(
    services: dict[str, dict[str, Any]], demo_connection: Any
) -> None:
    from airflow_provider_tiktok.connections import app_config_from_connection

    setup_env = environment_of(services["tiktok-demo-setup"])
    app = app_config_from_connection(demo_connection)
    assert demo_connection.conn_type == "tiktok"
    assert app.client_key == setup_env["TIKTOK_CLIENT_KEY"]
    assert app.redirect_uri == setup_env["TIKTOK_REDIRECT_URI"]
    assert app.redirect_uri.startswith("https://")
    assert set(app.scopes) == set(setup_env["TIKTOK_SCOPES"].split(","))


def test_oauth_round_trip_with_the_compose_credentials(
    services: dict[str, dict[str, Any]], demo_connection: Any, emulator_url: str
) -> None:
    # The emulator's --client-key/--client-secret/--redirect-uri and the connection demo-setup.sh wrote
    # must agree, or linking fails in the demo: authorize -> consent -> callback code -> token exchange.
    from airflow_provider_tiktok.connections import app_config_from_connection
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    app = app_config_from_connection(demo_connection)
    args = command_of(services["tiktok-emulator"])
    token = next(a.split("=", 1)[1] for a in args if a.startswith("--admin-token="))
    admin = {"Authorization": f"Bearer {token}"}
    assert requests.get(emulator_url + "/emulator/users", timeout=10).status_code == 401
    users = requests.get(emulator_url + "/emulator/users", headers=admin, timeout=10).json()
    user = next(u for u in (users["users"] if isinstance(users, dict) else users) if u.get("is_target_user"))
    verifier, challenge = TikTokHook.new_pkce_pair()
    consent = requests.get(
        app.auth_base_url + "/v2/auth/authorize/",
        params={
            "client_key": app.client_key,
            "response_type": "code",
            "scope": ",".join(app.scopes),
            "redirect_uri": app.redirect_uri,
            "state": "deploy-test",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "emulator_user": user["open_id"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == app.redirect_uri
    code = parse_qs(location.query)["code"][0]
    token = requests.post(
        app.api_base_url + "/v2/oauth/token/",
        data={
            "client_key": app.client_key,
            "client_secret": demo_connection.password,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    body = token.json()
    assert body.get("open_id") == user["open_id"], {k: v for k, v in body.items() if "token" not in k}
    assert body["access_token"]


def test_demo_setup_passes_values_that_start_with_a_dash(
    services: dict[str, dict[str, Any]], emulator_url: str
) -> None:
    # argparse reads "--conn-password -x" as two flags; the script passes every value as --flag=value.
    from airflow.models import Connection
    from airflow.utils.session import create_session

    conn_id = f"{CONN_ID}_dash"
    try:
        _run_demo_setup(
            services,
            emulator_url,
            TIKTOK_APP_CONN_ID=conn_id,
            TIKTOK_CLIENT_KEY="-sbkey",
            TIKTOK_CLIENT_SECRET="-s3cr-t",
        )
        with create_session() as session:
            conn = session.query(Connection).filter(Connection.conn_id == conn_id).one()
            assert (conn.login, conn.password) == ("-sbkey", "-s3cr-t")
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()


def test_emulator_command_passes_user_values_as_flag_equals_value(
    services: dict[str, dict[str, Any]],
) -> None:
    words = command_of(services["tiktok-emulator"])
    for flag in ("--redirect-uri", "--client-key", "--client-secret"):
        assert any(word.startswith(f"{flag}=") for word in words), (flag, words)
        assert flag not in words, f"{flag} followed by a separate value breaks on a value starting with '-'"
