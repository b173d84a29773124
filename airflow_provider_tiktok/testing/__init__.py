"""The TikTok emulator and what tests need around it (the ``emulator`` extra of the package).

:mod:`~airflow_provider_tiktok.testing.emulator` (the ``tiktok-emulator`` command), the connections that
point at it (:mod:`~airflow_provider_tiktok.testing.connections`) and opt-in pytest fixtures
(:mod:`~airflow_provider_tiktok.testing.pytest_plugin`). The demo and the local Airflow stacks are not
here: they live in the repository's ``dev/`` package, outside the wheel.

Nothing here imports Airflow at module import time: a test session configures ``AIRFLOW_HOME`` first.
"""
