"""``make compat``: prove each supported (Airflow, Python) pair with a pinned install and a real DAG run.

For every pair in :data:`MATRIX`, in a throwaway directory:

1. a virtualenv on that Python (pyenv's interpreters), ``uv pip sync`` of the committed constraints
   ``compat/constraints/airflow-<version>-py<python>.txt`` (every package pinned), then this project's
   wheel installed against the same constraints (it must add nothing but itself) and ``uv pip check``;
2. provider registration: ``airflow providers list`` shows ``airflow-provider-tiktok``;
3. the plugin: ``airflow plugins`` shows ``tiktok`` (loaded through its entry point);
4. the DAG end to end: ``python -m dev.demo`` (emulator + ``moto_server``, three
   accounts linked through the OAuth code path, ``airflow dags test tiktok_daily_report <yesterday>``,
   the manifest complete). The demo is the repository's ``dev/`` harness, not part of the wheel: a copy
   of it is put on ``PYTHONPATH``, beside the provider installed from the wheel.

``python compat/matrix.py`` runs the matrix and prints a Markdown table (the one in
``docs/compatibility.md``); ``--only 3.1/3.10`` runs one pair; ``compile`` regenerates the constraints
with ``uv pip compile`` from ``pyproject.toml`` (run it when a dependency changes, then commit them).
Only the standard library is used: it runs with any ``python3`` that can run ``uv``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS_DIR = REPO_ROOT / "compat" / "constraints"
LOGS_DIR = REPO_ROOT / "build" / "compat"

#: Airflow minor -> the release proven (the newest patch of that minor when the constraints were made).
AIRFLOW = {"3.1": "3.1.8", "3.2": "3.2.2", "3.3": "3.3.2"}
#: The oldest and newest Python that every supported Airflow minor runs on ...
PYTHONS = ("3.10", "3.13")
#: ... and, on the newest Airflow, every Python between them (pyproject's classifiers list each one).
MATRIX = [(airflow, python) for airflow in AIRFLOW for python in PYTHONS]
MATRIX[-1:-1] = [("3.3", "3.11"), ("3.3", "3.12")]
#: Pins an Airflow release needs beyond its own metadata (what Airflow's constraint files would hold).
#: 3.2.2 accepts any fastapi >= 0.129; resolved without a cap (fastapi 0.162.5, cadwyn 8.2.0) its
#: execution API fails to build TITerminalStatePayload (a pydantic discriminator error) and every task
#: fails. With fastapi < 0.137 (fastapi 0.136.3, cadwyn 7.0.0), the cap 3.3 declares itself, it works.
EXTRA_PINS: dict[str, tuple[str, ...]] = {"3.2": ("fastapi<0.137.0",)}
#: Airflow minors whose ``airflow dags test`` cannot be relied on: their DAG check runs the DAG under a
#: real scheduler instead (``compat/scheduler_run.py``; see its docstring for 3.2.2's in-process race).
SCHEDULER_DAG_CHECK = frozenset({"3.2"})
#: Installed beside the provider so the end-to-end check has a local S3 (``moto_server``).
CHECK_REQUIREMENTS = ("moto[server]>=5.0",)
STEP_TIMEOUT = 600.0


@dataclass
class Result:
    """The outcome of one (Airflow, Python) pair."""

    airflow: str
    python: str
    ok: bool
    failed_step: str
    seconds: float
    log: Path


def constraints_file(airflow: str, python: str) -> Path:
    """The committed constraints of one pair."""
    return CONSTRAINTS_DIR / f"airflow-{AIRFLOW[airflow]}-py{python}.txt"


def uv() -> list[str]:
    """The ``uv`` command: on PATH, else the pip-installed module (as the Makefile does)."""
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def interpreter(python: str) -> str:
    """The pyenv interpreter of ``python`` (e.g. ``3.10``), else ``pythonX.Y`` on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{python}.*/bin/python{python}"))
    found = candidates[-1] if candidates else shutil.which(f"python{python}")
    if not found:
        raise SystemExit(f"Python {python} not found (pyenv install {python}, or put python{python} on PATH)")
    return found


