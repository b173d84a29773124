"""The package registers itself with Airflow's providers manager."""

from __future__ import annotations

import os
import subprocess
import sys

from airflow_provider_tiktok import get_provider_info


def test_provider_info_declares_the_tiktok_connection_type() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-tiktok"
    types = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert types == {"tiktok": "airflow_provider_tiktok.hooks.tiktok.TikTokHook"}


def test_airflow_providers_list_shows_the_package() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "plain"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    assert "airflow-provider-tiktok" in out
