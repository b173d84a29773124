"""OAuth against the emulator: authorize URL, code exchange (PKCE), refresh, revoke, test_connection."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_tiktok.errors import TikTokApiError, TikTokAuthError, TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TOKEN_PATH, TikTokHook

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


def consent(emu: TikTokEmulator, authorize_url: str, open_id: str) -> dict[str, str]:
    """Follow the authorize URL as ``open_id`` consenting; return the callback's query parameters."""
    response = requests.get(
        authorize_url, params={"emulator_user": open_id}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302, response.text[:300]
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def test_authorize_url_always_has_state_and_pkce_s256(
    app_conn: str, make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(app_conn)
    verifier, challenge = TikTokHook.new_pkce_pair()
    params = parse_qs(urlsplit(hook.build_authorize_url(state="st4te", code_challenge=challenge)).query)
    assert params["state"] == ["st4te"]
    assert params["code_challenge"] == [challenge]
    assert params["code_challenge_method"] == ["S256"]
    assert params["response_type"] == ["code"]
    assert params["scope"] == ["user.info.basic,user.info.profile,user.info.stats,video.list"]
    assert 43 <= len(verifier) <= 128
    with pytest.raises(ValueError, match="state and code_challenge"):
        hook.build_authorize_url(state="", code_challenge=challenge)


def test_full_login_flow_exchanges_code_with_pkce(
    emu: TikTokEmulator, app_conn: str, make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(app_conn)
    user = emu.target_users[0]
    verifier, challenge = TikTokHook.new_pkce_pair()
    callback = consent(emu, hook.build_authorize_url(state="s1", code_challenge=challenge), user.open_id)
    assert callback["state"] == "s1"

    tokens = hook.exchange_code(callback["code"], code_verifier=verifier)

    assert tokens.open_id == user.open_id
    assert "video.list" in tokens.scope
    assert tokens.refresh_expiry_assumed is False
    assert (tokens.access_token_expires_at - tokens.issued_at).total_seconds() == emu.config.access_ttl
    info = hook.get_user_info(access_token=tokens.access_token, scopes=tokens.scope)
    assert info["open_id"] == user.open_id
    assert info["follower_count"] == user.follower_count
    assert info["username"] == user.username


def test_hook_sends_the_hex_challenge_tiktok_checks(
    emu: TikTokEmulator, app_conn: str, make_hook: Callable[..., TikTokHook]
) -> None:
    verifier, challenge = TikTokHook.new_pkce_pair()
    assert challenge == hashlib.sha256(verifier.encode()).hexdigest()  # lowercase hex, 64 characters
    assert emu.config.challenge_encoding == "hex"  # the emulator's default is TikTok's behaviour


@pytest.mark.parametrize("server", ["hex", "base64url"])
def test_a_challenge_in_the_other_encoding_is_refused_like_tiktok_does(
    tiktok_emulator_factory: Callable[..., TikTokEmulator],
    monkeypatch: pytest.MonkeyPatch,
    app_json: Callable[..., str],
    server: str,
) -> None:
    emu = tiktok_emulator_factory(challenge_encoding=server, users=1, videos=0, non_target_users=0)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_PKCE", app_json(emu))
    other = "base64url" if server == "hex" else "hex"
    with TikTokHook("tiktok_pkce", backoff_base=0.01) as hook:
        for encoding, works in ((server, True), (other, False)):
            verifier, challenge = TikTokHook.new_pkce_pair(encoding=encoding)
            url = hook.build_authorize_url(state="s", code_challenge=challenge)
            code = consent(emu, url, emu.users[0].open_id)["code"]
            if works:
                assert hook.exchange_code(code, code_verifier=verifier).open_id == emu.users[0].open_id
                continue
            with pytest.raises(TikTokApiError, match="Code verifier or code challenge is invalid") as err:
                hook.exchange_code(code, code_verifier=verifier)
            assert err.value.code == "invalid_request"


def test_wrong_verifier_is_refused_and_not_retried(
    emu: TikTokEmulator, app_conn: str, make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(app_conn)
    _, challenge = TikTokHook.new_pkce_pair()
    callback = consent(
        emu, hook.build_authorize_url(state="s", code_challenge=challenge), emu.users[0].open_id
    )
    emu.reset_requests()
    with pytest.raises(TikTokApiError, match="Code verifier or code challenge is invalid") as err:
        hook.exchange_code(callback["code"], code_verifier="not-the-verifier-" + "x" * 40)
    assert err.value.code == "invalid_request"
    assert emu.count(TOKEN_PATH) == 1


@pytest.mark.parametrize("errors_in_200", [True, False])
def test_redirect_uri_mismatch_is_reported_in_both_status_variants(
    emu: TikTokEmulator, app_conn: str, make_hook: Callable[..., TikTokHook], errors_in_200: bool
) -> None:
    emu.configure(token_errors_http_200=errors_in_200)
    hook = make_hook(app_conn)
    verifier, challenge = TikTokHook.new_pkce_pair()
    callback = consent(
        emu, hook.build_authorize_url(state="s", code_challenge=challenge), emu.users[0].open_id
    )
    with pytest.raises(TikTokApiError, match="invalid_request") as err:
        hook.exchange_code(callback["code"], code_verifier=verifier, redirect_uri="https://other.example/cb")
    assert not isinstance(err.value, TikTokAuthError)
    assert err.value.http_status == (200 if errors_in_200 else 400)


def test_refresh_rotates_and_old_refresh_token_dies(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    first = hook.tokens
    second = hook.refresh_tokens(first)
    assert second.refresh_token != first.refresh_token
    assert second.issued_at >= first.issued_at
    with pytest.raises(TikTokAuthError, match="relink account @") as err:
        hook.refresh_tokens(first)  # strict rotation: the previous refresh token is dead
    assert "/plugin/tiktok-accounts" in str(err.value)
    assert hook.refresh_tokens(second).refresh_token != second.refresh_token


def test_missing_refresh_expires_in_assumes_one_year_from_linking(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    emu.configure(omit_refresh_expires_in=True)
    fresh = hook.refresh_tokens(hook.tokens)
    assert fresh.refresh_expiry_assumed is True
    assert hook.account.linked_at is not None
    assert fresh.refresh_token_expires_at <= hook.account.linked_at.replace(
        year=hook.account.linked_at.year + 1
    )


def test_revoke_kills_the_access_token(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    hook.revoke(hook.tokens.access_token)  # TikTok kills the user's refresh token too
    with pytest.raises(TikTokAuthError, match="refresh token is no longer valid") as err:
        hook.get_user_info()  # refused, renewal tried once, refused for good
    assert err.value.code == "invalid_grant"


def test_app_test_connection_probes_without_consuming(
    emu: TikTokEmulator,
    app_conn: str,
    make_hook: Callable[..., TikTokHook],
    monkeypatch: pytest.MonkeyPatch,
    app_json: Callable[..., str],
) -> None:
    ok, message = make_hook(app_conn).test_connection()
    assert ok, message
    assert "invalid_grant" in message
    bad = json.loads(app_json(emu))
    bad["password"] = "wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_BAD", json.dumps(bad))
    ok, message = make_hook("tiktok_bad").test_connection()
    assert not ok
    assert "tiktok_bad" in message
    assert "wrong-secret" not in message


def test_account_test_connection_calls_user_info(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    conn_id = link()
    emu.reset_requests()
    ok, message = make_hook(conn_id).test_connection()
    assert ok, message
    assert emu.target_users[0].display_name in message
    assert emu.count("/v2/user/info/") == 1
    emu.revoke_all(emu.target_users[0].open_id)
    ok, message = make_hook(conn_id).test_connection()
    assert not ok
    assert "relink account @" in message


def test_app_connection_has_no_account_tokens(app_conn: str, make_hook: Callable[..., TikTokHook]) -> None:
    with pytest.raises(TikTokConfigError, match="is an app connection"):
        make_hook(app_conn).get_user_info()
