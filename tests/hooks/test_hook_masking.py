"""No token or client secret in logs, exception messages, reprs or XCom; run-time tokens are masked."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk.log import redact

from airflow_provider_tiktok.errors import TikTokError, TikTokTokenPersistError
from airflow_provider_tiktok.hooks.tiktok import USER_INFO_PATH, TikTokHook
from airflow_provider_tiktok.tokens import TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


class FailingWrites:
    """A storage backend whose Variable writes always fail (reads and connections still work)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.attempted: list[str] = []

    def get_connection(self, conn_id: str) -> Any:
        return self.inner.get_connection(conn_id)

    def get_variable(self, key: str) -> str | None:
        return self.inner.get_variable(key)

    def set_variable(self, key: str, value: str) -> None:
        self.attempted.append(value)
        raise ConnectionError(
            f"API server unreachable while writing {value}"
        )  # worst case: value in the error

    def delete_variable(self, key: str) -> None:
        self.inner.delete_variable(key)


def secrets_of(*sets: TokenSet) -> list[str]:
    return [s for t in sets for s in (t.access_token, t.refresh_token)]


def assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text


def test_every_path_keeps_tokens_out_of_logs_and_errors(
    emu: TikTokEmulator,
    link: Callable[..., str],
    make_hook: Callable[..., TikTokHook],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 / requests debug lines included
    conn_id = link()
    hook = make_hook(conn_id)
    texts: list[str] = []
    first = hook.tokens
    emu.inject_fault("500", path=USER_INFO_PATH, nth=1)
    hook.get_user_info()  # a retried call logs a warning
    emu.clock.advance(7200 - 60)  # the access token is about to expire
    outcome = hook.refresh_if_needed()  # a refresh: rotation + persist
    second = hook.tokens
    texts += [repr(first), repr(second), repr(hook.app), repr(outcome), str(outcome.to_summary())]
    for attempt in (lambda: hook.refresh_tokens(first), lambda: TikTokHook(conn_id).refresh_tokens(first)):
        with pytest.raises(TikTokError) as err:  # the dead, rotated-away refresh token
            attempt()
        texts += [str(err.value), repr(err.value)]
    emu.revoke_all(emu.target_users[0].open_id)
    with pytest.raises(TikTokError) as err:
        list(make_hook(conn_id).iter_videos())
    texts += [str(err.value), repr(err.value)]
    texts += [caplog.text, *capsys.readouterr()]  # hook loggers (airflow.task.hooks) print to stdout
    assert_clean("\n".join(texts), [*secrets_of(first, second), emu.client_secret])


def test_persist_failure_is_loud_and_secret_free(
    emu: TikTokEmulator,
    link: Callable[..., str],
    make_hook: Callable[..., TikTokHook],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    store = TokenStore(persist_attempts=3, persist_backoff=0.0)
    failing = FailingWrites(store.backend)
    store.backend = failing
    hook = make_hook(link(), token_store=store)
    before = hook.tokens
    emu.clock.advance(7200 - 60)
    with pytest.raises(TikTokTokenPersistError) as err:
        hook.refresh_if_needed()
    logs = caplog.text + "".join(capsys.readouterr())
    assert "after 3 attempts" in str(err.value)
    assert caplog.text.count("Saving rotated TikTok tokens") == 3
    assert "could NOT be saved" in logs
    assert len(failing.attempted) == 3
    rotated = TokenSet.from_dict(json.loads(failing.attempted[0]))  # lost: TikTok already rotated it
    assert rotated.refresh_token != before.refresh_token
    assert_clean(str(err.value) + logs, [*secrets_of(before, rotated), emu.client_secret])


def test_tokens_obtained_at_run_time_are_registered_with_the_masker(
    emu: TikTokEmulator, app_conn: str, make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(app_conn)
    verifier, challenge = TikTokHook.new_pkce_pair()
    code = emu.authorize_code(
        emu.target_users[0].open_id,
        redirect_uri=emu.redirect_uri,
        scopes="user.info.basic,video.list",
        code_challenge=challenge,
    )
    tokens = hook.exchange_code(code, code_verifier=verifier)
    line = f"debug: access={tokens.access_token} refresh={tokens.refresh_token}"
    redacted = str(redact(line))
    assert_clean(redacted, secrets_of(tokens))
    assert "***" in redacted
