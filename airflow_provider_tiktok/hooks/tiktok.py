"""TikTokHook: the OAuth client (Login Kit v2) and Display API client used by every part of the provider."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from airflow.sdk import BaseHook

from airflow_provider_tiktok.connections import (
    DEFAULT_APP_CONN_ID,
    app_config_from_connection,
    connection_extra,
    is_account_connection,
)
from airflow_provider_tiktok.errors import (
    TikTokApiError,
    TikTokAuthError,
    TikTokConfigError,
    TikTokError,
    relink_hint,
)
from airflow_provider_tiktok.hooks._transport import RetryPolicy, Transport
from airflow_provider_tiktok.models import (
    DEFAULT_REFRESH_MARGIN,
    DEFAULT_WARN_DAYS,
    REPORT_MIN_VALIDITY,
    AccountInfo,
    AppConfig,
    RefreshOutcome,
    TokenSet,
    mask_tokens,
    utcnow,
    with_refresh_expiry,
)
from airflow_provider_tiktok.ratelimit import shared_limiter
from airflow_provider_tiktok.storage import fetch_connection
from airflow_provider_tiktok.token_refresh import DEFAULT_RACE_WAIT, TokenKeeper
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime, timedelta

    from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter

AUTHORIZE_PATH = "/v2/auth/authorize/"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a URL path, not a secret
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
VIDEO_LIST_PATH = "/v2/video/list/"

MAX_COUNT = 20
#: Read timeout of token grants: TikTok rotates when it processes a refresh, so a slow answer must still
#: be received (the grant is never repeated once sent).
TOKEN_READ_TIMEOUT = 90.0
#: Display API errors that mean "this access token is refused": renew it once, then retry the request.
TOKEN_REJECTED_CODES = frozenset({"access_token_invalid", "access_token_expired"})
# An empty page that repeats the cursor with has_more=true is tolerated this many times in a row
# (TikTok does serve short and empty pages); beyond that the cursor is stuck and we stop.
DEFAULT_MAX_STALLED_PAGES = 5

USER_FIELDS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "user.info.basic": ("open_id", "union_id", "avatar_url", "display_name"),
    "user.info.profile": ("username", "is_verified", "profile_deep_link"),
    "user.info.stats": ("follower_count", "following_count", "likes_count", "video_count"),
}
DEFAULT_VIDEO_FIELDS: tuple[str, ...] = (
    "id",
    "create_time",
    "title",
    "video_description",
    "duration",
    "height",
    "width",
    "cover_image_url",
    "share_url",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
# A refresh grant with this token can only fail; TikTok checks the client first, so the error tells
# whether the client key/secret are valid without consuming or creating anything.
CONNECTION_TEST_REFRESH_TOKEN = "rft.airflow-connection-test-deliberately-invalid"  # noqa: S105 - not a secret


class TikTokHook(BaseHook):
    """Talk to TikTok for one app connection or one linked account connection.

    :param tiktok_conn_id: an app connection (OAuth calls) or an account connection ``tiktok_account_<slug>``
        whose extra ``app_conn_id`` names the app (Display API calls with the account's tokens).
    :param timeout: (connect, read) timeout of one request, seconds.
    :param max_retries: retries of a transient failure (429, 5xx, timeout, reset, malformed JSON).
    :param requests_per_minute: the app's limit per endpoint and window (default: the app connection's
        ``rate_limit`` extra, else TikTok's 600; 0 disables client-side limiting).
    :param rate_share: how many tasks share the app's budget at once: sets how often a request refused
        with a 429 probes again (see :mod:`airflow_provider_tiktok.ratelimit`).
    :param rate_limit_patience: seconds one request may wait on 429s before it fails.
    :param token_store: where tokens are read and rotated sets saved (default: Task SDK in tasks,
        ORM elsewhere).
    :param refresh_race_wait: how long a refresh refused with ``invalid_grant`` waits for another task's
        newer token set to appear before the account is called broken.
    :param backoff_base: seconds before the first retry, doubled each retry.
    :param backoff_cap: longest single wait, also caps an honoured ``Retry-After``.
    :param clock: returns the current UTC time (tests align it with the emulator's clock).
    :param sleep: sleep function used between retries.
    """

    conn_name_attr = "tiktok_conn_id"
    default_conn_name = DEFAULT_APP_CONN_ID
    conn_type = "tiktok"
    hook_name = "TikTok"

    def __init__(
        self,
        tiktok_conn_id: str = default_conn_name,
        *,
        timeout: tuple[float, float] = (5, 30),
        max_retries: int = 5,
        requests_per_minute: int | None = None,
        rate_share: int = 1,
        rate_limit_patience: float = 900.0,
        token_store: TokenStore | None = None,
        refresh_race_wait: timedelta = DEFAULT_RACE_WAIT,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        limiter: SlidingWindowRateLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.tiktok_conn_id = tiktok_conn_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            rate_limit_patience=rate_limit_patience,
        )
        self.token_store = token_store or TokenStore()
        self.refresh_race_wait = refresh_race_wait
        self._limiter = limiter
        self._rate = (requests_per_minute, rate_share)
        self._clock = clock
        self._sleep = sleep
        self._account: tuple[AccountInfo, TokenSet] | None = None
        self._in_use: TokenSet | None = None  # the account set the Display API calls use

    # ----------------------------------------------------------------- configuration

    @cached_property
    def connection(self) -> Any:
        """The connection named by ``tiktok_conn_id`` (app or account)."""
        return fetch_connection(self.token_store.backend, self.tiktok_conn_id)

    @cached_property
    def is_account(self) -> bool:
        """True when ``tiktok_conn_id`` is an account connection."""
        return is_account_connection(self.connection)

    @cached_property
    def app(self) -> AppConfig:
        """The app configuration (from this connection, or the app connection an account names)."""
        if not self.is_account:
            return app_config_from_connection(self.connection)
        app_conn_id = str(connection_extra(self.connection)["app_conn_id"])
        return app_config_from_connection(fetch_connection(self.token_store.backend, app_conn_id))

    @property
    def account(self) -> AccountInfo:
        """The linked account (account connections only)."""
        return self._load_account()[0]

    @property
    def tokens(self) -> TokenSet:
        """The account's effective token set (the newer of connection and rotation Variable)."""
        return self._load_account()[1]

    def _load_account(self) -> tuple[AccountInfo, TokenSet]:
        if not self.is_account:
            raise TikTokConfigError(
                f"Connection {self.tiktok_conn_id!r} is an app connection; pass an account connection "
                "(tiktok_account_<name>, listed in Variable 'tiktok_accounts') or an explicit access_token."
            )
        if self._account is None:
            self._account = self.token_store.load(self.tiktok_conn_id)
        return self._account

    @cached_property
    def keeper(self) -> TokenKeeper:
        """Keeps the account's access token valid (refresh when needed, persist first, survive races)."""
        return TokenKeeper(
            self.tiktok_conn_id,
            store=self.token_store,
            refresh_grant=self.refresh_tokens,
            label=lambda: self.account.label,
            clock=self._clock,
            sleep=self._sleep,
            race_wait=self.refresh_race_wait,
        )

    def valid_tokens(self, min_validity: timedelta = REPORT_MIN_VALIDITY) -> TokenSet:
        """The account's token set, refreshed first when its access token expires within ``min_validity``.

        Later Display API calls of this hook use it and renew it if TikTok rejects it mid-way.

        :param min_validity: how long the access token must still live.
        """
        self._load_account()
        self._in_use = self.keeper.valid(min_validity)
        return self._in_use

    @property
    def _label(self) -> str | None:
        return self.account.label if self.is_account else None

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session for every request of this hook.

        Proxy (``HTTPS_PROXY``, ``NO_PROXY``) and CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``)
        variables are read once here: requests would re-scan the whole environment on every request,
        a third of the hook's own CPU per page.
        """
        session = requests.Session()
        session.headers["User-Agent"] = "airflow-provider-tiktok"
        session.proxies.update(requests.utils.get_environ_proxies(self.app.api_base_url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    def get_conn(self) -> requests.Session:
        """The configured HTTP session, as ``HttpHook.get_conn`` returns its own (see :attr:`session`)."""
        return self.session

    @cached_property
    def limiter(self) -> SlidingWindowRateLimiter:
        """This process's part of the app's request budget (one per budget and process)."""
        if self._limiter is not None:
            return self._limiter
        limit, share = self._rate
        return shared_limiter(self.app.rate_limit if limit is None else limit, self.app.rate_window, share)

    @cached_property
    def transport(self) -> Transport:
        """Retrying, rate-limited transport over :attr:`session`."""
        return Transport(
            self.session,
            timeout=self.timeout,
            policy=self.retry_policy,
            limiter=self.limiter,
            sleep=self._sleep,
        )

    def close(self) -> None:
        """Close the HTTP session."""
        if "session" in self.__dict__:
            self.session.close()

    def __enter__(self) -> TikTokHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- OAuth

    @staticmethod
    def new_pkce_pair(encoding: str = "hex") -> tuple[str, str]:
        """Return a fresh PKCE (verifier, S256 challenge).

        :param encoding: challenge encoding: ``hex`` (default: the lowercase hex SHA-256 TikTok checks, its
            deviation from RFC 7636) or ``base64url`` (RFC 7636, for other OAuth servers; TikTok refuses it).
        """
        verifier = secrets.token_urlsafe(64)[:96]
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        if encoding == "hex":
            return verifier, digest.hex()
        return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def build_authorize_url(
        self,
        *,
        state: str,
        code_challenge: str,
        redirect_uri: str | None = None,
        scopes: Iterable[str] | None = None,
        disable_auto_auth: bool = False,
    ) -> str:
        """URL of TikTok's consent page (always with state and PKCE S256).

        :param state: opaque anti-CSRF value, returned unchanged on the callback.
        :param code_challenge: the S256 challenge of the verifier kept for :meth:`exchange_code`.
        :param redirect_uri: registered redirect URI (default: the app connection's).
        :param scopes: scopes to request (default: the app connection's).
        :param disable_auto_auth: always show the consent page (useful when relinking another user).
        """
        if not state or not code_challenge:
            raise ValueError("state and code_challenge are required (CSRF protection and PKCE)")
        params = {
            "client_key": self.app.client_key,
            "response_type": "code",
            "scope": ",".join(scopes or self.app.scopes),
            "redirect_uri": redirect_uri or self.app.redirect_uri,
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if disable_auto_auth:
            params["disable_auto_auth"] = "1"
        return f"{self.app.auth_base_url}{AUTHORIZE_PATH}?{urlencode(params)}"

    def exchange_code(self, code: str, *, code_verifier: str, redirect_uri: str | None = None) -> TokenSet:
        """Exchange an authorization code for a token set (tokens masked before anything can log them).

        A response that cannot be used is refused, and any access token it carries is revoked at TikTok,
        so no live token is left behind.

        :param code: the ``code`` of the callback.
        :param code_verifier: the PKCE verifier whose challenge went into the authorize URL.
        :param redirect_uri: the redirect URI used in the authorize URL (default: the app connection's).
        """
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri or self.app.redirect_uri,
        }
        now = self._clock()
        body = self._token_request(form, account=None)
        try:
            return TokenSet.from_token_response(body, now=now, linked_at=now)
        except (ValueError, TypeError) as exc:
            self.revoke_quietly(body.get("access_token"))
            raise self._unusable(body, exc) from None

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Run the refresh grant and return the new set; nothing is persisted here.

        A refresh token that has expired per our data is not sent (it could only fail). A response that
        is malformed but carries a new refresh token is never thrown away: TikTok has already rotated, so
        the tokens are kept with cautious expiries (the access token counts as expired, the refresh expiry
        stays the previous one).

        :param tokens: the current effective token set of the account.
        """
        label = self._label or tokens.open_id
        now = self._clock()
        if tokens.refresh_expired(now):
            raise TikTokAuthError(
                f"The refresh token of account {label} expired on "
                f"{tokens.refresh_token_expires_at:%Y-%m-%d}; "
                f"TikTok can no longer renew its access. To fix: {relink_hint(label)}.",
                code="refresh_token_expired",
                endpoint=TOKEN_PATH,
                account=label,
            )
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        linked_at = self.account.linked_at if self.is_account else None
        body = self._token_request(form, account=label)
        try:
            fresh = TokenSet.from_token_response(body, now=now, linked_at=linked_at)
        except (ValueError, TypeError) as exc:
            return self._salvage(body, tokens, now, exc)
        return with_refresh_expiry(fresh, tokens)

    def _salvage(self, body: dict[str, Any], previous: TokenSet, now: datetime, exc: Exception) -> TokenSet:
        """Keep the tokens of a malformed refresh response, or raise when it holds none."""
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            raise self._unusable(body, exc) from None
        mask_tokens(access, refresh)
        self.log.warning(
            "TikTok's refresh answer for %s was malformed (%s); keeping its tokens with cautious expiries.",
            self._label or previous.open_id,
            exc,
        )
        return replace(
            previous, access_token=access, access_token_expires_at=now, refresh_token=refresh, issued_at=now
        )

    def _unusable(self, body: dict[str, Any], exc: Exception) -> TikTokApiError:
        log_id = body.get("log_id")
        return TikTokApiError(
            f"TikTok {TOKEN_PATH} returned an unusable token response ({exc}); try again later.",
            endpoint=TOKEN_PATH,
            log_id=log_id if isinstance(log_id, str) else None,
        )

    def revoke_quietly(self, access_token: Any) -> None:
        """Revoke ``access_token`` if it is one, logging (never raising) a failure: used while failing."""
        if not isinstance(access_token, str) or not access_token:
            return
        try:
            self.revoke(access_token)
        except Exception as exc:
            self.log.warning("Could not revoke a token TikTok issued before the failure: %s", exc)

    def revoke(self, access_token: str) -> None:
        """Revoke an access token (used when unlinking an account).

        :param access_token: the account's current access token.
        """
        mask_tokens(access_token)
        form = {
            "client_key": self.app.client_key,
            "client_secret": self.app.client_secret,
            "token": access_token,
        }
        self.transport.request(
            "POST", self._api_url(REVOKE_PATH), endpoint=REVOKE_PATH, account=self._label_or_none(), data=form
        )

    def _token_request(self, form: dict[str, str], *, account: str | None) -> dict[str, Any]:
        form = {"client_key": self.app.client_key, "client_secret": self.app.client_secret, **form}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-cache"}
        grant = form["grant_type"] in ("refresh_token", "authorization_code")  # each consumes what it sends
        return self.transport.request(
            "POST",
            self._api_url(TOKEN_PATH),
            endpoint=TOKEN_PATH,
            account=account,
            idempotent=not grant,
            timeout=(self.timeout[0], max(self.timeout[1], TOKEN_READ_TIMEOUT)),
            data=form,
            headers=headers,
        )

    # ----------------------------------------------------------------- Display API

    def get_user_info(
        self,
        fields: Iterable[str] | None = None,
        *,
        access_token: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Return ``data.user``; by default every field the granted scopes allow (stats only with
        ``user.info.stats``, since asking for an uncovered field fails the whole call).

        :param fields: fields to ask for (default: derived from ``scopes``).
        :param access_token: token to use (default: the account connection's effective token).
        :param scopes: granted scopes, to choose default fields for an explicit ``access_token``.
        """
        token, granted = self._token_and_scopes(access_token, scopes)
        wanted = list(fields) if fields else default_user_fields(granted)
        body = self._display_call("GET", USER_INFO_PATH, token, params={"fields": ",".join(wanted)})
        user = (body.get("data") or {}).get("user")
        if not isinstance(user, dict):
            raise TikTokApiError(
                f"TikTok {USER_INFO_PATH} returned no data.user for account {self._label_or_none()}.",
                endpoint=USER_INFO_PATH,
                account=self._label_or_none(),
            )
        return user

    def iter_videos(
        self,
        *,
        fields: Iterable[str] | None = None,
        access_token: str | None = None,
        max_stalled_pages: int = DEFAULT_MAX_STALLED_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Yield every public video of the account, newest first, one page (max 20) at a time.

        Memory stays constant (only the current page is held). Short and empty pages are followed
        while ``has_more`` is true; a cursor that stops advancing on empty pages is retried at most
        ``max_stalled_pages`` times in a row, then a :class:`TikTokApiError` says so. A retried request
        repeats the same cursor, never page one.

        :param fields: video fields to ask for (default: :data:`DEFAULT_VIDEO_FIELDS`).
        :param access_token: token to use (default: the account connection's effective token).
        :param max_stalled_pages: consecutive non-advancing pages tolerated before giving up.
        """
        token, _ = self._token_and_scopes(access_token, None)
        params = {"fields": ",".join(fields or DEFAULT_VIDEO_FIELDS)}
        cursor: int | None = None
        stalled = 0
        previous_ids: set[str] = set()
        while True:  # bounded: each pass advances the cursor or counts towards max_stalled_pages
            page = self._video_page(token, params, cursor)
            videos = [v for v in page.get("videos") or [] if str(v.get("id")) not in previous_ids]
            yield from videos
            if not page.get("has_more"):
                return
            next_cursor = page.get("cursor")
            advanced = next_cursor is not None and next_cursor != cursor
            stalled = 0 if advanced else stalled + 1
            if stalled >= max_stalled_pages:
                raise self._stuck_cursor_error(cursor, stalled)
            if not advanced:
                self._sleep(self.retry_policy.delay(stalled))
            # Ids of the last page only: skips a page served twice without growing memory.
            previous_ids = {str(v.get("id")) for v in videos} if videos else previous_ids
            cursor = int(next_cursor) if next_cursor is not None else cursor

    def _video_page(self, token: str | None, params: dict[str, str], cursor: int | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"max_count": MAX_COUNT}
        if cursor is not None:
            payload["cursor"] = cursor
        body = self._display_call("POST", VIDEO_LIST_PATH, token, params=params, json=payload)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _stuck_cursor_error(self, cursor: int | None, stalled: int) -> TikTokApiError:
        label = self._label_or_none()
        return TikTokApiError(
            f"TikTok {VIDEO_LIST_PATH} for account {label}: cursor {cursor} did not advance for {stalled} "
            "pages in a row while has_more stayed true; stopped to avoid looping forever. "
            "Retry the task later.",
            code="cursor_not_advancing",
            endpoint=VIDEO_LIST_PATH,
            account=label,
        )

    def _display_call(self, method: str, path: str, token: str | None, **kwargs: Any) -> dict[str, Any]:
        """One Display API call; ``token`` None means the account's own tokens, renewed once if refused."""
        if token is not None:
            return self._bearer_call(method, path, token, **kwargs)
        tokens = self._in_use or self.tokens
        try:
            return self._bearer_call(method, path, tokens.access_token, **kwargs)
        except TikTokAuthError as exc:
            if exc.code not in TOKEN_REJECTED_CODES:
                raise
            self.log.info("TikTok refused the access token of %s; renewing it and retrying.", self._label)
            self._in_use = self.keeper.renew(tokens)
        return self._bearer_call(method, path, self._in_use.access_token, **kwargs)

    def _bearer_call(self, method: str, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        return self.transport.request(
            method,
            self._api_url(path),
            endpoint=path,
            account=self._label_or_none(),
            headers=headers,
            **kwargs,
        )

    def _token_and_scopes(
        self, access_token: str | None, scopes: Iterable[str] | None
    ) -> tuple[str | None, tuple[str, ...]]:
        """An explicit token and its scopes, or (None, the account's scopes): the account's own tokens."""
        if access_token:
            mask_tokens(access_token)
            return access_token, tuple(scopes or ("user.info.basic",))
        tokens = self._in_use or self.tokens
        return None, tuple(scopes or tokens.scope)

    def _api_url(self, path: str) -> str:
        return f"{self.app.api_base_url}{path}"

    def _label_or_none(self) -> str | None:
        try:
            return self._label
        except TikTokError:
            return self.tiktok_conn_id

    # ----------------------------------------------------------------- token lifecycle

    def refresh_if_needed(
        self, *, margin: timedelta = DEFAULT_REFRESH_MARGIN, warn_days: float = DEFAULT_WARN_DAYS
    ) -> RefreshOutcome:
        """Refresh the account's tokens when the access token expires within ``margin``.

        The refresh task calls this for every account before the reports; see
        :meth:`TokenKeeper.refresh_if_needed` for what it does and logs, and :class:`TokenKeeper` for the
        rules (persist first, races, when an account is broken). A dead refresh token is recorded for the
        accounts page ("broken") and raised as :class:`TikTokAuthError` saying to relink.

        :param margin: refresh when the access token expires within this time.
        :param warn_days: log a warning when the refresh token has fewer days left than this.
        """
        info, before = self.token_store.load(self.tiktok_conn_id)
        self._account = (info, before)
        self._in_use, outcome = self.keeper.refresh_if_needed(
            info, before, margin=margin, warn_days=warn_days
        )
        return outcome

    # ----------------------------------------------------------------- connection test

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection without consuming anything.

        Account connection: calls ``/v2/user/info/`` with the effective access token.
        App connection: sends a refresh grant with a deliberately invalid refresh token. TikTok checks
        the client first, so ``invalid_client`` means the key/secret are wrong and ``invalid_grant``
        means they are right; no code is used, no token is issued or rotated.
        """
        try:
            return self._test_account() if self.is_account else self._test_app()
        except TikTokError as exc:
            return False, str(exc)
        except Exception as exc:  # the UI shows the message; never let the test button crash
            return False, f"{type(exc).__name__}: {exc}"

    def _test_account(self) -> tuple[bool, str]:
        user = self.get_user_info(fields=["open_id", "display_name"])
        name = user.get("display_name") or self.account.label
        return True, f"Connected to TikTok as {name} ({self.tiktok_conn_id})."

    def _test_app(self) -> tuple[bool, str]:
        form = {"grant_type": "refresh_token", "refresh_token": CONNECTION_TEST_REFRESH_TOKEN}
        try:
            self._token_request(form, account=None)
        except TikTokAuthError as exc:
            if exc.code == "invalid_grant":
                return True, (
                    f"Client key and secret of {self.tiktok_conn_id!r} accepted by TikTok (a probe refresh "
                    "with "
                    f"an invalid token was refused with invalid_grant). Redirect URI {self.app.redirect_uri} "
                    "can only be verified by linking an account."
                )
            raise
        except TikTokApiError as exc:
            if exc.code in ("invalid_client", "unauthorized_client"):
                return False, (
                    f"TikTok rejected the client key/secret of connection {self.tiktok_conn_id!r} "
                    f"({exc.code}); "
                    "copy them again from the TikTok Developer Portal (sandbox keys start with 'sb')."
                )
            raise
        return False, "TikTok accepted a deliberately invalid refresh token; the API base URL may be wrong."


def default_user_fields(scopes: Iterable[str]) -> list[str]:
    """User fields covered by ``scopes`` (basic fields always)."""
    granted = set(scopes) | {"user.info.basic"}
    return [f for scope, names in USER_FIELDS_BY_SCOPE.items() if scope in granted for f in names]
