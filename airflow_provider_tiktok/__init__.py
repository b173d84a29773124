"""Apache Airflow provider for TikTok: linked accounts, token refresh, daily stats to S3."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's providers manager (the `apache_airflow_provider` entry point)."""
    return {
        "package-name": "airflow-provider-tiktok",
        "name": "TikTok",
        "description": "Link TikTok accounts (Login Kit), keep their tokens alive and "
        "write daily view statistics (Display API) to S3.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "tiktok",
                "hook-class-name": "airflow_provider_tiktok.hooks.tiktok.TikTokHook",
            }
        ],
    }
