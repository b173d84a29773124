"""S3 keys of the report: the default key templates and how a template becomes a key.

A key template knows only ``{report_date}``, ``{open_id}`` and ``{account}``; it is never rendered as Jinja
(a template still holding Jinja came from settings, params or XCom: data, refused here). Used by the
transfer operator and by the report run's settings, so it sits below both.
"""

from __future__ import annotations

from string import Formatter
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.connections import check_open_id
from airflow_provider_tiktok.errors import TikTokConfigError, TikTokRunConfigError

if TYPE_CHECKING:
    from datetime import date

DEFAULT_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/account={open_id}/video_stats.csv"
DEFAULT_ACCOUNT_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/account={open_id}/account_stats.csv"
DEFAULT_MANIFEST_KEY_TEMPLATE = "tiktok/video_stats/dt={report_date}/_manifest.json"

_JINJA_MARKERS = ("{{", "{%", "{#")


def check_template(name: str, template: Any) -> str:
    """A key template as text; Jinja in it is refused (it would be data rendered as code)."""
    text = str(template)
    if any(marker in text for marker in _JINJA_MARKERS):
        raise TikTokRunConfigError(
            f"{name} {text!r} contains Jinja; settings are never rendered as "
            "templates. Use the placeholders {report_date}, {open_id} and {account} (Jinja is only "
            "rendered in the arguments of an operator written in a DAG file)."
        )
    return text


def fill_key(template: str, *, report_date: date | str, open_id: str = "", account: str = "") -> str:
    """Fill the ``{report_date}``, ``{open_id}`` and ``{account}`` placeholders of a key template.

    Jinja is never rendered here: a template still holding ``{{`` came from settings or XCom (data), and
    is refused. An ``open_id`` outside TikTok's id alphabet is refused too, naming the account.

    :param template: key template (an operator argument from a DAG file is Jinja-rendered by Airflow first).
    :param report_date: the run's report date.
    :param open_id: the account's open_id.
    :param account: the account connection id.
    """
    template = check_template("S3 key template", template)
    values = {"report_date": str(report_date), "open_id": open_id, "account": account}
    try:
        fields = {name for _text, name, _spec, _conv in Formatter().parse(template) if name is not None}
        if fields - set(values):
            raise KeyError(", ".join(sorted(fields - set(values))))
        if "open_id" in fields:
            check_open_id(open_id, account or "(unknown)")
        key = template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise TikTokConfigError(
            f"S3 key template {template!r} is invalid ({type(exc).__name__}: {exc}); it may use only "
            "{report_date}, {open_id} and {account}."
        ) from None
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise TikTokConfigError(f"S3 key template {template!r} gives the invalid key {key!r}.")
    return key
