"""Attack: a crafted callback URL puts the attacker's words on the Airflow origin.

``/users/auth/tiktok/callback?error=x&error_description=Your+session+was+compromised,+call+...`` once
rendered the description as the page's own sentence, with no state at all. Now a callback without a valid
state shows only the state problem, and TikTok's text appears only for a flow the user started, quoted and
labelled as TikTok's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from page_flow import consent, start_flow

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

PHISH = "Your session was compromised, call +1 555 0100 now"


@pytest.mark.parametrize("state", [None, "forged-state", "x.y.z"])
@pytest.mark.parametrize("error", ["server_error", "access_denied", "<script>alert(1)</script>"])
def test_error_text_without_a_valid_state_is_not_shown(
    client: TestClient, app_connection: TikTokEmulator, state: str | None, error: str
) -> None:
    query = {"error": error, "error_description": PHISH, **({"state": state} if state else {})}
    page = client.get(f"/users/auth/tiktok/callback?{urlencode(query)}")
    assert page.status_code in (400, 403)
    assert 'data-problem="state_' in page.text
    assert "555 0100" not in page.text
    assert "compromised" not in page.text
    assert "alert(1)" not in page.text


def test_with_a_valid_state_tiktoks_text_is_quoted_as_tiktoks_words(
    client: TestClient, app_connection: TikTokEmulator
) -> None:
    state = parse_qs(urlsplit(start_flow(client)).query)["state"][0]
    query = {"state": state, "error": "server_error", "error_description": PHISH}
    page = client.get(f"/users/auth/tiktok/callback?{urlencode(query)}")
    assert 'data-problem="oauth_server_error"' in page.text
    assert "TikTok&#39;s message (its words, not this page&#39;s)" in page.text
    assert f"“{PHISH}”" in page.text
    # Not the page's own sentence: the text appears only inside the quoted detail.
    assert page.text.count("compromised") == 1
    # The state was spent by that answer: replaying the URL shows no text at all.
    again = client.get(f"/users/auth/tiktok/callback?{urlencode(query)}")
    assert 'data-problem="state_replayed"' in again.text
    assert "compromised" not in again.text


def test_a_real_denial_still_says_what_to_do(client: TestClient, app_connection: TikTokEmulator) -> None:
    page = client.get(consent(start_flow(client), None, deny=True))
    assert page.status_code == 400
    assert 'data-problem="access_denied"' in page.text
