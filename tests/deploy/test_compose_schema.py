"""docker-compose.yaml is a valid Compose file: checked against the pinned Compose Specification schema.

No Docker engine (hence no `docker compose config`) is available where the tests run; the schema is the
one Compose itself validates against, pinned in deploy/compose-spec.json so the check needs no network.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jsonschema
import pytest
from compose_model import DEPLOY_DIR, InterpolationError, interpolate

SCHEMA_FILE = DEPLOY_DIR / "compose-spec.json"
# The pinned copy (see deploy/README.md); a change of schema must be deliberate.
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_schema_is_the_pinned_copy() -> None:
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == SCHEMA_SHA256
    assert SCHEMA_SHA256 in (DEPLOY_DIR / "README.md").read_text(encoding="utf-8")


def test_compose_file_as_written_is_valid(
    validator: jsonschema.protocols.Validator, compose_raw: dict[str, Any]
) -> None:
    assert _errors(validator, compose_raw) == []


def test_compose_file_after_interpolation_is_valid(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any]
) -> None:
    assert _errors(validator, compose) == []


def test_schema_rejects_a_broken_service(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any]
) -> None:
    # The validator must actually bite: a misspelt key and a wrongly typed healthcheck are errors.
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-scheduler"]["helthcheck"] = broken["services"]["airflow-scheduler"].pop(
        "healthcheck"
    )
    broken["services"]["postgres"]["healthcheck"]["retries"] = ["5"]
    errors = _errors(validator, broken)
    assert any("helthcheck" in error for error in errors), errors
    assert any(error.startswith("services/postgres/healthcheck/retries") for error in errors), errors


def test_compose_refuses_to_start_without_the_secrets(
    compose_raw: dict[str, Any], env_example: dict[str, str]
) -> None:
    # .env.example as is (secrets empty): interpolation stops, naming the first missing secret.
    with pytest.raises(InterpolationError, match="required variable"):
        interpolate(compose_raw, env_example)
