"""The stack tests run with docker-compose.yaml's Airflow settings: one list, checked here, cannot drift.

``COMPOSE_SETTINGS`` (dev/celery_stack.py) is what ``make test-stack`` sets;
the compose file's ``x-airflow-common`` environment is what every Airflow container gets. Same keys; a
literal value is the same value; a URL has the same scheme (driver); a JSON value the same fields.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from compose_model import environment_of

from dev.celery_stack import COMPOSE_SETTINGS, compose_settings

PLACEHOLDERS = {
    "sql_alchemy_conn": "postgresql+psycopg2://airflow:pw@127.0.0.1:5432/airflow",
    "result_backend": "db+postgresql://airflow:pw@127.0.0.1:5432/airflow",
    "broker_url": "redis://127.0.0.1:6379/0",
    "fernet_key": "key",
    "jwt_secret": "jwt",
    "api_secret_key": "secret",
    "api_url": "https://127.0.0.1:8443",
    "aws_connection": '{"conn_type": "aws", "login": "l", "password": "p", "extra": {"endpoint_url": "x"}}',
    "bucket": "tiktok-reports",
    "smtp_port": "587",
    "smtp_password": "pw",
}


def _common_env(compose: dict[str, Any]) -> dict[str, str]:
    return environment_of(compose["x-airflow-common"])


def test_the_stack_sets_exactly_the_compose_files_airflow_settings(compose: dict[str, Any]) -> None:
    assert sorted(COMPOSE_SETTINGS) == sorted(_common_env(compose))


def test_fixed_values_are_the_compose_files_values(compose: dict[str, Any]) -> None:
    expected = _common_env(compose)
    literal = {key: value for key, value in COMPOSE_SETTINGS.items() if "{" not in value}
    assert literal, "no fixed setting to compare"
    assert literal == {key: expected[key] for key in literal}


def test_filled_in_values_have_the_compose_files_shape(compose: dict[str, Any]) -> None:
    expected = _common_env(compose)
    ours = compose_settings(**PLACEHOLDERS)
    for key, value in ours.items():
        theirs = expected[key]
        if value.startswith("{"):
            assert sorted(json.loads(value)) == sorted(json.loads(theirs)), key
        elif "://" in value:
            # Same driver/scheme; the execution API is plain HTTP behind compose's TLS proxy, HTTPS here.
            if key == "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
                assert urlsplit(value).path == urlsplit(theirs).path == "/execution/"
            else:
                assert urlsplit(value).scheme == urlsplit(theirs).scheme, key
