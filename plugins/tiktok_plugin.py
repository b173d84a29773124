"""Plugins-folder entry for the TikTok accounts page (for deployments that copy plugins into a folder).

When the ``airflow-provider-tiktok`` package is installed, its ``airflow.plugins`` entry point already
registers the plugin. Airflow loads the plugins folder first and reports the entry point's copy as a
duplicate plugin import error, so this file exposes the plugin only when the entry point is absent.
"""

from __future__ import annotations

from importlib.metadata import entry_points


def _entry_point_installed() -> bool:
    """True when an installed distribution registers the TikTok plugin through ``airflow.plugins``."""
    return any(
        ep.value.startswith("airflow_provider_tiktok.plugin") for ep in entry_points(group="airflow.plugins")
    )


if not _entry_point_installed():
    from airflow_provider_tiktok.plugin import TikTokPlugin

    __all__ = ["TikTokPlugin"]
