"""Contract tests for the authorize page (TIKTOK_API.md section 1), over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

ERROR_TEXT = "We couldn't log in with TikTok"


def test_consent_page_lists_every_user_and_the_scopes(flow: Flow, emu: TikTokEmulator) -> None:
    response = flow.authorize()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    for user in emu.users:
        assert f"value='{user.open_id}'" in response.text
    assert "(not a sandbox target user)" in response.text
    assert "<li>video.list</li>" in response.text
    assert "id='authorize'" in response.text
    assert "id='deny'" in response.text


def test_success_redirects_with_code_plural_scopes_and_unchanged_state(
    flow: Flow, emu: TikTokEmulator
) -> None:
    response = flow.authorize(emulator_user=emu.target_users[0].open_id, scope="user.info.basic,video.list")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(emu.redirect_uri + "?code=")
    query = flow.callback(response)
    assert query["scopes"] == "user.info.basic,video.list"
    assert query["state"] == "st=1&x y,z"
    assert "scope" not in query
    assert "scopes=user.info.basic,video.list" in response.headers["Location"]


def test_consent_form_post_authorizes_the_chosen_user(
    flow: Flow, emu: TikTokEmulator, http: requests.Session
) -> None:
    user = emu.target_users[1]
    form = {**flow.authorize_params(), "emulator_user": user.open_id, "action": "authorize"}
    response = http.post(emu.base_url + "/v2/auth/authorize/", data=form, allow_redirects=False)
    assert response.status_code == 302
    token = flow.exchange(flow.callback(response)["code"]).json()
    assert token["open_id"] == user.open_id


def test_deny_on_the_form_and_emulator_deny_redirect_access_denied(
    flow: Flow, emu: TikTokEmulator, http: requests.Session
) -> None:
    form = {**flow.authorize_params(), "emulator_user": emu.target_users[0].open_id, "action": "deny"}
    by_form = http.post(emu.base_url + "/v2/auth/authorize/", data=form, allow_redirects=False)
    by_param = flow.authorize(emulator_deny="1")
    for response in (by_form, by_param):
        assert response.status_code == 302
        query = flow.callback(response)
        assert query["error"] == "access_denied"
        assert query["state"] == "st=1&x y,z"
        assert "code" not in query


def test_non_target_user_redirects_with_error_type(flow: Flow, emu: TikTokEmulator) -> None:
    outsider = next(user for user in emu.users if not user.is_target_user)
    response = flow.authorize(emulator_user=outsider.open_id)
    assert response.status_code == 302
    query = flow.callback(response)
    assert query["error"] == "access_denied"
    assert query["error_type"] == "non_sandbox_target"


def test_non_target_user_error_page_variant(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(non_target_mode="page")
    outsider = next(user for user in emu.users if not user.is_target_user)
    response = flow.authorize(emulator_user=outsider.open_id)
    assert response.status_code == 400
    assert ERROR_TEXT in response.text


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"client_key": "sbawunknown"}, "client_key"),
        ({"redirect_uri": "https://localhost:8443/users/auth/tiktok/callback/"}, "redirect_uri"),
        ({"redirect_uri": "http://localhost:8443/users/auth/tiktok/callback"}, "redirect_uri"),
        ({"redirect_uri": "https://evil.example/callback"}, "redirect_uri"),
        ({"redirect_uri": None}, "redirect_uri"),
        ({"code_challenge": None}, "code_challenge"),
        ({"code_challenge_method": "plain"}, "code_challenge_method"),
        ({"response_type": "token"}, "response_type"),
    ],
)
def test_bad_request_shows_error_page_at_tiktok_and_redirects_nowhere(
    flow: Flow, emu: TikTokEmulator, override: dict[str, str | None], named: str
) -> None:
    response = flow.authorize(emulator_user=emu.target_users[0].open_id, **override)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert ERROR_TEXT in response.text
    assert f"correct the following: {named}" in response.text


def test_pkce_optional_accepts_no_challenge(flow: Flow, emu: TikTokEmulator) -> None:
    emu.configure(pkce="optional")
    code = flow.code(code_challenge=None, code_challenge_method=None)
    assert flow.exchange(code, code_verifier=None).json()["token_type"] == "Bearer"


def test_unknown_scope_redirects_invalid_scope(flow: Flow) -> None:
    response = flow.authorize(scope="user.info.basic,ads.management")
    assert response.status_code == 302
    assert flow.callback(response)["error"] == "invalid_scope"


def test_unknown_emulator_user_is_an_error_page(flow: Flow) -> None:
    response = flow.authorize(emulator_user="nobody")
    assert response.status_code == 400
    assert "emulator_user" in response.text


def test_http_redirect_uri_can_be_allowed(
    tiktok_emulator_factory: Callable[..., TikTokEmulator], http: requests.Session
) -> None:
    from emulator_flow import Flow

    uri = "http://localhost:8080/users/auth/tiktok/callback"
    emu = tiktok_emulator_factory(users=1, videos=2, redirect_uris=(uri,), allow_http_redirect=True)
    response = Flow(emu, http).authorize(emulator_user=emu.users[0].open_id)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(uri + "?code=")


def test_config_refuses_to_register_a_non_https_redirect_uri() -> None:
    from airflow_provider_tiktok.testing.emulator import EmulatorConfig

    with pytest.raises(ValueError, match="https"):
        EmulatorConfig(redirect_uris=("http://localhost/cb",))
    with pytest.raises(ValueError, match="query"):
        EmulatorConfig(redirect_uris=("https://localhost/cb?x=1",))


def test_authorize_page_escapes_hostile_display_names(flow: Flow) -> None:
    response = flow.authorize()
    assert 'Bo "The Chef"' not in response.text
    assert "Bo &quot;The Chef&quot; O&#x27;Brien" in response.text
