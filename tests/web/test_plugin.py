"""Registration: entry point plugin, plugins-folder file (no double registration), Airflow's plugin API."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]


def _env_with_plugins_folder() -> dict[str, str]:
    return {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")}


def test_airflow_plugins_cli_lists_it_once_with_the_plugins_folder_present() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "-o", "json"],
        env=_env_with_plugins_folder(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    plugins = json.loads(out[out.index("[") :])
    tiktok = [p for p in plugins if p["name"] == "tiktok"]
    assert len(tiktok) == 1
    assert "airflow-provider-tiktok" in str(tiktok[0]["source"])


def test_no_duplicate_plugin_import_error() -> None:
    code = (
        "from airflow import plugins_manager as pm; plugins, errors = pm._get_plugins();"
        "import json; print(json.dumps({'names': [p.name for p in plugins], 'errors': errors}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env_with_plugins_folder(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["names"].count("tiktok") == 1
    assert not [e for e in result["errors"].values() if "tiktok" in e]


def test_plugins_folder_file_steps_aside_when_the_entry_point_is_installed() -> None:
    loader = importlib.machinery.SourceFileLoader(
        "tiktok_plugin_file", str(REPO / "plugins" / "tiktok_plugin.py")
    )
    spec = importlib.util.spec_from_loader("tiktok_plugin_file", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    assert module._entry_point_installed() is True
    assert "TikTokPlugin" not in vars(module)


def test_plugin_api_lists_the_nav_view_and_apps(make_client: Callable[..., TestClient]) -> None:
    response = make_client("admin").get("/api/v2/plugins")
    assert response.status_code == 200
    plugin = next(p for p in response.json()["plugins"] if p["name"] == "tiktok")
    view = plugin["external_views"][0]
    assert view["url_route"] == "tiktok-accounts"
    assert view["href"] == "/tiktok/accounts"
    assert view["destination"] == "nav"
    assert {a["url_prefix"] for a in plugin["fastapi_apps"]} == {"/tiktok", "/users/auth/tiktok"}
