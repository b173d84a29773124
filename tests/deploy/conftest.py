"""Fixtures of the deployment tests: the compose file before and after interpolation, and the .env files."""

from __future__ import annotations

from typing import Any

import pytest
from compose_model import ENV_EXAMPLE, interpolate, load_compose, parse_env_file, write_generated_env


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    """docker-compose.yaml as written (variables not substituted)."""
    return load_compose()


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    """The variables of .env.example (secrets empty)."""
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="session")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A .env written by deploy/gen-env.sh: what an operator starts the stack with."""
    return write_generated_env(tmp_path_factory.mktemp("env-a") / ".env")


@pytest.fixture(scope="session")
def compose(compose_raw: dict[str, Any], generated_env: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yaml interpolated with the generated .env, as `docker compose config` would."""
    resolved = interpolate(compose_raw, generated_env)
    assert isinstance(resolved, dict)
    return resolved


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The interpolated services by name."""
    return compose["services"]
