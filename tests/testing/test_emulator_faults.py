"""Every injected fault kind and the selectors nth / every / fraction / times, over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from dev.waiting import wait_until

if TYPE_CHECKING:
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

VIDEO = "/v2/video/list/"
USER = "/v2/user/info/"


@pytest.fixture
def token(flow: Flow) -> str:
    """An access token with every scope for the first target user."""
    access: str = flow.tokens()["access_token"]
    return access


def _statuses(flow: Flow, token: str, n: int, path: str = VIDEO) -> list[int]:
    return [flow.api(token, path, "id" if path == VIDEO else "open_id").status_code for _ in range(n)]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, "rate_limit_exceeded"),
        ("500", 500, "internal_error"),
        ("error_in_200", 200, "internal_error"),
    ],
)
def test_json_error_faults(
    flow: Flow, emu: TikTokEmulator, token: str, kind: str, status: int, code: str
) -> None:
    emu.inject_fault(kind, path=VIDEO, times=1)
    response = flow.api(token, VIDEO, "id")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert flow.api(token, VIDEO, "id").status_code == 200


def test_injected_429_sends_retry_after_only_when_switched_on(
    flow: Flow, emu: TikTokEmulator, token: str
) -> None:
    emu.inject_fault("429", path=VIDEO, times=2)
    assert "Retry-After" not in flow.api(token, VIDEO, "id").headers  # TikTok does not document one
    emu.configure(send_retry_after=True)
    assert flow.api(token, VIDEO, "id").headers["Retry-After"] == "60"


def test_503_is_an_html_gateway_page(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("503", path=VIDEO, times=1)
    response = flow.api(token, VIDEO, "id")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")


def test_malformed_json_in_http_200(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("malformed_json", path=VIDEO, times=1)
    response = flow.api(token, VIDEO, "id")
    assert response.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_timeout_hangs_past_the_client_timeout(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.configure(hang_seconds=3)
    emu.inject_fault("timeout", path=USER, times=1)
    headers = {"Authorization": f"Bearer {token}"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(emu.base_url + USER, params={"fields": "open_id"}, headers=headers, timeout=0.3)
    assert flow.api(token, USER, "open_id").status_code == 200


def test_reset_drops_the_connection(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("reset", path=VIDEO, times=1)
    with pytest.raises(requests.ConnectionError):
        flow.api(token, VIDEO, "id")
    assert flow.api(token, VIDEO, "id").status_code == 200
    assert [r.status for r in emu.requests if r.path == VIDEO] == [0, 200]


@pytest.mark.parametrize("kind", ["timeout", "reset", "lost_response"])
def test_a_dropped_connection_leaves_no_traceback(
    emu: TikTokEmulator, token: str, kind: str, capfd: pytest.CaptureFixture[str]
) -> None:
    emu.configure(hang_seconds=0.2)
    emu.inject_fault(kind, path=USER, times=1)
    headers = {"Authorization": f"Bearer {token}"}
    before = emu.open_connections()  # the flow's own keep-alive connection
    with requests.Session() as session, pytest.raises(requests.ConnectionError):
        session.get(emu.base_url + USER, params={"fields": "open_id"}, headers=headers, timeout=5)
    # until the handler ended
    wait_until(
        lambda: emu.open_connections() <= before,
        timeout=10,
        what="the faulted connection to close",
        interval=0.01,
    )
    assert emu.open_connections() == before
    assert "Traceback" not in capfd.readouterr().err


def test_empty_page_keeps_has_more_and_the_cursor(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    first = flow.api(token, VIDEO, "id", {"max_count": 20}).json()["data"]
    emu.inject_fault("empty_page", times=1)
    empty = flow.api(token, VIDEO, "id", {"max_count": 20, "cursor": first["cursor"]}).json()
    assert empty["error"]["code"] == "ok"
    assert empty["data"] == {"videos": [], "cursor": first["cursor"], "has_more": True}
    resumed = flow.api(token, VIDEO, "id", {"max_count": 20, "cursor": first["cursor"]}).json()["data"]
    assert len(resumed["videos"]) == 20


def test_empty_first_page_cursor_restarts_from_the_newest(
    flow: Flow, emu: TikTokEmulator, token: str
) -> None:
    emu.inject_fault("empty_page", times=1)
    empty = flow.api(token, VIDEO, "id").json()["data"]
    again = flow.api(token, VIDEO, "id", {"cursor": empty["cursor"]}).json()["data"]
    assert again["videos"][0]["id"] == emu.target_users[0].videos[0]["id"]


def test_nth_alone_fails_that_request_only(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("500", path=VIDEO, nth=2)
    assert _statuses(flow, token, 4) == [200, 500, 200, 200]


def test_nth_with_times_fails_a_run(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("503", path=VIDEO, nth=2, times=2)
    assert _statuses(flow, token, 5) == [200, 503, 503, 200, 200]


def test_every_kth_request(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("500", path=VIDEO, every=3)
    assert _statuses(flow, token, 6) == [500, 200, 200, 500, 200, 200]


def test_every_request_until_cleared(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("500", path=VIDEO)
    assert _statuses(flow, token, 3) == [500, 500, 500]
    assert _statuses(flow, token, 1, USER) == [200]  # other paths are untouched
    emu.clear_faults()
    assert _statuses(flow, token, 1) == [200]


def test_fraction_is_seeded_and_bounded_by_times(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    emu.inject_fault("500", path=VIDEO, fraction=0.5, times=3)
    statuses = _statuses(flow, token, 40)
    assert statuses.count(500) == 3


def test_fault_without_path_hits_the_token_endpoint_too(flow: Flow, emu: TikTokEmulator) -> None:
    code = flow.code()
    emu.inject_fault("500", times=1)
    failed = flow.exchange(code)
    assert failed.status_code == 500
    assert failed.json()["error"] == "server_error"
    assert "access_token" in flow.exchange(code).json()  # the code survived the failed call


def test_bad_fault_requests_are_refused(emu: TikTokEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject_fault("418")
    with pytest.raises(ValueError, match="API paths"):
        emu.inject_fault("500", path="/v2/nowhere/")
    with pytest.raises(ValueError, match="fraction"):
        emu.inject_fault("500", fraction=1.5)


def test_faults_over_the_admin_endpoint(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    created = flow.http.post(
        emu.base_url + "/emulator/faults", json={"kind": "429", "path": VIDEO, "times": 1}
    )
    assert created.json()["kind"] == "429"
    assert _statuses(flow, token, 2) == [429, 200]
    listed = flow.http.get(emu.base_url + "/emulator/faults").json()
    assert listed[0]["fired"] == 1
    flow.http.delete(emu.base_url + "/emulator/faults")
    assert flow.http.get(emu.base_url + "/emulator/faults").json() == []
    bad = flow.http.post(emu.base_url + "/emulator/faults", json={"kind": "nope"})
    assert bad.status_code == 400
