#!/usr/bin/env bash
# Write .env from .env.example, filling every empty value (the secrets) with a fresh random one.
#   deploy/gen-env.sh [--force] [TARGET]     TARGET defaults to .env next to docker-compose.yaml
# AIRFLOW_FERNET_KEY gets a Fernet key (url-safe base64 of 32 random bytes); the others 64 hex digits,
# which are safe inside the URLs and JSON that docker-compose.yaml builds from them.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
force=false
if [[ "${1:-}" == "--force" ]]; then
    force=true
    shift
fi
target="${1:-${root}/.env}"

if [[ -e "${target}" && "${force}" != true ]]; then
    echo "${target} exists; not overwriting it (pass --force to replace it and every secret in it)" >&2
    exit 1
fi

fernet_key() { openssl rand -base64 32 | tr '+/' '-_'; }
hex_secret() { openssl rand -hex 32; }

umask 077
tmp="$(mktemp "${target}.XXXXXX")"
while IFS= read -r line || [[ -n "${line}" ]]; do
    if [[ "${line}" =~ ^([A-Z0-9_]+)=$ ]]; then
        name="${BASH_REMATCH[1]}"
        if [[ "${name}" == *FERNET_KEY ]]; then
            line="${name}=$(fernet_key)"
        else
            line="${name}=$(hex_secret)"
        fi
    fi
    printf '%s\n' "${line}"
done <"${root}/.env.example" >"${tmp}"
mv "${tmp}" "${target}"
echo "wrote ${target} (keep it secret; back up AIRFLOW_FERNET_KEY)"
