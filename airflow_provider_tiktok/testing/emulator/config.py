"""Every emulator knob in one frozen dataclass, with validation.

Knobs are set at start (``EmulatorConfig(...)``, CLI flags) and most can be changed at run time
(``TikTokEmulator.configure``, ``POST /emulator/config``). Knobs that shape the generated data or the
listening socket are start-only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_tiktok.testing.emulator.spec import KNOWN_SCOPES

DEFAULT_REDIRECT_URI = "https://localhost:8443/users/auth/tiktok/callback"
DEFAULT_APP_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")

#: Knobs fixed once the emulator runs (they shape the data set or the socket).
STARTUP_ONLY = frozenset({"users", "videos", "seed", "non_target_users", "host", "port", "start_time"})


def _knob(default: Any, help_text: str) -> Any:
    """A dataclass field carrying its CLI help text."""
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class EmulatorConfig:
    """Start-up configuration of a TikTok emulator; each field is one documented knob."""

    users: int = _knob(3, "number of sandbox target users")
    videos: int = _knob(50, "videos per user")
    seed: int = _knob(7, "seed of the deterministic data set")
    non_target_users: int = _knob(1, "extra users on the consent page who are not sandbox targets")
    client_key: str = _knob("sbawemulator", "the app's client key (sandbox keys start with sb)")
    client_secret: str = _knob("emulator-secret", "the app's client secret")
    redirect_uris: tuple[str, ...] = _knob((DEFAULT_REDIRECT_URI,), "registered redirect URIs (exact match)")
    app_scopes: tuple[str, ...] = _knob(DEFAULT_APP_SCOPES, "scopes the app is approved for")
    access_ttl: int = _knob(7200, "access token lifetime, seconds (expires_in; TikTok: 2 hours)")
    refresh_ttl: int = _knob(
        15552000, "refresh token lifetime, seconds (refresh_expires_in; TikTok: 180 days)"
    )
    code_ttl: int = _knob(300, "authorization code lifetime, seconds")
    strict_rotation: bool = _knob(True, "each refresh issues a new refresh token and kills the old one")
    sliding_refresh_expiry: bool = _knob(False, "a refresh restarts the refresh token lifetime")
    omit_refresh_expires_in: bool = _knob(False, "leave refresh_expires_in out of token responses")
    pkce: str = _knob("required", "PKCE on the authorize page: required or optional")
    challenge_encoding: str = _knob(
        "hex", "S256 challenge encoding the server expects: hex (TikTok) or base64url (RFC 7636)"
    )
    token_errors_http_200: bool = _knob(True, "token endpoint errors come in HTTP 200 (else 400)")
    non_target_mode: str = _knob(
        "redirect", "non-target user: redirect (error_type) or page (error at TikTok)"
    )
    allow_http_redirect: bool = _knob(False, "accept http:// redirect URIs (TikTok requires https)")
    latency: float = _knob(0.0, "seconds added to every API request")
    rate_limit_per_minute: int = _knob(600, "requests per window per display endpoint (0 = unlimited)")
    rate_limit_scope: str = _knob("app", "rate limit key: app or token")
    rate_window_seconds: float = _knob(60.0, "length of the sliding rate-limit window, seconds")
    send_retry_after: bool = _knob(
        False, "send a Retry-After header with 429 responses (TikTok: undocumented)"
    )
    hang_seconds: float = _knob(60.0, "how long a 'timeout' fault holds the request before closing")
    client_token_ttl: int = _knob(7200, "client access token lifetime, seconds (client_credentials grant)")
    record_limit: int = _knob(100_000, "recorded requests kept (oldest dropped; counters are exact)")
    start_time: float | None = _knob(None, "emulator clock start, Unix seconds (default: now)")
    host: str = _knob("127.0.0.1", "listen address")
    admin_token: str | None = _knob(
        None,
        "bearer token the /emulator/* admin API requires (Authorization: Bearer ...); required when host "
        "is not a loopback address; the CLI also reads TIKTOK_EMULATOR_ADMIN_TOKEN",
    )
    port: int = _knob(0, "listen port (0 = a free port)")

    def __post_init__(self) -> None:
        for name in ("redirect_uris", "app_scopes"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = tuple(part for part in value.split(",") if part)
            object.__setattr__(self, name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        _choice("pkce", self.pkce, ("required", "optional"))
        _choice("challenge_encoding", self.challenge_encoding, ("base64url", "hex"))
        _choice("rate_limit_scope", self.rate_limit_scope, ("app", "token"))
        _choice("non_target_mode", self.non_target_mode, ("redirect", "page"))
        for name in ("users", "videos", "non_target_users", "rate_limit_per_minute", "record_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in (
            "access_ttl",
            "refresh_ttl",
            "client_token_ttl",
            "code_ttl",
            "rate_window_seconds",
            "record_limit",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.latency < 0 or self.hang_seconds < 0:
            raise ValueError("latency and hang_seconds must be >= 0")
        unknown = set(self.app_scopes) - KNOWN_SCOPES
        if unknown:
            raise ValueError(f"unknown app_scopes: {sorted(unknown)}")
        if not self.admin_token and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not a loopback address: set admin_token (--admin-token or "
                "TIKTOK_EMULATOR_ADMIN_TOKEN), or anyone who reaches the port can change faults, the clock "
                "and read recorded requests (tokens included) through /emulator/*"
            )
        if not 1 <= len(self.redirect_uris) <= 10:
            raise ValueError("register between 1 and 10 redirect_uris")
        for uri in self.redirect_uris:
            problem = redirect_uri_problem(uri, allow_http=self.allow_http_redirect)
            if problem:
                raise ValueError(f"redirect_uri {uri!r}: {problem}")

    def replace(self, **knobs: Any) -> EmulatorConfig:
        """A copy with ``knobs`` changed; unknown knob names raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(knobs) - names
        if unknown:
            raise ValueError(f"unknown emulator knobs: {sorted(unknown)}")
        return dataclasses.replace(self, **knobs)

    def public_dict(self) -> dict[str, Any]:
        """All knobs as JSON-ready values, without the client secret."""
        data = dataclasses.asdict(self)
        data.pop("client_secret")
        data["admin_token"] = "***" if data["admin_token"] else None
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def is_loopback(host: str) -> bool:
    """True when ``host`` (a listen address) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_problem(uri: str, *, allow_http: bool = False) -> str | None:
    """Why ``uri`` cannot be registered with TikTok (None when it can)."""
    parts = urlsplit(uri)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        return "must be an absolute https URL"
    if parts.query or parts.fragment or "?" in uri or "#" in uri:
        return "must not have a query string or fragment"
    if len(uri) >= 512:
        return "must be shorter than 512 characters"
    return None


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
