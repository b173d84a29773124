"""The storage backends against the real metadata DB and the Task SDK: round trips, no stale cache reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_tiktok.storage import OrmBackend, SdkBackend

if TYPE_CHECKING:
    import pytest


def test_sdk_reads_bypass_a_stale_secret_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import Variable as SdkVariable
    from airflow.sdk.execution_time.cache import SecretCache

    key = "tiktok_token__tiktok_account_cache"
    monkeypatch.setenv("AIRFLOW__SECRETS__USE_CACHE", "True")
    monkeypatch.setenv(f"AIRFLOW_VAR_{key.upper()}", "fresh")
    SecretCache.init()
    try:
        SecretCache.save_variable(key, "stale")
        assert SdkVariable.get(key) == "stale"  # what a plain read would hand out for up to 15 minutes
        assert SdkBackend().get_variable(key) == "fresh"
    finally:
        SecretCache.reset()


def test_orm_backend_round_trip() -> None:
    backend = OrmBackend()
    backend.set_variable("tiktok_token__probe", "v1")
    assert backend.get_variable("tiktok_token__probe") == "v1"
    backend.delete_variable("tiktok_token__probe")
    assert backend.get_variable("tiktok_token__probe") is None
