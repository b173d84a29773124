"""Apache Airflow provider for TikTok: linked accounts, token refresh, daily stats to S3."""

from __future__ import annotations

from typing import Any

#: The one place the version is written: pyproject.toml reads it from here (hatch's dynamic version).
__version__ = "0.1.0"

#: The ``[tiktok]`` options the accounts page reads on the API server (``AIRFLOW__TIKTOK__<OPTION>``);
#: their defaults are the ones ``airflow_provider_tiktok.web.settings`` falls back to.
_CONFIG: dict[str, Any] = {
    "tiktok": {
        "description": "The TikTok accounts page of the plugin (read by the API server).",
        "options": {
            "callback_path": {
                "description": "Path of the OAuth callback on the API server. It must be the path of the app "
                "connection's redirect_uri, registered in the TikTok Developer Portal.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "/users/auth/tiktok/callback",
                "default": "/users/auth/tiktok/callback",
            },
            "app_conn_id": {
                "description": "The TikTok app connection the accounts page offers first for linking.",
                "version_added": "0.1.0",
                "type": "string",
                "example": "tiktok_default",
                "default": "tiktok_default",
            },
            "refresh_warn_days": {
                "description": "An account whose refresh token expires within this many days is flagged "
                "'expiring' on the accounts page.",
                "version_added": "0.1.0",
                "type": "integer",
                "example": "30",
                "default": "30",
            },
        },
    }
}


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's providers manager (the `apache_airflow_provider` entry point)."""
    return {
        "package-name": "airflow-provider-tiktok",
        "name": "TikTok",
        "description": "Link TikTok accounts (Login Kit), keep their tokens alive and "
        "write daily view statistics (Display API) to S3.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "TikTok",
                "external-doc-url": "https://developers.tiktok.com/doc/display-api-overview",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "TikTok", "python-modules": ["airflow_provider_tiktok.hooks.tiktok"]}],
        "operators": [
            {
                "integration-name": "TikTok",
                "python-modules": [
                    "airflow_provider_tiktok.operators.refresh",
                    "airflow_provider_tiktok.operators.report_run",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "TikTok",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_tiktok.operators.tiktok",
            }
        ],
        "plugins": [{"name": "tiktok", "plugin-class": "airflow_provider_tiktok.plugin.TikTokPlugin"}],
        "config": _CONFIG,
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
