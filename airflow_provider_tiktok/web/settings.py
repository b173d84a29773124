"""Settings and URLs of the accounts page (read from Airflow's configuration).

Optional ``[tiktok]`` options (``AIRFLOW__TIKTOK__...``):

- ``callback_path``: path of the OAuth callback, default ``/users/auth/tiktok/callback`` (the path
  registered in TikTok for the previous system). It must be the path of the app connection's
  ``redirect_uri``.
- ``app_conn_id``: app connection offered first on the page, default ``tiktok_default``.
- ``refresh_warn_days``: an account whose refresh token expires within this many days is flagged, default 30.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow_provider_tiktok.connections import DEFAULT_APP_CONN_ID
from airflow_provider_tiktok.errors import ACCOUNTS_UI_ROUTE
from airflow_provider_tiktok.models import DEFAULT_WARN_DAYS

DEFAULT_CALLBACK_PATH = "/users/auth/tiktok/callback"
PAGES_PREFIX = "/tiktok"
UI_ROUTE = ACCOUNTS_UI_ROUTE
FLASH_COOKIE = "tiktok_flash"


def _conf_get(key: str, fallback: str) -> str:
    from airflow.configuration import conf

    return str(conf.get("tiktok", key, fallback=fallback) or fallback)


def callback_path() -> str:
    """Path of the OAuth callback (``[tiktok] callback_path``), always starting with ``/``."""
    path = _conf_get("callback_path", DEFAULT_CALLBACK_PATH).strip()
    return "/" + path.strip("/")


def callback_mount() -> tuple[str, str]:
    """Split the callback path into mount prefix and route: ``("/users/auth/tiktok", "/callback")``."""
    prefix, _, last = callback_path().rpartition("/")
    return prefix or "/", "/" + last


def default_app_conn_id() -> str:
    """App connection offered first on the page (``[tiktok] app_conn_id``)."""
    return _conf_get("app_conn_id", DEFAULT_APP_CONN_ID)


def warn_days() -> int:
    """Days before refresh-token expiry when an account is flagged (``[tiktok] refresh_warn_days``)."""
    try:
        return int(_conf_get("refresh_warn_days", str(DEFAULT_WARN_DAYS)))
    except ValueError:
        return DEFAULT_WARN_DAYS


def configured_base_url() -> str | None:
    """``[api] base_url`` without trailing slash, or None when unset."""
    from airflow.configuration import conf

    value = str(conf.get("api", "base_url", fallback="") or "").strip().rstrip("/")
    return value or None


def root_path() -> str:
    """Path prefix of the API server (from ``[api] base_url``), ending with ``/``."""
    base = configured_base_url()
    path = urlsplit(base).path if base else ""
    return path.rstrip("/") + "/"


def pages_url(path: str = "") -> str:
    """Absolute path of a page under ``/tiktok`` (e.g. ``pages_url("accounts")``)."""
    return f"{root_path()}{PAGES_PREFIX.strip('/')}/{path.lstrip('/')}"


def ui_accounts_url() -> str:
    """Path of the accounts page *inside* the Airflow UI (the ``external_views`` ``url_route``)."""
    return f"{root_path()}plugin/{UI_ROUTE}"


def ui_url(page_path: str) -> str:
    """Path that opens the page at ``page_path`` (e.g. ``/tiktok/accounts/x/unlink``) inside the Airflow UI.

    Airflow 3.3's UI serves an external view at ``/plugin/<url_route>`` and deep-links into its iframe
    with ``/plugin/<url_route>/<path the iframe loads>``.
    """
    return f"{ui_accounts_url()}/{page_path.lstrip('/')}"


def expected_redirect_uri(request_origin: str) -> str:
    """The redirect URI that reaches this server's callback.

    :param request_origin: ``scheme://host[:port]`` the browser used; ``[api] base_url`` wins when set,
        because behind a TLS proxy the request the server sees may be plain http.
    """
    base = configured_base_url()
    origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}" if base else request_origin
    return f"{origin}{root_path().rstrip('/')}{callback_path()}"
