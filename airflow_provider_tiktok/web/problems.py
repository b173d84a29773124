"""Every error a person can meet on the accounts page: what happened and what to do next.

A :class:`Problem` is rendered by ``problem.html``. Messages never hold a token, a client secret or a
stack trace; TikTok's ``log_id`` is shown so it can be quoted to TikTok support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_tiktok.errors import TikTokApiError
    from airflow_provider_tiktok.linking import AlreadyLinkedError, UnsafeOpenIdError, WrongAccountError
    from airflow_provider_tiktok.web.auth import NotPermitted
    from airflow_provider_tiktok.web.state import FlowState, StateProblem

PORTAL_URL = "https://developers.tiktok.com/apps/"
#: Longest piece of TikTok's own text (``error_description``) shown on a page.
_MAX_TIKTOK_TEXT = 300
_ERROR_CODE_RE = re.compile(r"^[a-z0-9_.-]{1,64}$")


def tiktok_words(text: str | None) -> tuple[tuple[str, str], ...]:
    """TikTok's ``error_description`` as a labelled detail, quoted and shortened (never our own sentence)."""
    if not text:
        return ()
    clean = " ".join(text.split())
    if len(clean) > _MAX_TIKTOK_TEXT:
        clean = clean[: _MAX_TIKTOK_TEXT - 1] + "…"
    return (("TikTok's message (its words, not this page's)", f"“{clean}”"),)


def error_code(error: str) -> str:
    """TikTok's ``error`` code when it looks like one, else ``unknown`` (it comes from a URL)."""
    return error if _ERROR_CODE_RE.match(error) else "unknown"


@dataclass(frozen=True)
class Problem:
    """One error page.

    :param title: short headline.
    :param what: what happened, in one or two sentences.
    :param todo: the steps that fix it, in order.
    :param status_code: HTTP status of the page.
    :param details: labelled facts (e.g. the exact redirect URI to register, TikTok's log_id).
    :param code: stable machine-readable name of the problem (tests and logs).
    """

    title: str
    what: str
    todo: tuple[str, ...]
    status_code: int = 400
    details: tuple[tuple[str, str], ...] = ()
    code: str = "error"


_STATE_TEXT: dict[str, tuple[str, str]] = {
    "missing": ("The answer from TikTok has no state.", "Start again from the TikTok accounts page."),
    "expired": (
        "This link attempt is older than 10 minutes, so its state has expired.",
        "Start again from the TikTok accounts page and complete the TikTok consent within 10 minutes.",
    ),
    "forged": (
        "The state of this answer was not issued by this Airflow (its signature is wrong). "
        "Nothing was changed.",
        "Start again from the TikTok accounts page. If several API servers run, give them the same "
        "[api] secret_key.",
    ),
    "replayed": (
        "This answer from TikTok was already used (a state is good for one attempt only), "
        "or the attempt was started on another Airflow. Nothing was changed.",
        "Start again from the TikTok accounts page; do not reload the callback page.",
    ),
}


def state_problem(problem: StateProblem, flow: FlowState | None, user: str) -> Problem:
    """The callback's ``state`` is missing, expired, forged, replayed or belongs to another user."""
    if problem == "other_user":
        starter = flow.user if flow else "another user"
        return Problem(
            title="This link was started by another Airflow user",
            what=f"The TikTok consent was started by {starter}, but you are signed in as {user}. "
            "Nothing was changed.",
            todo=(f"Sign in to Airflow as {starter} and start again, or start a new link yourself.",),
            status_code=403,
            code="state_other_user",
        )
    what, todo = _STATE_TEXT[problem]
    return Problem(title="Link attempt not accepted", what=what, todo=(todo,), code=f"state_{problem}")


def non_target_user(app_conn_id: str | None) -> Problem:
    """TikTok refused a user who is not a target user of the app's sandbox."""
    return Problem(
        title="This TikTok user is not a sandbox target user",
        what="The TikTok app runs in sandbox mode, so only its target users can log in, and the account "
        "that just tried is not one of them. Nothing was changed.",
        todo=(
            f"Open the TikTok Developer Portal ({PORTAL_URL}), choose the app"
            + (f" of connection {app_conn_id}" if app_conn_id else "")
            + ", then Sandbox > Target users > Add account, and add this TikTok account (at most 10).",
            "Wait until it is active: a new target user can take up to an hour.",
            "Come back and link the account again, logged in to TikTok as that user.",
        ),
        status_code=403,
        code="non_sandbox_target",
    )


def consent_denied(description: str | None) -> Problem:
    """The TikTok user declined the consent screen (``description``: TikTok's text, shown quoted)."""
    return Problem(
        title="Consent was not given",
        what="TikTok reports that the permissions were declined. Nothing was changed.",
        todo=("Start again and click Authorize on TikTok's consent page, granting every permission asked.",),
        details=tiktok_words(description),
        code="access_denied",
    )


