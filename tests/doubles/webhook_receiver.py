"""A test double: a real HTTP server on 127.0.0.1 that records webhook requests and answers as scripted.

It speaks HTTP/1.1 with keep-alive, as webhook receivers do, so the connector's persistent client
is exercised for real. Tests wait for requests on a condition variable, never by sleeping.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class Request:
    """One request as the receiver got it.

    :param seq: 1-based position among all requests to this path
    :param headers: header names lower-cased
    """

    path: str
    headers: dict[str, str]
    body: bytes
    seq: int
    status: int = 0  # what the receiver answers (0: held, so the client may have given up first)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def push_id(self) -> int:
        return int(self.headers["x-bugzilla-push-id"])


@dataclass(frozen=True)
class Reply:
    """A scripted answer.

    :param hold: answer only once the test calls :meth:`WebhookReceiver.release` (a slow receiver)
    """

    status: int = 200
    body: str = '{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False


Script = Callable[[Request], Reply]  # what to answer to a request


def always(status: int, body: str = "") -> Script:
    return lambda request: Reply(status, body)


class WebhookReceiver:
    """An HTTP server on a free loopback port; each request is recorded, then answered by the script.

    :param script: `(request) -> Reply`; default 200 for everything
    :param tls_dir: serve HTTPS with a certificate for 127.0.0.1 from a private CA written here
        (`ca.pem` is the CA bundle a client needs)
    """

    def __init__(self, script: Script | None = None, tls_dir: Path | None = None) -> None:
        self.script: Script = script or always(200, '{"ok": true}')
        self._requests: list[Request] = []
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.scheme = "http"
        self.ca_bundle: Path | None = None
        if tls_dir is not None:
            self.ca_bundle, context = _private_ca_server_context(tls_dir)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release(self) -> None:
        """Let held requests be answered."""
        self._released.set()

    def requests(self, path: str | None = None) -> list[Request]:
        """Every request so far (to one path, if given), in arrival order."""
        with self._changed:
            return [r for r in self._requests if path is None or r.path == path]

    def accepted(self, path: str | None = None) -> list[Request]:
        """The requests answered with a 2xx, in arrival order: what was delivered."""
        return [r for r in self.requests(path) if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """Wait until `count` requests have arrived; return them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self._requests)}")
            return list(self._requests)

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._changed:
            seq = 1 + sum(1 for r in self._requests if r.path == path)
            reply = self.script(Request(path, headers, body, seq))
            # The answer is recorded before it is written, so a test that saw the client get it sees it here.
            self._requests.append(Request(path, headers, body, seq, 0 if reply.hold else reply.status))
            self._changed.notify_all()
            return reply


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the connector's client expects
        # Headers and body go out as two writes: without this, Nagle's algorithm and the client's
        # delayed ACK add about 40 ms to every answer.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = receiver._record(self.path, headers, body)
            if reply.hold and not receiver._released.wait(30):
                return
            data = reply.body.encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


def _private_ca_server_context(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """Write a CA and a server certificate for 127.0.0.1 signed by it; return the CA file and a context."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("webhook-receiver test CA", ca_key, "webhook-receiver test CA", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "webhook-receiver test CA", ca_key, ca=False)
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