def compile_constraints(pairs: list[tuple[str, str]]) -> None:
    """Regenerate the constraints of ``pairs`` with ``uv pip compile`` (PyPI, pinned, with hashes off)."""
    CONSTRAINTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiktok-compat-") as tmp:
        for airflow, python in pairs:
            extra = Path(tmp) / f"airflow-{airflow}.in"
            pins = [f"apache-airflow=={AIRFLOW[airflow]}", *EXTRA_PINS.get(airflow, ()), *CHECK_REQUIREMENTS]
            extra.write_text("\n".join(pins) + "\n")
            output = constraints_file(airflow, python)
            subprocess.run(
                [
                    *uv(),
                    "pip",
                    "compile",
                    "--quiet",
                    "--python-version",
                    python,
                    "--custom-compile-command",
                    "python compat/matrix.py compile",
                    "--no-annotate",
                    "--output-file",
                    str(output),
                    "pyproject.toml",
                    str(extra),
                ],
                cwd=REPO_ROOT,
                check=True,
            )
            print(f"wrote {output.relative_to(REPO_ROOT)}", flush=True)


def build_wheel(dest: Path) -> Path:
    """Build this project's wheel once for every pair."""
    subprocess.run([*uv(), "build", "--wheel", "--quiet", "--out-dir", str(dest)], cwd=REPO_ROOT, check=True)
    return next(dest.glob("airflow_provider_tiktok-*.whl"))


class Pair:
    """One pair's throwaway venv and Airflow home; every step's output goes to one log file."""

    def __init__(self, airflow: str, python: str, work: Path, log: Path, snapshot: Path) -> None:
        self.airflow, self.python, self.work, self.log = airflow, python, work, log
        self.venv = work / "venv"
        self.step = "install"
        self.bin = self.venv / "bin"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "UV_PROJECT"))
            },
            "AIRFLOW_HOME": str(work / "home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'home' / 'airflow.db'}",
            "TIKTOK_DEMO_DAGS_FOLDER": str(snapshot / "dags"),
            # The dev/ harness (demo, AirflowStack, moto_server runner) from the snapshot, not the repo.
            "PYTHONPATH": str(snapshot),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def run(self, step: str, command: list[str]) -> subprocess.CompletedProcess[str]:
        """Run one command of ``step`` in the work directory (not the repo: nothing imports its sources)."""
        self.step = step
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(
                command,
                cwd=self.work,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT,
                check=False,
            )
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StepFailed(step, f"`{command[0]} {command[1]}` exited {result.returncode}")
        return result

    def install(self, wheel: Path) -> None:
        """A venv holding exactly the pinned constraints, plus the provider wheel (adding nothing else)."""
        constraints = constraints_file(self.airflow, self.python)
        python = str(self.bin / "python")
        self.run("install", [*uv(), "venv", "--quiet", "--python", interpreter(self.python), str(self.venv)])
        self.run("install", [*uv(), "pip", "sync", "--python", python, str(constraints)])
        output = self.run(
            "install", [*uv(), "pip", "install", "--python", python, "-c", str(constraints), str(wheel)]
        )
        changed = [line.strip() for line in output.stderr.splitlines() if line.startswith((" + ", " - "))]
        if changed != [f"+ airflow-provider-tiktok=={wheel.name.split('-')[1]} (from file://{wheel})"]:
            raise StepFailed("install", f"installing the wheel changed more than itself: {changed}")
        self.run("install", [*uv(), "pip", "check", "--python", python])

    def check_provider(self) -> None:
        """``airflow providers list`` names this provider with its version."""
        providers = json_list(self.run("provider", ["airflow", "providers", "list", "--output", "json"]))
        if not any(p.get("package_name") == "airflow-provider-tiktok" for p in providers):
            raise StepFailed("provider", "airflow-provider-tiktok missing from `airflow providers list`")

    def check_plugin(self) -> None:
        """``airflow plugins`` lists the ``tiktok`` plugin loaded from its entry point."""
        plugins = json_list(self.run("plugin", ["airflow", "plugins", "--output", "json"]))
        if not any(p.get("name") == "tiktok" for p in plugins):
            raise StepFailed("plugin", "plugin `tiktok` missing from `airflow plugins`")

    def check_dag(self) -> None:
        """The daily report end to end: as ``make demo`` runs it, or under a real scheduler."""
        if self.airflow in SCHEDULER_DAG_CHECK:
            command = ["python", str(REPO_ROOT / "compat" / "scheduler_run.py")]
        else:
            command = ["python", "-m", "dev.demo"]
        output = self.run("dag", command).stdout
        if "complete=True" not in output:
            raise StepFailed("dag", "the report's manifest was not complete")


def json_list(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    """The JSON list an ``airflow ... --output json`` command printed (after any warning lines)."""
    value, _ = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("[") :])
    return list(value)