_OAUTH_TODO: dict[str, str] = {
    "invalid_scope": "Check the scopes of the app connection: each must be enabled for the app "
    "(Login Kit, Display API) in the TikTok Developer Portal.",
    "invalid_client": "Check the client key (login) of the app connection against the Developer Portal.",
    "unauthorized_client": "Check that the app has Login Kit for Web enabled in the Developer Portal.",
    "server_error": "TikTok had a problem; try again in a few minutes.",
    "temporarily_unavailable": "TikTok is temporarily unavailable; try again in a few minutes.",
}


def oauth_error(error: str, description: str | None) -> Problem:
    """TikTok redirected back with an ``error`` other than a declined consent (``description`` quoted)."""
    code = error_code(error)
    todo = _OAUTH_TODO.get(code, "Start again from the TikTok accounts page; if it persists, check the app.")
    return Problem(
        title="TikTok did not authorize the link",
        what=f"TikTok answered with the error {code}. Nothing changed.",
        todo=(todo,),
        details=(("TikTok error", code), *tiktok_words(description)),
        code=f"oauth_{code}",
    )


def token_error(exc: TikTokApiError, *, redirect_uri: str, app_conn_id: str) -> Problem:
    """TikTok refused the authorization code (or the profile request) after consent."""
    code = exc.code or "error"
    if code == "invalid_request" and "redirect" in (exc.description or "").lower():
        todo = (
            f"Register exactly {redirect_uri} as a redirect URI of the app in the TikTok Developer Portal "
            f"({PORTAL_URL}), and use the same value as redirect_uri in connection {app_conn_id}.",
        )
    elif code == "invalid_grant":
        todo = ("The code expired or was already used. Start again and finish the consent promptly.",)
    elif code in ("invalid_client", "unauthorized_client"):
        todo = (f"Check the client key (login) and client secret (password) of connection {app_conn_id}.",)
    else:
        todo = ("Try again in a few minutes. If it persists, quote the log_id below to TikTok support.",)
    details = [("TikTok error", code)]
    if exc.description:
        details.append(("TikTok says", exc.description))
    details.append(("TikTok log_id", exc.log_id or "not given"))
    return Problem(
        title="TikTok refused the token request",
        what=f"After consent, TikTok refused to issue tokens ({code}). Nothing was changed.",
        todo=todo,
        status_code=502,
        details=tuple(details),
        code=f"token_{code}",
    )


def wrong_account(exc: WrongAccountError, got_conn_id: str | None = None) -> Problem:
    """A relink was consented by another TikTok user than the account's.

    :param exc: who was expected and who consented.
    :param got_conn_id: the account connection of the TikTok user who consented, when already linked.
    """
    other = (
        f"{exc.got} is already linked (connection {got_conn_id}): nothing to do for it."
        if got_conn_id
        else f"To link {exc.got} as another account, use Link a TikTok account instead."
    )
    return Problem(
        title=f"Expected TikTok user {exc.expected}",
        what=f"You regenerated the token of {exc.expected}, but TikTok user {exc.got} gave consent. "
        "Nothing was changed.",
        todo=(
            f"In this browser, log out of TikTok ({exc.got}) and log in as {exc.expected}.",
            f"Click Regenerate token for {exc.expected} again.",
            other,
        ),
        status_code=409,
        details=(("Expected open_id", exc.expected_open_id), ("Consenting open_id", exc.got_open_id)),
        code="wrong_account",
    )


def app_connection_missing(app_conn_id: str, expected_uri: str) -> Problem:
    """The app connection does not exist."""
    return Problem(
        title=f"App connection {app_conn_id} is missing",
        what=f"Linking needs the TikTok app's connection {app_conn_id}, and there is none.",
        todo=(
            f"In Admin > Connections add {app_conn_id} with type tiktok: login = client key, "
            "password = client secret (from the TikTok Developer Portal).",
            f'Set its extra to {{"redirect_uri": "{expected_uri}"}} and register that URI in the portal.',
        ),
        status_code=409,
        details=(("Redirect URI to register", expected_uri),),
        code="app_connection_missing",
    )


def app_connection_invalid(app_conn_id: str, message: str, expected_uri: str) -> Problem:
    """The app connection is incomplete or invalid (the message names the field)."""
    return Problem(
        title=f"App connection {app_conn_id} is incomplete",
        what=message,
        todo=(
            f"Fix connection {app_conn_id} in Admin > Connections.",
            f"Its redirect_uri must be {expected_uri}, registered in the TikTok Developer Portal.",
        ),
        status_code=409,
        details=(("Redirect URI to register", expected_uri),),
        code="app_connection_invalid",
    )


def redirect_not_https(app_conn_id: str, expected_uri: str) -> Problem:
    """This Airflow is reached over plain HTTP: TikTok only redirects to https URIs."""
    return Problem(
        title="Airflow must be served over HTTPS to link accounts",
        what="TikTok only redirects to https:// callback URLs, and this Airflow is reached over http, so the "
        "link was not started.",
        todo=(
            "Serve the API server over HTTPS (airflow api-server --ssl-cert/--ssl-key, or a TLS proxy) "
            "and set [api] base_url to its https:// URL.",
            f"Register the https callback in the TikTok Developer Portal and set it as redirect_uri in "
            f"connection {app_conn_id}.",
        ),
        status_code=409,
        details=(("This server's callback", expected_uri),),
        code="redirect_not_https",
    )


