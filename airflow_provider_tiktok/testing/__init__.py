"""Local stand-ins for the services this provider talks to (TikTok emulator, S3, Airflow stack).

Nothing here imports Airflow at module import time: the pytest plugin loads this package before
the test session configures ``AIRFLOW_HOME``.
"""
