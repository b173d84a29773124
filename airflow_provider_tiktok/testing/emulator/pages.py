"""HTML of the authorize flow: the consent page and the error page shown at TikTok."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from airflow_provider_tiktok.testing.emulator.messages import HTML_TYPE, Response
from airflow_provider_tiktok.testing.emulator.spec import AUTHORIZE_PATH

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_provider_tiktok.testing.emulator.data import EmulatedUser

_STYLE = "body{font-family:sans-serif;max-width:40em;margin:2em auto}label{display:block;margin:.4em 0}"
#: Authorize parameters carried through the consent form.
FORM_PARAMS = (
    "client_key",
    "response_type",
    "scope",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "disable_auto_auth",
)


def error_page(problems: Iterable[str]) -> Response:
    """TikTok's "We couldn't log in" page (HTTP 400) naming the parameters to fix."""
    listed = ", ".join(escape(p) for p in problems)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>TikTok</title><style>{_STYLE}</style>"
        "</head><body><h1>We couldn't log in with TikTok</h1>"
        "<p>This may be due to specific app settings.</p>"
        f"<p id='error-detail'>If you're a developer, correct the following: {listed}</p></body></html>"
    )
    return Response(400, html.encode("utf-8"), HTML_TYPE)


def consent_page(params: Mapping[str, str], users: Iterable[EmulatedUser], app_name: str) -> Response:
    """The consent form: pick one of the sandbox users, then Authorize or Deny."""
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{escape(params[name])}'>"
        for name in FORM_PARAMS
        if name in params
    )
    choices = "".join(_user_choice(user, first=i == 0) for i, user in enumerate(users))
    scopes = "".join(f"<li>{escape(s)}</li>" for s in params.get("scope", "").split(",") if s)
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Log in to TikTok</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(app_name)} wants to access your TikTok account</h1>"
        f"<p>It asks for:</p><ul id='scopes'>{scopes}</ul>"
        f"<form method='post' action='{AUTHORIZE_PATH}'>{hidden}<fieldset><legend>Log in as</legend>"
        f"{choices}</fieldset>"
        "<button type='submit' name='action' value='authorize' id='authorize'>Authorize</button> "
        "<button type='submit' name='action' value='deny' id='deny'>Cancel</button></form>"
        "<p><small>TikTok emulator: sandbox target users can consent; others are refused.</small></p>"
        "</body></html>"
    )
    return Response(200, html.encode("utf-8"), HTML_TYPE)


def _user_choice(user: EmulatedUser, *, first: bool) -> str:
    checked = " checked" if first else ""
    tag = "" if user.is_target_user else " (not a sandbox target user)"
    return (
        f"<label><input type='radio' name='emulator_user' value='{escape(user.open_id)}' "
        f"id='user-{escape(user.username)}' data-username='{escape(user.username)}'{checked}> "
        f"{escape(user.display_name)} @{escape(user.username)}{tag}</label>"
    )
