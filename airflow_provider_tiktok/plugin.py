"""The Airflow plugin: the TikTok accounts page inside the Airflow 3 UI.

Registered through the ``airflow.plugins`` entry point of this package. ``plugins/tiktok_plugin.py``
exposes the same plugin for deployments that use a plain plugins folder; it steps aside when the entry
point is installed, because Airflow loads the plugins folder first and would report the entry point's
copy as a duplicate ("Plugin 'tiktok' already registered, skipping") in its plugin import errors.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_tiktok.web.settings import PAGES_PREFIX, UI_ROUTE, callback_mount, pages_url

PLUGIN_NAME = "tiktok"


def _fastapi_apps() -> list[dict[str, Any]]:
    from airflow_provider_tiktok.web.app import create_callback_app, create_pages_app

    return [
        {"app": create_pages_app(), "url_prefix": PAGES_PREFIX, "name": "TikTok accounts"},
        {"app": create_callback_app(), "url_prefix": callback_mount()[0], "name": "TikTok OAuth callback"},
    ]


def _external_views() -> list[dict[str, Any]]:
    return [
        {
            "name": "TikTok accounts",
            "href": pages_url("accounts"),
            "destination": "nav",
            "url_route": UI_ROUTE,
            "category": "admin",
        }
    ]


class TikTokPlugin(AirflowPlugin):
    """Adds "TikTok accounts" to the Airflow navigation: link, relink and unlink TikTok accounts."""

    name = PLUGIN_NAME
    fastapi_apps = _fastapi_apps()
    external_views = _external_views()
