"""Which accounts are linked, as the metadata DB holds them: the ``tiktok_accounts`` registry and the account
connections.

The registry Variable is read with :func:`~airflow_provider_tiktok.connections.parse_registry` (the one
parser) and written only here, by linking and unlinking (the page, the CLI, ``make demo``), through the
caller's ORM session so the write joins its transaction. An account connection missing from the registry
still counts as linked (:func:`account_conn_ids`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_provider_tiktok.connections import (
    ACCOUNT_CONN_PREFIX,
    CONN_TYPE,
    REGISTRY_VARIABLE,
    connection_extra,
    is_account_connection,
    parse_registry,
)
from airflow_provider_tiktok.errors import TikTokConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def account_connections(session: Session) -> list[Any]:
    """Every TikTok account connection (an unreadable one too, when its id says it is an account)."""
    from airflow.models.connection import Connection

    rows = session.scalars(select(Connection).where(Connection.conn_type == CONN_TYPE)).all()
    return [row for row in rows if _readable_account(row)]


def _readable_account(conn: Any) -> bool:
    try:
        return is_account_connection(conn)
    except TikTokConfigError:
        return conn.conn_id.startswith(ACCOUNT_CONN_PREFIX)


def find_account_connection(session: Session, open_id: str) -> Any | None:
    """The account connection of the TikTok user ``open_id``, None when the user is not linked."""
    for conn in account_connections(session):
        try:
            if connection_extra(conn).get("open_id") == open_id:
                return conn
        except TikTokConfigError:
            continue
    return None


def read_registry(session: Session) -> list[str]:
    """The connection ids in the ``tiktok_accounts`` Variable (empty when it does not exist)."""
    from airflow.models.variable import Variable

    row = session.scalar(select(Variable).where(Variable.key == REGISTRY_VARIABLE))
    return parse_registry(row.get_val()) if row is not None else []


def write_registry(session: Session, conn_ids: list[str]) -> None:
    """Overwrite the ``tiktok_accounts`` Variable with ``conn_ids`` (sorted, each once)."""
    from airflow.models.variable import Variable

    Variable.set(
        REGISTRY_VARIABLE,
        json.dumps(sorted(set(conn_ids))),
        description="TikTok account connections linked on the TikTok accounts page (managed by the page).",
        session=session,
    )


def registry_add(session: Session, conn_id: str) -> None:
    """Add ``conn_id`` to the registry unless it is there."""
    ids = read_registry(session)
    if conn_id not in ids:
        write_registry(session, [*ids, conn_id])


def registry_remove(session: Session, conn_id: str) -> None:
    """Remove ``conn_id`` from the registry if it is there."""
    ids = read_registry(session)
    if conn_id in ids:
        write_registry(session, [i for i in ids if i != conn_id])


def account_conn_ids(session: Session) -> list[str]:
    """Every account connection id: the registry plus account connections missing from it."""
    ids = dict.fromkeys(read_registry(session))
    ids.update(dict.fromkeys(c.conn_id for c in account_connections(session)))
    return list(ids)
