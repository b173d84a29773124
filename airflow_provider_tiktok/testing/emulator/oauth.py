"""Login Kit handlers: the authorize page, the token endpoint and revocation (TIKTOK_API.md 1-2)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from airflow_provider_tiktok.testing.emulator.config import redirect_uri_problem
from airflow_provider_tiktok.testing.emulator.messages import (
    Response,
    dump,
    oauth_error,
    redirect,
)
from airflow_provider_tiktok.testing.emulator.pages import consent_page, error_page
from airflow_provider_tiktok.testing.emulator.spec import KNOWN_SCOPES
from airflow_provider_tiktok.testing.emulator.tokens import CodeGrant, TokenError

if TYPE_CHECKING:
    from airflow_provider_tiktok.testing.emulator.config import EmulatorConfig
    from airflow_provider_tiktok.testing.emulator.messages import Request
    from airflow_provider_tiktok.testing.emulator.state import EmulatorState


def authorize(state: EmulatorState, request: Request) -> Response:
    """GET shows the consent page (or consents at once with ``emulator_user``); POST is the form."""
    params = dict(request.query)
    if request.method == "POST":
        params.update(request.form())
    cfg = state.config
    problems = _page_problems(params, cfg)
    if problems:
        return error_page(problems)
    redirect_uri = params["redirect_uri"]
    scope_problem = _scope_problem(params.get("scope", ""), cfg)
    if scope_problem:
        return _error_redirect(redirect_uri, params, "invalid_scope", scope_problem)
    if params.get("emulator_deny") == "1" or params.get("action") == "deny":
        return _error_redirect(redirect_uri, params, "access_denied", "The user denied the request.")
    chosen = params.get("emulator_user")
    if not chosen:
        return consent_page(params, state.users, cfg.client_key)
    return _consent(state, params, chosen)


def _consent(state: EmulatorState, params: dict[str, str], open_id: str) -> Response:
    """The user ``open_id`` agreed: redirect with a fresh code, or refuse a non-target user."""
    user = state.users_by_id.get(open_id)
    if user is None:
        return error_page(["emulator_user"])
    if not user.is_target_user:
        if state.config.non_target_mode == "page":
            return error_page(["sandbox target user"])
        extra = {"error_type": "non_sandbox_target"}
        return _error_redirect(params["redirect_uri"], params, "access_denied", "Not a target user.", extra)
    scopes = tuple(s for s in params["scope"].split(",") if s)
    grant = CodeGrant(
        open_id=open_id,
        scopes=scopes,
        redirect_uri=params["redirect_uri"],
        challenge=params.get("code_challenge") or None,
        expires_at=state.clock.now() + state.config.code_ttl,
    )
    query = {"code": state.tokens.issue_code(grant), "scopes": ",".join(scopes)}
    if "state" in params:
        query["state"] = params["state"]
    return redirect(_with_query(params["redirect_uri"], query), open_id=open_id)


def _page_problems(params: dict[str, str], cfg: EmulatorConfig) -> list[str]:
    """Parameters TikTok refuses with an error page at TikTok (nothing goes back to the app)."""
    problems = []
    if params.get("client_key") != cfg.client_key:
        problems.append("client_key")
    if params.get("response_type") != "code":
        problems.append("response_type")
    uri = params.get("redirect_uri", "")
    if uri not in cfg.redirect_uris or redirect_uri_problem(uri, allow_http=cfg.allow_http_redirect):
        problems.append("redirect_uri")
    challenge = params.get("code_challenge")
    if challenge and params.get("code_challenge_method") != "S256":
        problems.append("code_challenge_method")
    if not challenge and cfg.pkce == "required":
        problems.append("code_challenge")
    return problems


def _scope_problem(scope: str, cfg: EmulatorConfig) -> str | None:
    scopes = [s for s in scope.split(",") if s]
    if not scopes:
        return "scope is required."
    unknown = [s for s in scopes if s not in KNOWN_SCOPES or s not in cfg.app_scopes]
    return f"Scope not approved for this app: {','.join(unknown)}" if unknown else None


def _error_redirect(
    redirect_uri: str,
    params: dict[str, str],
    error: str,
    description: str,
    extra: dict[str, str] | None = None,
) -> Response:
    query = {"error": error, **(extra or {}), "error_description": description}
    if "state" in params:
        query["state"] = params["state"]
    return redirect(_with_query(redirect_uri, query))


def _with_query(uri: str, query: dict[str, str]) -> str:
    return uri + "?" + urlencode(query, safe=",", quote_via=quote)


def token(state: EmulatorState, request: Request) -> Response:
    """``POST /v2/oauth/token/``: authorization-code and refresh-token grants."""
    cfg = state.config
    try:
        form = _client_form(request, cfg)
        grant_type = form.get("grant_type")
        now = state.clock.now()
        if grant_type == "authorization_code":
            body = state.tokens.exchange_code(form, cfg, now)
        elif grant_type == "refresh_token":
            body = state.tokens.refresh(form.get("refresh_token", ""), cfg, now)
        elif grant_type == "client_credentials":
            return Response(200, dump(state.tokens.issue_client_token(cfg, now)))
        else:
            raise TokenError(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials.",
            )
    except TokenError as exc:
        return oauth_error(exc.error, exc.description, status=200 if cfg.token_errors_http_200 else 400)
    return Response(200, dump(body), open_id=body["open_id"])


def revoke(state: EmulatorState, request: Request) -> Response:
    """``POST /v2/oauth/revoke/``: kill every token of the access token's user for this app."""
    cfg = state.config
    try:
        form = _client_form(request, cfg)
        grant = state.tokens.access_grant(form.get("token", ""))
        if grant is None:
            raise TokenError("invalid_grant", "Access token is invalid or has been revoked.")
    except TokenError as exc:
        return oauth_error(exc.error, exc.description, status=200 if cfg.token_errors_http_200 else 400)
    state.tokens.revoke_user(grant.open_id)
    return Response(200, b"{}", open_id=grant.open_id)


def _client_form(request: Request, cfg: EmulatorConfig) -> dict[str, str]:
    """The form body once the client credentials check out."""
    if not request.content_type.startswith("application/x-www-form-urlencoded"):
        raise TokenError("invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
    form = request.form()
    if form.get("client_key") != cfg.client_key or form.get("client_secret") != cfg.client_secret:
        raise TokenError("invalid_client", "Client key or secret is invalid.")
    return form
