"""``make demo``: the report on embedded defaults; ``make demo KEEP=1`` leaves the CSVs and the home."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_tiktok.reports import VIDEO_COLUMNS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent


def test_make_demo_keep_passes_the_flag() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "demo", "KEEP=1"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    assert re.search(r"python -m dev\.demo --keep$", dry_run.stdout, flags=re.MULTILINE)
    plain = subprocess.run(
        ["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    assert re.search(r"python -m dev\.demo\s*$", plain.stdout, flags=re.MULTILINE)


@pytest.mark.timeout(600)
def test_demo_keep_leaves_the_csvs_and_a_usable_airflow_home() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}  # the demo makes its own home
    result = subprocess.run(
        [sys.executable, "-m", "dev.demo", "--keep"],
        env={**env, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    kept_home = re.search(r"Kept the Airflow home (\S+)", result.stdout)
    assert kept_home, result.stdout
    home = Path(kept_home.group(1))
    try:
        kept = re.search(r"kept (\d+) S3 objects under (\S+)/", result.stdout)
        assert kept, result.stdout
        folder = Path(kept.group(2))
        assert folder.is_relative_to(home)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        assert len(files) == int(kept.group(1))
        manifest = json.loads(next(p for p in files if p.name == "_manifest.json").read_text())
        assert manifest["complete"] is True
        video_csv = next(p for p in files if p.name == "video_stats.csv")
        header = next(csv.reader(io.StringIO(video_csv.read_text(encoding="utf-8"), newline="")))
        assert header == list(VIDEO_COLUMNS)

        # The printed CLI line works against the kept home: it sees the demo's successful run.
        cli = re.search(
            r"airflow CLI against it: (\. \S+) && airflow (.+)$", result.stdout, flags=re.MULTILINE
        )
        assert cli, result.stdout
        airflow = Path(sys.executable).parent / "airflow"
        runs = subprocess.run(
            ["bash", "-c", f"{cli.group(1)} && {airflow} {cli.group(2)} -o json"],
            env={"PATH": env["PATH"], "HOME": env.get("HOME", "/root")},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert runs.returncode == 0, runs.stderr[-2000:]
        listed = json.loads(runs.stdout.strip().splitlines()[-1])  # Airflow may log a warning line first
        assert [run["state"] for run in listed] == ["success"]
    finally:
        shutil.rmtree(home, ignore_errors=True)
