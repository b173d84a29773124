"""Read the deployment files the way Docker Compose does, without Docker.

There is no Docker engine where the tests run, so what ``docker compose config`` would do is done here:
load ``docker-compose.yaml`` (YAML merge keys included), read ``.env`` files, and apply Compose's
variable interpolation (``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}``), as the Compose Specification
describes it (https://github.com/compose-spec/compose-spec/blob/main/spec.md#interpolation).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DEPLOY_DIR = REPO_ROOT / "deploy"

_TOKEN = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?$", re.S)


class InterpolationError(ValueError):
    """A required variable is missing (``${VAR:?error}``) or a reference is malformed."""


@dataclass(frozen=True)
class VariableRef:
    """One ``$VAR`` / ``${VAR<op><arg>}`` reference in the compose file.

    :param name: the variable's name.
    :param op: the operator (``:-``, ``-``, ``:?``, ``?``, ``:+``, ``+``) or "" for a plain reference.
    :param arg: the default, error message or alternative value after the operator.
    """

    name: str
    op: str
    arg: str

    @property
    def has_default(self) -> bool:
        """True when Compose substitutes something even if the variable is unset."""
        return self.op in (":-", "-", ":+", "+")

    @property
    def required(self) -> bool:
        """True when Compose stops with an error if the variable is unset (or empty, for ``:?``)."""
        return self.op in (":?", "?")


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file as YAML data, before interpolation (merge keys resolved by the loader)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def parse_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a Compose ``.env`` file (comments, blank lines and quotes handled)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: line without '=': {raw!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def write_generated_env(target: Path) -> dict[str, str]:
    """Run ``deploy/gen-env.sh`` into ``target`` (a new file) and return the variables it wrote."""
    subprocess.run(
        ["bash", str(DEPLOY_DIR / "gen-env.sh"), str(target)], check=True, capture_output=True, text=True
    )
    return parse_env_file(target)


def _refs_in(text: str) -> list[VariableRef]:
    refs = []
    for match in _TOKEN.finditer(text):
        if match.group("escaped"):
            continue
        if match.group("named"):
            refs.append(VariableRef(match.group("named"), "", ""))
            continue
        parsed = _BRACED.match(match.group("braced"))
        if parsed is None:
            raise InterpolationError(f"malformed reference ${{{match.group('braced')}}} in {text!r}")
        refs.append(VariableRef(parsed.group("name"), parsed.group("op") or "", parsed.group("arg") or ""))
    return refs


def variable_refs(data: Any) -> list[VariableRef]:
    """Every variable reference in the string values of ``data`` (mapping keys are not interpolated)."""
    found: list[VariableRef] = []
    for text in iter_strings(data):
        found.extend(_refs_in(text))
    return found


def iter_strings(data: Any) -> list[str]:
    """All string values in nested YAML data, depth first."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [text for value in data.values() for text in iter_strings(value)]
    if isinstance(data, list):
        return [text for value in data for text in iter_strings(value)]
    return []


def _substitute(match: re.Match[str], env: dict[str, str]) -> str:
    if match.group("escaped"):
        return "$"
    if match.group("named"):
        return env.get(match.group("named"), "")
    parsed = _BRACED.match(match.group("braced"))
    if parsed is None:
        raise InterpolationError(f"malformed reference ${{{match.group('braced')}}}")
    name, op, arg = parsed.group("name"), parsed.group("op") or "", parsed.group("arg") or ""
    value = env.get(name)
    # With a colon the operator treats an empty value as unset.
    present = bool(value) if op.startswith(":") else value is not None
    if op in (":-", "-"):
        return (value or "") if present else arg
    if op in (":?", "?"):
        if not present:
            raise InterpolationError(f"required variable {name} is missing a value: {arg}")
        return value or ""
    if op in (":+", "+"):
        return arg if present else ""
    return value or ""


def interpolate(data: Any, env: dict[str, str]) -> Any:
    """``data`` with every string value interpolated from ``env``; raises :class:`InterpolationError`."""
    if isinstance(data, str):
        return _TOKEN.sub(lambda match: _substitute(match, env), data)
    if isinstance(data, dict):
        return {key: interpolate(value, env) for key, value in data.items()}
    if isinstance(data, list):
        return [interpolate(value, env) for value in data]
    return data


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a mapping (Compose accepts a mapping or ``KEY=VALUE`` list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    """A service's ``command`` as a list of words (a string command is split on whitespace)."""
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def command_flags(words: list[str]) -> dict[str, str]:
    """``{flag: value}`` of a command's options, written ``--flag=value`` or ``--flag value``."""
    flags: dict[str, str] = {}
    pending: str | None = None
    for word in words:
        if pending is not None:
            flags[pending], pending = word, None
        elif word.startswith("--") and "=" in word:
            flag, _, value = word.partition("=")
            flags[flag] = value
        elif word.startswith("--"):
            pending = word
    return flags


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """``(host_ip, host_port, container_port)`` of a service's short-syntax ``ports`` entries."""
    result = []
    for entry in service.get("ports") or []:
        parts = str(entry).split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        result.append((host_ip, int(parts[-2]), int(parts[-1].split("/")[0])))
    return result
