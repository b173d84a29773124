"""``make airflow``: a working local Airflow with the accounts page over HTTPS; Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from dev.local_airflow import APP_CONN_ID, callback_url
from dev.ports import free_port

pytestmark = pytest.mark.scheduler

READY_LINE = "Ctrl-C stops everything"


def _stack(process: subprocess.Popen[str]) -> list[psutil.Process]:
    """``make airflow``'s process and everything it started (components, workers, log servers if any)."""
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def _listening(processes: list[psutil.Process]) -> set[tuple[str, int]]:
    """``(address, port)`` of every TCP socket these processes listen on."""
    found = set()
    for proc in processes:
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}
    return found


def _read_banner(process: subprocess.Popen[str], timeout: float) -> str:
    """Everything printed until the banner's last line (fails if the command exits first)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail(f"make airflow exited {process.returncode}:\n{''.join(lines)}")
        lines.append(line)
        if READY_LINE in line:
            return "".join(lines)
    pytest.fail(f"no banner within {timeout:.0f}s:\n{''.join(lines)}")


def _field(banner: str, label: str) -> str:
    match = re.search(rf"^\s+{label}\s+(\S+)", banner, flags=re.MULTILINE)
    assert match, f"{label!r} missing from the banner:\n{banner}"
    return match.group(1)


@pytest.mark.timeout(600)
def test_make_airflow_serves_the_page_over_https_and_stops_on_ctrl_c() -> None:
    port = free_port()
    command = [sys.executable, "-m", "dev.local_airflow", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--videos", "5"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Started with SIGINT ignored, as a non-interactive shell starts `make airflow &`: SIGINT must stop it.
    ignoring_sigint = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *command]
    process = subprocess.Popen(
        ignoring_sigint, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    home = Path("/nonexistent")
    running: list[psutil.Process] = []
    try:
        banner = _read_banner(process, timeout=300)
        base = _field(banner, "Airflow UI").rstrip("/")
        home = Path(_field(banner, "Airflow home"))
        password = re.search(r"^\s+login\s+admin / (\S+)", banner, flags=re.MULTILINE)
        assert base == f"https://127.0.0.1:{port}"
        assert password, banner

        session = requests.Session()
        session.trust_env = False
        session.verify = str(home / "tls" / "cert.pem")  # the certificate generated at start
        login = {"username": "admin", "password": password.group(1)}
        token = session.post(f"{base}/auth/token", json=login, timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        assert _field(banner, "TikTok accounts") == f"{base}/plugin/tiktok-accounts"
        page = session.get(f"{base}/tiktok/accounts", headers=headers, timeout=30)
        assert page.status_code == 200
        assert "Link a TikTok account" in page.text
        app = session.get(f"{base}/api/v2/connections/{APP_CONN_ID}", headers=headers, timeout=30).json()
        assert app["conn_type"] == "tiktok"
        assert json.loads(app["extra"])["redirect_uri"] == callback_url("127.0.0.1", port)
        assert password.group(1) not in page.text

        # The connection form's Test button works here (the README sends users to it).
        tested = session.post(f"{base}/api/v2/connections/test", headers=headers, json=app, timeout=60)
        assert tested.status_code == 200, tested.text
        assert tested.json()["status"] is True, tested.text

        # Only the API server listens, on loopback: no log server on 0.0.0.0:8794 or a random port.
        running = _stack(process)
        names = " ".join(" ".join(p.cmdline()) for p in running)
        for component in ("scheduler", "dag-processor", "triggerer", "api"):
            assert component in names, names
        # ... and the emulator and moto_server, on the ports the banner gives: nothing else.
        emulator, s3 = (
            urlsplit(_field(banner, "TikTok emulator")),
            urlsplit(_field(banner, r"S3 \(moto_server\)")),
        )
        expected = {("127.0.0.1", port), (emulator.hostname, emulator.port), (s3.hostname, s3.port)}
        assert _listening(running) == expected
        # The JWT key is long enough for HS512: PyJWT's warning never reached the API server log.
        assert "InsecureKeyLengthWarning" not in (home / "logs" / "api-server.out").read_text()

        # The banner's CLI line reaches the same metadata DB (and decrypts its connections).
        env_file = re.search(r"Airflow CLI\s+\. (\S+) && (\S+)", banner)
        assert env_file, banner
        got = subprocess.run(
            [
                "bash",
                "-c",
                f". {env_file.group(1)} && {env_file.group(2)} connections get {APP_CONN_ID} -o json",
            ],
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert got.returncode == 0, got.stderr[-2000:]
        assert json.loads(got.stdout.strip().splitlines()[-1])[0]["login"] == app["login"]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    assert "Stopping" in output
    _, alive = psutil.wait_procs(running, timeout=0)
    assert alive == [], f"still running after make airflow exited: {alive}"  # every component and worker
    assert running
    assert not home.exists()  # the temporary Airflow home is removed
