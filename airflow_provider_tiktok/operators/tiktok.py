"""Transfer one TikTok account's video statistics for one report date to S3 as CSV."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from tempfile import NamedTemporaryFile
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

from airflow_provider_tiktok.airflow_compat import AirflowFailException
from airflow_provider_tiktok.connections import report_status_variable_key
from airflow_provider_tiktok.errors import (
    TikTokAuthError,
    TikTokConfigError,
    config_message,
    fix_first,
)
from airflow_provider_tiktok.lineage import operator_lineage, s3_object, tiktok_videos
from airflow_provider_tiktok.models import REPORT_MIN_VALIDITY, utcnow
from airflow_provider_tiktok.report_scratch import attempt_scratch
from airflow_provider_tiktok.reports import (
    VIDEO_FIELDS,
    InvalidVideoError,
    ReportAccount,
    iso_utc,
    report_cutoff,
    write_account_report,
    write_video_report,
)
from airflow_provider_tiktok.s3_errors import upload_failed
from airflow_provider_tiktok.s3_keys import DEFAULT_ACCOUNT_KEY_TEMPLATE, DEFAULT_KEY_TEMPLATE, fill_key
from airflow_provider_tiktok.tokens import TokenStore
from airflow_provider_tiktok.xcom import ERROR_XCOM_KEY, SUMMARY_XCOM_KEY

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import IO

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context

    from airflow_provider_tiktok.hooks.tiktok import TikTokHook
    from airflow_provider_tiktok.models import AccountInfo, TokenSet
    from airflow_provider_tiktok.reports import FormulaEscaping
    from airflow_provider_tiktok.xcom import ReportError, ReportSummary

#: Context variable holding the account label, for ``map_index_template``.
ACCOUNT_LABEL_CONTEXT_KEY = "tiktok_account"
MAP_INDEX_TEMPLATE = "{{ tiktok_account | default(task.account_conn_id) }}"

_BASIC_FIELDS = ("open_id", "display_name")
_PROFILE_FIELDS = ("username",)
_STATS_FIELDS = ("follower_count", "following_count", "likes_count", "video_count")
_PROGRESS_EVERY = 10_000
#: Fields of the summary that the status Variable keeps (the accounts page shows them).
_STATUS_FIELDS = ("report_date", "rows", "keys", "written_at")


class TikTokToS3Operator(BaseOperator):
    """Write one linked account's videos and account counters for one report date to S3 as CSV.

    Videos are streamed from the Display API into temporary files (constant memory) and uploaded
    with ``replace=True`` only once every file is complete, so a failure never leaves a partial
    object and re-running a date replaces the same keys. The task starts with an access token that
    lives at least ``min_token_validity`` (refreshing it first if needed, however late the task starts)
    and renews it if TikTok rejects it mid-pagination, resuming from the same cursor. Only a dead
    refresh token (or missing consent) fails the task without retries, saying how to relink; every
    other failure is retried. The Variable ``tiktok_report__<account_conn_id>`` records each run's
    outcome and the newest date written (shown on the accounts page).

    :param account_conn_id: the account connection (``tiktok_account_<slug>``). (templated)
    :param bucket: S3 bucket to write to. (templated)
    :param key: key of ``video_stats.csv``; ``{report_date}``, ``{open_id}`` and ``{account}`` (the
        connection id) are filled in. (templated: Jinja set here in a DAG file is rendered by Airflow;
        a value from XCom or params is never rendered)
    :param account_key: key of ``account_stats.csv`` (same placeholders); empty or None writes no
        account file. (templated)
    :param report_date: the day the report stands for, ``YYYY-MM-DD``; defaults to ``{{ ds }}``. (templated)
    :param report_timezone: IANA timezone of the report date: videos created at or after the
        following midnight there are left out. (templated)
    :param aws_conn_id: the Airflow ``aws`` connection used for S3. (templated)
    :param encrypt: ask S3 for server-side encryption (SSE-S3, AES256).
    :param acl_policy: canned ACL of the uploaded objects (e.g. ``bucket-owner-full-control``).
    :param s3_extra_args: extra ``ExtraArgs`` for the upload (e.g. ``{"ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "..."}``).
    :param formula_escaping: ``"prefix"`` (default: text cells starting with ``= + - @``, tab, CR or
        ``'`` get a leading ``'``) or ``"none"`` (raw text). (templated)
    :param min_token_validity: refresh the access token at start when it expires sooner than this.
    :param rate_share: how many report tasks share the TikTok app's request budget at once: sets how
        often a request refused with a 429 probes again (the daily DAG passes min(accounts,
        ``PARALLEL_REPORTS``)).
    :param hook_kwargs: extra keyword arguments of the :class:`TikTokHook` (timeouts, retries ...).
    :param token_store: where tokens are read and rotated sets saved (tests may pass one); the default
        reads the account connection and the rotation Variable.
    """

    template_fields: Sequence[str] = (
        "account_conn_id",
        "bucket",
        "key",
        "account_key",
        "report_date",
        "report_timezone",
        "aws_conn_id",
        "formula_escaping",
    )
    ui_color = "#25f4ee"

    def __init__(
        self,
        *,
        account_conn_id: str,
        bucket: str,
        key: str = DEFAULT_KEY_TEMPLATE,
        account_key: str | None = DEFAULT_ACCOUNT_KEY_TEMPLATE,
        report_date: str = "{{ ds }}",
        report_timezone: str = "UTC",
        aws_conn_id: str | None = "aws_default",
        encrypt: bool = False,
        acl_policy: str | None = None,
        s3_extra_args: dict[str, Any] | None = None,
        formula_escaping: str = "prefix",
        min_token_validity: timedelta = REPORT_MIN_VALIDITY,
        rate_share: int = 1,
        hook_kwargs: dict[str, Any] | None = None,
        token_store: TokenStore | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.account_conn_id = account_conn_id
        self.bucket = bucket
        self.key = key
        self.account_key = account_key
        self.report_date = report_date
        self.report_timezone = report_timezone
        self.aws_conn_id = aws_conn_id
        self.encrypt = encrypt
        self.acl_policy = acl_policy
        self.s3_extra_args = s3_extra_args
        self.formula_escaping = formula_escaping
        self.min_token_validity = min_token_validity
        self.rate_share = rate_share
        self.hook_kwargs = hook_kwargs or {}
        self._token_store = token_store

    @cached_property
    def token_store(self) -> TokenStore:
        """Read-only access to the account's effective token set."""
        return self._token_store or TokenStore()

    @cached_property
    def tiktok_hook(self) -> TikTokHook:
        """The TikTok hook for the account connection."""
        # Imported here: the DAG file imports this module at parse time, the HTTP stack is not needed then.
        from airflow_provider_tiktok.hooks.tiktok import TikTokHook

        options = {"rate_share": self.rate_share, **self.hook_kwargs}
        return TikTokHook(self.account_conn_id, token_store=self.token_store, **options)

    @cached_property
    def s3_hook(self) -> S3Hook:
        """The S3 hook for ``aws_conn_id``."""
        # Imported here: boto3 is slow to import and the DAG file imports this module at parse time.
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id, extra_args=self.s3_extra_args)

    def execute(self, context: Context) -> list[str]:
        """Fetch, write and upload the report; return the ``s3://`` URIs written."""
        try:
            return self._run(context)
        except TikTokAuthError as exc:
            message = self._auth_message(exc)
            self._fail(context, message, needs_relink=True)
            raise AirflowFailException(message) from None
        except TikTokConfigError as exc:
            message = config_message(exc, self.dag_id)
            self._fail(context, message, needs_relink=False)
            raise AirflowFailException(message) from None
        except Exception as exc:
            self._fail(context, f"{type(exc).__name__}: {exc}", needs_relink=False)
            raise
        finally:
            if "tiktok_hook" in self.__dict__:
                self.tiktok_hook.close()

    def _run(self, context: Context) -> list[str]:
        report_date = date.fromisoformat(str(self.report_date))
        info = self.tiktok_hook.account
        self._label = info.label
        cast("dict[str, Any]", context)[ACCOUNT_LABEL_CONTEXT_KEY] = info.label
        tokens = self.tiktok_hook.valid_tokens(self.min_token_validity)
        self.log.info("Reporting %s (%s) for %s", info.label, self.account_conn_id, report_date)
        keys = self._keys(report_date, info.open_id)
        user = self.tiktok_hook.get_user_info(fields=_user_fields(tokens))
        account = ReportAccount(
            report_date=report_date,
            fetched_at=datetime.now(timezone.utc),
            open_id=info.open_id,
            username=user.get("username") or info.username,
            display_name=user.get("display_name") or info.display_name or None,
        )
        s3_ready = threading.Thread(target=self._warm_up_s3, name="s3-warm-up", daemon=True)
        s3_ready.start()
        with (
            attempt_scratch(context["ti"], self.task_id) as scratch,
            _temp_csv(scratch) as videos_file,
            _temp_csv(scratch) as account_file,
        ):
            rows, skipped = self._write_videos(videos_file, account)
            write_account_report(account_file, user, account, formula_escaping=self._escaping)
            account_file.flush()
            files = [(videos_file.name, keys[0])]
            if len(keys) > 1:
                files.append((account_file.name, keys[1]))
            s3_ready.join()
            self._upload_all(files)
        self._record(context, info, report_date, (rows, skipped), [key for _, key in files])
        self._lineage = (
            [tiktok_videos(self.tiktok_hook.app.api_base_url, info.open_id)],
            [k for _, k in files],
        )
        return [f"s3://{self.bucket}/{key}" for _, key in files]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the account's videos in, the S3 objects written out (:mod:`..lineage`)."""
        inputs, keys = getattr(self, "_lineage", ([], []))
        return operator_lineage(inputs, [s3_object(self.bucket, key) for key in keys])

    @property
    def _escaping(self) -> FormulaEscaping:
        return cast("FormulaEscaping", self.formula_escaping)

    def _keys(self, report_date: date, open_id: str) -> list[str]:
        """Fill the placeholders of the video key and, when enabled, the account key.

        Never renders Jinja: Airflow rendered the template fields set in a DAG file before ``execute``;
        values that arrived through XCom (the DAG's settings, which may come from run params) are data,
        and :func:`fill_key` refuses a template that still holds Jinja.
        """
        templates = [self.key] + ([self.account_key] if self.account_key else [])
        keys = [
            fill_key(template, report_date=report_date, open_id=open_id, account=self.account_conn_id)
            for template in templates
        ]
        if len(set(keys)) != len(keys):
            raise TikTokConfigError(
                f"The video and account S3 keys are the same ({keys[0]!r}); make them differ."
            )
        return keys

    def _write_videos(self, fileobj: IO[str], account: ReportAccount) -> tuple[int, int]:
        """Stream every video into ``fileobj``; return the numbers of rows written and skipped."""
        cutoff = report_cutoff(account.report_date, self.report_timezone)
        videos = self.tiktok_hook.iter_videos(fields=list(VIDEO_FIELDS))
        skipped: list[InvalidVideoError] = []
        rows = write_video_report(
            fileobj,
            videos,
            account,
            created_before=cutoff,
            formula_escaping=self._escaping,
            on_row=self._log_progress,
            on_skip=skipped.append,
        )
        fileobj.flush()
        self.log.info("Wrote %d video rows (videos created before %s)", rows, iso_utc(cutoff))
        if skipped:
            self.log.warning(
                "Skipped %d video(s) of %s that TikTok sent with invalid data (see the warnings above); "
                "they are counted as skipped_rows in the manifest.",
                len(skipped),
                getattr(self, "_label", None) or self.account_conn_id,
            )
        return rows, len(skipped)

    def _log_progress(self, rows: int) -> None:
        if rows % _PROGRESS_EVERY == 0:
            self.log.info("%d video rows written so far", rows)

    def _warm_up_s3(self) -> None:
        """Build the S3 client while the pages are fetched: importing and setting up boto3 takes seconds
        of CPU, which the fetch (waiting on TikTok) leaves idle. The main thread touches the hook only
        after joining this thread."""
        try:
            self.s3_hook.get_conn()
        except Exception:  # the upload meets the same problem and reports it with the bucket and key
            self.log.debug("Could not set up the S3 client ahead of the upload", exc_info=True)

    def _upload_all(self, files: list[tuple[str, str]]) -> None:
        """Upload complete files; if a later upload fails, delete objects this attempt created new."""
        created: list[str] = []
        try:
            for index, (filename, key) in enumerate(files):
                # Whether a key existed matters only when a later upload can fail: the last needs no check.
                if not self._upload(filename, key, replacing_allowed=index < len(files) - 1):
                    created.append(key)
        except Exception:
            self._delete_quietly(created)
            raise

    def _upload(self, filename: str, key: str, *, replacing_allowed: bool) -> bool:
        """Upload one file; return whether the key existed before (checked only when asked)."""
        try:
            existed = replacing_allowed and self.s3_hook.check_for_key(key, self.bucket)
            self.s3_hook.load_file(
                filename,
                key,
                bucket_name=self.bucket,
                replace=True,
                encrypt=self.encrypt,
                acl_policy=self.acl_policy,
            )
        except Exception as exc:
            label = getattr(self, "_label", None) or self.account_conn_id
            raise upload_failed(
                exc, bucket=self.bucket, key=key, aws_conn_id=self.aws_conn_id, account=label
            ) from exc
        self.log.info("Uploaded s3://%s/%s", self.bucket, key)
        return bool(existed)

    def _delete_quietly(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self.s3_hook.delete_objects(self.bucket, keys)
            self.log.warning("Removed %s uploaded before the failure, so no partial report remains", keys)
        except Exception:
            self.log.exception("Could not remove %s after a failed upload", keys)

    def _record(
        self, context: Context, info: AccountInfo, report_date: date, counts: tuple[int, int], keys: list[str]
    ) -> None:
        """Push the summary XCom and record the status Variable for the accounts page (best effort).

        :param counts: video rows written and video rows skipped (invalid data from TikTok).
        """
        summary: ReportSummary = {
            "account_conn_id": self.account_conn_id,
            "account": info.label,
            "open_id": info.open_id,
            "report_date": report_date.isoformat(),
            "rows": counts[0],
            "skipped_rows": counts[1],
            "bucket": self.bucket,
            "keys": keys,
            "written_at": iso_utc(datetime.now(timezone.utc)),
        }
        context["ti"].xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
        status: dict[str, Any] = {k: v for k, v in summary.items() if k in _STATUS_FIELDS}
        status["bucket"] = self.bucket
        self._record_status(status, report_date=report_date.isoformat(), error=None, needs_relink=False)

    def _record_status(
        self, written: dict[str, Any] | None, *, report_date: str, error: str | None, needs_relink: bool
    ) -> None:
        """Update Variable ``tiktok_report__<conn_id>`` for the accounts page (best effort).

        It keeps what the last successful run wrote, the newest report date ever written (a backfill of
        older dates never hides newer ones) and the outcome of the last run.
        """
        variable = report_status_variable_key(self.account_conn_id)
        try:
            status = self._stored_status(variable)
            if written is not None:
                newest = max(written["report_date"], str(status.get("newest_report_date") or ""))
                status = {**status, **written, "newest_report_date": newest}
            at = iso_utc(utcnow())
            status["last_run"] = {
                "report_date": report_date,
                "at": at,
                "ok": error is None,
                "error": error,
                "needs_relink": needs_relink,
            }
            self.token_store.backend.set_variable(variable, json.dumps(status))
        except Exception:
            # The data has landed (or the real error is being raised); a status line must not change that.
            self.log.exception("Could not record the report status in Variable %s", variable)

    def _stored_status(self, variable: str) -> dict[str, Any]:
        raw = self.token_store.backend.get_variable(variable)
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            value = {}
        if not isinstance(value, dict):
            return {}
        value.setdefault("newest_report_date", value.get("report_date"))
        return value

    def _fail(self, context: Context, message: str, *, needs_relink: bool) -> None:
        """Push the error XCom and record the failed run for the accounts page."""
        self._push_error(context, message)
        self._record_status(None, report_date=str(self.report_date), error=message, needs_relink=needs_relink)

    def _auth_message(self, exc: TikTokAuthError) -> str:
        label = getattr(self, "_label", None) or self.account_conn_id
        return fix_first(str(exc), account=label, connection=self.account_conn_id, relink=True)

    def _push_error(self, context: Context, message: str) -> None:
        try:
            value: ReportError = {"account_conn_id": self.account_conn_id, "error": message}
            context["ti"].xcom_push(key=ERROR_XCOM_KEY, value=value)
        except Exception:
            self.log.exception("Could not push the error summary to XCom")


def _user_fields(tokens: TokenSet) -> list[str]:
    """user/info fields the granted scopes allow (asking for more fails the whole call)."""
    fields = list(_BASIC_FIELDS)
    if "user.info.profile" in tokens.scope:
        fields += _PROFILE_FIELDS
    if "user.info.stats" in tokens.scope:
        fields += _STATS_FIELDS
    return fields


def _temp_csv(folder: Path) -> IO[str]:
    """A temporary CSV file in ``folder`` for the csv module (UTF-8, newline handling left to the writer)."""
    return NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv", prefix="tiktok-", dir=folder)
