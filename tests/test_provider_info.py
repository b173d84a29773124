"""The package registers itself with Airflow's providers manager, described as completely as Airflow's
first-party providers describe themselves (their provider.yaml)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import jsonschema

from airflow_provider_tiktok import __version__, get_provider_info

REPO = Path(__file__).resolve().parent.parent


def _resolve(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_provider_info_declares_the_tiktok_connection_type() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-tiktok"
    types = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert types == {"tiktok": "airflow_provider_tiktok.hooks.tiktok.TikTokHook"}


def test_provider_info_is_valid_for_airflows_schema() -> None:
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_the_version_is_written_once() -> None:
    assert get_provider_info()["versions"] == [__version__]
    assert version("airflow-provider-tiktok") == __version__
    assert not re.search(r"^version\s*=", (REPO / "pyproject.toml").read_text(), flags=re.MULTILINE)


def test_every_listed_module_and_class_exists() -> None:
    info = get_provider_info()
    integrations = {i["integration-name"] for i in info["integrations"]}
    for section in ("hooks", "operators"):
        for entry in info[section]:
            assert entry["integration-name"] in integrations
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for transfer in info["transfers"]:
        assert transfer["source-integration-name"] in integrations
        importlib.import_module(transfer["python-module"])
    for plugin in info["plugins"]:
        assert getattr(_resolve(plugin["plugin-class"]), "name", None) == plugin["name"]
    for conn_type in info["connection-types"]:
        assert (
            getattr(_resolve(conn_type["hook-class-name"]), "conn_type", None) == conn_type["connection-type"]
        )


def test_config_documents_every_tiktok_option_the_code_reads() -> None:
    from airflow_provider_tiktok.web import settings

    source = Path(settings.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'_conf_get\("([a-z_]+)"', source))
    options = get_provider_info()["config"]["tiktok"]["options"]
    assert set(options) == read
    assert options["callback_path"]["default"] == settings.DEFAULT_CALLBACK_PATH
    assert options["app_conn_id"]["default"] == settings.default_app_conn_id()
    assert int(options["refresh_warn_days"]["default"]) == settings.warn_days()


def test_airflow_providers_list_shows_the_package() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "plain"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    assert "airflow-provider-tiktok" in out
