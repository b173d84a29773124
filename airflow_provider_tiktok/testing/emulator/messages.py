"""Request and response values passed between the HTTP server and the emulator's handlers."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from airflow_provider_tiktok.testing.emulator.spec import ERROR_STATUS

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Request:
    """An HTTP request as the handlers see it; ``query`` keeps the first value of each parameter."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes = b""
    content_type: str = ""
    authorization: str = ""

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form (first value of each field)."""
        pairs = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in pairs.items()}


@dataclass
class Response:
    """What to send back. ``action`` "hang" or "reset" sends nothing and drops the connection."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    action: str | None = None
    open_id: str | None = field(default=None, compare=False)


def log_id() -> str:
    """A TikTok-like log id: UTC timestamp plus random hex."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(9).upper()


def dump(payload: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(data: dict[str, Any], *, open_id: str | None = None) -> Response:
    """A successful Display API response."""
    body = {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}}
    return Response(200, dump(body), open_id=open_id)


def api_error(
    code: str,
    message: str,
    *,
    status: int | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    open_id: str | None = None,
) -> Response:
    """A Display API error envelope; the HTTP status defaults to the one TikTok uses for ``code``."""
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}}
    return Response(status or ERROR_STATUS[code], dump(body), headers=headers, open_id=open_id)


def oauth_error(error: str, description: str, *, status: int, open_id: str | None = None) -> Response:
    """A token-endpoint error body."""
    body = {"error": error, "error_description": description, "log_id": log_id()}
    return Response(status, dump(body), open_id=open_id)


def redirect(location: str, *, open_id: str | None = None) -> Response:
    """A 302 to ``location``."""
    return Response(302, b"", HTML_TYPE, (("Location", location),), open_id=open_id)
