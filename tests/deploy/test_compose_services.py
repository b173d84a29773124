"""What must hold in docker-compose.yaml for the stack to start and run the provider.

Each test names a way the stack would break at `docker compose up` time (or only at the first task),
checked on the file interpolated with a .env written by deploy/gen-env.sh.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from compose_model import (
    DEPLOY_DIR,
    REPO_ROOT,
    command_flags,
    command_of,
    environment_of,
    published_ports,
)

AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "celery", "triggerer"}
CALLBACK_PATH = "/users/auth/tiktok/callback"  # contracts: the plugin's OAuth callback route
PUBLIC_PORT = 8443


def _airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services that run Airflow itself (they carry the executor setting)."""
    return {name: svc for name, svc in services.items() if "AIRFLOW__CORE__EXECUTOR" in environment_of(svc)}


def _service_running(services: dict[str, dict[str, Any]], command: str) -> tuple[str, dict[str, Any]]:
    """The one default-profile service whose command starts with ``command``."""
    found = [
        (name, svc)
        for name, svc in services.items()
        if command_of(svc)[:1] == [command] and not svc.get("profiles")
    ]
    assert len(found) == 1, f"expected one service running {command!r}, found {[n for n, _ in found]}"
    return found[0]


def _api_port(api_server: dict[str, Any]) -> int:
    return int(environment_of(api_server).get("AIRFLOW__API__PORT", "8080"))


def test_every_service_has_a_pinned_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name}: neither image nor build"
        image = svc.get("image", "")
        if svc.get("build"):
            assert svc["build"] == ".", f"{name}: builds from {svc['build']!r}, not the repository root"
            assert (REPO_ROOT / "Dockerfile").is_file()
        # A floating tag would change the stack under the operator's feet.
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image!r} has no tag"
        assert tag not in ("", "latest"), f"{name}: image {image!r} has no pinned tag"


def test_every_airflow_component_runs_once(services: dict[str, dict[str, Any]]) -> None:
    default_profile = {n: s for n, s in services.items() if not s.get("profiles")}
    commands = sorted(
        command_of(svc)[0] for svc in _airflow_services(default_profile).values() if command_of(svc)
    )
    assert commands == sorted(AIRFLOW_COMMANDS), commands
    _, worker = _service_running(services, "celery")
    assert command_of(worker) == ["celery", "worker"]
    built = {n for n, s in _airflow_services(services).items() if s.get("build")}
    assert built == set(_airflow_services(services)), "every Airflow service runs the provider's image"
    assert len({services[n]["image"] for n in built}) == 1


def test_airflow_components_share_one_configuration(services: dict[str, dict[str, Any]]) -> None:
    # Different Fernet keys, JWT secrets or databases between components break tokens or task auth.
    shared = (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__API__BASE_URL",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW_CONN_AWS_DEFAULT",
    )
    airflow = _airflow_services(services)
    assert len(airflow) >= 7
    for key in shared:
        values = {name: environment_of(svc).get(key) for name, svc in airflow.items()}
        assert None not in values.values(), (key, values)
        assert len(set(values.values())) == 1, (key, values)
    env = environment_of(next(iter(airflow.values())))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


def test_init_migrates_the_database_and_creates_the_admin(services: dict[str, dict[str, Any]]) -> None:
    init = services["airflow-init"]
    env = environment_of(init)
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_USERNAME"]
    assert env["_AIRFLOW_WWW_USER_PASSWORD"]
    assert init["restart"] == "no"
    script = init["entrypoint"][-1]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in init["volumes"]}
    assert script.startswith("/opt/airflow/deploy/")
    assert mounted["/opt/airflow/deploy"] == "./deploy"
    assert (DEPLOY_DIR / script.removeprefix("/opt/airflow/deploy/")).is_file()
    for other, svc in _airflow_services(services).items():
        if other != "airflow-init" and not svc.get("profiles") and svc.get("restart") == "always":
            condition = svc["depends_on"]["airflow-init"]["condition"]
            assert condition == "service_completed_successfully", other


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if svc.get("restart") == "always":
            test = svc.get("healthcheck", {}).get("test")
            assert isinstance(test, list), name
            assert test[0] in ("CMD", "CMD-SHELL"), name
            assert len(test) > 1, name
            assert not svc["healthcheck"].get("disable"), name


def test_api_server_and_scheduler_health_endpoints(services: dict[str, dict[str, Any]]) -> None:
    _name, api = _service_running(services, "api-server")
    assert api["healthcheck"]["test"][-1] == f"http://localhost:{_api_port(api)}/api/v2/monitor/health"
    _, scheduler = _service_running(services, "scheduler")
    # The scheduler only serves /health when this is on.
    assert environment_of(scheduler)["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert scheduler["healthcheck"]["test"][-1] == "http://localhost:8974/health"


def test_depends_on_uses_conditions_that_can_be_met(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for target, spec in (svc.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s health: none defined"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must be a one-shot for {name}"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r} does not wait for readiness")
            if not svc.get("profiles"):
                assert not services[target].get("profiles"), f"{name} needs {target}, which is in a profile"


def test_dependencies_have_no_cycle(services: dict[str, dict[str, Any]]) -> None:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"dependency cycle through {name}"
        if name in order:
            return
        visiting.add(name)
        for target in services[name].get("depends_on") or {}:
            visit(target)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    assert order.index("postgres") < order.index("airflow-init") < order.index("airflow-scheduler")


def test_execution_api_url_points_at_the_api_server(services: dict[str, dict[str, Any]]) -> None:
    # Tasks reach the API server here; a wrong host or port fails every task before it starts.
    name, api = _service_running(services, "api-server")
    for _other, svc in _airflow_services(services).items():
        url = urlsplit(environment_of(svc)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (url.scheme, url.hostname, url.port, url.path) == ("http", name, _api_port(api), "/execution/")
    assert _api_port(api) in [int(port) for port in api.get("expose", [])]


def test_public_url_is_https_through_the_proxy(
    services: dict[str, dict[str, Any]], generated_env: dict[str, str]
) -> None:
    api_name, api = _service_running(services, "api-server")
    base_url = environment_of(api)["AIRFLOW__API__BASE_URL"]
    assert base_url == f"https://{generated_env['PUBLIC_HOST']}:{PUBLIC_PORT}"
    proxy = services["proxy"]
    assert published_ports(proxy) == [("", PUBLIC_PORT, PUBLIC_PORT)]
    assert environment_of(proxy)["PUBLIC_HOST"] == generated_env["PUBLIC_HOST"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}
    text = (REPO_ROOT / mounts["/etc/caddy/Caddyfile"]).read_text(encoding="utf-8")
    caddyfile = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert re.search(r"^\{\$PUBLIC_HOST:localhost\}:" + str(PUBLIC_PORT) + r" \{$", caddyfile, re.M)
    assert re.search(rf"^\s*reverse_proxy {api_name}:{_api_port(api)}\b", caddyfile, re.M)
    # Every {$VAR} the Caddyfile reads is passed to the proxy container.
    assert set(re.findall(r"\{\$([A-Z_]+)", caddyfile)) <= set(environment_of(proxy))
    # The API server trusts X-Forwarded-Proto from the proxy, so it knows requests came over HTTPS.
    assert "--proxy-headers" in command_of(api)
    assert environment_of(api)["FORWARDED_ALLOW_IPS"] == "*"


def test_only_the_entry_points_are_published(services: dict[str, dict[str, Any]]) -> None:
    published = {name: published_ports(svc) for name, svc in services.items() if svc.get("ports")}
    assert published == {
        "proxy": [("", 8443, 8443)],
        # S3 API and console: loopback only.
        "minio": [("127.0.0.1", 9000, 9000), ("127.0.0.1", 9001, 9001)],
        # The demo's emulator: loopback only (its admin API also needs a token).
        "tiktok-emulator": [("127.0.0.1", 8900, 8900)],
    }
    assert services["tiktok-emulator"]["profiles"] == ["demo"]


def test_dags_are_mounted_and_plugins_come_from_the_package(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in _airflow_services(services).items():
        targets = {volume.split(":")[1]: volume.split(":")[0] for volume in svc.get("volumes", [])}
        if name in ("tiktok-demo-setup", "airflow-cli"):
            continue
        assert targets.get("/opt/airflow/dags") == "./dags", name
        # The plugin is loaded through the package's entry point; a plugins folder would load it twice.
        assert "/opt/airflow/plugins" not in targets, name
    assert (REPO_ROOT / "dags").is_dir()


def test_aws_connection_reaches_minio(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper
    from airflow.secrets.environment_variables import EnvironmentVariablesBackend

    _, api = _service_running(services, "api-server")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", environment_of(api)["AIRFLOW_CONN_AWS_DEFAULT"])
    conn = EnvironmentVariablesBackend().get_connection("aws_default")
    assert conn is not None
    assert conn.conn_type == "aws"
    wrapper = AwsConnectionWrapper(conn)
    endpoint = urlsplit(wrapper.endpoint_url or "")
    minio = services["minio"]
    assert endpoint.hostname == "minio"
    assert endpoint.port == 9000
    assert command_of(minio)[:2] == ["server", "/data"]  # MinIO's S3 API listens on :9000 by default
    minio_env = environment_of(minio)
    assert (conn.login, conn.password) == (minio_env["MINIO_ROOT_USER"], minio_env["MINIO_ROOT_PASSWORD"])
    assert wrapper.region_name == "us-east-1"


def test_report_settings_name_the_bucket_minio_creates(services: dict[str, dict[str, Any]]) -> None:
    from airflow_provider_tiktok.report_settings import (
        parse_settings_variable,
        resolve_settings,
        schedule_from_env,
    )

    _, worker = _service_running(services, "celery")
    env = environment_of(worker)
    settings = resolve_settings(
        params={},
        variable=parse_settings_variable(env["AIRFLOW_VAR_TIKTOK_REPORT_SETTINGS"]),
        default_timezone="UTC",
    )
    assert settings.bucket == environment_of(services["minio-init"])["S3_BUCKET"]
    assert f"AIRFLOW_CONN_{settings.aws_conn_id.upper()}" in env
    # The Asset event downstream jobs wait for names the same bucket.
    asset_uri = urlsplit(env["TIKTOK_REPORT_ASSET_URI"])
    assert (asset_uri.scheme, asset_uri.hostname) == ("s3", settings.bucket)
    cron, timezone = schedule_from_env(env)
    assert (cron, timezone) == ("0 2 * * *", "UTC")
    assert worker["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"


def test_demo_profile_wires_the_emulator_into_the_app_connection(
    services: dict[str, dict[str, Any]], generated_env: dict[str, str]
) -> None:
    emulator, setup = services["tiktok-emulator"], services["tiktok-demo-setup"]
    assert emulator["profiles"] == setup["profiles"] == ["demo"]
    flags = command_flags(command_of(emulator))
    setup_env = environment_of(setup)
    _, api = _service_running(services, "api-server")
    redirect_uri = environment_of(api)["AIRFLOW__API__BASE_URL"] + CALLBACK_PATH
    assert flags["--redirect-uri"] == setup_env["TIKTOK_REDIRECT_URI"] == redirect_uri
    assert flags["--client-key"] == setup_env["TIKTOK_CLIENT_KEY"]
    assert flags["--client-secret"] == setup_env["TIKTOK_CLIENT_SECRET"]
    port = int(flags["--port"])
    assert flags["--host"] == "0.0.0.0"
    # Airflow (inside the network) calls the API by service name; the browser opens the authorize page
    # through the published port.
    api_url, auth_url = (
        urlsplit(setup_env["TIKTOK_API_BASE_URL"]),
        urlsplit(setup_env["TIKTOK_AUTH_BASE_URL"]),
    )
    assert (api_url.hostname, api_url.port) == ("tiktok-emulator", port)
    host_port = {container: host for _, host, container in published_ports(emulator)}[port]
    assert (auth_url.hostname, auth_url.port) == (generated_env["PUBLIC_HOST"], host_port)
    assert emulator["healthcheck"]["test"][-1] == f"http://localhost:{port}/emulator/health"
    # The emulator gets none of Airflow's secrets.
    assert not any(key.startswith("AIRFLOW") for key in environment_of(emulator))
