"""Dataset names of the lineage, and a provider that works without OpenLineage installed."""

from __future__ import annotations

import subprocess
import sys

from airflow_provider_tiktok.connections import DEFAULT_API_BASE_URL
from airflow_provider_tiktok.lineage import s3_object, tiktok_videos

WITHOUT_OPENLINEAGE = """
import sys
sys.modules["openlineage"] = None  # importing the OpenLineage client fails, as when it is not installed
sys.modules["airflow.providers.openlineage.extractors"] = None
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(sorted(bag.dags["tiktok_daily_report"].task_ids))
"""


def test_production_names() -> None:
    assert tiktok_videos(DEFAULT_API_BASE_URL, "723f24d7") == (
        "tiktok://open.tiktokapis.com",
        "user/723f24d7/videos",
    )
    assert s3_object("reports", "tiktok/video_stats/dt=2026-11-30/_manifest.json") == (
        "s3://reports",
        "tiktok/video_stats/dt=2026-11-30/_manifest.json",
    )


def test_the_dag_and_its_operators_load_without_openlineage() -> None:
    from tests.dags.report_dag_support import DAG_FILE

    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENLINEAGE, str(DAG_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'report'" in result.stdout
