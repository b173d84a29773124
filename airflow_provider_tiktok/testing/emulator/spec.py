"""Facts about TikTok's API that the emulator enforces (paths, scopes, fields, error statuses)."""

from __future__ import annotations

AUTHORIZE_PATH = "/v2/auth/authorize/"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a URL path, not a password
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
VIDEO_LIST_PATH = "/v2/video/list/"
VIDEO_QUERY_PATH = "/v2/video/query/"

#: Endpoints with their own rate-limit window (TIKTOK_API.md section 4).
DISPLAY_PATHS = (USER_INFO_PATH, VIDEO_LIST_PATH, VIDEO_QUERY_PATH)
OAUTH_PATHS = (TOKEN_PATH, REVOKE_PATH)
API_PATHS = OAUTH_PATHS + DISPLAY_PATHS

USER_FIELDS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "user.info.basic": (
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
    ),
    "user.info.profile": ("bio_description", "profile_deep_link", "is_verified", "username"),
    "user.info.stats": ("follower_count", "following_count", "likes_count", "video_count"),
}
#: Which scope covers each user.info field.
USER_FIELD_SCOPE: dict[str, str] = {
    field: scope for scope, fields in USER_FIELDS_BY_SCOPE.items() for field in fields
}

VIDEO_SCOPE = "video.list"
VIDEO_FIELDS = frozenset(
    {
        "id",
        "create_time",
        "cover_image_url",
        "share_url",
        "video_description",
        "duration",
        "height",
        "width",
        "title",
        "embed_html",
        "embed_link",
        "like_count",
        "comment_count",
        "share_count",
        "view_count",
        "is_aigc",
    }
)

KNOWN_SCOPES = frozenset({*USER_FIELDS_BY_SCOPE, VIDEO_SCOPE, "video.upload", "video.publish"})

MAX_COUNT_DEFAULT = 10
MAX_COUNT_LIMIT = 20
QUERY_IDS_LIMIT = 20

#: Display API error codes and their HTTP statuses (TIKTOK_API.md section 3).
ERROR_STATUS: dict[str, int] = {
    "ok": 200,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "scope_permission_missed": 400,
    "invalid_params": 400,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}

FAULT_KINDS = frozenset(
    {
        "429",
        "500",
        "503",
        "timeout",
        "reset",
        "malformed_json",
        "error_in_200",
        "empty_page",
        "lost_response",
        "slow_response",
    }
)
