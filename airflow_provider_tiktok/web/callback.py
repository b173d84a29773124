"""The OAuth callback TikTok redirects to (default ``/users/auth/tiktok/callback``).

Order of checks: signed-in user, then the state (signature, age, user) and its single use, then TikTok's
``error``, then the permission, and only then the code exchange. Nothing from the query string is shown
unless the state is valid (anyone can craft a callback URL): TikTok's ``error_description`` appears only
for a flow this user started, quoted as TikTok's words. A successful link redirects to the
accounts page inside the Airflow UI with a one-time message; every failure renders a page saying what to do.
"""

from __future__ import annotations

import logging

from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002 - FastAPI resolves it at runtime
from fastapi import APIRouter, Request
from fastapi.responses import Response  # noqa: TC002 - FastAPI reads the return annotation

from airflow_provider_tiktok.linking import LinkResult
from airflow_provider_tiktok.web import flows, problems
from airflow_provider_tiktok.web.auth import is_permitted, require, user_id, user_name
from airflow_provider_tiktok.web.pages import render_problem
from airflow_provider_tiktok.web.routes import flash_redirect
from airflow_provider_tiktok.web.settings import callback_mount, ui_accounts_url
from airflow_provider_tiktok.web.state import StateError, read_state

log = logging.getLogger(__name__)
router = APIRouter()


@router.get(callback_mount()[1])
def callback(  # noqa: PLR0917 - FastAPI passes query parameters by name
    request: Request,
    user: GetUserDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
    error_type: str | None = None,
) -> Response:
    """Finish a link or relink started on the accounts page."""
    name = user_name(user)
    try:
        flow = read_state(state, user=user_id(user))
        verifier = flows.spend(flow)
    except StateError as exc:
        log.warning("TikTok callback for %s refused: state %s", name, exc.problem)
        return render_problem(request, problems.state_problem(exc.problem, exc.flow, name), user=name)
    if error:
        problem = flows.callback_error(error, error_description, error_type, flow.app_conn_id)
        return render_problem(request, problem, user=name)
    if flow.account_conn_id:
        require(user, "PUT", f"regenerate the token of {flow.account_conn_id}", flow.account_conn_id)
    else:
        require(user, "POST", "link a TikTok account")
    if not code:
        return render_problem(request, problems.state_problem("missing", flow, name), user=name)
    outcome = flows.finish(
        flow,
        code=code,
        verifier=verifier,
        linked_by=name,
        # A plain link that turns out to be an existing account overwrites it: that is a relink (edit).
        may_overwrite=lambda conn_id: is_permitted(user, "PUT", conn_id),
    )
    if not isinstance(outcome, LinkResult):
        return render_problem(request, outcome, user=name)
    secure = request.url.scheme == "https"
    return flash_redirect(ui_accounts_url(), "success", flows.success_message(outcome), secure=secure)
