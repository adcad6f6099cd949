"""A TCP proxy in front of the real broker that a test can freeze: a network partition on loopback.

While frozen it forwards nothing and closes nothing, as when a link dies without a FIN or RST:
only heartbeats or timeouts can tell the client. It can also hold back only the broker's replies,
so that messages reach the broker but their confirms never reach the client. Given a server-side
TLS context it terminates TLS, so `amqps://` can be tested against a plain-text broker.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time


class FreezableProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; :meth:`freeze` stops the traffic, :meth:`cut` ends it.

    :param upstream: (host, port) of the real service
    :param tls: terminate TLS with this server context (clients speak TLS to the proxy)
    """

    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.tls = tls
        self.handshake_errors: list[str] = []
        self._mode = (False, False)  # (nothing passes, replies held back)
        self._generation = 0  # bumped on every mode change
        self._seen: dict[int, int] = {}  # per connection: the generation its pump acts on
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def freeze(self) -> None:
        """Stop forwarding in both directions; return once no byte can pass any more."""
        self._set_mode(frozen=True, replies_held=False)

    def hold_replies(self) -> None:
        """Forward to the broker, but nothing back; return once no reply can pass any more."""
        self._set_mode(frozen=False, replies_held=True)

    def thaw(self) -> None:
        self._set_mode(frozen=False, replies_held=False)

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

    def _set_mode(self, frozen: bool, replies_held: bool) -> None:
        self._mode = (frozen, replies_held)
        self._generation += 1
        deadline = time.monotonic() + 5
        while any(seen < self._generation for seen in list(self._seen.values())):
            assert time.monotonic() < deadline, "a proxy connection did not take the new mode"
            time.sleep(0.01)

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
            key = len(self._seen)
            self._seen[key] = self._generation
            thread = threading.Thread(target=self._pump, args=(key, client, server), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, key: int, client: socket.socket, server: socket.socket) -> None:
        try:
            self._forward(key, client, server)
        finally:
            self._seen[key] = 1 << 62  # gone: it forwards nothing under any mode
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()

    def _forward(self, key: int, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        while not self._stop.is_set():
            generation = self._generation
            frozen, replies_held = self._mode
            self._seen[key] = generation
            if frozen:
                self._stop.wait(0.02)
                continue
            readable = [client] if replies_held else list(peers)
            try:
                # Bytes already decrypted inside an SSL socket do not make it readable for select().
                ready = [s for s in readable if isinstance(s, ssl.SSLSocket) and s.pending()]
                ready = ready or select.select(readable, [], [], 0.02)[0]
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
            except (OSError, ValueError):  # ValueError: a socket closed by cut()
                return
