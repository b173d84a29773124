"""The ``tiktok-emulator`` console script: start, read the printed URL, one call, terminate."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests

from airflow_provider_tiktok.testing.emulator_cli import build_parser, config_from_args


def test_cli_prints_url_and_credentials_serves_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_tiktok.testing.emulator_cli",
        "--port",
        "0",
        "--users",
        "2",
        "--videos",
        "4",
        "--client-key",
        "sbawcli",
        "--redirect-uri",
        "https://app.example/cb",
        "--pkce",
        "optional",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(6)]
        values = dict(line.strip().split("=", 1) for line in banner[1:5])
        assert banner[0].startswith("TikTok emulator listening on http://127.0.0.1:")
        assert values["client_key"] == "sbawcli"
        assert values["client_secret"] == "emulator-secret"
        assert values["redirect_uri"] == "https://app.example/cb"
        users = requests.get(values["base_url"] + "/emulator/users", timeout=5).json()
        assert len(users) == 3
        config = requests.get(values["base_url"] + "/emulator/config", timeout=5).json()
        assert config["pkce"] == "optional"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_every_knob_has_a_flag() -> None:
    args = build_parser().parse_args(
        [
            "--no-strict-rotation",
            "--redirect-uri",
            "https://a.example/1",
            "--redirect-uri",
            "https://a.example/2",
            "--latency",
            "0.5",
            "--rate-limit-scope",
            "token",
            "--challenge-encoding",
            "base64url",
        ]
    )
    config = config_from_args(args)
    assert config.strict_rotation is False
    assert config.redirect_uris == ("https://a.example/1", "https://a.example/2")
    assert (config.latency, config.rate_limit_scope, config.challenge_encoding) == (0.5, "token", "base64url")
    assert config.access_ttl == 7200
