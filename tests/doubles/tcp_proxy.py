"""A TCP proxy in front of a real service: a network link on loopback that can be slow, frozen or cut.

While frozen it forwards nothing and closes nothing, as when a link dies without a FIN or RST:
only heartbeats or timeouts can tell the client. It can also hold back only the broker's replies,
so that messages reach the broker but their confirms never reach the client. Given a server-side
TLS context it terminates TLS, so `amqps://` can be tested against a plain-text broker. Given a
delay, it forwards every chunk that long after reading it, each way, in order: a network with
that one-way latency (1 ms each way: a 2 ms round trip, as within one region).

Run alone, in a process of its own so that its work does not compete with the caller's for the GIL
(the Pulse benchmark does this)::

    python -m tests.doubles.tcp_proxy --upstream 127.0.0.1:5672 --delay-ms 1

It prints `port N` once it listens, and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import queue
import select
import socket
import ssl
import statistics
import sys
import threading
import time


class FreezableProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; :meth:`freeze` stops the traffic, :meth:`cut` ends it.

    :param upstream: (host, port) of the real service
    :param tls: terminate TLS with this server context (clients speak TLS to the proxy)
    :param delay: seconds each chunk takes to cross, each way; bytes already read when the link is
        frozen or held still arrive, as bytes on the wire would
    """

    def __init__(
        self, upstream: tuple[str, int], tls: ssl.SSLContext | None = None, delay: float = 0.0
    ) -> None:
        self.upstream = upstream
        self.tls = tls
        self.delay = delay
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
            try:
                server = socket.create_connection(self.upstream)
            except OSError:  # the service is down: the client sees its connection end, as it would
                client.close()
                continue
            for sock in (client, server):  # each chunk goes out as it comes, as the peers sent it
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            key = len(self._seen)
            self._seen[key] = self._generation
            thread = threading.Thread(target=self._pump, args=(key, client, server), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _pump(self, key: int, client: socket.socket, server: socket.socket) -> None:
        lines = {client: _Line(server, self.delay), server: _Line(client, self.delay)}
        try:
            self._forward(key, client, server, lines)
        finally:
            self._seen[key] = 1 << 62  # gone: it forwards nothing under any mode
            for line in lines.values():
                line.finish()  # what is on the wire arrives before the connection ends
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()

    def _forward(
        self, key: int, client: socket.socket, server: socket.socket, lines: dict[socket.socket, _Line]
    ) -> None:
        while not self._stop.is_set():
            generation = self._generation
            frozen, replies_held = self._mode
            self._seen[key] = generation
            if frozen:
                self._stop.wait(0.02)
                continue
            readable = [client] if replies_held else [client, server]
            try:
                # Bytes already decrypted inside an SSL socket do not make it readable for select().
                ready = [s for s in readable if isinstance(s, ssl.SSLSocket) and s.pending()]
                ready = ready or select.select(readable, [], [], 0.02)[0]
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    lines[sock].send(data)
            except (OSError, ValueError):  # ValueError: a socket closed by cut()
                return


class _Line:
    """One direction of a link: writes to `sock` what it is given, `delay` seconds later, in order.

    Without a delay it writes at once, in the caller's thread. With one, a thread of its own writes
    each chunk when due, so chunks overlap in flight and the link's throughput does not depend on
    its latency. `time.sleep` oversleeps by about 0.1 ms here (timer slack, wake-up), a tenth of a
    1 ms delay, so each wait is cut by the median oversleep measured once; an event loop's timers
    would round to the millisecond, as much as the delay itself.
    """

    def __init__(self, sock: socket.socket, delay: float) -> None:
        self._sock = sock
        self._delay = delay
        self._chunks: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._early = 0.0  # seconds to wake before a chunk is due
        if delay > 0:
            self._early = _oversleep(delay)
            self._thread = threading.Thread(target=self._write, daemon=True)
            self._thread.start()

    def send(self, data: bytes) -> None:
        if self._thread is None:
            self._sock.sendall(data)
        else:
            self._chunks.put((time.monotonic() + self._delay, data))

    def finish(self) -> None:
        """Return once every chunk given is written (or the socket failed)."""
        if self._thread is not None:
            self._chunks.put(None)
            self._thread.join(timeout=self._delay + 5)

    def _write(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            due, data = chunk
            if (wait := due - self._early - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                self._sock.sendall(data)
            except OSError:  # the peer or cut() closed it: the rest is lost, as on a cut link
                return


@functools.cache
def _oversleep(delay: float) -> float:
    """The median of how much longer than asked `time.sleep(delay)` takes, in seconds."""
    late = []
    for _ in range(21):
        started = time.monotonic()
        time.sleep(delay)
        late.append(time.monotonic() - started - delay)
    return max(statistics.median(late), 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description="A TCP proxy on 127.0.0.1 adding a delay each way.")
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay of every chunk")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with FreezableProxy((host, int(port)), delay=args.delay_ms / 1000) as proxy:
        print(f"port {proxy.port}", flush=True)
        sys.stdin.read()  # until the caller closes it, or exits
    return 0


if __name__ == "__main__":
    sys.exit(main())
