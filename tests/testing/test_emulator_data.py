"""The generated sandbox data: deterministic, realistic and hostile (TIKTOK_API.md sections 3 and 5)."""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_tiktok.testing.emulator import EmulatorConfig, TikTokEmulator
from airflow_provider_tiktok.testing.emulator.data import generate_users

DAY = 86400
NOW = 1_760_000_000.0 + 15 * 3600  # 15:00 UTC on some day


def _videos() -> list[dict[str, Any]]:
    users = generate_users(users=3, videos=60, seed=3, non_target_users=1, now=NOW)
    return [video for user in users for video in user.videos]


def test_same_seed_same_data_other_seed_other_data() -> None:
    one = generate_users(users=2, videos=10, seed=1, non_target_users=1, now=NOW)
    two = generate_users(users=2, videos=10, seed=1, non_target_users=1, now=NOW)
    other = generate_users(users=2, videos=10, seed=2, non_target_users=1, now=NOW)
    assert [u.open_id for u in one] == [u.open_id for u in two]
    assert [u.videos for u in one] == [u.videos for u in two]
    assert [u.open_id for u in one] != [u.open_id for u in other]


def test_target_users_first_then_non_target_users() -> None:
    users = generate_users(users=3, videos=1, seed=1, non_target_users=2, now=NOW)
    assert [u.is_target_user for u in users] == [True, True, True, False, False]
    assert len({u.username for u in users}) == 5


def test_titles_and_descriptions_are_hostile() -> None:
    texts = [v.get(name) for v in _videos() for name in ("title", "video_description")]
    present = [t for t in texts if isinstance(t, str)]
    for needle in (",", '"', "\n", "\r\n", "💃", "مرحبا", "שלום"):
        assert any(needle in t for t in present), needle
    for start in "=+-@":
        assert any(t.startswith(start) for t in present), start
    assert any(len(t) == 150 for t in present)
    assert None in texts  # a missing title or description
    assert "" in texts


def test_counts_are_realistic_and_view_count_exceeds_int32() -> None:
    videos = _videos()
    views = [v["view_count"] for v in videos if "view_count" in v]
    assert max(views) > 2**31
    assert all(isinstance(v, int) and v >= 0 for v in views)
    assert any("view_count" not in v for v in videos)
    assert any("embed_html" not in v for v in videos)


def test_create_times_cover_today_and_both_edges_of_yesterday() -> None:
    midnight = int(NOW) // DAY * DAY
    user = generate_users(users=1, videos=40, seed=5, non_target_users=0, now=NOW)[0]
    times = [v["create_time"] for v in user.videos]
    assert len(set(times)) == len(times)
    assert any(t >= midnight for t in times)  # "today": a report for yesterday must leave these out
    assert midnight - 1 in times
    assert midnight - DAY in times
    assert max(times) < NOW
    assert min(times) < midnight - 7 * DAY
    assert all(isinstance(v["id"], str) and len(v["id"]) == 19 for v in user.videos)


def test_emulator_data_follows_its_clock_start() -> None:
    start = time.time() - 30 * DAY
    with TikTokEmulator(EmulatorConfig(users=1, videos=5, start_time=start)) as emu:
        assert abs(emu.clock.now() - start) < 5
        assert max(v["create_time"] for v in emu.users[0].videos) < start + 5


def test_a_hundred_thousand_videos_keep_positive_distinct_times() -> None:
    (user,) = generate_users(users=1, videos=100_000, seed=5, non_target_users=0, now=NOW)
    times = [v["create_time"] for v in user.videos]
    assert len(set(times)) == 100_000
    assert min(times) > NOW - 3652 * DAY  # about ten years of history at most, never before 1970
    assert times == sorted(times, reverse=True)
