"""A TCP proxy in front of the real broker that a test can freeze: a network partition on loopback.

While frozen it forwards nothing and closes nothing, as when a link dies without a FIN or RST:
only heartbeats or timeouts can tell the client. Given a server-side TLS context it also
terminates TLS, so `amqps://` can be tested against a broker that only listens in plain text.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading


class FreezableProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; :meth:`freeze` stops the traffic, :meth:`cut` ends it.

    :param upstream: (host, port) of the real service
    :param tls: terminate TLS with this server context (clients speak TLS to the proxy)
    """

    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.tls = tls
        self.handshake_errors: list[str] = []
        self.frozen = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._parked: list[threading.Event] = []  # one per connection: set while it forwards nothing
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def freeze(self) -> None:
        """Stop forwarding; return once no byte can pass any more."""
        self.frozen.set()
        for parked in list(self._parked):
            assert parked.wait(5), "a proxy connection did not stop forwarding"

    def thaw(self) -> None:
        self.frozen.clear()

    def cut(self) -> None:
        """Drop every current connection, and what it had not forwarded yet; new ones get through."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()
        self.thaw()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FreezableProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.1)
                if not ready:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    client.settimeout(10)
                    client = self.tls.wrap_socket(client, server_side=True)
                    client.settimeout(None)
                except (OSError, ssl.SSLError) as exc:  # the client did not trust us, or gave up
                    self.handshake_errors.append(str(exc))
                    client.close()
                    continue
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            parked = threading.Event()
            self._parked.append(parked)
            thread = threading.Thread(target=self._pump, args=(client, server, parked), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, client: socket.socket, server: socket.socket, parked: threading.Event) -> None:
        try:
            self._forward(client, server, parked)
        finally:
            parked.set()

    def _forward(self, client: socket.socket, server: socket.socket, parked: threading.Event) -> None:
        peers = {client: server, server: client}
        while not self._stop.is_set():
            if self.frozen.is_set():
                parked.set()
                self._stop.wait(0.05)
                continue
            parked.clear()
            try:
                # Bytes already decrypted inside an SSL socket do not make it readable for select().
                ready = [s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()]
                ready = ready or select.select(list(peers), [], [], 0.05)[0]
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return self._hang_up(client, server)
                    peers[sock].sendall(data)
            except (OSError, ValueError):  # ValueError: a socket closed by cut()
                return self._hang_up(client, server)
        return None

    @staticmethod
    def _hang_up(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
