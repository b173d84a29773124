"""The hook's HTTP session: proxy and CA settings come from the environment, read once per hook."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.errors import TikTokTransientError
from dev.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook


def test_a_proxy_from_the_environment_is_used(
    link: Callable[..., str], make_hook: Callable[..., TikTokHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = link()
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: every request through it fails
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    hook = make_hook(conn_id, max_retries=0)
    assert hook.session.proxies["http"] == dead_proxy
    with pytest.raises(TikTokTransientError, match="connection error"):
        hook.get_user_info()


def test_no_proxy_exempts_the_api_host(
    link: Callable[..., str], make_hook: Callable[..., TikTokHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = link()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    hook = make_hook(conn_id)
    assert hook.get_user_info()["open_id"]


def test_ca_bundle_from_the_environment(
    link: Callable[..., str], make_hook: Callable[..., TikTokHook], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert make_hook(link()).session.verify == "/etc/ssl/certs/ca-certificates.crt"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert make_hook(link()).session.verify is True


def test_get_conn_is_the_hooks_one_configured_session(
    link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    session = hook.get_conn()
    assert session is hook.session
    assert session is hook.get_conn()  # one keep-alive session per hook
    assert session.headers["User-Agent"] == "airflow-provider-tiktok"
    assert session.trust_env is False  # proxies and CA bundle were read once, from the environment
