"""Everything one running emulator knows: config, clock, users, tokens, faults, limits, records."""

from __future__ import annotations

import threading

from airflow_provider_tiktok.testing.emulator.clock import Clock
from airflow_provider_tiktok.testing.emulator.config import STARTUP_ONLY, EmulatorConfig
from airflow_provider_tiktok.testing.emulator.data import EmulatedUser, generate_users
from airflow_provider_tiktok.testing.emulator.faults import FaultBook
from airflow_provider_tiktok.testing.emulator.ratelimit import SlidingWindowLimiter
from airflow_provider_tiktok.testing.emulator.records import RequestLog
from airflow_provider_tiktok.testing.emulator.tokens import TokenBook


class EmulatorState:
    """Shared, thread-safe state behind the HTTP handlers; each part carries its own lock."""

    def __init__(self, config: EmulatorConfig) -> None:
        """``config``: the start-up knobs."""
        self.config = config
        self.clock = Clock(config.start_time)
        self.users: list[EmulatedUser] = generate_users(
            users=config.users,
            videos=config.videos,
            seed=config.seed,
            non_target_users=config.non_target_users,
            now=self.clock.now(),
        )
        self.users_by_id = {user.open_id: user for user in self.users}
        self.tokens = TokenBook()
        self.faults = FaultBook(config.seed)
        self.limiter = SlidingWindowLimiter()
        self.log = RequestLog(config.record_limit)
        self.stopping = threading.Event()
        self._config_lock = threading.Lock()

    def configure(self, **knobs: object) -> EmulatorConfig:
        """Change run-time knobs; start-only or unknown knobs raise ``ValueError``."""
        fixed = sorted(set(knobs) & STARTUP_ONLY)
        if fixed:
            raise ValueError(f"{fixed} can only be set when the emulator starts")
        with self._config_lock:
            self.config = self.config.replace(**knobs)
            return self.config
