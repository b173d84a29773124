"""The image: apache/airflow:3.3.2 plus this package, built from a context that holds no secrets.

The image cannot be built here (no Docker engine); these tests check what the build depends on: the base
image, the install command, that every file the Dockerfile copies is in the build context (.dockerignore
rules, evaluated as Docker does), and that the package declares the entry points the stack relies on.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import tomllib
from compose_model import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
BASE_IMAGE = "apache/airflow:3.3.2"


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


def _dockerignore_patterns() -> list[tuple[bool, str]]:
    """``(is_exception, pattern)`` of .dockerignore, in order."""
    patterns = []
    for raw in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        patterns.append((exception, line.lstrip("!").strip("/")))
    return patterns


def _pattern_matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches a path or any of its parent directories; ``**`` spans folders."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    regex = regex.replace(r"\?", "[^/]")
    parts = path.split("/")
    return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))


def in_build_context(path: str) -> bool:
    """True when ``path`` (relative to the repository) is sent to the Docker build (last match wins)."""
    included = True
    for exception, pattern in _dockerignore_patterns():
        if _pattern_matches(pattern, path):
            included = exception
    return included


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_builds_on_airflow_3_3_2() -> None:
    froms = [args for instruction, args in _instructions() if instruction == "FROM"]
    assert froms == [BASE_IMAGE]


def test_installs_the_package_without_moving_airflow() -> None:
    runs = [args for instruction, args in _instructions() if instruction == "RUN"]
    installs = [shlex.split(run) for run in runs if "pip install" in run]
    assert len(installs) == 1
    words = installs[0]
    # The image's own Airflow version pinned, so resolving the provider cannot up/downgrade Airflow.
    assert "apache-airflow==${AIRFLOW_VERSION}" in words
    copied_to = {
        args.split()[-1].rstrip("/") for instruction, args in _instructions() if instruction == "COPY"
    }
    assert "/opt/airflow/provider-src" in copied_to
    assert "/opt/airflow/provider-src" in words


def test_copies_what_the_wheel_build_needs(pyproject: dict[str, Any]) -> None:
    sources = []
    for instruction, args in _instructions():
        if instruction == "COPY":
            words = [word for word in args.split() if not word.startswith("--")]
            sources += words[:-1]
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    assert needed <= set(sources)
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert in_build_context(source), f"{source} is copied but excluded by .dockerignore"
    assert in_build_context("airflow_provider_tiktok/testing/emulator_cli.py")


@pytest.mark.parametrize(
    "path",
    [".env", ".venv/bin/python", ".git/config", "tests/conftest.py", "deploy/certs/privkey.pem", "dags/x.py"],
)
def test_build_context_leaves_out(path: str) -> None:
    assert not in_build_context(path)


def test_dockerignore_rules_behave_like_docker() -> None:
    # The evaluator above must itself be right, or the two tests before prove nothing.
    assert _pattern_matches("*", "anything/below")
    assert _pattern_matches("**/__pycache__", "airflow_provider_tiktok/hooks/__pycache__/x.pyc")
    assert not _pattern_matches("README.md", "docs/README.md")
    assert not in_build_context("airflow_provider_tiktok/__pycache__/__init__.cpython-311.pyc")


def test_package_declares_what_the_stack_runs(pyproject: dict[str, Any]) -> None:
    entry_points = pyproject["project"]["entry-points"]
    # The plugin (accounts page + OAuth callback) loads from the installed package, not a plugins folder.
    assert "airflow.plugins" in entry_points
    assert entry_points["airflow.plugins"]
    assert (
        entry_points["apache_airflow_provider"]["provider_info"]
        == "airflow_provider_tiktok:get_provider_info"
    )
    # The demo profile's emulator service runs this console script.
    assert "tiktok-emulator" in pyproject["project"]["scripts"]


def test_dags_are_not_baked_into_the_image() -> None:
    # dags/ is mounted by docker-compose.yaml (see test_compose_services), so DAG edits need no rebuild.
    copied = [args.split()[:-1] for instruction, args in _instructions() if instruction == "COPY"]
    assert copied
    assert not any(source.startswith("dags") for words in copied for source in words)
