"""A test double for Phabricator's Conduit API: a real HTTP server on 127.0.0.1 that records every call.

It answers as Conduit does (`POST /api/<method>`, form field `params` holding JSON with the token
under `__conduit__`; the answer `{"result", "error_code", "error_info"}`), for the methods BMO's
PhabBugz calls, and keeps state for users, projects, custom policies and revisions
(:mod:`tests.doubles.conduit_state`), so a test can check both the calls and what they did.
Nothing here is Phabricator's code; it follows Conduit's documented shapes and the shapes BMO's
`extensions/PhabBugz/lib/*.pm` read.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

from tests.doubles.conduit_state import ConduitError, ConduitState


@dataclass(frozen=True)
class Call:
    """One call as the double got it.

    :param params: the parameters without `__conduit__` (the token is in `token`)
    :param error_code: what the double answered (None: a result; "HTTP <status>": a fault)
    """

    method: str
    params: dict[str, Any]
    token: str | None
    error_code: str | None = None


class ConduitServer:
    """Phabricator's Conduit on a free loopback port.

    :param token: the one API token it accepts (a bot's, who is `user.whoami`)
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.state = ConduitState()
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._down: int | None = None
        self._failures: dict[str, tuple[str, str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="conduit-double", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # -- what a test reads and scripts ---------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call so far (of one method, if given), in arrival order."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls()]

    def forget_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def go_down(self, status: int = 503) -> None:
        """Answer every call with this HTTP status and an HTML page, as a proxy before a dead one does."""
        self._down = status

    def come_back(self) -> None:
        self._down = None

    def fail(self, method: str, code: str, info: str) -> None:
        """Answer every call of `method` with this Conduit error (until :meth:`heal`)."""
        self._failures[method] = (code, info)

    def heal(self, method: str) -> None:
        self._failures.pop(method, None)

    # -- serving ------------------------------------------------------------------------------

    def _answer(self, method: str, form: dict[str, list[str]]) -> tuple[int, bytes]:
        try:
            params = json.loads(form.get("params", ["{}"])[0])
        except ValueError:
            params = {}
        conduit = params.pop("__conduit__", None) if isinstance(params, dict) else None
        token = conduit.get("token") if isinstance(conduit, dict) else None
        status, code, result, info = 200, None, None, None
        with self._lock:
            if self._down is not None:
                status, code = self._down, f"HTTP {self._down}"
            elif token != self.token:
                # Phabricator names the token it refuses: the client must keep it out of its logs.
                code, info = "ERR-INVALID-AUTH", f'API token "{token}" does not exist.'
            elif method in self._failures:
                code, info = self._failures[method]
            else:
                try:
                    result = self.state.call(method, params)
                except ConduitError as exc:
                    code, info = exc.code, exc.info
            self._calls.append(Call(method, params, token, code))
        if status != 200:
            return status, b"<html><body><h1>503 Service Unavailable</h1></body></html>"
        body = {"result": result, "error_code": code, "error_info": info}
        return 200, json.dumps(body).encode()


def _handler(server: ConduitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            method = self.path.removeprefix("/api/").strip("/")
            status, data = server._answer(method, parse_qs(body))
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 200 else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler
