"""Contract tests for the token and revoke endpoints (TIKTOK_API.md section 2), over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

VIDEO = "/v2/video/list/"


def test_code_grant_returns_documented_shape_and_token_formats(flow: Flow, emu: TikTokEmulator) -> None:
    response = flow.exchange(flow.code())
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "access_token",
        "expires_in",
        "open_id",
        "refresh_expires_in",
        "refresh_token",
        "scope",
        "token_type",
    }
    assert body["access_token"].startswith("act.")
    assert body["refresh_token"].startswith("rft.")
    assert (body["expires_in"], body["refresh_expires_in"]) == (7200, 15552000)  # TikTok's docs, 2026-11
    assert body["token_type"] == "Bearer"
    assert body["open_id"] == emu.target_users[0].open_id
    assert body["scope"] == "user.info.basic,user.info.profile,user.info.stats,video.list"


def test_code_is_single_use(flow: Flow) -> None:
    code = flow.code()
    assert "access_token" in flow.exchange(code).json()
    again = flow.exchange(code)
    assert again.status_code == 200
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["log_id"]


def test_code_expires_on_the_emulator_clock(flow: Flow, emu: TikTokEmulator) -> None:
    code = flow.code()
    emu.clock.advance(emu.config.code_ttl + 1)
    assert flow.exchange(code).json()["error"] == "invalid_grant"


def test_bad_client_credentials_are_invalid_client(flow: Flow) -> None:
    assert flow.exchange(flow.code(), client_secret="wrong").json()["error"] == "invalid_client"


def test_redirect_uri_must_equal_the_authorize_one(flow: Flow) -> None:
    body = flow.exchange(flow.code(), redirect_uri=flow.emu.redirect_uri + "/").json()
    assert body["error"] == "invalid_request"


def test_pkce_verifier_is_checked(flow: Flow) -> None:
    wrong = flow.exchange(flow.code(), code_verifier="x" * 50).json()
    assert (wrong["error"], wrong["error_description"]) == (
        "invalid_request",
        "Code verifier or code challenge is invalid.",  # what public clients report from TikTok
    )
    assert flow.exchange(flow.code(), code_verifier=None).json()["error"] == "invalid_grant"


def test_hex_challenge_is_the_default_and_base64url_a_knob(flow: Flow, emu: TikTokEmulator) -> None:
    assert emu.config.challenge_encoding == "hex"
    assert "access_token" in flow.exchange(flow.code()).json()  # the flow computes a hex challenge
    emu.configure(challenge_encoding="base64url")
    code = flow.code()  # an RFC 7636 base64url challenge
    assert "access_token" in flow.exchange(code).json()
    code = flow.code()
    emu.configure(challenge_encoding="hex")  # TikTok: a base64url challenge never verifies
    assert flow.exchange(code).json()["error"] == "invalid_request"


def test_client_credentials_grant_issues_an_app_token(flow: Flow, emu: TikTokEmulator) -> None:
    body = flow.exchange(None, grant_type="client_credentials").json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["access_token"].startswith("clt.")
    assert (body["expires_in"], body["token_type"]) == (7200, "Bearer")
    assert flow.exchange(None, grant_type="client_credentials", client_secret="wrong").json()["error"] == (
        "invalid_client"
    )


def test_errors_can_use_http_400(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(token_errors_http_200=False)
    response = flow.exchange("no-such-code")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(flow: Flow) -> None:
    assert flow.exchange(flow.code(), grant_type="password").json()["error"] == "unsupported_grant_type"


def test_strict_rotation_kills_the_old_refresh_token_at_once(flow: Flow) -> None:
    first = flow.tokens()
    second = flow.refresh(first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert flow.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert "access_token" in flow.refresh(second["refresh_token"]).json()


def test_refresh_expiry_is_fixed_from_first_issue_unless_sliding(flow: Flow, emu: TikTokEmulator) -> None:
    first = flow.tokens()
    emu.clock.advance(1000)
    fixed = flow.refresh(first["refresh_token"]).json()
    assert fixed["refresh_expires_in"] in (15552000 - 1000, 15552000 - 1001)
    emu.configure(sliding_refresh_expiry=True)
    sliding = flow.refresh(fixed["refresh_token"]).json()
    assert sliding["refresh_expires_in"] == 15552000


def test_non_rotating_variant_keeps_the_refresh_token(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(strict_rotation=False)
    first = flow.tokens()
    second = flow.refresh(first["refresh_token"]).json()
    assert second["refresh_token"] == first["refresh_token"]
    assert "access_token" in flow.refresh(first["refresh_token"]).json()


def test_refresh_expires_in_can_be_omitted(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(omit_refresh_expires_in=True)
    body = flow.tokens()
    assert "refresh_expires_in" not in body
    assert "refresh_expires_in" not in flow.refresh(body["refresh_token"]).json()


def test_lifetimes_are_configurable_and_expire_on_the_clock(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(access_ttl=7200, refresh_ttl=15552000)
    body = flow.tokens()
    assert (body["expires_in"], body["refresh_expires_in"]) == (7200, 15552000)
    assert flow.api(body["access_token"], VIDEO, "id").status_code == 200
    emu.clock.advance(7201)
    expired = flow.api(body["access_token"], VIDEO, "id")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "access_token_invalid"
    emu.clock.advance(15552000)
    assert flow.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoke_returns_empty_object_and_kills_every_token_of_the_user(
    flow: Flow, emu: TikTokEmulator
) -> None:
    one, two = flow.tokens(), flow.tokens()
    other = flow.tokens(emu.target_users[1].open_id)
    form = {"client_key": emu.client_key, "client_secret": emu.client_secret, "token": one["access_token"]}
    response = flow.http.post(emu.base_url + "/v2/oauth/revoke/", data=form)
    assert (response.status_code, response.json()) == (200, {})
    for body in (one, two):
        assert flow.api(body["access_token"], VIDEO, "id").json()["error"]["code"] == "access_token_invalid"
        assert flow.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"
    assert flow.api(other["access_token"], VIDEO, "id").status_code == 200
    again = flow.http.post(emu.base_url + "/v2/oauth/revoke/", data=form)
    assert again.json()["error"] == "invalid_grant"


def test_revoke_all_simulates_the_user_removing_the_app(flow: Flow, emu: TikTokEmulator) -> None:
    body = flow.tokens()
    assert emu.revoke_all(body["open_id"]) == 2
    assert flow.api(body["access_token"], VIDEO, "id").status_code == 401
    assert flow.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"


def test_authorize_code_shortcut_skips_the_page(flow: Flow, emu: TikTokEmulator) -> None:
    user = emu.target_users[1]
    code = emu.authorize_code(
        user.open_id, redirect_uri=emu.redirect_uri, scopes="user.info.basic,video.list"
    )
    body = flow.exchange(code, code_verifier=None).json()
    assert (body["open_id"], body["scope"]) == (user.open_id, "user.info.basic,video.list")


def test_token_endpoint_wants_a_form_body(flow: Flow, emu: TikTokEmulator) -> None:
    response = flow.http.post(emu.base_url + "/v2/oauth/token/", json={"client_key": emu.client_key})
    assert response.json()["error"] == "invalid_request"
