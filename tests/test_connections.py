"""The connection contract: app and account connections (env vars, metadata DB), clear errors, ids, form."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.models import Connection

from airflow_provider_tiktok import get_provider_info
from airflow_provider_tiktok.connections import (
    DEFAULT_API_BASE_URL,
    DEFAULT_AUTH_BASE_URL,
    DEFAULT_SCOPES,
    AccountInfo,
    account_conn_id_for,
    account_connection_extra,
    account_from_connection,
    app_config_from_connection,
    is_account_connection,
    report_status_variable_key,
    rotation_variable_key,
)
from airflow_provider_tiktok.errors import TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokHook
from airflow_provider_tiktok.tokens import OLDEST_ISSUED_AT, TokenSet, TokenStore

if TYPE_CHECKING:
    from collections.abc import Iterator

REDIRECT = "https://local.fabn.dev:8443/users/auth/tiktok/callback"
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def app_conn(
    conn_id: str = "tiktok_default",
    *,
    login: str | None = "sbawkey",
    password: str | None = "s3cr3t-value",
    **extra: Any,
) -> Connection:
    extra = {"redirect_uri": REDIRECT, **extra}
    return Connection(
        conn_id=conn_id, conn_type="tiktok", login=login, password=password, extra=json.dumps(extra)
    )


def tokens(issued: datetime = T0) -> TokenSet:
    return TokenSet(
        open_id="open-1",
        scope=("user.info.basic", "video.list"),
        access_token="act.access-value",
        access_token_expires_at=issued + timedelta(days=1),
        refresh_token="rft.refresh-value",
        refresh_token_expires_at=issued + timedelta(days=365),
        issued_at=issued,
    )


def account_extra() -> dict[str, Any]:
    info = AccountInfo("tiktok_account_brand", "tiktok_default", "open-1", "Brand", "brand", T0, "admin")
    return account_connection_extra(info, tokens())


def test_app_connection_defaults() -> None:
    app = app_config_from_connection(app_conn())
    assert (app.client_key, app.client_secret, app.redirect_uri) == ("sbawkey", "s3cr3t-value", REDIRECT)
    assert app.scopes == DEFAULT_SCOPES
    assert (app.api_base_url, app.auth_base_url) == (DEFAULT_API_BASE_URL, DEFAULT_AUTH_BASE_URL)
    assert "s3cr3t" not in repr(app)


def test_form_fields_with_prefix_and_scope_lists_are_accepted() -> None:
    conn = Connection(
        conn_id="tiktok_form",
        conn_type="tiktok",
        login="k",
        password="p",
        extra=json.dumps(
            {"extra__tiktok__redirect_uri": REDIRECT, "extra__tiktok__scopes": "video.list user.info.basic"}
        ),
    )
    app = app_config_from_connection(conn)
    assert app.redirect_uri == REDIRECT
    assert app.scopes == ("video.list", "user.info.basic")


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        (app_conn(login=None), "login (client key)"),
        (app_conn(password=""), "password (client secret)"),
        (app_conn(redirect_uri=""), "redirect_uri"),
        (app_conn(redirect_uri="http://local.fabn.dev/cb"), "redirect_uri"),
        (app_conn(redirect_uri=REDIRECT + "?x=1"), "redirect_uri"),
        (app_conn(redirect_uri="https://x/" + "a" * 520), "redirect_uri"),
        (app_conn(api_base_url="open.tiktokapis.com"), "api_base_url"),
        (app_conn(auth_base_url="ftp://tiktok.com"), "auth_base_url"),
    ],
)
def test_bad_app_connection_names_connection_and_field(conn: Connection, field: str) -> None:
    with pytest.raises(TikTokConfigError) as err:
        app_config_from_connection(conn)
    assert "'tiktok_default'" in str(err.value)
    assert f"field '{field}'" in str(err.value)
    assert "s3cr3t" not in str(err.value)


@pytest.mark.parametrize("extra", ["{oops", "[1, 2]"])
def test_extra_that_is_not_a_json_object_is_named(extra: str) -> None:
    from airflow.sdk import Connection as SdkConnection  # the ORM model refuses such extras up front

    conn = SdkConnection(conn_id="tiktok_x", conn_type="tiktok", login="k", password="p", extra=extra)
    with pytest.raises(TikTokConfigError, match="'tiktok_x': field 'extra' is not a valid JSON object"):
        app_config_from_connection(conn)


def test_account_connection_round_trip() -> None:
    conn = Connection(conn_id="tiktok_account_brand", conn_type="tiktok", extra=json.dumps(account_extra()))
    assert is_account_connection(conn)
    assert not is_account_connection(app_conn())
    info, stored = account_from_connection(conn)
    assert info.label == "@brand"
    assert info.linked_at == T0
    assert stored == tokens()


@pytest.mark.parametrize(
    "field",
    [
        "open_id",
        "app_conn_id",
        "access_token",
        "refresh_token",
        "access_token_expires_at",
        "refresh_token_expires_at",
    ],
)
def test_incomplete_account_connection_names_the_field_and_says_relink(field: str) -> None:
    extra = account_extra()
    extra[field] = None
    conn = Connection(conn_id="tiktok_account_brand", conn_type="tiktok", extra=json.dumps(extra))
    with pytest.raises(TikTokConfigError) as err:
        account_from_connection(conn)
    assert "'tiktok_account_brand'" in str(err.value)
    assert field in str(err.value)
    assert "relink" in str(err.value)


def test_derived_issued_at_defaults_to_linked_at_then_the_oldest_time() -> None:
    """A hand-written or imported connection with only the contract's fields works (no issued_at)."""
    extra = account_extra()
    del extra["issued_at"]
    conn = Connection(conn_id="tiktok_account_brand", conn_type="tiktok", extra=json.dumps(extra))
    assert account_from_connection(conn)[1].issued_at == T0  # linked_at
    del extra["linked_at"]
    conn = Connection(conn_id="tiktok_account_brand", conn_type="tiktok", extra=json.dumps(extra))
    info, stored = account_from_connection(conn)
    assert info.linked_at is None
    assert stored.issued_at == OLDEST_ISSUED_AT  # any rotated set stored later is newer
    assert stored.access_token == "act.access-value"


