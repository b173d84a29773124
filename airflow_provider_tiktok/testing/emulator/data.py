"""Deterministic sandbox users and videos with realistic counts and hostile text."""

from __future__ import annotations

import random
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok.testing.emulator.spec import USER_FIELDS_BY_SCOPE

_DAY = 86400
_MAX_HISTORY_DAYS = 3650
USER_INFO_FIELDS = tuple(name for names in USER_FIELDS_BY_SCOPE.values() for name in names)
_LONG_TITLE = ('A long title, with commas, "quotes" and more words to fill it up ' * 4)[:150]
#: Titles and descriptions a CSV writer, a spreadsheet or an HTML page can trip over. None = field missing.
HOSTILE_TEXTS: tuple[str | None, ...] = (
    "Morning routine, part 2",
    'She said "wow", then left',
    "Line one\nline two",
    "Windows line\r\nbreak",
    "Dance 💃🔥 challenge 👨‍👩‍👧",
    "مرحبا بالعالم — hello",
    "שלום עולם, part 3",
    '=HYPERLINK("http://evil.example","click")',
    "+1 trick you need",
    "-minus at the start",
    "@mention at the start",
    _LONG_TITLE,
    "<b>not bold</b> & friends",
    "",
    None,
)
_DISPLAY_NAMES = (
    "Ana Lucía 🌵",
    'Bo "The Chef" O\'Brien',
    "محمد العلي",
    "Zoë <i>&</i> Co",
    "Plain Name",
    "Kenji 健二",
)
_USERNAMES = ("ana.lucia", "bo_the_chef", "mohammed.ali", "zoe_and_co", "plain.name", "kenji_2")
#: Optional video fields that some videos lack (any field may be missing, TIKTOK_API.md section 3).
_DROPPABLE = ("embed_html", "cover_image_url", "is_aigc", "duration", "share_count", "view_count")


@dataclass
class EmulatedUser:
    """One TikTok user of the sandbox; ``videos`` are API video objects, newest first."""

    open_id: str
    union_id: str
    display_name: str
    username: str
    avatar_url: str
    avatar_url_100: str
    avatar_large_url: str
    bio_description: str
    profile_deep_link: str
    is_verified: bool
    follower_count: int
    following_count: int
    likes_count: int
    video_count: int
    is_target_user: bool
    videos: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _cursor_keys: list[int] = field(default_factory=list, repr=False)

    def user_info(self) -> dict[str, Any]:
        """Every user.info field of this user."""
        return {name: getattr(self, name) for name in USER_INFO_FIELDS}

    def page(self, cursor: int | None, max_count: int) -> tuple[list[dict[str, Any]], int, bool]:
        """Videos created strictly before ``cursor`` (ms; None = newest), the next cursor, has_more."""
        start = 0 if cursor is None else bisect_right(self._cursor_keys, -cursor)
        chunk = self.videos[start : start + max_count]
        has_more = start + len(chunk) < len(self.videos)
        next_cursor = chunk[-1]["create_time"] * 1000 if chunk else (cursor or 0)
        return chunk, next_cursor, has_more

    def index_videos(self) -> None:
        """Sort videos newest first and build the cursor index (create_time in ms, negated)."""
        self.videos.sort(key=lambda v: v["create_time"], reverse=True)
        self._cursor_keys = [-v["create_time"] * 1000 for v in self.videos]


