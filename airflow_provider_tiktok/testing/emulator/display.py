"""Display API handlers: user info, video list and video query (TIKTOK_API.md section 3)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.testing.emulator.messages import Response, api_error, envelope
from airflow_provider_tiktok.testing.emulator.spec import (
    MAX_COUNT_DEFAULT,
    MAX_COUNT_LIMIT,
    QUERY_IDS_LIMIT,
    USER_FIELD_SCOPE,
    VIDEO_FIELDS,
    VIDEO_SCOPE,
)

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator.data import EmulatedUser
    from airflow_provider_tiktok.testing.emulator.messages import Request
    from airflow_provider_tiktok.testing.emulator.state import EmulatorState
    from airflow_provider_tiktok.testing.emulator.tokens import Grant


class ApiError(Exception):
    """A Display API error to send as an envelope with TikTok's status for ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bearer_grant(state: EmulatorState, request: Request) -> Grant | None:
    """The token grant behind the request's bearer token, expired or not (None if unknown)."""
    scheme, _, token = request.authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return state.tokens.access_grant(token.strip())


def user_info(state: EmulatorState, request: Request, grant: Grant) -> Response:
    """``GET /v2/user/info/?fields=...`` -> ``data.user`` with the asked fields."""
    fields = _fields(request, set(USER_FIELD_SCOPE))
    for name in fields:
        _require_scope(state, grant, USER_FIELD_SCOPE[name])
    info = _user(state, grant).user_info()
    return envelope({"user": {name: info[name] for name in fields}}, open_id=grant.open_id)


def video_list(state: EmulatorState, request: Request, grant: Grant, *, empty: bool = False) -> Response:
    """``POST /v2/video/list/?fields=...``, body ``{"max_count", "cursor"}``; ``empty``: empty-page fault."""
    fields = _fields(request, VIDEO_FIELDS)
    _require_scope(state, grant, VIDEO_SCOPE)
    body = _json_body(request)
    max_count = _int_param(body, "max_count", MAX_COUNT_DEFAULT, 1, MAX_COUNT_LIMIT)
    cursor = _int_param(body, "cursor", 0, 0, 2**63 - 1) or None
    user = _user(state, grant)
    if empty:
        first = int(state.clock.now() * 1000) + 1
        return envelope({"videos": [], "cursor": cursor or first, "has_more": True}, open_id=grant.open_id)
    page, next_cursor, has_more = user.page(cursor, max_count)
    videos = [_project(video, fields) for video in page]
    return envelope({"videos": videos, "cursor": next_cursor, "has_more": has_more}, open_id=grant.open_id)


def video_query(state: EmulatorState, request: Request, grant: Grant) -> Response:
    """``POST /v2/video/query/?fields=...`` with ``{"filters": {"video_ids": [...]}}`` (own videos only)."""
    fields = _fields(request, VIDEO_FIELDS)
    _require_scope(state, grant, VIDEO_SCOPE)
    filters = _json_body(request).get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError("invalid_params", "filters.video_ids must be a non-empty list of strings.")
    if len(ids) > QUERY_IDS_LIMIT:
        raise ApiError("invalid_params", f"At most {QUERY_IDS_LIMIT} video_ids are allowed.")
    wanted = set(ids)
    found = [_project(v, fields) for v in _user(state, grant).videos if v["id"] in wanted]
    return envelope({"videos": found, "cursor": 0, "has_more": False}, open_id=grant.open_id)


def as_response(error: ApiError, open_id: str | None) -> Response:
    """The envelope for ``error``."""
    return api_error(error.code, error.message, open_id=open_id)


def _fields(request: Request, allowed: set[str] | frozenset[str]) -> list[str]:
    raw = request.query.get("fields", "")
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    if not fields:
        raise ApiError("invalid_params", "The fields query parameter is required.")
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise ApiError("invalid_params", f"Unknown fields: {','.join(unknown)}")
    return list(dict.fromkeys(fields))


def _require_scope(state: EmulatorState, grant: Grant, scope: str) -> None:
    if scope not in grant.scopes:
        raise ApiError("scope_not_authorized", f"The user did not authorize the scope required: {scope}")
    if scope not in state.config.app_scopes:
        raise ApiError("scope_permission_missed", f"The app is not approved for the scope: {scope}")


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise ApiError("invalid_params", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_params", "The request body must be a JSON object.")
    return body


def _int_param(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError("invalid_params", f"{name} must be an integer between {low} and {high}.")
    return value


def _user(state: EmulatorState, grant: Grant) -> EmulatedUser:
    return state.users_by_id[grant.open_id]


def _project(video: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: video[name] for name in fields if name in video}
