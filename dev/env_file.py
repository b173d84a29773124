"""An environment file for running the ``airflow`` CLI against a home this package configured.

``make airflow`` and ``make demo`` configure Airflow through environment variables (database, Fernet key,
secrets), not through ``airflow.cfg``: a plain ``airflow`` command in another shell would read the
``airflow.cfg`` Airflow wrote into the home, with other keys, and fail to decrypt connections. Sourcing
this file gives that shell the same settings.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

ENV_FILE_NAME = "airflow.env"
_PREFIXES = ("AIRFLOW_", "AWS_")


def write_env_file(home: Path, env: Mapping[str, str]) -> Path:
    """Write ``<home>/airflow.env`` (mode 600: it holds the Fernet key) with the Airflow settings of ``env``.

    :param home: the Airflow home.
    :param env: the environment the components run with; its ``AIRFLOW_*`` and ``AWS_*`` variables
        are written as ``export NAME='value'`` lines.
    :return: the file's path.
    """
    path = home / ENV_FILE_NAME
    names = sorted(name for name in env if name.startswith(_PREFIXES))
    lines = [f"export {name}={shlex.quote(env[name])}" for name in names]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"# Run the airflow CLI against this home: . {shlex.quote(str(path))}\n")
        handle.write("\n".join(lines) + "\n")
    return path
