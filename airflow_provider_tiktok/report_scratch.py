"""Where a report attempt keeps its temporary CSVs: one directory per attempt, earlier attempts cleaned.

A killed attempt (SIGKILL, OOM, a lost worker) never reaches its clean-up, so its CSVs would stay in the
temporary folder for good. Each attempt therefore writes under
``<tmp>/airflow-provider-tiktok/<dag>/<run>/<task>/<map index>/try-<n>/`` and first removes the ``try-*``
directories that earlier attempts of the same task instance left on this machine.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

SCRATCH_FOLDER = "airflow-provider-tiktok"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _part(value: Any) -> str:
    """A path component from a run id or task id (``:`` and ``+`` of run ids become ``_``)."""
    text = _UNSAFE.sub("_", str(value))
    return text if text.strip(".") else "_"


def task_scratch_root(ti: Any, task_id: str, base: Path | None = None) -> Path:
    """The folder of every attempt of ``ti`` (attributes the task instance lacks count as unknown).

    :param ti: the running task instance (``dag_id``, ``run_id``, ``task_id``, ``map_index``).
    :param task_id: the operator's task id, when ``ti`` has none.
    :param base: the temporary folder (default: the system's).
    """
    parts = (
        getattr(ti, "dag_id", None) or "dag",
        getattr(ti, "run_id", None) or "run",
        getattr(ti, "task_id", None) or task_id,
        getattr(ti, "map_index", -1),
    )
    root = (base or Path(tempfile.gettempdir())) / SCRATCH_FOLDER
    return root.joinpath(*(_part(p) for p in parts))


@contextmanager
def attempt_scratch(ti: Any, task_id: str, base: Path | None = None) -> Iterator[Path]:
    """Yield this attempt's empty directory; remove earlier attempts' first and this one's at the end.

    :param ti: the running task instance (its ``try_number`` names the directory).
    :param task_id: the operator's task id, when ``ti`` has none.
    :param base: the temporary folder (default: the system's).
    """
    root = task_scratch_root(ti, task_id, base)
    mine = root / f"try-{getattr(ti, 'try_number', None) or 1}"
    _remove_earlier(root, keep=mine)
    mine.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        yield mine
    finally:
        shutil.rmtree(mine, ignore_errors=True)
        _remove_empty(root, stop=root.parents[3])


def _remove_empty(folder: Path, *, stop: Path) -> None:
    """Remove ``folder`` and its parents below ``stop`` while they are empty (another try may use them)."""
    while folder != stop:
        try:
            folder.rmdir()
        except OSError:  # not empty, or gone: leave it
            return
        folder = folder.parent


def _remove_earlier(root: Path, *, keep: Path) -> None:
    if not root.is_dir():
        return
    for leftover in root.glob("try-*"):
        if leftover != keep:
            log.warning("Removing %s, left behind by an earlier attempt that did not finish", leftover)
            shutil.rmtree(leftover, ignore_errors=True)
