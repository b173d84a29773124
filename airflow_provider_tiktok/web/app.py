"""The two FastAPI apps of the plugin: the pages (``/tiktok``) and the OAuth callback.

Both are mounted by Airflow's API server (``fastapi_apps``). They share the error handling:

- not signed in (or a stale ``_token``): redirect to the auth manager's login page, coming back after;
  API clients (``Authorization: Bearer``) get a plain 401 instead;
- missing permission: a 403 page naming the permission;
- anything unexpected: a 500 page without a stack trace (the trace goes to the API server log).

Every response forbids caching and sends no referrer (the callback URL carries a code and a state).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_tiktok.web import callback, problems, routes
from airflow_provider_tiktok.web.auth import NotPermitted, login_url
from airflow_provider_tiktok.web.pages import STATIC_DIR, is_top_level, render_problem
from airflow_provider_tiktok.web.problems import Problem
from airflow_provider_tiktok.web.settings import ui_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

_INTERNAL = Problem(
    title="Something went wrong",
    what="The TikTok accounts page hit an unexpected error; nothing secret was shown.",
    todo=("Try again. If it persists, an Airflow admin can find the details in the API server log.",),
    status_code=500,
    code="internal",
)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


async def _into_the_ui(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """A page opened as the whole tab (an old ``/tiktok/accounts`` bookmark, a pasted unlink link) is
    shown inside the Airflow UI instead, with its navigation: ``/plugin/tiktok-accounts/<same path>``."""
    if request.method == "GET" and is_top_level(request) and "/static/" not in request.url.path:
        target = ui_url(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(target, status_code=303)
    return await call_next(request)


def _wants_login_redirect(request: Request, exc: StarletteHTTPException) -> bool:
    if request.headers.get("authorization"):
        return False  # an API client: answer plainly
    return exc.status_code == 401 or (exc.status_code == 403 and exc.detail == "Invalid JWT token")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _wants_login_redirect(request, exc):
        return RedirectResponse(login_url(str(request.url)), status_code=303)
    if exc.status_code in (401, 403):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    problem = Problem(
        title=f"Error {exc.status_code}", what=str(exc.detail), todo=(), status_code=exc.status_code
    )
    return render_problem(request, problem)


async def _not_permitted(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotPermitted)
    log.info("TikTok accounts page: %s", exc)
    return render_problem(request, problems.not_permitted(exc), user=exc.user)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("TikTok accounts page failed on %s %s", request.method, request.url.path)
    return render_problem(request, _INTERNAL)


def _configure(app: FastAPI) -> FastAPI:
    app.middleware("http")(_security_headers)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NotPermitted, _not_permitted)
    app.add_exception_handler(Exception, _internal_error)
    return app


def create_pages_app() -> FastAPI:
    """The accounts pages and their stylesheet, to mount at ``/tiktok``."""
    app = FastAPI(title="TikTok accounts", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.middleware("http")(_into_the_ui)
    return _configure(app)


def create_callback_app() -> FastAPI:
    """The OAuth callback, to mount at the callback path's parent (``/users/auth/tiktok``)."""
    app = FastAPI(title="TikTok OAuth callback", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(callback.router)
    return _configure(app)