def test_label_falls_back_to_display_name() -> None:
    assert AccountInfo("c", "a", "o", display_name="Brand Name").label == "Brand Name"
    assert AccountInfo("c", "a", "o").label == "c"


def test_account_conn_ids_are_slugs_and_unique() -> None:
    assert account_conn_id_for("o1", "Brand.Official", None, set()) == "tiktok_account_brand_official"
    assert account_conn_id_for("o1", None, "Café Ñandú 🎉", set()) == "tiktok_account_cafe_nandu"
    assert account_conn_id_for("AbC-123", None, None, set()) == "tiktok_account_abc_123"
    taken = {"tiktok_account_brand", "tiktok_account_brand_abcdef12"}
    assert account_conn_id_for("abcdef1234", "brand", None, taken) == "tiktok_account_brand_abcdef12_2"


def test_variable_keys() -> None:
    assert rotation_variable_key("tiktok_account_x") == "tiktok_token__tiktok_account_x"
    assert "token" in rotation_variable_key("a")  # Airflow masks Variables whose key holds "token"
    assert report_status_variable_key("tiktok_account_x") == "tiktok_report__tiktok_account_x"


def test_connection_form_is_declared() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    labels = {name: field["label"] for name, field in conn_type["conn-fields"].items()}
    assert labels == {
        "redirect_uri": "Redirect URI",
        "scopes": "Scopes",
        "api_base_url": "API base URL",
        "auth_base_url": "Authorize base URL",
    }
    assert conn_type["ui-field-behaviour"]["relabeling"] == {
        "login": "Client key",
        "password": "Client secret",
    }


def test_providers_manager_loads_the_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "extra__tiktok__redirect_uri" in manager.connection_form_widgets
    assert manager.field_behaviours["tiktok"]["relabeling"]["login"] == "Client key"


@pytest.fixture
def db_connections() -> Iterator[None]:
    """An app and an account connection stored in the metadata DB (as the plugin page writes them)."""
    from airflow.utils.session import create_session

    rows = [
        app_conn("tiktok_dbapp"),
        Connection(
            conn_id="tiktok_account_db",
            conn_type="tiktok",
            extra=json.dumps({**account_extra(), "app_conn_id": "tiktok_dbapp"}),
        ),
    ]
    with create_session() as session:
        session.add_all(rows)
    yield
    with create_session() as session:
        for row in rows:
            session.query(Connection).filter(Connection.conn_id == row.conn_id).delete()


def test_metadata_db_connections_work_outside_a_task(db_connections: None) -> None:
    hook = TikTokHook("tiktok_account_db")
    assert hook.is_account
    assert hook.app.conn_id == "tiktok_dbapp"
    assert hook.account.label == "@brand"
    _, stored = TokenStore().load("tiktok_account_db")
    assert stored == tokens()


def test_missing_connections_say_what_to_do() -> None:
    with pytest.raises(
        TikTokConfigError, match="'tiktok_nope' does not exist; create it in Admin > Connections"
    ):
        _ = TikTokHook("tiktok_nope").app
    with pytest.raises(
        TikTokConfigError, match="'tiktok_account_gone' does not exist; link the account at http"
    ):
        TokenStore().load("tiktok_account_gone")
