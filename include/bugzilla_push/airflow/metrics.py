"""Metrics through Airflow's own metrics settings (`[metrics] statsd_on`, `otel_on`, prefix, host).

Names, under Airflow's prefix: `bugzilla_push.pending` and `bugzilla_push.pending_oldest_age`
(gauges); per connector `.sent`, `.ignored`, `.dead_letters`, `.transient`, `.replayed`
(counters), `.backlog` and `.backlog_oldest_age` (gauges, seconds) and `.batch_duration` (timer,
ms). Where the backend carries tags (DogStatsD, OpenTelemetry, StatsD with InfluxDB tags) the
connector is the tag `connector` of `bugzilla_push.sent` …; on plain StatsD it is in the name:
`bugzilla_push.<connector>.sent` ….
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.observability import stats

if TYPE_CHECKING:
    from datetime import datetime

PREFIX = "bugzilla_push"
_initialized = False


def _ready() -> None:
    """Use Airflow's configured backend; `airflow dags test` runs tasks without initialising it."""
    global _initialized
    if not _initialized:
        from airflow.sdk.configuration import conf
        from airflow.sdk.observability.metrics import stats_utils

        stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )
        _initialized = True


def _age(ts: datetime | None, now: datetime) -> float:
    return max(0.0, (now - ts).total_seconds()) if ts else 0.0


def tags_supported() -> bool:
    """Whether the configured backend sends tags (the factory's order: DogStatsD, StatsD, OpenTelemetry)."""
    from airflow.sdk.configuration import conf

    if conf.getboolean("metrics", "statsd_datadog_enabled", fallback=False):
        return True
    if conf.getboolean("metrics", "statsd_on", fallback=False):
        return conf.getboolean("metrics", "statsd_influxdb_enabled", fallback=False)
    return conf.getboolean("metrics", "otel_on", fallback=False)


def emit_delivery(report: dict[str, Any], oldest_ts: datetime | None, now: datetime) -> None:
    """Report one connector's delivery: what it did, and where its backlog stands."""
    _ready()
    tags: dict[str, str] | None = {"connector": report["connector"]} if tags_supported() else None
    name = (
        PREFIX
        if tags
        else stats.normalize_name_for_stats(f"{PREFIX}.{report['connector']}", log_warning=False)
    )
    for key, metric in (
        ("sent", "sent"),
        ("ignored", "ignored"),
        ("dead", "dead_letters"),
        ("transient", "transient"),
        ("replayed", "replayed"),
    ):
        if report.get(key):
            stats.incr(f"{name}.{metric}", report[key], tags=tags)
    stats.gauge(f"{name}.backlog", report.get("backlog_left", 0), tags=tags)
    stats.gauge(f"{name}.backlog_oldest_age", _age(oldest_ts, now), tags=tags)
    stats.timing(f"{name}.batch_duration", float(report.get("seconds", 0.0)) * 1000.0, tags=tags)


def emit_queue(pending: int, oldest_ts: datetime | None, now: datetime) -> None:
    """Report the pending queue after a run."""
    _ready()
    stats.gauge(f"{PREFIX}.pending", pending)
    stats.gauge(f"{PREFIX}.pending_oldest_age", _age(oldest_ts, now))
