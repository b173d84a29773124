"""Fixtures for the emulator's contract tests: a small emulator, a keep-alive session, an OAuth helper."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from emulator_flow import Flow

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


@pytest.fixture
def emu(tiktok_emulator_factory: Callable[..., TikTokEmulator]) -> TikTokEmulator:
    """A small emulator: 2 target users + 1 non-target, 45 videos each."""
    return tiktok_emulator_factory(users=2, videos=45, seed=11)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def flow(emu: TikTokEmulator, http: requests.Session) -> Flow:
    """OAuth helper bound to ``emu``."""
    return Flow(emu, http)
