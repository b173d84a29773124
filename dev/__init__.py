"""The development harness: ``make demo``, ``make airflow`` and the local stacks the tests run against.

Not part of the wheel (a deployment never runs it): a temporary Airflow home with the emulator and a
local S3 (:mod:`dev.demo`, :mod:`dev.local_airflow`), a real scheduler/dag-processor/API server on
loopback (:mod:`dev.airflow_stack`), ``moto_server`` (:mod:`dev.moto_s3`), and their helpers (free
ports, self-signed certificates, the ``airflow.env`` file). The TikTok emulator they use ships with the
package (:mod:`airflow_provider_tiktok.testing.emulator`), because users' own tests use it too.

Nothing here imports Airflow at module import time: the demo and the tests configure ``AIRFLOW_HOME``
first.
"""
