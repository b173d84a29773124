#!/usr/bin/env bash
# One-shot of the demo profile (service tiktok-demo-setup): (re)create the TikTok app connection
# tiktok_default so it points at the emulator instead of TikTok. The values come from compose:
#   TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET   the emulator's app credentials
#   TIKTOK_REDIRECT_URI                        the HTTPS callback registered in the emulator
#   TIKTOK_API_BASE_URL                        token + Display API, reached from inside the network
#   TIKTOK_AUTH_BASE_URL                       authorize page, reached by the user's browser
#   TIKTOK_SCOPES                              scopes the accounts page asks for (comma separated)
#   TIKTOK_APP_CONN_ID                         connection id (default tiktok_default)
set -euo pipefail

# The image's entrypoint (waits for the database); overridable to run this script outside the image.
entrypoint="${AIRFLOW_ENTRYPOINT:-/entrypoint}"
conn_id="${TIKTOK_APP_CONN_ID:-tiktok_default}"

: "${TIKTOK_CLIENT_KEY:?}" "${TIKTOK_CLIENT_SECRET:?}" "${TIKTOK_REDIRECT_URI:?}"
: "${TIKTOK_API_BASE_URL:?}" "${TIKTOK_AUTH_BASE_URL:?}" "${TIKTOK_SCOPES:?}"

extra=$(printf '{"redirect_uri": "%s", "api_base_url": "%s", "auth_base_url": "%s", "scopes": "%s"}' \
    "${TIKTOK_REDIRECT_URI}" "${TIKTOK_API_BASE_URL}" "${TIKTOK_AUTH_BASE_URL}" "${TIKTOK_SCOPES}")

# Delete + add keeps the script idempotent; account connections only refer to the id, so they survive.
"${entrypoint}" airflow connections delete "${conn_id}" >/dev/null 2>&1 || true
# Values as --flag=value: a secret starting with "-" would otherwise be read as a flag by argparse.
"${entrypoint}" airflow connections add "${conn_id}" \
    --conn-type=tiktok \
    --conn-login="${TIKTOK_CLIENT_KEY}" \
    --conn-password="${TIKTOK_CLIENT_SECRET}" \
    --conn-extra="${extra}"
echo "${conn_id} -> ${TIKTOK_API_BASE_URL} (authorize page ${TIKTOK_AUTH_BASE_URL})"
