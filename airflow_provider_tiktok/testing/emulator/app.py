"""Routing and the request pipeline: latency, faults, token check, rate limit, handler, record."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from airflow_provider_tiktok.testing.emulator import admin, display, oauth
from airflow_provider_tiktok.testing.emulator.messages import HTML_TYPE, Response, api_error, oauth_error
from airflow_provider_tiktok.testing.emulator.records import RecordedRequest
from airflow_provider_tiktok.testing.emulator.spec import (
    AUTHORIZE_PATH,
    OAUTH_PATHS,
    REVOKE_PATH,
    TOKEN_PATH,
    USER_INFO_PATH,
    VIDEO_LIST_PATH,
    VIDEO_QUERY_PATH,
)

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator.messages import Request
    from airflow_provider_tiktok.testing.emulator.state import EmulatorState
    from airflow_provider_tiktok.testing.emulator.tokens import Grant

_METHODS = {
    AUTHORIZE_PATH: ("GET", "POST"),
    TOKEN_PATH: ("POST",),
    REVOKE_PATH: ("POST",),
    USER_INFO_PATH: ("GET",),
    VIDEO_LIST_PATH: ("POST",),
    VIDEO_QUERY_PATH: ("POST",),
}
_MALFORMED = b'{"data":{"videos":[{"id":"7301","title":"cut off'
_UNAVAILABLE = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


def handle(state: EmulatorState, request: Request) -> Response:
    """Answer one request; every request outside ``/emulator/`` is recorded."""
    if request.path.startswith("/emulator/"):
        return admin.handle(state, request)
    response = _route(state, request)
    status = 0 if response.action else response.status
    state.log.add(RecordedRequest(request.method, request.path, status, state.clock.now(), response.open_id))
    return response


def _route(state: EmulatorState, request: Request) -> Response:
    methods = _METHODS.get(request.path)
    if methods is None:
        return api_error("invalid_params", f"Unknown path {request.path}", status=404)
    if request.method not in methods:
        return api_error("invalid_params", f"{request.method} is not allowed here", status=405)
    if request.path == AUTHORIZE_PATH:
        return oauth.authorize(state, request)
    return _api(state, request)


def _api(state: EmulatorState, request: Request) -> Response:
    cfg = state.config
    if cfg.latency:
        state.stopping.wait(cfg.latency)
    fault = state.faults.pick(request.path)
    if fault in _AFTER_PROCESSING:
        return _answer_then_fail(state, request, fault)
    if fault and fault != "empty_page":
        return fault_response(state, fault, request.path)
    return _process(state, request, fault)


#: Faults that let the request take effect (a refresh rotates) and then delay or lose the answer.
_AFTER_PROCESSING = frozenset({"lost_response", "slow_response"})


def _answer_then_fail(state: EmulatorState, request: Request, fault: str) -> Response:
    """``slow_response``: answer after ``hang_seconds``; ``lost_response``: drop the connection instead."""
    response = _process(state, request, None)
    if fault == "lost_response":
        return Response(0, action="reset", open_id=response.open_id)
    state.stopping.wait(state.config.hang_seconds)
    return response


def _process(state: EmulatorState, request: Request, fault: str | None) -> Response:
    if request.path == TOKEN_PATH:
        return oauth.token(state, request)
    if request.path == REVOKE_PATH:
        return oauth.revoke(state, request)
    grant = display.bearer_grant(state, request)
    if grant is None or grant.expires_at <= state.clock.now():
        open_id = grant.open_id if grant else None
        return api_error("access_token_invalid", "The access token is invalid or expired.", open_id=open_id)
    limited = _rate_limited(state, request, grant)
    if limited:
        return limited
    try:
        return _display(state, request, grant, empty=fault == "empty_page")
    except display.ApiError as exc:
        return display.as_response(exc, grant.open_id)


def _display(state: EmulatorState, request: Request, grant: Grant, *, empty: bool) -> Response:
    if request.path == USER_INFO_PATH:
        return display.user_info(state, request, grant)
    if request.path == VIDEO_LIST_PATH:
        return display.video_list(state, request, grant, empty=empty)
    return display.video_query(state, request, grant)


def _rate_limited(state: EmulatorState, request: Request, grant: Grant) -> Response | None:
    cfg = state.config
    key = (request.path,) if cfg.rate_limit_scope == "app" else (request.path, request.authorization)
    wait = state.limiter.admit(
        key, now=state.clock.now(), limit=cfg.rate_limit_per_minute, window=cfg.rate_window_seconds
    )
    if wait is None:
        return None
    return too_many(state, request.path, wait, open_id=grant.open_id)


def too_many(state: EmulatorState, path: str, wait: float, *, open_id: str | None = None) -> Response:
    """A 429 for ``path``, with Retry-After (whole seconds, at least 1) unless switched off."""
    headers = (("Retry-After", str(max(1, math.ceil(wait)))),) if state.config.send_retry_after else ()
    if path in OAUTH_PATHS:
        response = oauth_error("rate_limit_exceeded", "Too many requests.", status=429)
        response.headers = headers
        return response
    return api_error("rate_limit_exceeded", "Rate limit exceeded.", headers=headers, open_id=open_id)


def fault_response(state: EmulatorState, kind: str, path: str) -> Response:
    """The response (or connection action) of an injected fault of ``kind``."""
    oauth_path = path in OAUTH_PATHS
    if kind == "429":
        return too_many(state, path, state.config.rate_window_seconds)
    if kind in ("500", "error_in_200"):
        status = 500 if kind == "500" else 200
        if oauth_path:
            return oauth_error("server_error", "Injected server error.", status=status)
        return api_error("internal_error", "Injected server error.", status=status)
    if kind == "503":
        return Response(503, _UNAVAILABLE, HTML_TYPE)
    if kind == "malformed_json":
        return Response(200, _MALFORMED)
    if kind == "timeout":
        state.stopping.wait(state.config.hang_seconds)
        return Response(0, action="hang")
    return Response(0, action="reset")
