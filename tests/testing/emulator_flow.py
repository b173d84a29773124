"""OAuth helper for the emulator's contract tests: drives the real authorize redirect and token calls."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_tiktok.testing.emulator import pkce_challenge

if TYPE_CHECKING:
    import requests

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

ALL_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"


@dataclass
class Flow:
    """Drives the real authorize redirect and token exchange against an emulator."""

    emu: TikTokEmulator
    http: requests.Session
    verifier: str = ""

    def authorize_params(self, **overrides: Any) -> dict[str, Any]:
        """Valid authorize query parameters (PKCE included), with ``overrides``; None drops a key."""
        self.verifier = secrets.token_urlsafe(48)
        params: dict[str, Any] = {
            "client_key": self.emu.client_key,
            "response_type": "code",
            "scope": ALL_SCOPES,
            "redirect_uri": self.emu.redirect_uri,
            "state": "st=1&x y,z",
            "code_challenge": pkce_challenge(self.verifier, self.emu.config.challenge_encoding),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def authorize(self, **overrides: Any) -> requests.Response:
        """GET the authorize page without following redirects."""
        url = self.emu.base_url + "/v2/auth/authorize/"
        return self.http.get(url, params=self.authorize_params(**overrides), allow_redirects=False)

    def code(self, open_id: str | None = None, **overrides: Any) -> str:
        """Consent as ``open_id`` (default: first target user) and return the code."""
        user = open_id or self.emu.target_users[0].open_id
        response = self.authorize(emulator_user=user, **overrides)
        assert response.status_code == 302, response.text
        return self.callback(response)["code"]

    def exchange(self, code: str | None, **overrides: Any) -> requests.Response:
        """POST the code grant (same redirect_uri and the verifier of the last authorize)."""
        form = {
            "client_key": self.emu.client_key,
            "client_secret": self.emu.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.emu.redirect_uri,
            "code_verifier": self.verifier,
        }
        form.update(overrides)
        return self.http.post(
            self.emu.base_url + "/v2/oauth/token/", data={k: v for k, v in form.items() if v is not None}
        )

    def tokens(self, open_id: str | None = None) -> dict[str, Any]:
        """A full code flow; returns the token response."""
        response = self.exchange(self.code(open_id))
        body: dict[str, Any] = response.json()
        assert "access_token" in body, body
        return body

    def refresh(self, refresh_token: str) -> requests.Response:
        """POST the refresh grant."""
        form = {
            "client_key": self.emu.client_key,
            "client_secret": self.emu.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return self.http.post(self.emu.base_url + "/v2/oauth/token/", data=form)

    def api(
        self, token: str, path: str, fields: str, body: dict[str, Any] | None = None
    ) -> requests.Response:
        """Call a Display API endpoint (GET for user info, POST with a JSON body otherwise)."""
        url = self.emu.base_url + path
        headers = {"Authorization": f"Bearer {token}"}
        if path == "/v2/user/info/":
            return self.http.get(url, params={"fields": fields}, headers=headers)
        return self.http.post(url, params={"fields": fields}, json=body or {}, headers=headers)

    @staticmethod
    def callback(response: requests.Response) -> dict[str, str]:
        """The query parameters of a redirect's Location."""
        query = parse_qs(urlsplit(response.headers["Location"]).query, keep_blank_values=True)
        return {key: values[0] for key, values in query.items()}
