"""The package is cut so that dependencies run one way: every module imports on its own, no module imports
a layer above its own, only the plugin imports the web app, and the wheel holds only what a deployment
runs (no dev harness, no tests, no pytest11 entry point)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "airflow_provider_tiktok"
NAME = PACKAGE.name

#: The layers, lowest first: a module may import any module of a lower layer, and of its own layer only
#: those of its own subpackage. ``web`` sits beside the operators' consumers and only ``plugin`` imports
#: it; ``testing`` (the emulator extra) is on top, so nothing in the product imports it. A name ending in
#: ``.*`` covers a subpackage.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "",
        "errors",
        "airflow_compat",
        "ratelimit",
        "reports",
        "report_status",
        "xcom",
        "lineage",
        "report_scratch",
    ),
    ("models", "s3_errors"),
    ("connections",),
    ("storage", "registry"),
    ("tokens", "s3_keys", "report_dates"),
    ("token_refresh", "hooks._transport", "reminders", "account_status"),
    ("reminder_message",),
    ("reminder_delivery",),
    ("hooks", "hooks.tiktok"),
    ("operators", "operators.refresh", "operators.tiktok", "operators.reminders", "linking"),
    ("import_accounts", "report_settings", "report_manifest"),
    ("daily_report",),
    ("operators.report_run",),
    ("web.*",),
    ("plugin",),
    ("testing.*",),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(path) for path in PACKAGE.rglob("*.py"))


def _layer(module: str) -> int:
    for index, names in enumerate(LAYERS):
        for name in names:
            if module == name or (name.endswith(".*") and (module + ".").startswith(name[:-1])):
                return index
    raise AssertionError(f"{NAME}.{module} is in no layer of LAYERS: add it where it belongs")


def _folder(module: str) -> str:
    """The top-level module or subpackage ``module`` belongs to (``web`` for ``web.app``)."""
    return module.split(".", 1)[0]


def _imports(module: str) -> set[str]:
    """Every module of the package that ``module`` imports: at the top, in functions, for type checking."""
    path = PACKAGE / (module.replace(".", "/") if module else "") / "__init__.py"
    if not path.exists():
        path = PACKAGE / f"{module.replace('.', '/')}.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{module}: relative import of {node.module}"
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for target in targets:
            if target == NAME or target.startswith(NAME + "."):
                inner = target[len(NAME) + 1 :]
                if inner in MODULES:  # skips ``from package.module import name``'s name
                    found.add(inner)
    found.discard(module)
    return found


def test_every_module_is_in_exactly_one_layer() -> None:
    listed = [name for names in LAYERS for name in names]
    assert len(listed) == len(set(listed))
    for module in MODULES:
        _layer(module)


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for module in MODULES:
        for imported in _imports(module):
            mine, theirs = _layer(module), _layer(imported)
            if theirs > mine or (theirs == mine and _folder(imported) != _folder(module)):
                upward.append(f"{module} (layer {mine}) imports {imported} (layer {theirs})")
    assert upward == []


def test_only_the_plugin_imports_the_web_app() -> None:
    importers = {
        module
        for module in MODULES
        if not module.startswith("web.") and any(i.startswith("web.") for i in _imports(module))
    }
    assert importers == {"plugin"}


#: Imports every module with none of the package loaded before it, so an import that only works when
#: another module happened to be imported first (a circle hidden in a function) fails. Third-party
#: modules stay loaded between rounds: the circles that matter are the package's own.
_ISOLATED_IMPORTS = """
import importlib, json, sys, traceback
failed = {}
for module in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m.split(".")[0] == "airflow_provider_tiktok"]:
        del sys.modules[loaded]
    try:
        importlib.import_module(module)
    except Exception:
        failed[module] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""


def test_every_module_imports_on_its_own() -> None:
    names = [f"{NAME}.{m}" if m else NAME for m in MODULES]
    result = subprocess.run(
        [sys.executable, "-c", _ISOLATED_IMPORTS, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n".join(f"{m}:\n{tb}" for m, tb in failed.items())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel ``uv build`` makes of this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out)], cwd=REPO, check=True, timeout=300
    )
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_the_package_and_no_dev_harness_or_tests(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    (dist_info,) = [top for top in tops if top.endswith(".dist-info")]
    assert tops == {NAME, dist_info}
    modules = {Path(name).stem for name in names if name.endswith(".py")}
    harness = {"airflow_stack", "moto_s3", "ports", "self_signed", "env_file", "demo", "local_airflow"}
    assert modules & harness == set()
    assert not [name for name in names if "/tests/" in name or Path(name).name.startswith("test_")]
    assert f"{NAME}/testing/emulator/server.py" in names  # the emulator extra ships


def test_the_wheel_registers_no_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[pytest11]" not in text
    assert "[apache_airflow_provider]" in text
    assert "[airflow.plugins]" in text
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    assert "Provides-Extra: emulator" in wheel.read(metadata).decode()


def test_the_wheel_carries_the_license(wheel: zipfile.ZipFile) -> None:
    (license_file,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(license_file) == (REPO / "LICENSE").read_bytes()


def test_the_readme_package_map_matches_the_tree() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("```\nairflow_provider_tiktok/\n")
    block = readme[start : readme.index("\ndev/ ", start)]
    named = set(re.findall(r"(?<![\w/.])((?:[a-z0-9_]+/)?[a-z0-9_]+(?:\.py|/))", block)) - {
        "airflow_provider_tiktok/"
    }
    assert sorted(name for name in named if not (PACKAGE / name).exists()) == []
    covered = {name.split("/", 1)[0] + "/" if "/" in name else name for name in named}
    tree = {p.name for p in PACKAGE.glob("*.py")} | {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir()}
    assert sorted(tree - covered - {"__pycache__/"}) == []
