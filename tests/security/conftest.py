"""Fixtures of the security tests: the accounts page's signed-in clients (the DAG tests' ``deployment`` is
the session conftest's).

Each module here is one attack; it reuses the real fixtures of ``tests/dags`` (emulator, moto_server,
``dag.test()`` on the sqlite metadata DB: ``report_dag_support``) and ``tests/web`` (Airflow's API app with
the plugin mounted, JWTs issued by the auth manager), the latter loaded under its own module name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

TESTS = Path(__file__).resolve().parent.parent
for folder in ("dags", "web"):
    if str(TESTS / folder) not in sys.path:
        sys.path.insert(0, str(TESTS / folder))


def _load(folder: str) -> ModuleType:
    name = f"tiktok_security_{folder}_fixtures"
    spec = importlib.util.spec_from_file_location(name, TESTS / folder / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_web = _load("web")

airflow_api = _web.airflow_api
make_client = _web.make_client
client = _web.client
clean_db = _web.clean_db
emulator = _web.emulator
app_connection = _web.app_connection
jwt_for = _web.jwt_for
