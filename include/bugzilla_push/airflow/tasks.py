"""The bodies of the `bugzilla_push` DAG's tasks: Airflow in, engine calls, small dicts out.

Only ids (as ranges) and counts travel through XCom; payloads stay in the database.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from bugzilla_push.airflow import metrics, table_webhooks
from bugzilla_push.airflow.connectors import enabled_connectors, load_connector
from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook, BugzillaDbNotConfigured
from bugzilla_push.bugzilla import BugzillaUnavailable
from bugzilla_push.clock import naive_utc, utcnow
from bugzilla_push.config import ConfigError, DeliveryConfig
from bugzilla_push.connectors import ConnectorConfigError, ConnectorFatal
from bugzilla_push.connectors.webhook.bugzilla_table import TABLE_WEBHOOKS
from bugzilla_push.engine import Engine
from bugzilla_push.linger import Linger, Presence
from bugzilla_push.reports import DeliveryState
from bugzilla_push.store import Batch, Store
from bugzilla_push.store.replays import ReplayError, Selector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "bugzilla_push_config"  # optional JSON: DeliveryConfig overrides


def delivery_config(**overrides: Any) -> DeliveryConfig:
    """Defaults, then the `bugzilla_push_config` Variable, then the run's params."""
    raw = Variable.get(CONFIG_VARIABLE, default="{}")
    try:
        from_variable = json.loads(raw or "{}")
        given = {k: v for k, v in overrides.items() if v is not None}  # a param left empty: the Variable's
        return DeliveryConfig().with_overrides(**{**from_variable, **given})
    except (json.JSONDecodeError, ConfigError, TypeError) as exc:
        raise AirflowFailException(
            f"bad delivery settings (Variable {CONFIG_VARIABLE} or params): {exc}"
        ) from None


def open_store(conn_id: str) -> Store:
    try:
        return BugzillaDbHook(conn_id).get_conn()
    except BugzillaDbNotConfigured as exc:
        raise AirflowFailException(str(exc)) from None


@dataclass(frozen=True)
class RunInfo:
    """What a task needs to know about its DAG run.

    :param run_type: `scheduled`, `manual`, `backfill` or `asset_triggered`
    :param interval: the run's data interval (naive UTC): a backfill run replays it
    :param user: who triggered it, for the audit trail
    """

    run_id: str
    run_type: str = "scheduled"
    interval: tuple[datetime, datetime] | None = None
    user: str | None = None

    @classmethod
    def from_context(cls, context: Any) -> RunInfo:
        run = context["dag_run"]
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        interval = (naive_utc(start), naive_utc(end)) if start and end and start < end else None
        return cls(
            run.run_id,
            str(getattr(run.run_type, "value", run.run_type)),
            interval,
            getattr(run, "triggering_user_name", None),
        )


def read_pending(params: dict[str, Any], run: RunInfo, conn_id: str) -> list[dict[str, Any]]:
    """Open (or adopt) the batch, and start a replay if asked; one `{connector, batch}` per connector.

    A backfill run opens no batch: it replays the archived messages of its data interval.
    """
    try:
        enabled = enabled_connectors()
    except ConnectorConfigError as exc:
        raise AirflowFailException(str(exc)) from None
    if TABLE_WEBHOOKS in enabled:
        with open_store(conn_id) as store:
            try:
                enabled = table_webhooks.expand(enabled, store)
            except BugzillaUnavailable as exc:
                raise AirflowFailException(f"{TABLE_WEBHOOKS}: reading the webhooks table: {exc}") from None
    if not enabled:
        log.warning("no connectors are enabled (Variable bugzilla_push_connectors): messages stay in push")
        return []
    chosen = table_webhooks.choose(params.get("connectors") or [], enabled)
    unknown = [c for c in chosen if c not in enabled]
    if unknown:
        raise AirflowFailException(
            f"connector(s) {', '.join(unknown)} are not enabled; enabled: {', '.join(enabled)} "
            "(Variable bugzilla_push_connectors)"
        )
    config = delivery_config(batch_size=params.get("batch_size"))
    selector = replay_selector(params, run)
    actor = f"{run.user or 'airflow'} ({run.run_type} run {run.run_id})"
    with open_store(conn_id) as store:
        try:
            batch = Engine(store, config).open_run(
                run.run_id, enabled, chosen, selector, actor, backfill=run.run_type == "backfill"
            )
        except ReplayError as exc:
            raise AirflowFailException(f"replay: {exc}") from None
    until = linger_until(config, run, params, selector)
    return table_webhooks.plan(batch.selected, batch.to_xcom(), until)


def linger_until(
    config: DeliveryConfig, run: RunInfo, params: dict[str, Any], selector: Selector | None
) -> str | None:
    """When a live run stops taking new segments (naive UTC, ISO), or None: one batch only.

    Scheduled and commit-triggered runs of every connector linger; a manual run, a backfill and a
    run that starts a replay do what they were asked and end.
    """
    live = run.run_type in ("scheduled", "asset_triggered") and not params.get("connectors") and not selector
    if not live or config.linger_seconds <= 0:
        return None
    return (utcnow() + timedelta(seconds=config.linger_seconds)).isoformat()


