"""How S3 failures are told: which object, what S3 said (no traceback, no credentials), what to do."""

from __future__ import annotations

from airflow_provider_tiktok.errors import TikTokError


class TikTokS3Error(TikTokError):
    """An upload to S3 failed; the message names the object. Retried like any transient failure."""


def s3_reason(exc: Exception) -> str:
    """botocore's error code and message, without a traceback."""
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    if error:
        return f"{error.get('Code')}: {error.get('Message') or ''}".strip().rstrip(":")
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, Exception) and hasattr(cause, "response"):  # boto3's S3UploadFailedError wraps it
        return s3_reason(cause)
    return f"{type(exc).__name__}: {exc}"


def upload_failed(
    exc: Exception, *, bucket: str, key: str, aws_conn_id: str | None, account: str
) -> TikTokS3Error:
    """The error of a failed upload of ``account``'s report to ``s3://bucket/key``.

    :param exc: what boto3 raised.
    :param aws_conn_id: the Airflow connection the upload used.
    """
    return TikTokS3Error(
        f"Uploading the report of account {account} to s3://{bucket}/{key} failed ({s3_reason(exc)}). "
        f"Check that bucket {bucket!r} exists and that connection {aws_conn_id!r} may write to it "
        "(s3:PutObject) and reach S3; the task's next try uploads again, nothing partial was left."
    )
