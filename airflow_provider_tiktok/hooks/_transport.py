"""HTTP transport of the TikTok hook: one session, timeouts, bounded retries, error classification.

Retried (exponential backoff with jitter): HTTP 5xx, timeouts, connection errors, malformed JSON, and the
same conditions reported inside HTTP 200 bodies (``internal_error``, ``server_error``,
``temporarily_unavailable``), at most ``max_retries`` times. A rate limit (HTTP 429 or
``rate_limit_exceeded``) is not an error but a signal that the app's window is full: the request waits
(``Retry-After`` when sent, else what the limiter estimates, see :mod:`airflow_provider_tiktok.ratelimit`)
and is sent again, for up to ``rate_limit_patience`` seconds of waiting, without using up ``max_retries``.
Never retried: authorization failures (the account must be relinked) and request errors.
A retry repeats the very same request, so a paging caller resumes from the same cursor.

A request that is not idempotent (the refresh grant: TikTok rotates the refresh token when it processes
it) is retried only when the failure proves TikTok did not process it: the connection could not be made,
or an HTTP 429. Any other failure after the request was sent raises :class:`TikTokRefreshUnknownError`.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_tiktok.errors import (
    TikTokApiError,
    TikTokAuthError,
    TikTokRefreshUnknownError,
    TikTokTransientError,
    relink_hint,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.ratelimit import SlidingWindowRateLimiter

log = logging.getLogger(__name__)

# Display API error codes (``error.code``) and OAuth errors (``error``) by what the caller must do.
AUTH_CODES = frozenset(
    {
        "access_token_invalid",
        "access_token_expired",
        "scope_not_authorized",
        "scope_permission_missed",
        "invalid_grant",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "rate_limit_exceeded",
        "internal_error",
        "server_error",
        "temporarily_unavailable",
        "spam_risk_too_many_requests",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    :param max_retries: retries after the first attempt (0 = no retry).
    :param backoff_base: seconds before the first retry; doubled each retry.
    :param backoff_cap: upper bound of one backoff delay, and of an honoured ``Retry-After``.
    :param jitter: randomise each delay between 50 % and 100 % so parallel tasks do not retry in lockstep.
    :param rate_limit_patience: seconds one request may spend waiting on 429s before it fails (0: the first
        429 fails it).
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    jitter: bool = True
    rate_limit_patience: float = 900.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based); at least ``retry_after`` (capped)."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1))
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_cap))
        return delay


@dataclass(frozen=True)
class Failure:
    """A classified failed attempt.

    :param kind: ``auth`` (relink), ``transient`` (retry) or ``fatal`` (bad request, do not retry).
    :param reason: short description for logs and messages (never a secret).
    """

    kind: str
    reason: str
    sent: bool = True
    code: str | None = None
    description: str | None = None
    log_id: str | None = None
    http_status: int | None = None
    retry_after: float | None = None

    @property
    def rate_limited(self) -> bool:
        """True for TikTok's rate limit (HTTP 429 or ``rate_limit_exceeded``): nothing was processed."""
        return self.http_status == 429 or self.code == "rate_limit_exceeded"


#: The shortest wait after a 429 that came with a ``Retry-After`` (the header counts whole seconds).
MIN_RETRY_AFTER = 1.0


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or HTTP date) into seconds, None when absent or invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _kind_for(code: str, http_status: int) -> str:
    if code in AUTH_CODES:
        return "auth"
    if code in TRANSIENT_CODES or http_status == 429 or http_status >= 500:
        return "transient"
    return "fatal"


def _error_fields(body: dict[str, Any]) -> tuple[str | None, str, str | None]:
    """Return (code, description, log_id) from either error shape; code None when the body is a success."""
    err = body.get("error")
    if isinstance(err, dict):  # Display API envelope {"error": {"code", "message", "log_id"}}
        code = str(err.get("code") or "ok")
        return (None if code == "ok" else code), str(err.get("message") or ""), err.get("log_id")
    if err:  # OAuth token endpoint {"error": "...", "error_description": "...", "log_id": "..."}
        return str(err), str(body.get("error_description") or ""), body.get("log_id")
    return None, "", body.get("log_id")


