"""No secret is written into the deployment files; every one comes from .env, and .env.example covers them."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from typing import TYPE_CHECKING, Any

from compose_model import (
    REPO_ROOT,
    VariableRef,
    command_flags,
    command_of,
    environment_of,
    interpolate,
    iter_strings,
    parse_env_file,
    variable_refs,
    write_generated_env,
)
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from pathlib import Path

SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|FERNET|JWT|TOKEN")
SECRET_FLAGS = ("--client-secret", "--admin-token", "--password", "--conn-password")
# ${VAR}, ${VAR:?msg} or ${VAR?msg}: an interpolation that has no default to fall back on.
REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}$")
URL_PASSWORD = re.compile(r"[a-z+]+://[^:/@\s]*:(?P<password>[^@\s]*)@")


def _secret_values(compose_raw: dict[str, Any]) -> list[tuple[str, str]]:
    """``(where, raw value)`` of every value that holds a secret in the compose file as written."""
    found: list[tuple[str, str]] = []
    for name, svc in compose_raw["services"].items():
        for key, value in environment_of(svc).items():
            if SECRET_NAME.search(key):
                found.append((f"{name}.environment.{key}", value))
            elif key.startswith("AIRFLOW_CONN_"):
                found.append((f"{name}.environment.{key}.password", json.loads(value).get("password", "")))
        flags = command_flags(command_of(svc))
        found += [(f"{name}.command {flag}", flags[flag]) for flag in SECRET_FLAGS if flag in flags]
    for text in iter_strings(compose_raw):
        found += [("URL password in " + text, m.group("password")) for m in URL_PASSWORD.finditer(text)]
    return found


def test_every_secret_is_a_required_interpolation(compose_raw: dict[str, Any]) -> None:
    secrets = _secret_values(compose_raw)
    # Fernet, JWT, API key, Postgres (x3: server + two URLs), admin, MinIO, emulator: all present.
    assert len(secrets) >= 12, secrets
    inlined = [(where, value) for where, value in secrets if value and not REQUIRED_REF.match(value)]
    assert inlined == []


def test_resolved_secrets_change_with_the_env_file(
    compose_raw: dict[str, Any], generated_env: dict[str, str], tmp_path: Path
) -> None:
    # Resolve with two independently generated .env files: a secret that came out the same both times
    # was written into the compose file (or a script) instead of coming from .env.
    other_env = write_generated_env(tmp_path / ".env")
    first, second = interpolate(compose_raw, generated_env), interpolate(compose_raw, other_env)
    for (where, a), (_, b) in zip(_secret_values(first), _secret_values(second), strict=True):
        if where.startswith("URL password") or not a:
            continue
        assert a != b, f"{where} does not come from .env"
    secret_vars = {name for name in generated_env if SECRET_NAME.search(name)}
    assert secret_vars
    assert all(generated_env[name] != other_env[name] for name in secret_vars)


def test_env_example_defines_every_variable_without_default(
    compose_raw: dict[str, Any], env_example: dict[str, str]
) -> None:
    refs = variable_refs(compose_raw)
    needed = {ref.name for ref in refs if not ref.has_default}
    assert needed - set(env_example) == set()
    # ... and nothing in .env.example is dead: each one is read by the compose file.
    assert set(env_example) - {ref.name for ref in refs} == set()


def test_env_example_holds_no_secret(compose_raw: dict[str, Any], env_example: dict[str, str]) -> None:
    required = {ref.name for ref in variable_refs(compose_raw) if ref.required}
    empty = {name for name, value in env_example.items() if not value}
    # Every secret is left empty, and every empty value stops compose instead of starting without it.
    assert {name for name in env_example if SECRET_NAME.search(name)} <= empty
    assert empty <= required


def test_required_references_say_how_to_fix_them(compose_raw: dict[str, Any]) -> None:
    refs: list[VariableRef] = [ref for ref in variable_refs(compose_raw) if ref.required]
    assert refs
    assert all(ref.op == ":?" and "in .env" in ref.arg for ref in refs), refs


def test_gen_env_writes_usable_secrets(generated_env: dict[str, str], env_example: dict[str, str]) -> None:
    assert set(generated_env) == set(env_example)
    Fernet(generated_env["AIRFLOW_FERNET_KEY"].encode())  # raises if it is not a Fernet key
    for name, value in env_example.items():
        if value:
            assert generated_env[name] == value, f"{name}: a setting gen-env.sh should have kept"
        elif name != "AIRFLOW_FERNET_KEY":
            # Hex: safe inside the SQLAlchemy URLs and the connection JSON built from it.
            assert re.fullmatch(r"[0-9a-f]{64}", generated_env[name]), name


def test_generated_passwords_survive_the_urls_they_are_embedded_in(
    services: dict[str, dict[str, Any]], generated_env: dict[str, str]
) -> None:
    env = environment_of(services["airflow-scheduler"])
    url = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (url.host, url.username, url.password) == (
        "postgres",
        "airflow",
        generated_env["POSTGRES_PASSWORD"],
    )
    assert url.password == environment_of(services["postgres"])["POSTGRES_PASSWORD"]
    result_backend = make_url(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    assert result_backend.password == generated_env["POSTGRES_PASSWORD"]


def test_gen_env_keeps_an_existing_env(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    first = write_generated_env(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    again = subprocess.run(
        ["bash", str(REPO_ROOT / "deploy" / "gen-env.sh"), str(target)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert parse_env_file(target) == first
    subprocess.run(
        ["bash", str(REPO_ROOT / "deploy" / "gen-env.sh"), "--force", str(target)],
        check=True,
        capture_output=True,
    )
    assert parse_env_file(target)["AIRFLOW_FERNET_KEY"] != first["AIRFLOW_FERNET_KEY"]


def test_env_file_stays_out_of_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "-q", ".env"], check=False, cwd=REPO_ROOT)
    assert ignored.returncode == 0, ".env must be git-ignored"
