"""Contract tests for the Display API (TIKTOK_API.md section 3), over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from emulator_flow import Flow

    from airflow_provider_tiktok.testing.emulator import TikTokEmulator

USER = "/v2/user/info/"
VIDEO = "/v2/video/list/"
QUERY = "/v2/video/query/"
BASIC = "open_id,union_id,avatar_url,avatar_url_100,avatar_large_url,display_name"
PROFILE = "bio_description,profile_deep_link,is_verified,username"
STATS = "follower_count,following_count,likes_count,video_count"


@pytest.fixture
def token(flow: Flow) -> str:
    """An access token with every scope for the first target user."""
    access: str = flow.tokens()["access_token"]
    return access


def _page_all(flow: Flow, token: str, max_count: int = 20) -> list[dict[str, Any]]:
    videos: list[dict[str, Any]] = []
    body: dict[str, Any] = {"max_count": max_count}
    for _ in range(100):
        data = flow.api(token, VIDEO, "id,create_time", body).json()["data"]
        videos += data["videos"]
        if not data["has_more"]:
            return videos
        body["cursor"] = data["cursor"]
    raise AssertionError("paging did not end")


def test_envelope_has_data_and_ok_error_with_log_id(flow: Flow, token: str) -> None:
    response = flow.api(token, USER, "open_id")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"data", "error"}
    assert body["error"]["code"] == "ok"
    assert body["error"]["message"] == ""
    assert body["error"]["log_id"]


def test_user_info_returns_exactly_the_asked_fields_of_each_scope(
    flow: Flow, emu: TikTokEmulator, token: str
) -> None:
    user = flow.api(token, USER, f"{BASIC},{PROFILE},{STATS}").json()["data"]["user"]
    expected = emu.target_users[0]
    assert user["open_id"] == expected.open_id
    assert user["username"] == expected.username
    assert user["video_count"] == 45 == expected.video_count
    assert set(user) == set(f"{BASIC},{PROFILE},{STATS}".split(","))
    assert set(flow.api(token, USER, "display_name").json()["data"]["user"]) == {"display_name"}


def test_a_field_outside_the_token_scopes_fails_the_whole_call(flow: Flow, emu: TikTokEmulator) -> None:
    code = flow.code(scope="user.info.basic,video.list")
    access = flow.exchange(code).json()["access_token"]
    response = flow.api(access, USER, "open_id,follower_count")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "scope_not_authorized"
    assert response.json()["data"] == {}
    assert flow.api(access, USER, "open_id,username").json()["error"]["code"] == "scope_not_authorized"


def test_video_list_without_video_list_scope_is_refused(flow: Flow) -> None:
    access = flow.exchange(flow.code(scope="user.info.basic")).json()["access_token"]
    assert flow.api(access, VIDEO, "id").status_code == 401


def test_scope_withdrawn_from_the_app_is_scope_permission_missed(
    flow: Flow, emu: TikTokEmulator, token: str
) -> None:
    emu.configure(app_scopes=("user.info.basic", "video.list"))
    response = flow.api(token, USER, "follower_count")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "scope_permission_missed")


@pytest.mark.parametrize("fields", ["", "open_id,not_a_field"])
def test_missing_or_unknown_fields_are_invalid_params(flow: Flow, token: str, fields: str) -> None:
    response = flow.api(token, USER, fields)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_params")


def test_missing_or_unknown_bearer_token_is_access_token_invalid(flow: Flow, emu: TikTokEmulator) -> None:
    no_header = flow.http.post(emu.base_url + VIDEO, params={"fields": "id"}, json={})
    unknown = flow.api("act.unknown", VIDEO, "id")
    for response in (no_header, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "access_token_invalid"


def test_video_list_pages_newest_first_through_every_video(
    flow: Flow, emu: TikTokEmulator, token: str
) -> None:
    videos = _page_all(flow, token)
    expected = emu.target_users[0].videos
    assert [v["id"] for v in videos] == [v["id"] for v in expected]
    times = [v["create_time"] for v in videos]
    assert times == sorted(times, reverse=True)


def test_video_list_default_page_is_ten_and_cursor_is_milliseconds(flow: Flow, token: str) -> None:
    data = flow.api(token, VIDEO, "id,create_time").json()["data"]
    assert len(data["videos"]) == 10
    assert data["has_more"] is True
    assert data["cursor"] == data["videos"][-1]["create_time"] * 1000


def test_cursor_returns_videos_created_before_it(flow: Flow, token: str) -> None:
    first = flow.api(token, VIDEO, "id,create_time", {"max_count": 5}).json()["data"]
    pivot = first["videos"][2]["create_time"] * 1000
    after = flow.api(token, VIDEO, "id,create_time", {"max_count": 3, "cursor": pivot}).json()["data"]
    assert [v["id"] for v in after["videos"]] == [v["id"] for v in first["videos"][3:5]] + [
        after["videos"][2]["id"]
    ]


def test_last_page_has_more_false(flow: Flow, token: str) -> None:
    assert len(_page_all(flow, token, max_count=9)) == 45  # 45 = 5 full pages, the last says has_more false


@pytest.mark.parametrize("body", [{"max_count": 21}, {"max_count": 0}, {"max_count": "5"}, {"cursor": -1}])
def test_bad_paging_parameters_are_invalid_params_400(flow: Flow, token: str, body: dict[str, Any]) -> None:
    response = flow.api(token, VIDEO, "id", body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_params")


def test_video_list_returns_only_asked_fields(flow: Flow, token: str) -> None:
    videos = flow.api(token, VIDEO, "id,view_count", {"max_count": 20}).json()["data"]["videos"]
    assert all(set(v) <= {"id", "view_count"} and "id" in v for v in videos)


def test_video_query_returns_own_videos_only(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    own = [v["id"] for v in emu.target_users[0].videos[:3]]
    foreign = emu.target_users[1].videos[0]["id"]
    body = {"filters": {"video_ids": [*own, foreign]}}
    data = flow.api(token, QUERY, "id,title", body).json()["data"]
    assert sorted(v["id"] for v in data["videos"]) == sorted(own)


def test_video_query_accepts_at_most_twenty_ids(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    ids = [v["id"] for v in emu.target_users[0].videos[:21]]
    ok = flow.api(token, QUERY, "id", {"filters": {"video_ids": ids[:20]}})
    assert len(ok.json()["data"]["videos"]) == 20
    too_many = flow.api(token, QUERY, "id", {"filters": {"video_ids": ids}})
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (400, "invalid_params")


def test_wrong_method_and_unknown_path(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    wrong_method = flow.http.get(emu.base_url + VIDEO, params={"fields": "id"})
    no_slash = flow.http.post(emu.base_url + "/v2/video/list", params={"fields": "id"}, json={})
    assert wrong_method.status_code == 405
    assert no_slash.status_code == 404


def test_body_that_is_not_json_is_invalid_params(flow: Flow, emu: TikTokEmulator, token: str) -> None:
    response = flow.http.post(
        emu.base_url + VIDEO,
        params={"fields": "id"},
        data=b"{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_params")
