"""Routes of the accounts pages, mounted at ``/tiktok``.

Reading is ``GET``; everything that changes something is a ``POST`` form carrying a CSRF token.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002 - FastAPI resolves it at runtime
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from airflow_provider_tiktok.account_status import list_accounts
from airflow_provider_tiktok.connections import CONN_TYPE, account_from_connection, is_account_connection
from airflow_provider_tiktok.errors import TikTokConfigError
from airflow_provider_tiktok.linking import unlink_account
from airflow_provider_tiktok.web import flows, problems
from airflow_provider_tiktok.web.auth import is_permitted, require, user_id, user_name
from airflow_provider_tiktok.web.pages import render, render_problem
from airflow_provider_tiktok.web.settings import FLASH_COOKIE, default_app_conn_id, pages_url, warn_days
from airflow_provider_tiktok.web.state import csrf_token, csrf_valid, read_flash, read_problem, sign_flash

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

    from airflow_provider_tiktok.models import AccountInfo

log = logging.getLogger(__name__)
router = APIRouter()

CsrfField = Annotated[str, Form()]


@router.get("/", include_in_schema=False)
def index() -> RedirectResponse:
    """``/tiktok/`` goes to the accounts list."""
    return RedirectResponse(pages_url("accounts"), status_code=303)


@router.get("/problem", response_class=HTMLResponse)
def problem_page(request: Request, user: GetUserDep, p: str = "") -> Response:
    """An error page first met outside the Airflow UI (OAuth callback, a form posted from the top window),
    shown again inside it: the signed problem travels in ``p``."""
    data = read_problem(p)
    problem = problems.from_fields(data) if data is not None else problems.problem_expired()
    return render_problem(request, problem, user=user_name(user))


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, user: GetUserDep) -> Response:
    """List the linked accounts (those needing action first) and offer link / relink / unlink."""
    require(user, "GET", "view TikTok accounts")
    app_ids = app_conn_ids()
    readiness = flows.check_app(request, app_ids[0])
    flash = read_flash(request.cookies.get(FLASH_COOKIE))
    response = render(
        request,
        "accounts.html",
        user=user_name(user),
        accounts=list_accounts(warn_days=warn_days()),
        warn_days=warn_days(),
        app_conn_ids=app_ids,
        readiness=readiness,
        can_link=is_permitted(user, "POST"),
        can_edit=is_permitted(user, "PUT"),
        can_delete=is_permitted(user, "DELETE"),
        csrf=csrf_token(user_id(user)),
        flash=flash,
    )
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=pages_url(""))
    return response


def app_conn_ids() -> list[str]:
    """App connections to offer: the configured default first, then other tiktok app connections in the DB."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    ids = [default_app_conn_id()]
    with create_session() as session:
        for conn in session.scalars(select(Connection).where(Connection.conn_type == CONN_TYPE)):
            if conn.conn_id not in ids and not _is_account(conn):
                ids.append(conn.conn_id)
    return ids


def _is_account(conn: object) -> bool:
    try:
        return is_account_connection(conn)
    except TikTokConfigError:
        return True  # unreadable extra: not offered as an app


@router.post("/accounts/link")
def link(
    request: Request, user: GetUserDep, csrf: CsrfField = "", app_conn_id: Annotated[str, Form()] = ""
) -> Response:
    """Start linking a new account: check the app connection, then redirect to TikTok's consent page."""
    require(user, "POST", "link a TikTok account")
    if not csrf_valid(csrf, user=user_id(user)):
        return render_problem(request, problems.csrf_failed(), user=user_name(user))
    app_conn_id = app_conn_id or default_app_conn_id()
    if app_conn_id not in app_conn_ids():
        return render_problem(request, problems.app_connection_missing(app_conn_id, ""), user=user_name(user))
    return _start(request, user, app_conn_id, account=None)


@router.post("/accounts/{conn_id}/relink")
def relink(request: Request, user: GetUserDep, conn_id: str, csrf: CsrfField = "") -> Response:
    """Regenerate the token of an account: the same consent flow, which must be given by the same user."""
    require(user, "PUT", f"regenerate the token of {conn_id}", conn_id)
    if not csrf_valid(csrf, user=user_id(user)):
        return render_problem(request, problems.csrf_failed(), user=user_name(user))
    account = _account(conn_id)
    if account is None:
        return render_problem(request, problems.account_not_found(conn_id), user=user_name(user))
    return _start(request, user, account.app_conn_id, account=account)


def _start(request: Request, user: BaseUser, app_conn_id: str, account: AccountInfo | None) -> Response:
    readiness = flows.check_app(request, app_conn_id)
    if readiness.problem is not None or readiness.app is None:
        problem = readiness.problem or problems.app_connection_missing(app_conn_id, readiness.expected_uri)
        return render_problem(request, problem, user=user_name(user))
    url = flows.start(readiness.app, user=user_id(user), account=account)
    return RedirectResponse(url, status_code=303)


def _account(conn_id: str) -> AccountInfo | None:
    """The account of a connection, read from the connection alone (a broken rotation Variable must not
    stop a relink: relinking is what repairs it)."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        info, _tokens = account_from_connection(Connection.get_connection_from_secrets(conn_id))
    except (AirflowNotFoundException, TikTokConfigError):
        return None
    return info


@router.get("/accounts/{conn_id}/unlink", response_class=HTMLResponse)
def unlink_confirm(request: Request, user: GetUserDep, conn_id: str) -> Response:
    """Ask for confirmation before unlinking an account (a stale link to an unlinked one says so)."""
    require(user, "DELETE", f"unlink {conn_id}", conn_id)
    if conn_id not in _known_accounts():
        return render_problem(request, problems.account_not_found(conn_id), user=user_name(user))
    return render(
        request,
        "unlink.html",
        user=user_name(user),
        conn_id=conn_id,
        account=_account(conn_id),
        csrf=csrf_token(user_id(user)),
    )


@router.post("/accounts/{conn_id}/unlink")
def unlink(request: Request, user: GetUserDep, conn_id: str, csrf: CsrfField = "") -> Response:
    """Revoke the account at TikTok and remove its connection and registry entry (S3 files stay)."""
    require(user, "DELETE", f"unlink {conn_id}", conn_id)
    if not csrf_valid(csrf, user=user_id(user)):
        return render_problem(request, problems.csrf_failed(), user=user_name(user))
    if conn_id not in _known_accounts():
        return render_problem(request, problems.account_not_found(conn_id), user=user_name(user))
    revoke_problem = unlink_account(conn_id)
    text = f"Unlinked {conn_id}. Its CSV files in S3 were kept."
    if revoke_problem:
        text += f" TikTok did not confirm the revoke ({revoke_problem}); remove the app in TikTok's settings."
    return flash_redirect(pages_url("accounts"), "success", text, secure=request.url.scheme == "https")


def _known_accounts() -> set[str]:
    from airflow.utils.session import create_session

    from airflow_provider_tiktok.registry import account_conn_ids

    with create_session() as session:
        return set(account_conn_ids(session))


def flash_redirect(url: str, kind: str, text: str, *, secure: bool) -> RedirectResponse:
    """Redirect to ``url`` and show ``text`` once at the top of the accounts page (signed cookie)."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        sign_flash(kind, text),
        max_age=300,
        path=pages_url(""),
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    return response
