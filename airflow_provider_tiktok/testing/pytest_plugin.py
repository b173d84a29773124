"""pytest plugin with TikTok emulator fixtures; opt in from a ``conftest.py``::

    pytest_plugins = ["airflow_provider_tiktok.testing.pytest_plugin"]

The package registers no ``pytest11`` entry point: pytest would load this plugin in every environment
where the provider is installed, production images included.

``tiktok_emulator`` is a fresh emulator with the default config for each test;
``tiktok_emulator_factory(**knobs)`` starts emulators with custom knobs and stops them after the test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def tiktok_emulator_factory() -> Iterator[Callable[..., TikTokEmulator]]:
    """Start emulators with ``EmulatorConfig`` knobs as keyword arguments; all stop after the test."""
    started: list[TikTokEmulator] = []

    def factory(**knobs: Any) -> TikTokEmulator:
        emulator = TikTokEmulator(EmulatorConfig(**knobs)).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def tiktok_emulator() -> Iterator[TikTokEmulator]:
    """A running emulator with the default config (3 target users, 1 non-target, 50 videos each)."""
    with TikTokEmulator(EmulatorConfig()) as emulator:
        yield emulator
