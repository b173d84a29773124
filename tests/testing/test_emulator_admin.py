"""HTTP admin endpoints under /emulator/ and the Python control API (config, clock, records, users)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import requests
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

VIDEO = "/v2/video/list/"


def test_config_get_hides_the_secret_and_post_changes_knobs(
    emu: TikTokEmulator, http: requests.Session
) -> None:
    config = http.get(emu.base_url + "/emulator/config").json()
    assert config["client_key"] == emu.client_key
    assert "client_secret" not in config
    changed = http.post(
        emu.base_url + "/emulator/config", json={"access_ttl": 7200, "pkce": "optional"}
    ).json()
    assert (changed["access_ttl"], changed["pkce"]) == (7200, "optional")
    assert emu.config.access_ttl == 7200


@pytest.mark.parametrize(
    "body", [{"users": 9}, {"no_such_knob": 1}, {"pkce": "sometimes"}, {"redirect_uris": []}]
)
def test_bad_or_start_only_knobs_are_refused(
    emu: TikTokEmulator, http: requests.Session, body: dict[str, object]
) -> None:
    response = http.post(emu.base_url + "/emulator/config", json=body)
    assert response.status_code == 400
    assert response.json()["error"]
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by knob
        emu.configure(**body)


def test_clock_over_http_and_python(emu: TikTokEmulator, http: requests.Session) -> None:
    now = emu.clock.now()
    advanced = http.post(emu.base_url + "/emulator/clock", json={"advance": 3600}).json()["now"]
    assert advanced == pytest.approx(now + 3600, abs=5)
    assert http.post(emu.base_url + "/emulator/clock", json={"set": 2_000_000_000}).json()[
        "now"
    ] == pytest.approx(2_000_000_000, abs=5)
    assert emu.clock.now() == pytest.approx(2_000_000_000, abs=5)
    assert http.post(emu.base_url + "/emulator/clock", json={}).status_code == 400


def test_requests_are_recorded_with_open_id_and_counted(flow: Flow, emu: TikTokEmulator) -> None:
    body = flow.tokens()
    flow.api(body["access_token"], VIDEO, "id")
    flow.api("act.unknown", VIDEO, "id")
    assert emu.count(VIDEO) == 2
    assert emu.count("/v2/oauth/token/", "POST") == 1
    assert emu.count("/v2/auth/authorize/") == 1
    last_two = [(r.method, r.path, r.status, r.open_id) for r in emu.requests[-2:]]
    assert last_two == [("POST", VIDEO, 200, body["open_id"]), ("POST", VIDEO, 401, None)]
    listed = flow.http.get(emu.base_url + "/emulator/requests").json()
    assert [r["path"] for r in listed][-2:] == [VIDEO, VIDEO]
    assert emu.count("/emulator/requests") == 0  # admin calls are not recorded
    flow.http.delete(emu.base_url + "/emulator/requests")
    assert emu.count() == 0
    assert emu.requests == []


def test_record_limit_bounds_memory_but_counts_stay_exact(
    tiktok_emulator_factory: object, http: requests.Session
) -> None:

    assert callable(tiktok_emulator_factory)
    emu: TikTokEmulator = tiktok_emulator_factory(users=1, videos=1, record_limit=3)
    for _ in range(5):
        http.get(emu.base_url + "/v2/user/info/")
    assert len(emu.requests) == 3
    assert emu.count("/v2/user/info/") == 5


def test_users_endpoint_lists_users_without_secrets(emu: TikTokEmulator, http: requests.Session) -> None:
    users = http.get(emu.base_url + "/emulator/users").json()
    assert [u["open_id"] for u in users] == [u.open_id for u in emu.users]
    assert [u["is_target_user"] for u in users] == [True, True, False]


def test_revoke_endpoint(flow: Flow, emu: TikTokEmulator) -> None:
    body = flow.tokens()
    assert flow.http.post(emu.base_url + "/emulator/revoke", json={"open_id": body["open_id"]}).json() == {
        "revoked": 2
    }
    assert flow.api(body["access_token"], VIDEO, "id").status_code == 401
    assert flow.http.post(emu.base_url + "/emulator/revoke", json={"open_id": "x"}).status_code == 400


def test_unknown_admin_route_is_404(emu: TikTokEmulator, http: requests.Session) -> None:
    assert http.get(emu.base_url + "/emulator/nothing").status_code == 404