def redirect_mismatch(app_conn_id: str, configured: str, expected_uri: str) -> Problem:
    """The app connection's redirect URI would send TikTok's answer somewhere else than this server."""
    return Problem(
        title="The redirect URI does not point at this Airflow",
        what=f"Connection {app_conn_id} has redirect_uri {configured}, but this Airflow's callback is "
        f"{expected_uri}, so TikTok's answer would not come back here. The link was not started.",
        todo=(
            f"Register {expected_uri} in the TikTok Developer Portal ({PORTAL_URL}, your app > Login Kit > "
            "Redirect URI; exact match, trailing slash included).",
            f"Set redirect_uri in connection {app_conn_id} to the same value, or open Airflow at the "
            "address of the registered URI.",
        ),
        status_code=409,
        details=(("Redirect URI to register", expected_uri), ("Configured redirect_uri", configured)),
        code="redirect_mismatch",
    )


def not_permitted(exc: NotPermitted) -> Problem:
    """The signed-in user lacks the connection permission the action needs."""
    return Problem(
        title="Not permitted",
        what=f"You are signed in as {exc.user}, who may not {exc.action}: that needs the permission to "
        f"{exc.permission}.",
        todo=("Ask an Airflow admin to grant it, or ask someone who has it.",),
        status_code=403,
        code="forbidden",
    )


def account_not_found(conn_id: str) -> Problem:
    """The account connection named in the URL does not exist (any more)."""
    return Problem(
        title="This TikTok account no longer exists",
        what=f"There is no linked TikTok account with connection id {conn_id}: it was unlinked, or never "
        "linked. Nothing was changed.",
        todo=("Go back to the TikTok accounts page, which lists the accounts linked now.",),
        status_code=404,
        code="account_not_found",
    )


def problem_expired() -> Problem:
    """An error page's link is older than an hour, or was altered."""
    return Problem(
        title="This error page has expired",
        what="The link to this error page is older than an hour or was altered, so it is not shown again.",
        todo=("Go back to the TikTok accounts page and try again.",),
        status_code=404,
        code="problem_expired",
    )


def from_fields(data: dict[str, Any]) -> Problem:
    """Rebuild a problem from the fields :func:`airflow_provider_tiktok.web.state.sign_problem` signed."""
    return Problem(
        title=str(data.get("title", "")),
        what=str(data.get("what", "")),
        todo=tuple(str(step) for step in data.get("todo") or ()),
        status_code=int(data.get("status_code", 400)),
        details=tuple((str(label), str(value)) for label, value in data.get("details") or ()),
        code=str(data.get("code", "error")),
    )


def csrf_failed() -> Problem:
    """A form was posted without a valid CSRF token (stale page, or a forged cross-site request)."""
    return Problem(
        title="This form has expired",
        what="The form was not sent from a current TikTok accounts page (missing or stale security token). "
        "Nothing was changed.",
        todo=("Reload the TikTok accounts page and try again.",),
        status_code=403,
        code="csrf",
    )


def config_error(message: str) -> Problem:
    """A setting the page reads is invalid (e.g. the ``tiktok_accounts`` registry); the message says which."""
    return Problem(
        title="A TikTok setting is invalid",
        what=f"{message} Nothing was changed.",
        todo=("Fix it as the message says, then reload this page.",),
        status_code=500,
        code="config_error",
    )


def tiktok_unreachable(message: str) -> Problem:
    """TikTok could not be reached or kept failing."""
    return Problem(
        title="TikTok did not answer",
        what=f"{message} Nothing was changed.",
        todo=("Try again in a few minutes.",),
        status_code=502,
        code="tiktok_unreachable",
    )


def already_linked(exc: AlreadyLinkedError) -> Problem:
    """A plain link by someone who may create but not edit connections found the account already linked."""
    return Problem(
        title="This TikTok account is already linked",
        what=f"TikTok account {exc.label} is already linked as connection {exc.conn_id}. Linking it again "
        "would replace its tokens, which needs the permission to edit connections. Nothing was changed.",
        todo=(
            "Nothing to do if the account works (its row on the accounts page says so).",
            "To regenerate its token, ask someone who may edit connections to click Regenerate token.",
        ),
        status_code=403,
        details=(("Connection", exc.conn_id),),
        code="already_linked",
    )


def unsafe_open_id(exc: UnsafeOpenIdError) -> Problem:
    """TikTok sent an open_id that is not a TikTok id (it would go into S3 keys)."""
    return Problem(
        title="TikTok sent an invalid account id",
        what=str(exc),
        todo=("Try linking again later; if it persists, report it to TikTok with the time of the attempt.",),
        status_code=502,
        code="invalid_open_id",
    )
