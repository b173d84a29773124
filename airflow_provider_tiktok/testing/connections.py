"""Airflow connections that point at the TikTok emulator, for tests, benchmarks and local stacks.

:func:`app_connection` is the TikTok app connection (client key and secret, redirect URI, the emulator as
API and authorize base URL); :func:`account_connection` is a linked account connection (what the accounts
page writes). Both return plain dicts in Airflow's JSON connection format: ``json.dumps`` one for an
``AIRFLOW_CONN_<CONN_ID>`` environment variable or for ``airflow connections add <id> --conn-json``::

    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_DEFAULT", json.dumps(app_connection(tiktok_emulator)))

Nothing here imports Airflow at module import time (see :mod:`airflow_provider_tiktok.testing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_provider_tiktok.models import AccountInfo, TokenSet


class EmulatedApp(Protocol):
    """What the app connection needs from an emulator.

    A :class:`~airflow_provider_tiktok.testing.emulator.TikTokEmulator` has all four; so can an object
    describing an emulator started in another process (``tiktok-emulator`` prints them at start).
    """

    @property
    def client_key(self) -> str:
        """The app's client key."""

    @property
    def client_secret(self) -> str:
        """The app's client secret."""

    @property
    def redirect_uri(self) -> str:
        """A redirect URI registered with the emulated app."""

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the emulator's authorize page and API."""


def app_connection(emulator: EmulatedApp, *, redirect_uri: str | None = None, **extra: Any) -> dict[str, Any]:
    """The TikTok app connection pointing at ``emulator``, as a dict in Airflow's JSON connection format.

    :param emulator: a running :class:`~airflow_provider_tiktok.testing.emulator.TikTokEmulator` (or any
        :class:`EmulatedApp`).
    :param redirect_uri: extra ``redirect_uri``; default ``emulator.redirect_uri`` (its first registered
        one). The emulator only redirects to registered URIs.
    :param extra: more extra fields, e.g. ``scopes="user.info.basic,video.list"``; they override the
        defaults (``api_base_url`` and ``auth_base_url`` are ``emulator.base_url``).
    :return: ``{"conn_type": "tiktok", "login": <client key>, "password": <client secret>, "extra": {...}}``.
    """
    return {
        "conn_type": "tiktok",
        "login": emulator.client_key,
        "password": emulator.client_secret,
        "extra": {
            "redirect_uri": emulator.redirect_uri if redirect_uri is None else redirect_uri,
            "api_base_url": emulator.base_url,
            "auth_base_url": emulator.base_url,
            **extra,
        },
    }


def account_connection(info: AccountInfo, tokens: TokenSet) -> dict[str, Any]:
    """A linked account connection (what the accounts page writes), as a dict in Airflow's JSON format.

    :param info: who the account is and which app connection it was linked through.
    :param tokens: its token set.
    :return: ``{"conn_type": "tiktok", "extra": account_connection_extra(info, tokens)}``.
    """
    # Imported here: the provider's modules import Airflow, which must not happen before a test session
    # (or a demo) has configured AIRFLOW_HOME.
    from airflow_provider_tiktok.connections import account_connection_extra

    return {"conn_type": "tiktok", "extra": account_connection_extra(info, tokens)}
