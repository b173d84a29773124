"""Who is signed in and what they may do, asked of Airflow's auth manager.

Airflow does not authenticate plugin apps, so every route depends on Airflow's own ``get_user``
(the UI's ``_token`` cookie or an ``Authorization: Bearer`` JWT). Permissions are the auth manager's
connection permissions, whatever the auth manager is (SimpleAuthManager, FAB, Keycloak...):

- viewing the accounts: ``GET`` on connections;
- linking a new account: ``POST`` (create) on connections;
- regenerating a token: ``PUT`` (edit) on the account connection;
- unlinking: ``DELETE`` on the account connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

_ACTIONS: dict[str, str] = {
    "GET": "view connections",
    "POST": "create connections",
    "PUT": "edit connections",
    "DELETE": "delete connections",
}


class NotPermitted(Exception):
    """The signed-in user lacks a connection permission.

    :param user: name of the signed-in user.
    :param method: the connection permission that was refused (GET, POST, PUT, DELETE).
    :param action: what the user tried, e.g. "link a TikTok account".
    """

    def __init__(self, user: str, method: str, action: str) -> None:
        self.user = user
        self.method = method
        self.action = action
        self.permission = _ACTIONS.get(method, method)
        super().__init__(
            f"{user} may not {action}: it needs the permission to {self.permission}. "
            "Ask an Airflow admin to grant it."
        )


def user_id(user: BaseUser) -> str:
    """Stable id of a user (what the state and CSRF tokens are bound to)."""
    return str(user.get_id())


def user_name(user: BaseUser) -> str:
    """Name of a user for display."""
    return str(user.get_name() or user.get_id())


def is_permitted(user: BaseUser, method: ResourceMethod, conn_id: str | None = None) -> bool:
    """Ask the auth manager whether ``user`` may use ``method`` on connections (``conn_id`` if given)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    details = ConnectionDetails(conn_id=conn_id) if conn_id else None
    return bool(get_auth_manager().is_authorized_connection(method=method, user=user, details=details))


def require(user: BaseUser, method: ResourceMethod, action: str, conn_id: str | None = None) -> None:
    """Raise :class:`NotPermitted` unless ``user`` may use ``method`` on connections.

    :param user: the signed-in user.
    :param method: GET (view), POST (create), PUT (edit) or DELETE.
    :param action: what the user is trying to do, for the message.
    :param conn_id: the connection concerned, when there is one.
    """
    if not is_permitted(user, method, conn_id):
        raise NotPermitted(user_name(user), method, action)


def login_url(next_url: str) -> str:
    """The auth manager's login page, coming back to ``next_url`` afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    return str(get_auth_manager().get_url_login(next_url=next_url))
