"""Attack: anyone on the network drives the demo's TikTok emulator through its admin API.

``/emulator/*`` (faults, clock, config, recorded requests with their bearer tokens) was unauthenticated, and
the compose demo profile published port 8900 on all interfaces. The compose file now publishes it on
loopback only, and an emulator that does not listen on loopback refuses to start without an admin token,
which every admin route but ``/emulator/health`` then requires.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml

from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

if TYPE_CHECKING:
    from collections.abc import Iterator

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yaml"
TOKEN = "admin-token-for-tests-0123456789"


def test_compose_publishes_the_emulator_on_loopback_with_an_admin_token() -> None:
    emulator = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["tiktok-emulator"]
    assert emulator["ports"] == ["127.0.0.1:8900:8900"]
    command = emulator["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert any(a.startswith("--admin-token=${TIKTOK_EMULATOR_ADMIN_TOKEN:?") for a in command)
    assert emulator["healthcheck"]["test"][-1].endswith("/emulator/health")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_an_emulator_off_loopback_needs_an_admin_token(host: str) -> None:
    with pytest.raises(ValueError, match="not a loopback address: set admin_token"):
        EmulatorConfig(host=host)
    assert EmulatorConfig(host=host, admin_token=TOKEN).admin_token == TOKEN


def test_the_cli_refuses_to_listen_on_all_interfaces_without_a_token() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_tiktok.testing.emulator_cli", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "set admin_token (--admin-token or TIKTOK_EMULATOR_ADMIN_TOKEN)" in result.stderr


@pytest.fixture
def guarded() -> Iterator[TikTokEmulator]:
    """An emulator with an admin token (on loopback, so the test machine exposes nothing)."""
    with TikTokEmulator(EmulatorConfig(users=1, videos=1, admin_token=TOKEN)) as emulator:
        yield emulator


ADMIN_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/emulator/users", None),
    ("GET", "/emulator/requests", None),
    ("GET", "/emulator/config", None),
    ("POST", "/emulator/clock", {"advance": 10**9}),
    ("POST", "/emulator/faults", {"path": "/v2/video/list/", "kind": "500"}),
    ("POST", "/emulator/config", {"latency": 5}),
    ("DELETE", "/emulator/requests", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_routes_refuse_requests_without_the_token(
    guarded: TikTokEmulator, method: str, path: str, body: dict[str, Any] | None
) -> None:
    clock = guarded.clock.now()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = requests.request(method, guarded.base_url + path, json=body, headers=headers, timeout=10)
        assert response.status_code == 401, (headers, response.text)
    assert guarded.config.latency == 0
    assert guarded.clock.now() - clock < 60
    good = requests.request(
        method, guarded.base_url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert good.status_code == 200, good.text
    assert TOKEN not in good.text  # GET /emulator/config never shows it


def test_health_needs_no_token(guarded: TikTokEmulator) -> None:
    assert requests.get(guarded.base_url + "/emulator/health", timeout=10).json() == {"ok": True}
