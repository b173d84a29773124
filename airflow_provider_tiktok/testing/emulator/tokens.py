"""Authorization codes, access and refresh tokens, and PKCE verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator.config import EmulatorConfig


class TokenError(Exception):
    """An OAuth error for the token endpoint: ``error`` code and ``description``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class CodeGrant:
    """An authorization code waiting to be exchanged."""

    open_id: str
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str | None
    expires_at: float


@dataclass(frozen=True)
class Grant:
    """What a token stands for: the user, the granted scopes and the expiry (Unix seconds)."""

    open_id: str
    scopes: tuple[str, ...]
    expires_at: float


def pkce_challenge(verifier: str, encoding: str) -> str:
    """The S256 challenge of ``verifier`` in ``encoding`` ("base64url" without padding, or "hex")."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    if encoding == "hex":
        return digest.hex()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenBook:
    """All codes and tokens of one app, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, CodeGrant] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self._clients: dict[str, float] = {}

    def issue_code(self, grant: CodeGrant) -> str:
        """Store ``grant`` and return its one-time code."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = grant
        return code

    def exchange_code(self, form: dict[str, str], cfg: EmulatorConfig, now: float) -> dict[str, Any]:
        """Authorization-code grant: check code, redirect_uri and PKCE; returns the token response."""
        with self._lock:
            grant = self._codes.get(form.get("code", ""))
            if grant is None:
                raise TokenError("invalid_grant", "Authorization code is invalid or has been used.")
            if grant.expires_at <= now:
                raise TokenError("invalid_grant", "Authorization code is expired.")
            if form.get("redirect_uri") != grant.redirect_uri:
                raise TokenError("invalid_request", "The redirect_uri does not match the authorize request.")
            _check_verifier(grant.challenge, form.get("code_verifier"), cfg.challenge_encoding)
            del self._codes[form["code"]]
            return self._issue(grant.open_id, grant.scopes, cfg, now, now + cfg.refresh_ttl)

    def refresh(self, refresh_token: str, cfg: EmulatorConfig, now: float) -> dict[str, Any]:
        """Refresh grant with strict or no rotation; returns the token response."""
        with self._lock:
            grant = self._refresh.get(refresh_token)
            if grant is None:
                raise TokenError("invalid_grant", "Refresh token is invalid or has been revoked.")
            if grant.expires_at <= now:
                raise TokenError("invalid_grant", "Refresh token is expired.")
            refresh_expires = now + cfg.refresh_ttl if cfg.sliding_refresh_expiry else grant.expires_at
            if not cfg.strict_rotation:
                self._refresh[refresh_token] = Grant(grant.open_id, grant.scopes, refresh_expires)
                return self._issue(
                    grant.open_id, grant.scopes, cfg, now, refresh_expires, refresh_token=refresh_token
                )
            del self._refresh[refresh_token]
            return self._issue(grant.open_id, grant.scopes, cfg, now, refresh_expires)

    def issue_direct(
        self, open_id: str, scopes: tuple[str, ...], cfg: EmulatorConfig, now: float
    ) -> dict[str, Any]:
        """Issue a token pair without the OAuth dance (test shortcut)."""
        with self._lock:
            return self._issue(open_id, scopes, cfg, now, now + cfg.refresh_ttl)

    def issue_client_token(self, cfg: EmulatorConfig, now: float) -> dict[str, Any]:
        """Client-credentials grant: an app-level ``clt.`` token (no user, no refresh token)."""
        token = "clt." + secrets.token_urlsafe(45)
        with self._lock:
            self._clients[token] = now + cfg.client_token_ttl
        return {"access_token": token, "expires_in": cfg.client_token_ttl, "token_type": "Bearer"}

    def client_token_valid(self, token: str, now: float) -> bool:
        """True while a client access token is known and unexpired."""
        expires = self._clients.get(token)
        return expires is not None and expires > now

    def access_grant(self, token: str) -> Grant | None:
        """The grant behind an access token, expired or not; None if unknown or revoked."""
        return self._access.get(token)

    def revoke_user(self, open_id: str) -> int:
        """Invalidate every access and refresh token of ``open_id``; returns how many died."""
        with self._lock:
            dead = 0
            for book in (self._access, self._refresh):
                doomed = [t for t, g in book.items() if g.open_id == open_id]
                for token in doomed:
                    del book[token]
                dead += len(doomed)
            return dead

    def _issue(
        self,
        open_id: str,
        scopes: tuple[str, ...],
        cfg: EmulatorConfig,
        now: float,
        refresh_expires: float,
        *,
        refresh_token: str | None = None,
    ) -> dict[str, Any]:
        access_token = "act." + secrets.token_urlsafe(45)
        refresh_token = refresh_token or "rft." + secrets.token_urlsafe(45)
        self._access[access_token] = Grant(open_id, scopes, now + cfg.access_ttl)
        self._refresh[refresh_token] = Grant(open_id, scopes, refresh_expires)
        response: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": cfg.access_ttl,
            "open_id": open_id,
            "refresh_expires_in": max(int(refresh_expires - now), 0),
            "refresh_token": refresh_token,
            "scope": ",".join(scopes),
            "token_type": "Bearer",
        }
        if cfg.omit_refresh_expires_in:
            del response["refresh_expires_in"]
        return response


def _check_verifier(challenge: str | None, verifier: str | None, encoding: str) -> None:
    if challenge is None:
        return
    if not verifier:
        raise TokenError("invalid_grant", "code_verifier is required.")
    if not hmac.compare_digest(pkce_challenge(verifier, encoding), challenge):
        # TikTok's words for a verifier that does not hash to the challenge (e.g. a base64url challenge).
        raise TokenError("invalid_request", "Code verifier or code challenge is invalid.")
