"""Video list pagination against the emulator: every video once, few requests, stuck cursors bounded."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pytest

from airflow_provider_tiktok.errors import TikTokApiError
from airflow_provider_tiktok.hooks.tiktok import USER_INFO_PATH, VIDEO_LIST_PATH

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.testing.emulator import TikTokEmulator


def sent_cursors(hook: TikTokHook) -> list[int | None]:
    """Record the cursor of every video-list request the hook sends (client side, real requests)."""
    cursors: list[int | None] = []

    def record(response: object, *args: object, **kwargs: object) -> None:
        request = response.request  # type: ignore[attr-defined]
        if request.url and VIDEO_LIST_PATH in request.url:
            cursors.append(json.loads(request.body).get("cursor"))

    hook.session.hooks["response"].append(record)
    return cursors


def test_all_videos_newest_first_in_ceil_n_over_20_calls(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    emu.reset_requests()
    videos = list(hook.iter_videos())
    expected = emu.target_users[0].videos
    assert [v["id"] for v in videos] == [v["id"] for v in expected]
    assert emu.count(VIDEO_LIST_PATH) == math.ceil(len(expected) / 20)
    assert emu.count(USER_INFO_PATH) == 0


def test_rows_are_yielded_as_pages_arrive(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    iterator = make_hook(link()).iter_videos()
    emu.reset_requests()
    first = next(iterator)
    assert first["id"] == emu.target_users[0].videos[0]["id"]
    assert emu.count(VIDEO_LIST_PATH) == 1  # one page fetched, not the whole list
    assert sum(1 for _ in iterator) == 44


def test_user_without_videos_yields_nothing(
    tiktok_emulator_factory: Callable[..., TikTokEmulator],
    monkeypatch: pytest.MonkeyPatch,
    app_json: Callable[..., str],
) -> None:
    from airflow_provider_tiktok.hooks.tiktok import TikTokHook

    emu = tiktok_emulator_factory(users=1, videos=0, non_target_users=0)
    monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_EMPTY", app_json(emu))
    tokens = emu.issue_tokens(emu.users[0].open_id)
    with TikTokHook("tiktok_empty") as hook:
        assert list(hook.iter_videos(access_token=tokens["access_token"])) == []
    assert emu.count(VIDEO_LIST_PATH) == 1


def test_empty_pages_with_has_more_are_followed_from_the_same_cursor(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    cursors = sent_cursors(hook)
    emu.inject_fault("empty_page", path=VIDEO_LIST_PATH, nth=2, times=2)  # page 2 comes back empty twice
    videos = list(hook.iter_videos())
    assert [v["id"] for v in videos] == [v["id"] for v in emu.target_users[0].videos]
    assert cursors[0] is None
    assert cursors[1] == cursors[2] == cursors[3]  # the empty pages repeated the cursor; we asked again
    assert len(cursors) == 3 + 2


def test_cursor_that_never_advances_stops_with_a_clear_error(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    emu.inject_fault("empty_page", path=VIDEO_LIST_PATH, nth=2, every=1)  # page 2 on: empty forever
    seen: list[dict[str, object]] = []
    with pytest.raises(TikTokApiError, match="did not advance for 4 pages") as err:
        seen.extend(hook.iter_videos(max_stalled_pages=4))
    assert err.value.code == "cursor_not_advancing"
    assert "@" in str(err.value)
    assert len(seen) == 20  # page 1 was delivered before the stall
    assert emu.count(VIDEO_LIST_PATH) == 1 + 4


def test_first_page_empty_with_fresh_cursor_still_gets_everything(
    emu: TikTokEmulator, link: Callable[..., str], make_hook: Callable[..., TikTokHook]
) -> None:
    hook = make_hook(link())
    emu.inject_fault("empty_page", path=VIDEO_LIST_PATH, nth=1)
    assert len(list(hook.iter_videos())) == 45
