"""OAuth ``state`` values, pending link flows and CSRF tokens of the accounts page.

Why this shape:

- The ``state`` sent to TikTok is signed with the API server's ``[api] secret_key`` (itsdangerous,
  timestamped): it cannot be forged, it expires after :data:`STATE_MAX_AGE` seconds and it names the
  Airflow user who started the flow, so a callback carrying another user's state is refused.
- The PKCE ``code_verifier`` never leaves the server: it is kept in a *pending flow* Variable keyed by
  the state's random nonce (Variables are Fernet-encrypted at rest; the key contains ``secret`` so the
  Variables UI masks it). The callback deletes that Variable; the delete's row count makes every
  state single use, even with several API server workers sharing the metadata DB.
- Forms that change something carry a CSRF token: an HMAC of the signed-in user's name with the same
  secret, valid for :data:`CSRF_MAX_AGE` seconds. Airflow's ``_token`` cookie is also ``SameSite=Lax``,
  so browsers do not send it on cross-site POSTs; the token covers auth managers that set it otherwise.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow_provider_tiktok.web.problems import Problem

STATE_MAX_AGE = 600
CSRF_MAX_AGE = 12 * 3600
PENDING_VARIABLE_PREFIX = "tiktok_oauth_pending_secret__"
_STATE_SALT = "airflow-provider-tiktok.oauth-state"
_CSRF_SALT = "airflow-provider-tiktok.csrf"
_FLASH_SALT = "airflow-provider-tiktok.flash"
_PROBLEM_SALT = "airflow-provider-tiktok.problem"
PROBLEM_MAX_AGE = 3600

StateProblem = Literal["missing", "expired", "forged", "replayed", "other_user"]


class StateError(Exception):
    """The ``state`` of a callback cannot be trusted.

    :param problem: what is wrong: missing, expired, forged, replayed or other_user.
    :param flow: the flow the state named, when its signature was valid.
    """

    def __init__(self, problem: StateProblem, flow: FlowState | None = None) -> None:
        super().__init__(problem)
        self.problem: StateProblem = problem
        self.flow = flow


@dataclass(frozen=True)
class FlowState:
    """One link or relink flow, as carried (signed) in the OAuth ``state``.

    :param nonce: random id of the flow; names its pending Variable.
    :param user: Airflow user id who started the flow.
    :param app_conn_id: app connection the flow uses.
    :param redirect_uri: redirect URI sent to TikTok (the token request must repeat it).
    :param account_conn_id: account being relinked, None for a new link.
    :param expected_open_id: open_id the consenting TikTok user must have (relink), else None.
    :param expected_label: how the page names the expected account (relink), else None.
    """

    nonce: str
    user: str
    app_conn_id: str
    redirect_uri: str
    account_conn_id: str | None = None
    expected_open_id: str | None = None
    expected_label: str | None = None


def signing_key() -> str:
    """Return the API server's ``[api] secret_key`` (shared by every worker when configured)."""
    from airflow.api_fastapi.auth.tokens import get_signing_key

    return get_signing_key("api", "secret_key")


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key(), salt=salt)


def new_flow(
    *,
    user: str,
    app_conn_id: str,
    redirect_uri: str,
    account_conn_id: str | None = None,
    expected_open_id: str | None = None,
    expected_label: str | None = None,
) -> FlowState:
    """Create a flow with a fresh random nonce (arguments: see :class:`FlowState`)."""
    return FlowState(
        nonce=secrets.token_urlsafe(18),
        user=user,
        app_conn_id=app_conn_id,
        redirect_uri=redirect_uri,
        account_conn_id=account_conn_id,
        expected_open_id=expected_open_id,
        expected_label=expected_label,
    )


def sign_state(flow: FlowState) -> str:
    """Return the signed, timestamped ``state`` string for ``flow``."""
    return str(_serializer(_STATE_SALT).dumps(asdict(flow)))


def read_state(state: str | None, *, user: str, max_age: int = STATE_MAX_AGE) -> FlowState:
    """Verify a callback's ``state`` and return its flow (does not consume it).

    :param state: the ``state`` query parameter TikTok sent back.
    :param user: id of the Airflow user signed in on the callback request.
    :param max_age: seconds a state stays valid.
    :raises StateError: missing, expired, forged or started by another user.
    """
    if not state:
        raise StateError("missing")
    try:
        data = _serializer(_STATE_SALT).loads(state, max_age=max_age)
    except SignatureExpired:
        raise StateError("expired") from None
    except BadSignature:
        raise StateError("forged") from None
    try:
        flow = FlowState(**data)
    except TypeError:
        raise StateError("forged") from None
    if flow.user != user:
        raise StateError("other_user", flow)
    return flow


