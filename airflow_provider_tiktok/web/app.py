"""The two FastAPI apps of the plugin: the pages (``/tiktok``) and the OAuth callback.

Both are mounted by Airflow's API server (``fastapi_apps``). They share the error handling:

- not signed in (or a stale ``_token``): redirect to the auth manager's login page, coming back after;
  API clients (``Authorization: Bearer``) get a plain 401 instead;
- missing permission: a 403 page naming the permission;
- anything unexpected: a 500 page without a stack trace (the trace goes to the API server log).

Every response forbids caching, sends no referrer (the callback URL carries a code and a state) and may be
framed only by the Airflow UI itself (CSP ``frame-ancestors 'self'``, ``X-Frame-Options: SAMEORIGIN``):
the page renders inside the UI's iframe, and nowhere else (no clickjacking of Link or Unlink).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_tiktok.errors import TikTokConfigError
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


_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}


def _with_security_headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    return _with_security_headers(await call_next(request))


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


async def _config_error(request: Request, exc: Exception) -> Response:
    # Our configuration errors are written to be shown (they name the setting and the fix, never a secret).
    log.error("TikTok accounts page: %s", str(exc))
    return render_problem(request, problems.config_error(str(exc)))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("TikTok accounts page failed on %s %s", request.method, request.url.path)
    # Starlette answers unhandled errors outside the middleware stack: add the headers here too.
    return _with_security_headers(render_problem(request, _INTERNAL))


def mask_api_server_logs() -> None:
    """Make the API server's log handlers mask registered secrets (tokens, via ``mask_tokens``).

    Airflow 3.3 filters only ``airflow.task`` through its core secrets masker in the API server: the root
    handler that every other logger (this plugin's included) writes to has no masking filter, and log
    masking is switched off outside tasks and the triggerer. This plugin handles tokens in the API
    server, so it switches masking on and adds the core masker to the root logger's handlers (once).
    """
    try:
        from airflow._shared.secrets_masker import SecretsMasker, _secrets_masker
    except ImportError:  # an Airflow without the core masker: nothing to attach
        return
    masker = _secrets_masker()
    SecretsMasker.enable_log_masking()
    for handler in logging.getLogger().handlers:
        if masker not in handler.filters:
            handler.addFilter(masker)


def _configure(app: FastAPI) -> FastAPI:
    mask_api_server_logs()
    app.middleware("http")(_security_headers)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(NotPermitted, _not_permitted)
    app.add_exception_handler(TikTokConfigError, _config_error)
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