class StepFailed(Exception):
    """A step of one pair failed; ``step`` names it for the table."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


def run_pair(airflow: str, python: str, wheel: Path, snapshot: Path) -> Result:
    """Install and check one pair; its log stays in ``build/compat/``."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    log = LOGS_DIR / f"airflow-{AIRFLOW[airflow]}-py{python}.log"
    log.write_text(f"Airflow {AIRFLOW[airflow]} on Python {python}\n")
    started = time.monotonic()
    failed = ""
    with tempfile.TemporaryDirectory(prefix=f"tiktok-compat-{airflow}-py{python}-") as tmp:
        pair = Pair(airflow, python, Path(tmp), log, snapshot)
        try:
            pair.install(wheel)
            pair.check_provider()
            pair.check_plugin()
            pair.check_dag()
        except (StepFailed, subprocess.TimeoutExpired) as exc:
            failed = pair.step
            with log.open("a") as handle:
                handle.write(f"\nFAILED: {exc}\n")
    return Result(airflow, python, not failed, failed, time.monotonic() - started, log)


def table(results: list[Result]) -> str:
    """The Markdown table of ``docs/compatibility.md``."""
    lines = [
        "| Airflow | Python | Install (pinned) | Provider registered | Plugin | DAG end to end | Time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    steps = ("install", "provider", "plugin", "dag")
    for result in results:
        reached = steps.index(result.failed_step) if result.failed_step else len(steps)
        cells = ["ok"] * reached
        if reached < len(steps):
            cells += ["**failed**"] + ["not run"] * (len(steps) - reached - 1)
        if reached == len(steps) and result.airflow in SCHEDULER_DAG_CHECK:
            cells[-1] = "ok (scheduler)"
        version = AIRFLOW[result.airflow]
        lines.append(f"| {version} | {result.python} | {' | '.join(cells)} | {result.seconds:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the matrix (or ``compile`` the constraints); exit 1 when a pair fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["run", "compile"], default="run")
    parser.add_argument("--only", action="append", help="AIRFLOW/PYTHON, e.g. 3.1/3.10 (repeatable)")
    args = parser.parse_args(argv)
    pairs = [tuple(only.split("/", 1)) for only in args.only] if args.only else MATRIX
    unknown = [p for p in pairs if p not in MATRIX]
    if unknown:
        parser.error(f"not in the matrix: {unknown}; the matrix is {MATRIX}")
    if args.command == "compile":
        compile_constraints(pairs)
        return 0
    # Ctrl-C or a CI timeout: leave through SystemExit so the throwaway directories are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="tiktok-compat-wheel-") as dist:
        wheel = build_wheel(Path(dist))
        # The DAG file and the dev/ harness as they were when the wheel was built (edits during a run do
        # not leak in); the snapshot holds nothing else importable.
        snapshot = Path(dist) / "snapshot"
        for folder in ("dags", "dev"):
            shutil.copytree(
                REPO_ROOT / folder, snapshot / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
        for airflow, python in pairs:
            print(f"[compat] Airflow {AIRFLOW[airflow]} on Python {python} ...", flush=True)
            result = run_pair(airflow, python, wheel, snapshot)
            verdict = "ok" if result.ok else f"FAILED at {result.failed_step} (log: {result.log})"
            print(f"[compat] Airflow {AIRFLOW[airflow]} on Python {python}: {verdict}, {result.seconds:.0f}s")
            results.append(result)
    print(table(results))
    print(f"[compat] {len(results)} pairs in {time.monotonic() - started:.0f}s")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
