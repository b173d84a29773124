"""Attack: another site frames the accounts page and tricks a signed-in admin into clicking Link or Unlink.

The plugin's pages sent no anti-framing header. Every response of both plugin apps (pages, static files,
problems, redirects, the callback) now carries CSP ``frame-ancestors 'self'`` and ``X-Frame-Options:
SAMEORIGIN``: the Airflow UI (same origin) can still show the page in its iframe, other origins cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

REQUESTS = [
    ("op", "GET", "/tiktok/accounts", 200),
    ("op", "GET", "/tiktok/", 303),
    ("op", "GET", "/tiktok/static/tiktok.css", 200),
    ("op", "GET", "/tiktok/accounts/tiktok_account_x/unlink", 404),  # "no longer exists" page
    ("op", "POST", "/tiktok/accounts/link", 403),  # no CSRF token: a problem page
    ("viewer", "GET", "/tiktok/accounts", 403),
    (None, "GET", "/tiktok/accounts", 303),  # to the login page
    ("op", "GET", "/users/auth/tiktok/callback", 400),
    ("op", "GET", "/tiktok/no-such-page", 404),
]


@pytest.mark.parametrize(("user", "method", "path", "status"), REQUESTS)
def test_every_plugin_response_forbids_framing_by_other_origins(
    make_client: Callable[..., TestClient],
    app_connection: TikTokEmulator,
    user: str | None,
    method: str,
    path: str,
    status: int,
) -> None:
    response = make_client(user).request(method, path)
    assert response.status_code == status, response.text
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
