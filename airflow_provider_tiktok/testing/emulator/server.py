"""The HTTP/1.1 keep-alive server and ``TikTokEmulator``, its context-managed, threaded runner."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_tiktok.testing.emulator import app
from airflow_provider_tiktok.testing.emulator.config import EmulatorConfig
from airflow_provider_tiktok.testing.emulator.messages import Request
from airflow_provider_tiktok.testing.emulator.state import EmulatorState
from airflow_provider_tiktok.testing.emulator.tokens import CodeGrant

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from airflow_provider_tiktok.testing.emulator.clock import Clock
    from airflow_provider_tiktok.testing.emulator.data import EmulatedUser
    from airflow_provider_tiktok.testing.emulator.faults import Fault
    from airflow_provider_tiktok.testing.emulator.messages import Response
    from airflow_provider_tiktok.testing.emulator.records import RecordedRequest

_MAX_BODY = 1 << 20
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into ``Request``/``Response`` values; one write per response (no Nagle stalls)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are dropped after this many seconds
    server: _EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (it would dominate the cost of a request)."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send_raw(413, b"", "text/plain", (), close=True)
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        request = Request(
            self.command,
            url.path,
            query,
            body,
            self.headers.get("Content-Type", ""),
            self.headers.get("Authorization", ""),
        )
        response = app.handle(self.server.state, request)
        if response.action:
            self._drop(reset=response.action == "reset")
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        close = (self.headers.get("Connection", "").lower() == "close") or self.request_version == "HTTP/1.0"
        self._send_raw(response.status, response.body, response.content_type, response.headers, close=close)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Iterable[tuple[str, str]],
        *,
        close: bool,
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, '')}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Server: tiktok-emulator",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)

    def _drop(self, *, reset: bool) -> None:
        """Close without answering; ``reset`` sends a TCP RST instead of a FIN."""
        self.close_connection = True
        if reset:  # the socket is closed once the handler finishes: with linger 0 that sends the RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        # The handler's files stay open (the server flushes and closes them after this returns).
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server that knows its open connections, so stopping drops keep-alive clients too."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: EmulatorState) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Remember (``add``) or forget an accepted connection."""
        with self._open_lock:
            if add:
                self._open.add(conn)
            else:
                self._open.discard(conn)

    def open_count(self) -> int:
        """How many accepted connections are still being served."""
        with self._open_lock:
            return len(self._open)

    def drop_all(self) -> None:
        """Shut every open connection down."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class TikTokEmulator:
    """A TikTok Login Kit + Display API emulator served on one loopback origin from a thread.

    Use as a context manager (``with TikTokEmulator(cfg) as emu:``) or call ``start``/``stop``.
    """

    def __init__(self, config: EmulatorConfig | None = None, **knobs: Any) -> None:
        """``config``: start-up knobs (default ``EmulatorConfig()``); ``knobs`` override single fields."""
        base = config or EmulatorConfig()
        self._state = EmulatorState(base.replace(**knobs) if knobs else base)
        self._server: _EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def open_connections(self) -> int:
        """Connections the server is still serving (0 once every client has gone and its handler ended)."""
        return self._server.open_count() if self._server is not None else 0

    def start(self) -> TikTokEmulator:
        """Bind the socket and serve in a daemon thread; returns self."""
        cfg = self._state.config
        self._server = _EmulatorHTTPServer((cfg.host, cfg.port), self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="tiktok-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hanging requests and drop open connections."""
        if self._server is None:
            return
        self._state.stopping.set()
        self._server.shutdown()
        self._server.drop_all()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop`` is called from another thread (the CLI)."""
        if self._server is None:
            cfg = self._state.config
            self._server = _EmulatorHTTPServer((cfg.host, cfg.port), self._state)
        self._server.serve_forever()

    def __enter__(self) -> TikTokEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where and who ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port`` of the authorize page and the API."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def config(self) -> EmulatorConfig:
        """The current knobs."""
        return self._state.config

    @property
    def client_key(self) -> str:
        """The app's client key."""
        return self._state.config.client_key

    @property
    def client_secret(self) -> str:
        """The app's client secret."""
        return self._state.config.client_secret

    @property
    def redirect_uri(self) -> str:
        """The first registered redirect URI."""
        return self._state.config.redirect_uris[0]

    @property
    def users(self) -> list[EmulatedUser]:
        """All users: sandbox target users first, then non-target users."""
        return self._state.users

    @property
    def target_users(self) -> list[EmulatedUser]:
        """The users who may consent (sandbox target users)."""
        return [user for user in self._state.users if user.is_target_user]

    def user(self, open_id: str) -> EmulatedUser:
        """The user with ``open_id`` (KeyError if unknown)."""
        return self._state.users_by_id[open_id]

    @property
    def clock(self) -> Clock:
        """The emulator clock (token and code expiry)."""
        return self._state.clock

    # -- knobs and faults ------------------------------------------------------------------
    def configure(self, **knobs: Any) -> EmulatorConfig:
        """Change run-time knobs (any ``EmulatorConfig`` field but the start-only ones)."""
        return self._state.configure(**knobs)

    def inject_fault(
        self,
        kind: str,
        *,
        path: str | None = None,
        nth: int | None = None,
        every: int | None = None,
        fraction: float | None = None,
        times: int | None = None,
    ) -> Fault:
        """Make matching requests fail with ``kind`` (see ``faults.Fault`` for the selectors)."""
        return self._state.faults.add(kind, path=path, nth=nth, every=every, fraction=fraction, times=times)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._state.faults.clear()

    # -- records ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (admin calls are not recorded)."""
        return self._state.log.all()

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests hit ``path`` with ``method`` (None = any) since the last reset."""
        return self._state.log.count(path, method)

    def reset_requests(self) -> None:
        """Forget recorded requests."""
        self._state.log.reset()

    def busiest_window(self, path: str) -> int:
        """The most requests to ``path`` the app-wide rate limit admitted in one window since the last
        :meth:`reset_rate_limits`."""
        return self._state.limiter.busiest((path,))

    def reset_rate_limits(self) -> None:
        """Empty every rate-limit window."""
        self._state.limiter.reset()

    # -- test shortcuts --------------------------------------------------------------------
    def revoke_all(self, open_id: str) -> int:
        """Invalidate every token of ``open_id`` (the user removed the app); returns how many."""
        return self._state.tokens.revoke_user(open_id)

    def authorize_code(
        self,
        open_id: str,
        *,
        redirect_uri: str,
        scopes: str | Iterable[str],
        code_challenge: str | None = None,
        method: str = "S256",
    ) -> str:
        """A code as if ``open_id`` consented on the page; without a challenge no verifier is checked."""
        if redirect_uri not in self._state.config.redirect_uris:
            raise ValueError(f"redirect_uri {redirect_uri!r} is not registered")
        if method != "S256":
            raise ValueError("only code_challenge_method S256 is supported")
        self.user(open_id)
        grant = CodeGrant(open_id, _scopes(scopes), redirect_uri, code_challenge, self._code_expiry())
        return self._state.tokens.issue_code(grant)

    def issue_tokens(
        self, open_id: str, *, scopes: str | Iterable[str] = "user.info.basic,video.list"
    ) -> dict[str, Any]:
        """A token response for ``open_id`` without any HTTP (test shortcut)."""
        self.user(open_id)
        state = self._state
        return state.tokens.issue_direct(open_id, _scopes(scopes), state.config, state.clock.now())

    def _code_expiry(self) -> float:
        return self._state.clock.now() + self._state.config.code_ttl


def _scopes(scopes: str | Iterable[str]) -> tuple[str, ...]:
    parts = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    return tuple(part.strip() for part in parts if part.strip())
