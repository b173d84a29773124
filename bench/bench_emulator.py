"""Benchmark the TikTok emulator: keep-alive throughput on /v2/video/list/ and latency-knob overhead.

Run: ``uv run python bench/bench_emulator.py``. The emulator runs in its own process (the
``tiktok-emulator`` CLI, so it gets one core to itself); this script is the single client and uses one
keep-alive ``http.client`` connection. Target: >= 1,000 requests/s. Takes about 15 s.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import signal
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TARGET_RPS = 1000.0
THROUGHPUT_SECONDS = 5.0
LATENCIES = (0.0, 0.005, 0.02, 0.05)
LATENCY_SAMPLES = 60
REDIRECT_URI = "https://localhost:8443/users/auth/tiktok/callback"


def start_emulator() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start the CLI with one user holding many videos and no rate limit; returns it and its banner values."""
    command = [sys.executable, "-m", "airflow_provider_tiktok.testing.emulator_cli", "--users", "1"]
    command += ["--videos", "2000", "--non-target-users", "0", "--rate-limit-per-minute", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    values: dict[str, str] = {}
    for _ in range(10):
        line = proc.stdout.readline().strip()
        if "=" in line and not line.startswith("user "):
            key, value = line.split("=", 1)
            values[key] = value
        if "redirect_uri" in values:
            break
    return proc, values


class Client:
    """One keep-alive connection to the emulator."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)

    def call(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        """Send one request; returns (status, headers, body bytes)."""
        self.conn.request(method, path, body=body or None, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response, response.read()


def access_token(client: Client, values: dict[str, str]) -> str:
    """A real code flow: authorize with emulator_user and PKCE, then the code grant."""
    _, _, users_body = client.call("GET", "/emulator/users")
    open_id = json.loads(users_body)[0]["open_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "client_key": values["client_key"],
            "response_type": "code",
            "scope": "user.info.basic,video.list",
            "redirect_uri": REDIRECT_URI,
            "state": "bench",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "emulator_user": open_id,
        }
    )
    _, response, _ = client.call("GET", "/v2/auth/authorize/?" + query)
    code = parse_qs(urlsplit(response.getheader("Location")).query)["code"][0]
    form = urlencode(
        {
            "client_key": values["client_key"],
            "client_secret": values["client_secret"],
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
    ).encode()
    _, _, body = client.call(
        "POST", "/v2/oauth/token/", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    token: str = json.loads(body)["access_token"]
    return token


def throughput(client: Client, token: str) -> tuple[int, float, int]:
    """Page through the user's videos (max_count=20) again and again; returns (requests, seconds, videos)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path = "/v2/video/list/?fields=id,create_time,title,view_count,like_count,comment_count,share_count"
    count = videos = 0
    cursor: int | None = None
    started = time.perf_counter()
    while time.perf_counter() - started < THROUGHPUT_SECONDS:
        body = {"max_count": 20} if cursor is None else {"max_count": 20, "cursor": cursor}
        status, _, raw = client.call("POST", path, json.dumps(body).encode(), headers)
        assert status == 200, raw
        data = json.loads(raw)["data"]
        count += 1
        videos += len(data["videos"])
        cursor = data["cursor"] if data["has_more"] else None
    return count, time.perf_counter() - started, videos


def per_request_seconds(client: Client, token: str, latency: float) -> float:
    """Median wall time of one /v2/video/list/ call with the latency knob set to ``latency``."""
    client.call("POST", "/emulator/config", json.dumps({"latency": latency}).encode())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        client.call("POST", "/v2/video/list/?fields=id", b'{"max_count":20}', headers)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    """Run both measurements and print figures and ratios."""
    proc, values = start_emulator()
    try:
        client = Client(values["base_url"])
        token = access_token(client, values)
        requests_done, seconds, videos = throughput(client, token)
        rps = requests_done / seconds
        print(
            f"emulator: {values['base_url']} (separate process), "
            "1 user x 2000 videos, max_count=20, keep-alive"
        )
        print(
            f"throughput: {requests_done} requests in {seconds:.2f} s = {rps:,.0f} req/s ({videos:,} videos)"
        )
        verdict = "OK" if rps >= TARGET_RPS else "BELOW TARGET"
        print(f"target {TARGET_RPS:,.0f} req/s: ratio {rps / TARGET_RPS:.2f}x -> {verdict}")
        base = per_request_seconds(client, token, 0.0)
        print(f"latency 0 ms: median {base * 1000:.2f} ms per request")
        for latency in LATENCIES[1:]:
            measured = per_request_seconds(client, token, latency)
            print(
                f"latency {latency * 1000:.0f} ms: median {measured * 1000:.2f} ms per request, "
                f"ratio measured/configured {measured / latency:.3f}, "
                f"overhead {(measured - latency) * 1000:.2f} ms"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