def generate_users(
    *, users: int, videos: int, seed: int, non_target_users: int, now: float
) -> list[EmulatedUser]:
    """``users`` target users then ``non_target_users`` others, each with ``videos`` videos before ``now``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
    result = []
    for index in range(users + non_target_users):
        user = _make_user(rng, index, is_target=index < users, now=now)
        user.videos = _make_videos(rng, user, videos, now=now)
        user.index_videos()
        user.video_count = len(user.videos)
        user.likes_count = sum(v.get("like_count", 0) for v in user.videos) + rng.randint(0, 10_000)
        result.append(user)
    return result


def _make_user(rng: random.Random, index: int, *, is_target: bool, now: float) -> EmulatedUser:
    base = index % len(_USERNAMES)
    suffix = "" if index < len(_USERNAMES) else str(index)
    username = _USERNAMES[base] + suffix
    open_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    avatar = f"https://p16-sign.tiktokcdn.example/avatar/{open_id}.jpeg?x-expires={int(now) + 6 * 3600}"
    return EmulatedUser(
        open_id=open_id,
        union_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        display_name=_DISPLAY_NAMES[base] + suffix,
        username=username,
        avatar_url=avatar,
        avatar_url_100=avatar + "&size=100",
        avatar_large_url=avatar + "&size=1080",
        bio_description=f"Bio of {username}, with a comma\nand a newline",
        profile_deep_link=f"https://vm.tiktok.com/{username}/",
        is_verified=index == 0,
        follower_count=rng.choice((rng.randint(0, 5_000), rng.randint(10**6, 3 * 10**9))),
        following_count=rng.randint(0, 3_000),
        likes_count=0,
        video_count=0,
        is_target_user=is_target,
    )


def _create_times(rng: random.Random, count: int, now: float) -> list[int]:
    """Distinct create times: a few today, both edges of yesterday, the rest spread over past days."""
    midnight = int(now) // _DAY * _DAY
    times: set[int] = set()
    since_midnight = int(now) - midnight
    for offset in (0, since_midnight // 2):  # "today": a report for yesterday must leave these out
        if offset < since_midnight and len(times) < count:
            times.add(midnight + offset)
    for edge in (midnight - 1, midnight - _DAY):  # last and first second of yesterday
        if len(times) < count:
            times.add(edge)
    # About two videos a day, at most ten years back and never before 1970: create times stay positive
    # millisecond cursors however many videos a user has.
    span = _DAY * min(max(14, count // 2), _MAX_HISTORY_DAYS, midnight // _DAY - 2)
    remaining = count - len(times)
    if remaining > 0:
        offsets = rng.sample(range(_DAY + 1, span + _DAY), remaining)
        times.update(midnight - offset for offset in offsets)
    return sorted(times, reverse=True)


def _make_videos(rng: random.Random, user: EmulatedUser, count: int, *, now: float) -> list[dict[str, Any]]:
    videos = []
    for number, created in enumerate(_create_times(rng, count, now)):
        video_id = str(rng.randint(7 * 10**18, 7 * 10**18 + 10**18 - 1))
        video = _video(rng, user, video_id, created, number)
        videos.append(video)
    return videos


def _video(
    rng: random.Random, user: EmulatedUser, video_id: str, created: int, number: int
) -> dict[str, Any]:
    big = number % 7 == 3  # some view counts beyond int32
    video: dict[str, Any] = {
        "id": video_id,
        "create_time": created,
        "cover_image_url": f"https://p16-sign.tiktokcdn.example/cover/{video_id}.jpeg?x-expires={created}",
        "share_url": f"https://www.tiktok.com/@{user.username}/video/{video_id}",
        "duration": rng.randint(3, 600),
        "height": 1920,
        "width": 1080,
        "embed_link": f"https://www.tiktok.com/player/v1/{video_id}",
        "embed_html": f'<blockquote class="tiktok-embed" cite="https://www.tiktok.com/@{user.username}/'
        f'video/{video_id}" data-video-id="{video_id}"></blockquote>',
        "like_count": rng.randint(0, 2_000_000),
        "comment_count": rng.randint(0, 50_000),
        "share_count": rng.randint(0, 100_000),
        "view_count": rng.randint(2**31, 9 * 10**10) if big else rng.randint(0, 5_000_000),
        "is_aigc": rng.random() < 0.1,
    }
    _put_text(video, "title", HOSTILE_TEXTS[number % len(HOSTILE_TEXTS)])
    _put_text(video, "video_description", HOSTILE_TEXTS[(number * 5 + 3) % len(HOSTILE_TEXTS)])
    if number % 5 == 4:
        video.pop(_DROPPABLE[(number // 5) % len(_DROPPABLE)])
    return video


def _put_text(video: dict[str, Any], name: str, text: str | None) -> None:
    if text is not None:
        video[name] = text
