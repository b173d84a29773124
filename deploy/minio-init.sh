#!/bin/sh
# One-shot (service minio-init): create the report bucket in MinIO if it does not exist yet.
# Runs in the minio image, whose `mc` client is configured here from the root credentials.
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${S3_BUCKET:?}"

mc alias set local http://minio:9000 "${MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD}" >/dev/null
mc mb --ignore-existing "local/${S3_BUCKET}"
echo "bucket s3://${S3_BUCKET} is ready"
