"""Attack (leak): a token printed in clear by the API server's log.

``mask_tokens`` registered tokens only with the Task SDK's masker; the API server logs through Airflow's core
logging, which (in Airflow 3.3) masks only ``airflow.task`` and has masking switched off elsewhere, so a
malformed token inside a ``requests`` error was printed in clear. Tokens are now registered with both
maskers, and the plugin makes the API server's root log handlers mask them.

The log line here goes through the real handler Airflow's ``configure_logging`` installed in this process,
after Airflow's API app (with this plugin mounted) was created, as in an API server.
"""

from __future__ import annotations

import io
import logging
import secrets
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_provider_tiktok.tokens import mask_tokens

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI


@pytest.fixture
def api_server_log(airflow_api: FastAPI) -> Iterator[io.StringIO]:
    """What the API server's root log handlers write, read back from the real handlers."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Airflow's logging configured no root stream handler"
    buffer = io.StringIO()
    previous = [h.setStream(buffer) for h in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


def test_a_malformed_token_in_a_requests_error_is_masked_in_the_api_server_log(
    api_server_log: io.StringIO,
) -> None:
    token = f"act.{secrets.token_urlsafe(24)}"
    mask_tokens(token)
    log = logging.getLogger("airflow_provider_tiktok.linking")
    bad_header = {"Authorization": f"Bearer {token}\n"}
    with pytest.raises(requests.exceptions.InvalidHeader) as raised:
        requests.Request("GET", "https://127.0.0.1/", headers=bad_header).prepare()
    assert token in str(raised.value)  # the error really carries the token
    log.warning("Could not revoke the TikTok token of %s: %s", "tiktok_account_x", str(raised.value))
    try:
        raise RuntimeError(f"token call failed for Bearer {token}")
    except RuntimeError:
        log.exception("TikTok accounts page failed")
    text = api_server_log.getvalue()
    assert "Could not revoke the TikTok token of tiktok_account_x" in text
    assert "TikTok accounts page failed" in text
    assert token not in text
    assert text.count("***") >= 2
