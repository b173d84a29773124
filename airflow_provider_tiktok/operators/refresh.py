"""TikTokRefreshTokensOperator: the single writer of rotated TikTok tokens."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_tiktok.connections import REGISTRY_VARIABLE, parse_registry
from airflow_provider_tiktok.errors import (
    TikTokApiError,
    TikTokAuthError,
    TikTokError,
    TikTokTokenPersistError,
    fix_first,
)
from airflow_provider_tiktok.models import DEFAULT_REFRESH_MARGIN, DEFAULT_WARN_DAYS
from airflow_provider_tiktok.tokens import TokenStore

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

    from airflow.sdk import Context, XComArg

    from airflow_provider_tiktok.xcom import RefreshResult


class TikTokRefreshTokensOperator(BaseOperator):
    """Refresh the tokens of linked TikTok accounts whose access token is about to expire.

    This is the usual refresher, ahead of the reports (a report renews its own token only when it
    starts late, through the same :class:`~airflow_provider_tiktok.token_refresh.TokenKeeper` that
    re-reads the store and settles races). ``max_active_tis_per_dag=1`` (the default here) lets at most
    one instance run at a time across every run of the DAG, daily runs and backfills alike: TikTok
    rotates refresh tokens, so concurrent refreshes of one account are kept rare. Put it upstream of the
    report tasks.

    Failure semantics (decided so one broken account never blocks the others):

    * An account whose refresh fails for good (expired or revoked refresh token, invalid_grant,
      access lost) is logged as an error with its relink message, recorded for the accounts page
      ("broken"), and listed under ``failed``; the task still **succeeds**, so the other accounts'
      report tasks run, and the broken account's report task fails on its own with the same
      relink message. Set ``fail_on_error=True`` to fail the task instead (after trying every account).
    * A rotated token that cannot be saved (:class:`TikTokTokenPersistError`) stops the task at once
      and fails it: refreshing more accounts while storage is broken would burn them too.

    Returns (XCom, no secrets)::

        {"refreshed": [conn_id, ...], "unchanged": [conn_id, ...],
         "failed": {conn_id: "relink message"}, "accounts": {conn_id: RefreshOutcome summary}}

    :param account_conn_ids: account connection ids to refresh (templated); a list, a JSON list or a
        comma separated string. Default: every account in the Variable ``tiktok_accounts``.
    :param margin: refresh when the access token expires within this time.
    :param warn_days: warn when a refresh token has fewer days left than this (relink soon).
    :param fail_on_error: fail the task (after all accounts were tried) when any account failed.
    :param hook_kwargs: extra keyword arguments for each :class:`TikTokHook` (timeouts, retries ...).
    """

    template_fields: Sequence[str] = ("account_conn_ids",)
    ui_color = "#fe2c55"

    def __init__(
        self,
        *,
        account_conn_ids: Sequence[str] | str | XComArg | None = None,
        margin: timedelta = DEFAULT_REFRESH_MARGIN,
        warn_days: float = DEFAULT_WARN_DAYS,
        fail_on_error: bool = False,
        hook_kwargs: dict[str, Any] | None = None,
        max_active_tis_per_dag: int | None = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_active_tis_per_dag=max_active_tis_per_dag, **kwargs)
        self.account_conn_ids = account_conn_ids
        self.margin = margin
        self.warn_days = warn_days
        self.fail_on_error = fail_on_error
        self.hook_kwargs = hook_kwargs or {}

    def execute(self, context: Context) -> RefreshResult:
        """Refresh every listed account that needs it; see the class docstring for failure semantics."""
        result: RefreshResult = {"refreshed": [], "unchanged": [], "failed": {}, "accounts": {}}
        for conn_id in self.resolve_conn_ids():
            self._refresh_one(conn_id, result)
        self._report(result)
        if self.fail_on_error and result["failed"]:
            raise TikTokError(self._failure_message(result["failed"]))
        return result

    def resolve_conn_ids(self) -> list[str]:
        """The account connection ids to refresh (rendered field, or the registry Variable)."""
        ids: Any = self.account_conn_ids  # rendered by now: a list, a string or None
        if ids is None:
            ids = parse_registry(TokenStore().backend.get_variable(REGISTRY_VARIABLE))
        if isinstance(ids, str):
            text = ids.strip()
            ids = json.loads(text) if text.startswith("[") else [p for p in text.split(",")]
        return list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))

    def _refresh_one(self, conn_id: str, result: RefreshResult) -> None:
        # Imported here: the DAG file imports this module at parse time, the HTTP stack is not needed then.
        from airflow_provider_tiktok.hooks.tiktok import TikTokHook

        hook = TikTokHook(conn_id, **self.hook_kwargs)
        try:
            outcome = hook.refresh_if_needed(margin=self.margin, warn_days=self.warn_days)
        except TikTokTokenPersistError:
            raise  # storage is broken: stop before rotating (and losing) more accounts
        except TikTokError as exc:
            self.log.error("TikTok account %s NOT refreshed.\n%s", conn_id, _laid_out(exc, conn_id))
            result["failed"][conn_id] = str(exc)
            return
        finally:
            hook.close()
        result["refreshed" if outcome.refreshed else "unchanged"].append(conn_id)
        result["accounts"][conn_id] = outcome.to_summary()

    def _report(self, result: RefreshResult) -> None:
        self.log.info(
            "TikTok token refresh: %d refreshed, %d still valid, %d failed",
            len(result["refreshed"]),
            len(result["unchanged"]),
            len(result["failed"]),
        )
        if result["failed"]:
            self.log.error("%s", self._failure_message(result["failed"]))

    @staticmethod
    def _failure_message(failed: dict[str, str]) -> str:
        lines = [f"{len(failed)} TikTok account(s) could not be refreshed:"]
        lines += [f"- {conn_id}: {message}" for conn_id, message in failed.items()]
        return "\n".join(lines)


def _laid_out(exc: TikTokError, conn_id: str) -> str:
    """The failure as the log shows it: the fix first (relink when TikTok refused for good), then why."""
    account = (exc.account if isinstance(exc, TikTokApiError) else None) or conn_id
    return fix_first(str(exc), account=account, connection=conn_id, relink=isinstance(exc, TikTokAuthError))
