"""Delivery settings: one frozen dataclass with defaults and a `validate()`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


class ConfigError(ValueError):
    """A setting is out of range; the message names it and the allowed values."""


@dataclass(frozen=True)
class DeliveryConfig:
    """How a delivery run behaves.

    :param batch_size: rows a run takes from `push` (10,000). Larger drains a backlog in fewer runs;
        smaller keeps runs short. Only ids travel through XCom, as ranges, so size costs no memory.
    :param chunk_size: rows sent and committed together (500). The in-flight window: after a crash at
        most this many messages are sent again, so smaller means fewer duplicates, larger fewer commits.
    :param max_payload_bytes: a larger payload is dead-lettered (16 MiB, the size of BMO's mediumtext).
    :param lock_timeout: seconds to wait for a connector held by another deliverer (60) before giving up.
    :param backoff_base: first delay after a transient failure; the n-th is base**n seconds (5, BMO's).
    :param backoff_cap: longest delay between attempts (900 s = 15 minutes, BMO's).
    :param backoff_jitter: fraction of a delay taken off at random (0.2), so connectors that failed
        together do not retry in lock-step.
    :param archive_days: how long delivered messages stay in `push_archive` for replay (30); 0 turns
        the archive off, which saves writing every payload twice.
    :param log_days: how long `push_log`, statistics and run records are kept (None: BMO's
        `log_purge` option in `push_options`, else 7 days, BMO's default).
    :param replay_batch: archived messages a replay sends per connector per run (10,000), so a
        long replay proceeds run by run and never holds up live delivery for long.
    :param purge_seconds: time an hourly maintenance run may spend purging old rows (600), in
        batches of `purge_batch` (5,000) rows, each its own short transaction; what is left goes next
        hour. Delivery never waits for it.
    :param metadata_days: how long Airflow keeps its own records of this project's DAG runs — runs,
        task instances, XComs, asset events, task logs (3 days); the maintenance DAG removes older ones.
    :param stale_seconds: the maintenance DAG alerts (Variable `bugzilla_push_notifier`) when the
        oldest message waiting in `push` or in a connector's backlog is at least this old (1800, as
        `bugzilla-push check --crit-age`); 0 never alerts.
    """

    batch_size: int = 10_000
    chunk_size: int = 500
    max_payload_bytes: int = 16 * 1024 * 1024
    lock_timeout: float = 60.0
    backoff_base: float = 5.0
    backoff_cap: float = 900.0
    backoff_jitter: float = 0.2
    archive_days: int = 30
    log_days: int | None = None
    replay_batch: int = 10_000
    purge_seconds: float = 600.0
    purge_batch: int = 5_000
    metadata_days: int = 3
    stale_seconds: int = 1800

    def validate(self) -> DeliveryConfig:
        """Return self, or raise :class:`ConfigError` naming the first bad setting."""
        checks = {
            "batch_size": 1 <= self.batch_size <= 1_000_000,
            "chunk_size": 1 <= self.chunk_size <= 100_000,
            "max_payload_bytes": self.max_payload_bytes >= 1024,
            "lock_timeout": self.lock_timeout >= 0,
            "backoff_base": self.backoff_base > 1,
            "backoff_cap": self.backoff_cap >= self.backoff_base,
            "backoff_jitter": 0 <= self.backoff_jitter < 1,
            "archive_days": 0 <= self.archive_days <= 3650,
            "log_days": self.log_days is None or 1 <= self.log_days <= 3650,
            "replay_batch": 1 <= self.replay_batch <= 1_000_000,
            "purge_seconds": self.purge_seconds >= 0,
            "purge_batch": 1 <= self.purge_batch <= 100_000,
            "metadata_days": 1 <= self.metadata_days <= 3650,
            "stale_seconds": self.stale_seconds >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"delivery setting {name}={getattr(self, name)!r} is out of range")
        return self

    def with_overrides(self, **overrides: Any) -> DeliveryConfig:
        """Return a copy with the given settings (unknown names are an error), validated."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown delivery setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None}).validate()
