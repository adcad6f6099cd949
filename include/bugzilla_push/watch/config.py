"""How eagerly the watcher looks, reconnects and reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchConfig:
    """How eagerly to watch."""

    # 1 s: the poll strategy's query rate; lower reacts sooner at one more cheap query each time.
    poll_interval: float = 1.0
    # 1 s: at most one event per this long, so 50 commits a second make ~1 DAG run a second, not 50.
    min_interval: float = 1.0
    # 30 s: while listening, also look this often (a lost notification, a removed trigger, dead TCP).
    safety_interval: float = 30.0
    # 10 s: a query that takes longer counts as a lost connection (half-open TCP never errors).
    query_timeout: float = 10.0
    # 0.5 s doubling to 30 s: reconnect quickly after a blip without hammering a database that is down.
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    def validate(self) -> WatchConfig:
        for name in ("poll_interval", "safety_interval", "query_timeout", "backoff_initial", "backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.min_interval < 0:
            raise ValueError("min_interval must not be negative")
        return self