def classify(response: requests.Response) -> tuple[dict[str, Any] | None, Failure | None]:
    """Return (body, None) on success or (None, failure) after checking status, JSON and error fields."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        kind = "auth" if status == 401 else ("fatal" if 400 <= status < 429 else "transient")
        return None, Failure(
            kind, f"HTTP {status} with a malformed JSON body", http_status=status, retry_after=retry_after
        )
    code, description, log_id = _error_fields(body)
    if code is None and status < 400:
        return body, None
    code = code or f"http_{status}"
    reason = f"{code}: {description}" if description else code
    failure = Failure(_kind_for(code, status), reason, True, code, description, log_id, status, retry_after)
    return None, failure


class Transport:
    """Sends requests with one keep-alive session, timeouts, rate limiting and bounded retries.

    :param session: the session (one per hook).
    :param timeout: (connect, read) timeout in seconds.
    :param policy: retry policy.
    :param limiter: client-side rate limiter, keyed by endpoint path.
    :param sleep: sleep function (tests may pass a recording one).
    """

    def __init__(
        self,
        session: requests.Session,
        *,
        timeout: tuple[float, float],
        policy: RetryPolicy,
        limiter: SlidingWindowRateLimiter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.policy = policy
        self.limiter = limiter
        self._sleep = sleep
        self.attempts = 0  # requests actually sent, retries included (for tests and the bench)

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        account: str | None,
        idempotent: bool = True,
        timeout: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send the request until it succeeds, fails for good, or the retries are spent.

        :param method: HTTP method.
        :param url: absolute URL.
        :param endpoint: API path, used for rate limiting and messages.
        :param account: account label for messages, None for app-level calls.
        :param idempotent: False for a request that must not be repeated once TikTok may have processed
            it (the refresh grant); see the module docstring.
        :param timeout: (connect, read) timeout of this request (default: the transport's).
        :param kwargs: passed to ``requests.Session.request`` (params, data, json, headers).
        """
        failure: Failure | None = None
        retries = 0
        limited: list[float] = []  # the waits this request spent on 429s
        while True:  # ends: success, a final error, max_retries errors or rate_limit_patience spent
            body, failure = self._attempt(method, url, endpoint, timeout or self.timeout, kwargs)
            if failure is None:
                self.limiter.succeeded(endpoint)
                return body or {}
            if failure.kind != "transient":
                raise self._error(failure, endpoint, account)
            if failure.rate_limited and (idempotent or failure.http_status == 429):
                limited.append(self._wait_for_budget(failure, endpoint, account, limited))
                continue
            if not idempotent and failure.sent and failure.http_status != 429:
                raise self._unknown(failure, endpoint, account)
            retries += 1
            if retries > self.policy.max_retries:
                raise self._exhausted(failure, endpoint, account)
            self._pause(retries, failure, endpoint)

    def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        timeout: tuple[float, float],
        kwargs: dict[str, Any],
    ) -> tuple[dict[str, Any] | None, Failure | None]:
        self.limiter.acquire(endpoint)
        self.attempts += 1
        try:
            response = self.session.request(method, url, timeout=timeout, **kwargs)
        except requests.ConnectTimeout:
            return None, Failure("transient", "connect timed out", sent=False)
        except requests.Timeout:
            return None, Failure("transient", f"no answer within {timeout[1]:g}s")
        except requests.ConnectionError as exc:
            return None, Failure("transient", f"connection error ({_cause(exc)})", sent=not _unsent(exc))
        with response:
            return classify(response)

    def _wait_for_budget(
        self, failure: Failure, endpoint: str, account: str | None, earlier: list[float]
    ) -> float:
        """Wait after a 429 until the app's window should have room; return the seconds waited, or raise
        when the patience is spent.

        :param earlier: the waits this request already spent on 429s.
        """
        estimate = self.limiter.rate_limited(endpoint)
        if failure.retry_after is not None:
            # "Retry-After: 0" (or a date gone by) must not resend at once, over and over
            delay = min(max(failure.retry_after, MIN_RETRY_AFTER), self.policy.backoff_cap)
        elif self.limiter.enabled:
            # a little early rather than late: a request sent too soon only probes again
            delay = estimate * (random.uniform(0.75, 1.0) if self.policy.jitter else 1.0)  # noqa: S311
        else:
            delay = self.policy.delay(len(earlier) + 1)
        patience = self.policy.rate_limit_patience
        if patience <= 0 or sum(earlier) + delay > patience:
            raise self._rate_limit_spent(failure, endpoint, account, sum(earlier))
        log.info("TikTok %s: rate limited (HTTP 429); same request again in %.2fs", endpoint, delay)
        self._sleep(delay)
        return delay

    def _pause(self, retry: int, failure: Failure | None, endpoint: str) -> None:
        delay = self.policy.delay(retry, failure.retry_after if failure else None)
        log.warning(
            "TikTok %s: %s; retry %d/%d in %.2fs",
            endpoint,
            failure.reason if failure else "?",
            retry,
            self.policy.max_retries,
            delay,
        )
        self._sleep(delay)

    def _error(self, failure: Failure, endpoint: str, account: str | None) -> TikTokApiError:
        who = _who(account)
        fields = _error_fields_of(failure, endpoint, account)
        log_id = f" (log_id {failure.log_id})" if failure.log_id else ""
        if failure.kind == "auth":
            hint = relink_hint(account) if account else "check the app connection and relink the account"
            return TikTokAuthError(
                f"TikTok refused {endpoint} for {who}: {failure.reason}{log_id}. To fix: {hint}.", **fields
            )
        return TikTokApiError(f"TikTok {endpoint} failed for {who}: {failure.reason}{log_id}.", **fields)

    def _unknown(self, failure: Failure, endpoint: str, account: str | None) -> TikTokRefreshUnknownError:
        return TikTokRefreshUnknownError(
            f"TikTok {endpoint} for {_who(account)}: {failure.reason} after the request was sent, so TikTok "
            "may have rotated the refresh token; not repeated blindly. The task's next try finds out.",
            **_error_fields_of(failure, endpoint, account),
        )

    def _rate_limit_spent(
        self, failure: Failure, endpoint: str, account: str | None, waited: float
    ) -> TikTokTransientError:
        return TikTokTransientError(
            f"TikTok {endpoint} for {_who(account)} still answered rate_limit_exceeded after {waited:.0f}s "
            "of waiting for the app's request budget: something else uses the same TikTok app heavily. Run "
            "fewer jobs on this app at once (or give them their own app), then retry the task.",
            **_error_fields_of(failure, endpoint, account),
        )

    def _exhausted(self, failure: Failure, endpoint: str, account: str | None) -> TikTokTransientError:
        return TikTokTransientError(
            f"TikTok {endpoint} for {_who(account)} still failing after {self.policy.max_retries + 1} "
            f"attempts: {failure.reason.rstrip('.')}. This is usually temporary (rate limit or outage); "
            "retry the task later.",
            **_error_fields_of(failure, endpoint, account),
        )


def _who(account: str | None) -> str:
    return f"account {account}" if account else "the TikTok app"


def _error_fields_of(failure: Failure, endpoint: str, account: str | None) -> dict[str, Any]:
    """The keyword arguments every :class:`TikTokApiError` built from ``failure`` carries."""
    return {
        "code": failure.code,
        "description": failure.description,
        "log_id": failure.log_id,
        "http_status": failure.http_status,
        "endpoint": endpoint,
        "account": account,
    }


def _unsent(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made (refused, unreachable, DNS): the request was not sent."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | NameResolutionError)


def _cause(exc: requests.ConnectionError) -> str:
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None) or reason
    return type(inner).__name__ if inner is not None else type(exc).__name__
