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
                "hook-name": "TikTok",
                # The form edits the *app* connection; account connections (tiktok_account_*) are written
                # by the plugin page when an account is linked, never by hand.
                "conn-fields": {
                    "redirect_uri": {
                        "label": "Redirect URI",
                        "schema": {"type": ["string", "null"]},
                        "description": "Exact https callback registered in the TikTok Developer Portal, "
                        "e.g. https://airflow.example.com/users/auth/tiktok/callback",
                    },
                    "scopes": {
                        "label": "Scopes",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "user.info.basic,user.info.stats,video.list",
                        },
                        "description": "Comma separated scopes requested at login",
                    },
                    "api_base_url": {
                        "label": "API base URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Token and Display API origin (default https://open.tiktokapis.com)",
                    },
                    "auth_base_url": {
                        "label": "Authorize base URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Login page origin (default https://www.tiktok.com)",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "host"],
                    "relabeling": {"login": "Client key", "password": "Client secret"},
                    "placeholders": {
                        "login": "sbaw... (sandbox client key)",
                        "password": "client secret from the TikTok Developer Portal",
                        "redirect_uri": "https://airflow.example.com/users/auth/tiktok/callback",
                        "scopes": "user.info.basic,user.info.stats,video.list",
                        "api_base_url": "https://open.tiktokapis.com",
                        "auth_base_url": "https://www.tiktok.com",
                    },
                },
            }
        ],
    }
