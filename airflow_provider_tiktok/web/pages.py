"""Rendering of the server-side Jinja2 templates (no JavaScript build step)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from airflow_provider_tiktok.web.settings import pages_url, ui_accounts_url, ui_url
from airflow_provider_tiktok.web.state import sign_problem

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import HTMLResponse, Response

    from airflow_provider_tiktok.web.problems import Problem

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def when(value: datetime | str | None) -> str:
    """Format a UTC timestamp as ``2025-11-25 07:50 UTC`` (``-`` when unknown)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def whole_days(days: float) -> int:
    """Round a number of days to the nearest whole day (a 365-day token just issued has 365 days left,
    not the 364 that truncating 364.99 would say)."""
    return int(days + 0.5)


def days_left(days: float | None) -> str:
    """Describe a number of days from now: ``in 365 days``, ``in 5 hours``, ``expired 3 days ago``."""
    if days is None:
        return "-"
    if days < 0:
        return f"expired {_amount(-days)} ago"
    return f"in {_amount(days)}"


def _amount(days: float) -> str:
    if days >= 1:
        whole = whole_days(days)
        return f"{whole} day" + ("s" if whole != 1 else "")
    hours = int(days * 24 + 0.5)
    return f"{hours} hour" + ("s" if hours != 1 else "")


templates.env.filters["when"] = when
templates.env.filters["days_left"] = days_left


def _base_context() -> dict[str, Any]:
    return {
        "css_url": pages_url("static/tiktok.css"),
        "js_url": pages_url("static/tiktok.js"),
        "accounts_url": pages_url("accounts"),
        "ui_accounts_url": ui_accounts_url(),
    }


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with the common context (stylesheet and page URLs) plus ``context``."""
    return templates.TemplateResponse(request, name, {**_base_context(), **context}, status_code=status_code)


def is_top_level(request: Request) -> bool:
    """True when the browser loads ``request`` as the whole tab (not in the Airflow UI's iframe).

    Browsers say so in ``Sec-Fetch-Dest``; a client that does not send it (API clients, tests) gets the
    page itself.
    """
    return request.headers.get("sec-fetch-dest") == "document"


def render_problem(
    request: Request, problem: Problem, *, back_url: str | None = None, user: str | None = None
) -> Response:
    """Render an error page for ``problem``, inside the Airflow UI.

    A browser loading the answer as the whole tab (the OAuth callback, a form posted from the top
    window) is redirected to the same page inside the UI, so Airflow's navigation stays around it.

    :param request: the current request.
    :param problem: what happened and what to do.
    :param back_url: where the "back" link goes; the accounts page by default (loaded in the UI's iframe,
        or, opened on its own, moved into the UI).
    :param user: name of the signed-in user, when known.
    """
    if is_top_level(request):
        return RedirectResponse(ui_url(pages_url("problem")) + "?p=" + sign_problem(problem), status_code=303)
    return render(
        request,
        "problem.html",
        status_code=problem.status_code,
        problem=problem,
        back_url=back_url or pages_url("accounts"),
        user=user,
    )
