"""A StatsD peer for tests: a UDP socket on loopback that keeps every line it receives.

Airflow's own StatsD client sends to it, so what a dashboard would receive is what the test reads.
"""

from __future__ import annotations

import socket
import threading
import time


class StatsdReceiver:
    """Receives StatsD lines on 127.0.0.1 (`port`) in a thread until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.lines.extend(data.decode().splitlines())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def values(self, name: str) -> list[str]:
        """The values received for a metric name (e.g. `["3|c"]`), in order."""
        return [line.split(":", 1)[1] for line in self.lines if line.split(":", 1)[0] == name]

    def wait_for(self, name: str, timeout: float = 10.0) -> list[str]:
        """The metric's values, once at least one arrived (UDP is sent, not awaited)."""
        deadline = time.monotonic() + timeout
        while not self.values(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.values(name)
