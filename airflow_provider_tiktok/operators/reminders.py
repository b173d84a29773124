"""TikTokRelinkReminderOperator: tell a person, through the deployment's notifier, to relink an account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TriggerRule

from airflow_provider_tiktok.airflow_compat import AirflowFailException
from airflow_provider_tiktok.connections import REGISTRY_VARIABLE, parse_registry
from airflow_provider_tiktok.errors import TikTokConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, XComArg

    from airflow_provider_tiktok.reminder_delivery import NotifierConfig
    from airflow_provider_tiktok.tokens import TokenStore


@dataclass
class _Run:
    """What one execution of the operator works with, and what it did."""

    store: TokenStore
    config: NotifierConfig
    days: tuple[int, ...]
    context: Context
    sent: dict[str, str | int] = field(default_factory=dict)
    not_sent: dict[str, str] = field(default_factory=dict)


class TikTokRelinkReminderOperator(BaseOperator):
    """Send one relink reminder per account per threshold (days left) and one when it breaks.

    The decision and its state are in :mod:`airflow_provider_tiktok.reminders`; the notifier comes from
    the deployment (:mod:`airflow_provider_tiktok.reminder_delivery`), never from run params. Runs after
    the refresh task whatever happened upstream (``trigger_rule`` all done), so reminders go out when
    reports fail, and one instance at a time across runs (``max_active_tis_per_dag=1``), so two runs of
    a backfill never send the same reminder twice.

    A notifier that fails does not fail this task: the reminder is not recorded as sent, the log names
    the account and the error, and the next run tries again. A notifier setting that cannot work (not
    importable, kwargs not JSON) fails the task without retries, saying what to fix.

    Returns (XCom, no secrets) ``{"sent": {conn_id: kind}, "not_sent": {conn_id: reason}}``.

    :param account_conn_ids: accounts to check (templated); default every account in ``tiktok_accounts``.
    :param thresholds: days-left thresholds; default ``[tiktok] reminder_days`` or 30, 7, 1.
    """

    template_fields: Sequence[str] = ("account_conn_ids",)
    ui_color = "#fe2c55"

    def __init__(
        self,
        *,
        account_conn_ids: Sequence[str] | XComArg | None = None,
        thresholds: Sequence[int] | None = None,
        max_active_tis_per_dag: int | None = 1,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(max_active_tis_per_dag=max_active_tis_per_dag, **kwargs)
        self.account_conn_ids = account_conn_ids
        self.thresholds = thresholds

    def execute(self, context: Context) -> dict[str, Any]:
        """Check every account and send what is due; see the class docstring."""
        from airflow_provider_tiktok.reminder_delivery import (
            load_factory,
            notifier_config,
            reminder_days_setting,
        )
        from airflow_provider_tiktok.reminders import parse_thresholds
        from airflow_provider_tiktok.tokens import TokenStore

        store = TokenStore()
        try:
            config = notifier_config()
            if config.configured:
                load_factory(config.path)  # a path that cannot work fails now, not once per account
            days = parse_thresholds(self.thresholds or reminder_days_setting())
            conn_ids = self._conn_ids(store)  # a registry that is not a list of ids fails here too
        except TikTokConfigError as exc:
            raise AirflowFailException(str(exc)) from None
        run = _Run(store=store, config=config, days=days, context=context)
        for conn_id in conn_ids:
            self._remind(run, conn_id)
        self.log.info("Relink reminders: %d sent, %d not sent", len(run.sent), len(run.not_sent))
        return {"sent": run.sent, "not_sent": run.not_sent}

    def _conn_ids(self, store: TokenStore) -> list[str]:
        ids: Any = self.account_conn_ids
        if ids is None:
            ids = parse_registry(store.backend.get_variable(REGISTRY_VARIABLE))
        return list(dict.fromkeys(str(i) for i in ids if str(i).strip()))

    def _remind(self, run: _Run, conn_id: str) -> None:
        from airflow_provider_tiktok.errors import accounts_page_url
        from airflow_provider_tiktok.reminder_delivery import placeholder_words
        from airflow_provider_tiktok.reminder_message import build_message
        from airflow_provider_tiktok.reminders import (
            ReminderState,
            decide,
            mark_sent,
            read_condition,
            reminder_state_variable_key,
        )
        from airflow_provider_tiktok.tokens import utcnow

        key = reminder_state_variable_key(conn_id)
        stored = ReminderState.parse(run.store.backend.get_variable(key))
        state, due = decide(read_condition(run.store, conn_id, utcnow()), stored, run.days)
        if due is not None:
            page = accounts_page_url()
            message = build_message(due, page_url=page, thresholds=run.days)
            if self._deliver(run, placeholder_words(due, message, page), message.text):
                run.sent[conn_id] = due.kind
                state = mark_sent(state, due, at=utcnow())
            else:
                run.not_sent[conn_id] = f"{due.kind}: see the log"
        if state.sent != stored.sent:
            run.store.backend.set_variable(key, state.dumps())

    def _deliver(self, run: _Run, words: dict[str, str], text: str) -> bool:
        from airflow_provider_tiktok.reminder_delivery import send

        who = f"{words['account']} ({words['conn_id']})"
        if not run.config.configured:
            self.log.warning(
                "Relink reminder for %s NOT sent: no notifier is configured ([tiktok] reminder_notifier; "
                "see docs/runbook.md). It is repeated here every run until one is:\n%s",
                who,
                text,
            )
            return False
        try:
            send(run.config, words, run.context)
        except Exception as exc:
            self.log.error(
                "Relink reminder for %s NOT sent (%s: %s); it is tried again on the next run.",
                who,
                type(exc).__name__,
                exc,
            )
            return False
        self.log.info("Relink reminder sent for %s: %s", who, words["subject"])
        return True