def replay_selector(params: dict[str, Any], run: RunInfo) -> Selector | None:
    """Return the replay the run asks for: its params', or a backfill run's interval (None: none)."""
    since, until = _param_time(params, "replay_since"), _param_time(params, "replay_until")
    bug_ids = tuple(int(b) for b in params.get("replay_bug_ids") or ())
    push_ids = tuple(int(p) for p in params.get("replay_push_ids") or ())
    if run.run_type == "backfill":
        if run.interval is None:
            raise AirflowFailException("a backfill run needs a data interval to replay")
        since, until = run.interval
    if not (since or until or bug_ids or push_ids):
        return None
    return Selector(since, until, bug_ids, push_ids)


def _param_time(params: dict[str, Any], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return naive_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise AirflowFailException(f"{name}: {value!r} is not a date and time (ISO 8601)") from None


def deliver(
    connector: str, batch: dict[str, Any], conn_id: str, linger_until: str | None = None
) -> dict[str, Any]:
    """Deliver one connector's backlog and its share of the batch (`bugzilla_webhooks`: all of those).

    With `linger_until`, then each later segment of the run until then (:mod:`bugzilla_push.linger`).
    """
    config = delivery_config()
    first = Batch.from_xcom(batch)
    if connector == TABLE_WEBHOOKS:
        return _deliver_table_webhooks(first, conn_id, config, linger_until)
    with open_store(conn_id) as store:
        engine = Engine(store, config)
        try:
            with (
                load_connector(connector, conn_id) as target,
                segments(engine, conn_id, connector, first, linger_until) as parts,
            ):
                report = None
                for part in parts:
                    done = engine.deliver(part, target, sample=linger_until is None)
                    report = done if report is None else report.absorb(done)
                    if done.state == DeliveryState.PAUSED:
                        break
                assert report is not None
                if linger_until is not None:
                    engine.sample(report)  # one statistics row for the run's segments, as for a batch
        except ConnectorConfigError as exc:
            raise AirflowFailException(f"{connector}: {exc}") from None
        except ConnectorFatal as exc:
            raise AirflowFailException(
                f"{connector}: {exc} — its messages are kept in its backlog and are sent once this is fixed"
            ) from None
        _metrics(
            lambda: metrics.emit_delivery(report.to_dict(), store.backlog_oldest(connector), engine.clock())
        )
    if report.state == DeliveryState.PAUSED:
        log.warning("%s", report.summary())
        raise AirflowSkipException(
            f"{connector} is paused ({report.error}); its messages wait in its backlog"
        )
    (log.warning if report.state.needs_attention else log.info)("%s", report.summary())
    return report.to_dict()


@contextmanager
def segments(
    engine: Engine, conn_id: str, connector: str, first: Batch, until: str | None
) -> Iterator[Iterable[Batch]]:
    """Yield the batches a deliver task works through: the run's, then, lingering, each later segment.

    While it lingers the task holds its presence lock on a connection of its own, so that the
    other tasks can tell when it has ended.
    """
    if until is None:
        yield [first]
        return
    config = engine.config
    with open_store(conn_id) as holder, Presence.hold(holder, _task_key(connector), config.lock_timeout):
        mine = [c for c in first.selected if _task_key(c) == connector]
        presence = Presence(engine.store, _task_key)
        yield Linger(
            engine,
            first.owner,
            mine,
            naive_utc(datetime.fromisoformat(until)),
            presence,
            config.linger_poll_seconds,
        ).segments(first)


def _task_key(connector: str) -> str:
    """Return the deliver task that serves a connector: its own, or the one of all table webhooks."""
    return TABLE_WEBHOOKS if table_webhooks.is_table_webhook(connector) else connector


def finalize(
    plan: list[dict[str, Any]] | None, reports: list[dict[str, Any]], conn_id: str
) -> dict[str, Any]:
    """Hold what failed connectors did not reach, delete the batch's rows, fail the run if one failed.

    A lingering run closes the segment still open, if any (a connector ended before finishing it).
    """
    if not plan:
        log.info("no batch in this run")
        return {}
    reports = table_webhooks.flatten(reports)
    first = Batch.from_xcom(plan[0]["batch"])
    with open_store(conn_id) as store:
        engine = Engine(store, delivery_config())
        result = engine.finalize(first, reports, closing=store.open_batch_of(first.owner))
        _metrics(lambda: metrics.emit_queue(*store.pending(), engine.clock()))
    if result.failed:
        raise AirflowFailException(
            f"delivery failed for {', '.join(result.failed)} (see the deliver task's log); their messages "
            "are kept in their backlog; the other connectors were not affected"
        )
    return result.to_dict()


def _deliver_table_webhooks(
    first: Batch, conn_id: str, config: DeliveryConfig, until: str | None
) -> dict[str, Any]:
    """Deliver Bugzilla's webhooks concurrently; a failed one fails the run in finalize, not the others."""
    try:
        with open_store(conn_id) as store:
            engine = Engine(store, config)
            with segments(engine, conn_id, TABLE_WEBHOOKS, first, until) as parts:
                result = table_webhooks.deliver_all(parts, conn_id, config, lingering=until is not None)
    except (ConnectorConfigError, BugzillaUnavailable, BugzillaDbNotConfigured) as exc:
        raise AirflowFailException(f"{TABLE_WEBHOOKS}: {exc}") from None
    for name, error in sorted(result["failed"].items()):
        log.error("%s: %s — its messages are kept in its backlog", name, error)
    return result


def _metrics(emit: Callable[[], None]) -> None:
    try:
        emit()
    except Exception as exc:  # noqa: BLE001 - metrics are never worth failing a delivery
        log.warning("could not send metrics: %s", exc)
