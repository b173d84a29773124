"""A faithful TikTok Login Kit (web v2) and Display API (v2) emulator: real HTTP on one loopback origin.

Quick start::

    with TikTokEmulator(EmulatorConfig(users=2, videos=30)) as emu:
        emu.base_url  # authorize page and API

See ``docs/tiktok-api-behaviour.md`` for every quirk, its default and its knob.
"""

from __future__ import annotations

from airflow_provider_tiktok.testing.emulator.clock import Clock
from airflow_provider_tiktok.testing.emulator.config import EmulatorConfig
from airflow_provider_tiktok.testing.emulator.data import EmulatedUser
from airflow_provider_tiktok.testing.emulator.faults import Fault
from airflow_provider_tiktok.testing.emulator.records import RecordedRequest
from airflow_provider_tiktok.testing.emulator.server import TikTokEmulator
from airflow_provider_tiktok.testing.emulator.tokens import pkce_challenge

__all__ = [
    "Clock",
    "EmulatedUser",
    "EmulatorConfig",
    "Fault",
    "RecordedRequest",
    "TikTokEmulator",
    "pkce_challenge",
]