def pending_key(nonce: str) -> str:
    """Variable key of a pending flow (contains ``secret`` so Airflow masks its value)."""
    return f"{PENDING_VARIABLE_PREFIX}{nonce}"


def save_pending(flow: FlowState, code_verifier: str, *, session: Session, now: datetime) -> None:
    """Store the PKCE verifier of a started flow server side (encrypted Variable).

    :param flow: the flow just started.
    :param code_verifier: its PKCE verifier.
    :param session: metadata DB session (committed by the caller).
    :param now: current UTC time, recorded to purge abandoned flows.
    """
    from airflow.models.variable import Variable

    value = json.dumps({"code_verifier": code_verifier, "user": flow.user, "created_at": now.isoformat()})
    description = f"Pending TikTok link flow of {flow.user}; removed by the callback or after 10 minutes."
    Variable.set(pending_key(flow.nonce), value, description=description, session=session)


def consume_pending(flow: FlowState, *, session: Session) -> str:
    """Delete a flow's pending Variable and return its verifier; a second call raises ``replayed``.

    :param flow: the flow named by a verified state.
    :param session: metadata DB session; commit it right after so the nonce is spent.
    """
    from airflow.models.variable import Variable

    key = pending_key(flow.nonce)
    row = session.scalar(select(Variable).where(Variable.key == key))
    value = row.get_val() if row is not None else None
    if value is None or Variable.delete(key, session=session) != 1:
        raise StateError("replayed", flow)
    session.flush()
    return str(json.loads(value)["code_verifier"])


def purge_pending(*, session: Session, now: datetime, max_age: int = STATE_MAX_AGE) -> int:
    """Delete pending flows older than ``max_age`` seconds (abandoned consents); return how many.

    :param session: metadata DB session.
    :param now: current UTC time.
    :param max_age: age in seconds after which a pending flow is useless (its state has expired).
    """
    from airflow.models.variable import Variable

    rows = session.scalars(select(Variable).where(Variable.key.startswith(PENDING_VARIABLE_PREFIX))).all()
    cutoff = now - timedelta(seconds=max_age)
    removed = 0
    for row in rows:
        if _created_at(row.get_val()) < cutoff:
            session.delete(row)
            removed += 1
    return removed


def _created_at(value: str | None) -> datetime:
    try:
        return datetime.fromisoformat(json.loads(value or "{}")["created_at"])
    except (ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=timezone.utc)  # unreadable: treat as abandoned


def csrf_token(user: str) -> str:
    """Return a CSRF token for the forms shown to ``user`` (Airflow user id)."""
    return str(_serializer(_CSRF_SALT).dumps(user))


def csrf_valid(token: str | None, *, user: str) -> bool:
    """True when ``token`` was issued by :func:`csrf_token` for ``user`` within :data:`CSRF_MAX_AGE`."""
    if not token:
        return False
    try:
        return bool(_serializer(_CSRF_SALT).loads(token, max_age=CSRF_MAX_AGE) == user)
    except BadSignature:
        return False


def sign_flash(kind: str, text: str) -> str:
    """Sign a one-time message shown at the top of the accounts page after a redirect.

    :param kind: ``success`` or ``error``.
    :param text: the message (never holds a secret).
    """
    return str(_serializer(_FLASH_SALT).dumps({"kind": kind, "text": text}))


def read_flash(value: str | None, *, max_age: int = 300) -> dict[str, str] | None:
    """Return the flash message of a signed cookie value, or None when absent, stale or forged."""
    if not value:
        return None
    try:
        data = _serializer(_FLASH_SALT).loads(value, max_age=max_age)
    except BadSignature:
        return None
    return {"kind": str(data.get("kind", "success")), "text": str(data.get("text", ""))}


def sign_problem(problem: Problem) -> str:
    """Sign an error page's content, to show it again inside the Airflow UI (``/tiktok/problem?p=``).

    Signed so that nobody can make the page show a text of their choosing; problems never hold a secret.
    """
    return str(_serializer(_PROBLEM_SALT).dumps(asdict(problem)))


def read_problem(value: str | None, *, max_age: int = PROBLEM_MAX_AGE) -> dict[str, Any] | None:
    """The fields of a problem signed by :func:`sign_problem`, or None when absent, stale or forged."""
    if not value:
        return None
    try:
        data = _serializer(_PROBLEM_SALT).loads(value, max_age=max_age)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None
