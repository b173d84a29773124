"""How relink reminders reach a person: any Airflow notifier, chosen by the deployment.

Configuration (``airflow.cfg`` section ``[tiktok]`` or ``AIRFLOW__TIKTOK__*`` on the workers; never run
params, so a trigger cannot redirect reminders):

* ``reminder_notifier``: import path of a notifier class (an ``airflow.sdk.BaseNotifier`` subclass such as
  ``airflow.providers.smtp.notifications.smtp.SmtpNotifier``) or of a callable returning one;
  ``module.Name`` or ``module:Name``. Empty: reminders are only written to the task log.
* ``reminder_notifier_kwargs``: JSON object of its keyword arguments. String values may hold the
  placeholders ``{subject}``, ``{text}``, ``{html}``, ``{account}``, ``{conn_id}``, ``{deadline}`` and
  ``{page_url}``, filled with the reminder's words. Nothing is rendered as Jinja: the notifier's
  ``notify`` is called directly, so an account name from TikTok can never run as a template.
* ``reminder_days``: days-left thresholds, default ``30,7,1``.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.errors import TikTokConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow_provider_tiktok.reminder_message import ReminderMessage
    from airflow_provider_tiktok.reminders import Due

SECTION = "tiktok"
_PLACEHOLDER = re.compile(r"\{(subject|text|html|account|conn_id|deadline|page_url)\}")


@dataclass(frozen=True)
class NotifierConfig:
    """The deployment's reminder notifier.

    :param path: import path of the notifier class or factory; empty when none is configured.
    :param kwargs: its keyword arguments, placeholders unfilled.
    """

    path: str = ""
    kwargs: Mapping[str, Any] | None = None

    @property
    def configured(self) -> bool:
        """True when a notifier is set."""
        return bool(self.path)


def _option(name: str) -> str:
    from airflow.configuration import conf

    return str(conf.get(SECTION, name, fallback="") or "").strip()


def notifier_config() -> NotifierConfig:
    """Read ``[tiktok] reminder_notifier`` and ``reminder_notifier_kwargs``."""
    path, raw = _option("reminder_notifier"), _option("reminder_notifier_kwargs")
    try:
        kwargs = json.loads(raw) if raw else {}
    except ValueError:
        kwargs = None
    if not isinstance(kwargs, dict):
        raise TikTokConfigError(
            "[tiktok] reminder_notifier_kwargs is not a JSON object (e.g. "
            '{"to": "team@example.com", "subject": "{subject}", "html_content": "{html}"}); fix '
            "AIRFLOW__TIKTOK__REMINDER_NOTIFIER_KWARGS on the workers. No reminder was sent."
        )
    return NotifierConfig(path=path, kwargs=kwargs)


def reminder_days_setting() -> str:
    """The raw ``[tiktok] reminder_days`` (empty: the defaults)."""
    return _option("reminder_days")


def load_factory(path: str) -> Callable[..., Any]:
    """Import the notifier class or factory at ``path`` (``module.Name`` or ``module:Name``)."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise TikTokConfigError(
            f"[tiktok] reminder_notifier = {path!r} cannot be imported ({type(exc).__name__}: {exc}); "
            "install its provider on the workers or fix AIRFLOW__TIKTOK__REMINDER_NOTIFIER. "
            "No reminder was sent."
        ) from None
    if not callable(factory):
        raise TikTokConfigError(f"[tiktok] reminder_notifier = {path!r} is not a class or a callable.")
    return factory


def fill(value: Any, words: Mapping[str, str]) -> Any:
    """``value`` with the placeholders of every string in it (lists and dicts too) replaced by ``words``."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: words[m.group(1)], value)
    if isinstance(value, list):
        return [fill(item, words) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, words) for key, item in value.items()}
    return value


def placeholder_words(due: Due, message: ReminderMessage, page_url: str) -> dict[str, str]:
    """What each placeholder stands for in one reminder."""
    from airflow_provider_tiktok.reminder_message import one_line, utc_text

    return {
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "account": one_line(due.condition.label),
        "conn_id": due.condition.conn_id,
        "deadline": utc_text(due.condition.refresh_token_expires_at),
        "page_url": page_url,
    }


def send(config: NotifierConfig, words: Mapping[str, str], context: Mapping[str, Any]) -> None:
    """Build the notifier for one reminder and send it (raises whatever the notifier raises).

    :param config: the deployment's notifier.
    :param words: the reminder's placeholder values.
    :param context: the task context, handed to ``notify``.
    """
    notifier = load_factory(config.path)(**fill(dict(config.kwargs or {}), words))
    # notify(), not __call__: __call__ renders the fields as Jinja, and account names are data.
    notifier.notify(context)
