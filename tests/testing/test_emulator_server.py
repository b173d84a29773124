"""The HTTP server itself: keep-alive, latency, stopping, and the pytest plugin fixtures."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

if TYPE_CHECKING:
    from collections.abc import Callable

    from emulator_flow import Flow

VIDEO = "/v2/video/list/"


def test_keep_alive_serves_many_requests_on_one_connection(flow: Flow, emu: TikTokEmulator) -> None:
    token = flow.tokens()["access_token"]
    url = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(20):
        conn.request("POST", VIDEO + "?fields=id", body=b'{"max_count":20}', headers=headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(len(body))
        assert response.version == 11
        assert len(json.loads(body)["data"]["videos"]) == 20
    local_port = conn.sock.getsockname()[1]
    conn.request("POST", VIDEO + "?fields=id", body=b"{}", headers=headers)
    conn.getresponse().read()
    assert conn.sock.getsockname()[1] == local_port  # still the same TCP connection
    conn.close()


def test_latency_is_added_to_api_requests(flow: Flow, emu: TikTokEmulator) -> None:
    token = flow.tokens()["access_token"]
    emu.configure(latency=0.2)
    started = time.perf_counter()
    assert flow.api(token, VIDEO, "id").status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_listens_on_loopback_on_a_free_port() -> None:
    with TikTokEmulator(EmulatorConfig(users=1, videos=1)) as one, TikTokEmulator(users=1, videos=1) as two:
        assert one.base_url.startswith("http://127.0.0.1:")
        assert one.base_url != two.base_url


def test_stop_closes_kept_alive_connections_and_the_port() -> None:
    emu = TikTokEmulator(users=1, videos=1).start()
    session = requests.Session()
    base_url = emu.base_url
    assert session.get(base_url + "/emulator/users").status_code == 200
    url = urlsplit(base_url)
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(base_url + "/emulator/users", timeout=2)
    with socket.socket() as sock:
        assert sock.connect_ex((url.hostname or "", url.port or 0)) != 0
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url


def test_stop_releases_a_hanging_request(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(hang_seconds=60)
    emu.inject_fault("timeout", path="/v2/oauth/token/")
    with pytest.raises(requests.exceptions.ReadTimeout):
        flow.http.post(emu.base_url + "/v2/oauth/token/", timeout=0.2)
    started = time.perf_counter()
    emu.stop()
    assert time.perf_counter() - started < 5


def test_plugin_fixture_default_config(tiktok_emulator: TikTokEmulator) -> None:
    assert tiktok_emulator.config == EmulatorConfig()
    assert len(tiktok_emulator.target_users) == 3
    assert len(tiktok_emulator.users) == 4
    assert all(user.video_count == 50 for user in tiktok_emulator.users)
    assert requests.get(tiktok_emulator.base_url + "/emulator/config", timeout=5).status_code == 200


def test_plugin_factory_takes_knobs(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> None:
    emu = tiktok_emulator_factory(users=5, videos=3, non_target_users=0, client_key="sbawother")
    assert len(emu.users) == 5
    assert emu.client_key == "sbawother"


def test_issue_tokens_shortcut(emu: TikTokEmulator) -> None:
    body = emu.issue_tokens(emu.target_users[0].open_id, scopes=("user.info.basic",))
    response = requests.get(
        emu.base_url + "/v2/user/info/",
        params={"fields": "open_id"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=5,
    )
    assert response.json()["data"]["user"]["open_id"] == emu.target_users[0].open_id
