"""``tiktok-emulator``: run the TikTok emulator from the command line until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator

if TYPE_CHECKING:
    import types

#: Environment variable read for ``--admin-token`` when the flag is not given.
ADMIN_TOKEN_ENV = "TIKTOK_EMULATOR_ADMIN_TOKEN"  # noqa: S105 - a variable name
#: Flag names that differ from the knob name.
_RENAMED = {"redirect_uris": "--redirect-uri", "app_scopes": "--app-scope"}


def build_parser() -> argparse.ArgumentParser:
    """One flag per ``EmulatorConfig`` knob (``--knob-name``; booleans also take ``--no-knob-name``)."""
    parser = argparse.ArgumentParser(
        prog="tiktok-emulator",
        description="Serve a TikTok Login Kit + Display API emulator (authorize page and API on one origin).",
    )
    defaults = EmulatorConfig()
    for knob in dataclasses.fields(EmulatorConfig):
        flag = _RENAMED.get(knob.name, "--" + knob.name.replace("_", "-"))
        default = getattr(defaults, knob.name)
        help_text = f"{knob.metadata.get('help', '')} (default: {default!r})"
        parser.add_argument(flag, dest=knob.name, help=help_text, **_arg_kind(knob.name, default))
    return parser


def _arg_kind(name: str, default: Any) -> dict[str, Any]:
    if isinstance(default, bool):
        return {"action": argparse.BooleanOptionalAction, "default": None}
    if isinstance(default, tuple):
        return {"action": "append", "default": None}
    if name == "start_time":
        return {"type": float, "default": None}
    if default is None:
        return {"type": str, "default": None}
    return {"type": type(default), "default": None}


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """An ``EmulatorConfig`` from parsed flags (flags not given keep their defaults)."""
    given = {name: value for name, value in vars(args).items() if value is not None}
    if "admin_token" not in given and os.environ.get(ADMIN_TOKEN_ENV):
        given["admin_token"] = os.environ[ADMIN_TOKEN_ENV]
    return EmulatorConfig(**given)


def describe(emulator: TikTokEmulator) -> str:
    """The start-up banner: base URL, credentials, redirect URIs and users."""
    lines = [
        f"TikTok emulator listening on {emulator.base_url}",
        f"base_url={emulator.base_url}",
        f"client_key={emulator.client_key}",
        f"client_secret={emulator.client_secret}",
    ]
    lines += [f"redirect_uri={uri}" for uri in emulator.config.redirect_uris]
    for user in emulator.users:
        kind = "target" if user.is_target_user else "non-target"
        lines.append(
            f"user open_id={user.open_id} username={user.username} videos={user.video_count} ({kind})"
        )
    admin = "Admin: GET/POST /emulator/config, /emulator/faults, /emulator/clock, /emulator/requests"
    if emulator.config.admin_token:
        admin += " (Authorization: Bearer <admin token>)"
    lines.append(admin)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, serve until SIGINT/SIGTERM, return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with TikTokEmulator(config) as emulator:
        print(describe(emulator), flush=True)
        while not stop.wait(0.5):
            pass
    print("TikTok emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
