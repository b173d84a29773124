"""Starting and finishing a link flow: readiness checks, authorize URL, callback handling."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_tiktok.connections import app_config_from_connection
from airflow_provider_tiktok.errors import (
    TikTokApiError,
    TikTokConfigError,
    TikTokError,
    TikTokTransientError,
)
from airflow_provider_tiktok.linking import (
    AlreadyLinkedError,
    LinkResult,
    UnsafeOpenIdError,
    WrongAccountError,
    link_account,
    linked_conn_id,
)
from airflow_provider_tiktok.models import utcnow
from airflow_provider_tiktok.storage import OrmBackend
from airflow_provider_tiktok.tokens import TokenStore
from airflow_provider_tiktok.web import problems
from airflow_provider_tiktok.web.pages import whole_days
from airflow_provider_tiktok.web.settings import expected_redirect_uri
from airflow_provider_tiktok.web.state import (
    FlowState,
    consume_pending,
    new_flow,
    purge_pending,
    save_pending,
    sign_state,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import Request

    from airflow_provider_tiktok.models import AccountInfo, AppConfig
    from airflow_provider_tiktok.web.problems import Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """Whether a link can start with an app connection.

    :param app_conn_id: the app connection checked.
    :param expected_uri: this server's callback URI (what must be registered at TikTok).
    :param app: the app configuration when the connection is valid.
    :param problem: why linking cannot start, or None.
    """

    app_conn_id: str
    expected_uri: str
    app: AppConfig | None
    problem: Problem | None


def request_origin(request: Request) -> str:
    """``scheme://host[:port]`` the browser used for ``request``."""
    return f"{request.url.scheme}://{request.url.netloc}"


def check_app(request: Request, app_conn_id: str) -> Readiness:
    """Check the app connection and that TikTok's answer would come back to this server over HTTPS.

    :param request: the current request (its origin is this server's address unless [api] base_url is set).
    :param app_conn_id: app connection to check.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    expected = expected_redirect_uri(request_origin(request))
    try:
        app = app_config_from_connection(Connection.get_connection_from_secrets(app_conn_id))
    except AirflowNotFoundException:
        return Readiness(app_conn_id, expected, None, problems.app_connection_missing(app_conn_id, expected))
    except TikTokConfigError as exc:
        invalid = problems.app_connection_invalid(app_conn_id, str(exc), expected)
        return Readiness(app_conn_id, expected, None, invalid)
    problem: Problem | None = None
    if not expected.startswith("https://"):
        problem = problems.redirect_not_https(app_conn_id, expected)
    elif app.redirect_uri != expected:
        problem = problems.redirect_mismatch(app_conn_id, app.redirect_uri, expected)
    return Readiness(app_conn_id, expected, app, problem)


def start(app: AppConfig, *, user: str, account: AccountInfo | None = None) -> str:
    """Record a new flow (verifier kept server side) and return TikTok's authorize URL.

    :param app: the checked app configuration.
    :param user: id of the signed-in Airflow user (the state is bound to it).
    :param account: the account whose token is regenerated, None to link a new account.
    """
    from airflow.utils.session import create_session

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    flow = new_flow(
        user=user,
        app_conn_id=app.conn_id,
        redirect_uri=app.redirect_uri,
        account_conn_id=account.conn_id if account else None,
        expected_open_id=account.open_id if account else None,
        expected_label=account.label if account else None,
    )
    verifier, challenge = TikTokHook.new_pkce_pair()
    now = utcnow()
    with create_session() as session:
        purge_pending(session=session, now=now)
        save_pending(flow, verifier, session=session, now=now)
    hook = TikTokHook(app.conn_id, token_store=TokenStore(backend=OrmBackend()))
    return hook.build_authorize_url(
        state=sign_state(flow), code_challenge=challenge, redirect_uri=app.redirect_uri
    )


def spend(flow: FlowState) -> str:
    """Consume the flow's pending record (single use, committed at once) and return its verifier."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return consume_pending(flow, session=session)


def finish(
    flow: FlowState,
    *,
    code: str,
    verifier: str,
    linked_by: str,
    may_overwrite: Callable[[str], bool] | None = None,
) -> LinkResult | Problem:
    """Exchange the code and store the account; return the result or the problem to show.

    :param flow: the verified, consumed flow.
    :param code: the authorization code from the callback.
    :param verifier: the flow's PKCE verifier.
    :param linked_by: name of the Airflow user, recorded on the account.
    :param may_overwrite: whether the user may overwrite an existing account connection (by id) when a
        plain link is consented by an already linked TikTok user.
    """
    try:
        return link_account(
            app_conn_id=flow.app_conn_id,
            code=code,
            code_verifier=verifier,
            redirect_uri=flow.redirect_uri,
            linked_by=linked_by,
            expected_open_id=flow.expected_open_id,
            expected_label=flow.expected_label,
            may_overwrite=may_overwrite,
        )
    except WrongAccountError as exc:
        return problems.wrong_account(exc, linked_conn_id(exc.got_open_id))
    except AlreadyLinkedError as exc:
        return problems.already_linked(exc)
    except UnsafeOpenIdError as exc:
        return problems.unsafe_open_id(exc)
    except TikTokTransientError as exc:
        return problems.tiktok_unreachable(str(exc))
    except TikTokApiError as exc:
        return problems.token_error(exc, redirect_uri=flow.redirect_uri, app_conn_id=flow.app_conn_id)
    except TikTokConfigError as exc:
        return problems.app_connection_invalid(flow.app_conn_id, str(exc), flow.redirect_uri)
    except TikTokError as exc:
        log.warning("Linking through %s failed: %s", flow.app_conn_id, str(exc))  # text: masked in logs
        return problems.tiktok_unreachable(str(exc))


def callback_error(
    error: str, description: str | None, error_type: str | None, app_conn_id: str | None
) -> Problem:
    """The problem for a callback carrying TikTok's ``error`` instead of a code."""
    text = f"{error_type or ''} {description or ''}".lower()
    if error_type == "non_sandbox_target" or "target user" in text or "non_sandbox" in text:
        return problems.non_target_user(app_conn_id)
    if error == "access_denied":
        return problems.consent_denied(description)
    return problems.oauth_error(error, description)


def success_message(result: LinkResult) -> str:
    """One sentence for the accounts page after a link or relink."""
    verb = "Linked" if result.created else "Regenerated the token of"
    days = whole_days((result.refresh_token_expires_at - utcnow()).total_seconds() / 86400)
    return (
        f"{verb} TikTok account {result.account.label} (connection {result.account.conn_id}). "
        f"Its refresh token is valid for {days} more days; regenerate it before "
        f"{result.refresh_token_expires_at:%Y-%m-%d}."
    )
