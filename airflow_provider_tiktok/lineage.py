"""OpenLineage datasets of the report: which TikTok account's videos went to which S3 objects.

Naming (OpenLineage's dataset naming: a namespace for the data source, a name inside it):

* the input is one account's videos: namespace ``tiktok://<API host>`` (``tiktok://open.tiktokapis.com``
  in production), name ``user/<open_id>/videos``. The open_id, not the connection id: it is TikTok's own
  id of the user for this app and survives a relink under another connection id;
* each output is one S3 object: namespace ``s3://<bucket>``, name its key (OpenLineage's S3 convention).

OpenLineage is imported only when these are built, which happens only when Airflow's OpenLineage provider
is installed and asks an operator for its lineage: the provider works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable

#: (namespace, name) of one dataset.
DatasetId = tuple[str, str]


def tiktok_videos(api_base_url: str, open_id: str) -> DatasetId:
    """The dataset of one TikTok account's videos, as read from the Display API at ``api_base_url``."""
    return f"tiktok://{urlsplit(api_base_url).netloc or 'open.tiktokapis.com'}", f"user/{open_id}/videos"


def s3_object(bucket: str, key: str) -> DatasetId:
    """The dataset of one S3 object."""
    return f"s3://{bucket}", key


def operator_lineage(inputs: Iterable[DatasetId], outputs: Iterable[DatasetId]) -> Any:
    """An ``OperatorLineage`` for Airflow's OpenLineage provider (imported here, lazily)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    return OperatorLineage(
        inputs=[Dataset(namespace=ns, name=name) for ns, name in inputs],
        outputs=[Dataset(namespace=ns, name=name) for ns, name in outputs],
    )
