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

import pytest
import requests

from airflow_provider_tiktok.local_airflow import APP_CONN_ID, callback_url
from airflow_provider_tiktok.testing.ports import free_port

READY_LINE = "Ctrl-C stops everything"


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


@pytest.mark.timeout(400)
def test_make_airflow_serves_the_page_over_https_and_stops_on_ctrl_c() -> None:
    port = free_port()
    command = [sys.executable, "-m", "airflow_provider_tiktok.local_airflow", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--videos", "5"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
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

        page = session.get(f"{base}/tiktok/accounts", headers=headers, timeout=30)
        assert page.status_code == 200
        assert "Link a TikTok account" in page.text
        app = session.get(f"{base}/api/v2/connections/{APP_CONN_ID}", headers=headers, timeout=30).json()
        assert app["conn_type"] == "tiktok"
        assert json.loads(app["extra"])["redirect_uri"] == callback_url("127.0.0.1", port)
        assert password.group(1) not in page.text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert "Stopping" in output
    assert not home.exists()  # the temporary Airflow home is removed
