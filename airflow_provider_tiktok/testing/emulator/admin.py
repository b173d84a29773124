"""Emulator-only HTTP admin endpoints under ``/emulator/`` (config, faults, clock, requests, users).

When the emulator has an ``admin_token`` (required unless it listens on loopback only), every admin route
but ``GET /emulator/health`` needs ``Authorization: Bearer <admin_token>``; without it the answer is a 401.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.testing.emulator.messages import Response, dump

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.testing.emulator.messages import Request
    from airflow_provider_tiktok.testing.emulator.state import EmulatorState


def handle(state: EmulatorState, request: Request) -> Response:
    """Dispatch ``/emulator/<name>``; bad input is a 400 with ``{"error": ...}``."""
    if (request.method, request.path) == ("GET", "/emulator/health"):
        return _reply({"ok": True})
    if not _authorized(state, request):
        return _reply({"error": "the emulator's admin API needs Authorization: Bearer <admin_token>"}, 401)
    route = _ROUTES.get((request.method, request.path))
    if route is None:
        return _reply({"error": f"no admin route {request.method} {request.path}"}, 404)
    try:
        body = json.loads(request.body) if request.body.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return _reply(route(state, body))
    except (ValueError, TypeError) as exc:
        return _reply({"error": str(exc)}, 400)


def _authorized(state: EmulatorState, request: Request) -> bool:
    token = state.config.admin_token
    if not token:
        return True
    return hmac.compare_digest(request.authorization.encode(), f"Bearer {token}".encode())


def _reply(payload: Any, status: int = 200) -> Response:
    return Response(status, dump(payload))


def _get_config(state: EmulatorState, body: dict[str, Any]) -> Any:
    return state.config.public_dict()


def _post_config(state: EmulatorState, body: dict[str, Any]) -> Any:
    return state.configure(**body).public_dict()


def _post_fault(state: EmulatorState, body: dict[str, Any]) -> Any:
    return asdict(state.faults.add(**body))


def _get_faults(state: EmulatorState, body: dict[str, Any]) -> Any:
    return state.faults.describe()


def _delete_faults(state: EmulatorState, body: dict[str, Any]) -> Any:
    state.faults.clear()
    return {"faults": 0}


def _get_clock(state: EmulatorState, body: dict[str, Any]) -> Any:
    return {"now": state.clock.now()}


def _post_clock(state: EmulatorState, body: dict[str, Any]) -> Any:
    """``{"advance": seconds}`` or ``{"set": unix_seconds}``."""
    if "set" in body:
        return {"now": state.clock.set(float(body["set"]))}
    if "advance" in body:
        return {"now": state.clock.advance(float(body["advance"]))}
    raise ValueError('send {"advance": seconds} or {"set": unix_seconds}')


def _get_requests(state: EmulatorState, body: dict[str, Any]) -> Any:
    return [asdict(r) for r in state.log.all()]


def _delete_requests(state: EmulatorState, body: dict[str, Any]) -> Any:
    state.log.reset()
    return {"requests": 0}


def _get_users(state: EmulatorState, body: dict[str, Any]) -> Any:
    keys = ("open_id", "display_name", "username", "is_target_user", "video_count")
    return [{key: getattr(user, key) for key in keys} for user in state.users]


def _post_revoke(state: EmulatorState, body: dict[str, Any]) -> Any:
    open_id = body.get("open_id")
    if open_id not in state.users_by_id:
        raise ValueError(f"unknown open_id {open_id!r}")
    return {"revoked": state.tokens.revoke_user(open_id)}


_ROUTES: dict[tuple[str, str], Callable[[EmulatorState, dict[str, Any]], Any]] = {
    ("GET", "/emulator/config"): _get_config,
    ("POST", "/emulator/config"): _post_config,
    ("GET", "/emulator/faults"): _get_faults,
    ("POST", "/emulator/faults"): _post_fault,
    ("DELETE", "/emulator/faults"): _delete_faults,
    ("GET", "/emulator/clock"): _get_clock,
    ("POST", "/emulator/clock"): _post_clock,
    ("GET", "/emulator/requests"): _get_requests,
    ("DELETE", "/emulator/requests"): _delete_requests,
    ("GET", "/emulator/users"): _get_users,
    ("POST", "/emulator/revoke"): _post_revoke,
}
