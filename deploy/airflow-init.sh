#!/usr/bin/env bash
# One-shot initialisation of the stack (service airflow-init, runs as root before every other Airflow
# service). The image's entrypoint does the real work when it sees _AIRFLOW_DB_MIGRATE=true (migrate the
# metadata database) and _AIRFLOW_WWW_USER_CREATE=true (create the admin user from
# _AIRFLOW_WWW_USER_USERNAME / _AIRFLOW_WWW_USER_PASSWORD); this script only prepares the logs volume
# the other containers write to as AIRFLOW_UID.
set -euo pipefail

airflow_uid="${AIRFLOW_UID:-50000}"

mkdir -p /opt/airflow/logs
chown -R "${airflow_uid}:0" /opt/airflow/logs

# Runs the entrypoint's migrate + create-user steps, then prints the version: a failed migration or a
# missing provider fails this service, and depends_on keeps the rest of the stack from starting.
/entrypoint airflow version
providers=$(/entrypoint airflow providers list --output plain)
if ! grep -q "airflow-provider-tiktok" <<<"${providers}"; then
    echo "airflow-provider-tiktok is not installed in the image: rebuild it (docker compose build)" >&2
    exit 1
fi
