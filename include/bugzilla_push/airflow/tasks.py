"""The bodies of the `bugzilla_push` DAG's tasks: Airflow in, engine calls, small dicts out.

Only ids (as ranges) and counts travel through XCom; payloads stay in the database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import Variable
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from bugzilla_push.airflow import metrics
from bugzilla_push.airflow.connectors import enabled_connectors, load_connector
from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook, BugzillaDbNotConfigured
from bugzilla_push.config import ConfigError, DeliveryConfig
from bugzilla_push.connectors import ConnectorConfigError, ConnectorFatal
from bugzilla_push.engine import SELF, Engine
from bugzilla_push.store import Batch, Store
from bugzilla_push.store.replays import ReplayError, Replays, Selector

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

CONFIG_VARIABLE = "bugzilla_push_config"  # optional JSON: DeliveryConfig overrides


def delivery_config(**overrides: Any) -> DeliveryConfig:
    """Defaults, then the `bugzilla_push_config` Variable, then the run's params."""
    raw = Variable.get(CONFIG_VARIABLE, default="{}")
    try:
        from_variable = json.loads(raw or "{}")
        return DeliveryConfig().with_overrides(**{**from_variable, **overrides})
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
        interval = (_naive_utc(start), _naive_utc(end)) if start and end and start < end else None
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
    if not enabled:
        log.warning("no connectors are enabled (Variable bugzilla_push_connectors): messages stay in push")
        return []
    chosen = list(params.get("connectors") or [])
    unknown = [c for c in chosen if c not in enabled]
    if unknown:
        raise AirflowFailException(
            f"connector(s) {', '.join(unknown)} are not enabled; enabled: {', '.join(enabled)} "
            "(Variable bugzilla_push_connectors)"
        )
    config = delivery_config(batch_size=params.get("batch_size"))
    selector = replay_selector(params, run)
    with open_store(conn_id) as store:
        engine = Engine(store, config)
        if selector is not None:
            actor = f"{run.user or 'airflow'} ({run.run_type} run {run.run_id})"
            try:
                replay_id = Replays(store).create(engine.clock(), actor, chosen or enabled, selector)
            except ReplayError as exc:
                raise AirflowFailException(f"replay: {exc}") from None
            log.info("replay #%d of %s to %s", replay_id, selector.describe(), ", ".join(chosen or enabled))
        if run.run_type == "backfill":
            batch = Batch.empty(enabled, chosen or enabled, run.run_id, engine.clock())
        else:
            batch = engine.open_batch(run.run_id, enabled, chosen or enabled)
    payload = batch.to_xcom()
    return [{"connector": name, "batch": payload} for name in batch.selected]


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
        return _naive_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        raise AirflowFailException(f"{name}: {value!r} is not a date and time (ISO 8601)") from None


def _naive_utc(value: Any) -> datetime:
    value = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def deliver(connector: str, batch: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """Deliver one connector's backlog and its share of the batch."""
    config = delivery_config()
    with open_store(conn_id) as store:
        engine = Engine(store, config)
        try:
            with load_connector(connector) as target:
                report = engine.deliver(Batch.from_xcom(batch), target)
        except ConnectorConfigError as exc:
            raise AirflowFailException(f"{connector}: {exc}") from None
        except ConnectorFatal as exc:
            raise AirflowFailException(
                f"{connector}: {exc} — its messages are kept in its backlog and are sent once this is fixed"
            ) from None
        _metrics(
            lambda: metrics.emit_delivery(report.to_dict(), store.backlog_oldest(connector), engine.clock())
        )
    if report.state == "paused":
        log.warning("%s", report.summary())
        raise AirflowSkipException(
            f"{connector} is paused ({report.error}); its messages wait in its backlog"
        )
    (log.warning if report.state in ("backing_off", "blocked") else log.info)("%s", report.summary())
    return report.to_dict()


def finalize(
    plan: list[dict[str, Any]] | None, reports: list[dict[str, Any]], conn_id: str
) -> dict[str, Any]:
    """Hold what failed connectors did not reach, delete the batch's rows, fail the run if one failed."""
    if not plan:
        log.info("no batch in this run")
        return {}
    batch = Batch.from_xcom(plan[0]["batch"])
    with open_store(conn_id) as store:
        engine = Engine(store, delivery_config())
        result = engine.finalize(batch)
        pending, oldest = store.query("SELECT COUNT(*), MIN(push_ts) FROM push")[0]
        _metrics(lambda: metrics.emit_queue(pending, store.dialect.from_db(oldest), engine.clock()))
        # Paused before this run: skipped on purpose. Paused itself during it: that is a failure to show.
        paused = {
            c
            for c in batch.selected
            if (state := store.connector_state(c))
            and state.paused
            and not (state.changed_by == SELF and state.changed_ts >= batch.created_ts)
        }
    delivered = {r["connector"]: r for r in reports if r}
    for name in batch.connectors:
        report = delivered.get(name)
        if report:
            log.info(
                "%s: %s, sent %d, ignored %d, dead-lettered %d, held %d, backlog %d",
                name,
                report["state"],
                report["sent"],
                report["ignored"],
                report["dead"],
                report["held"],
                report["backlog_left"],
            )
    for name in sorted(paused - delivered.keys()):
        log.warning("%s: paused; its messages wait in its backlog", name)
    failed = [c for c in batch.selected if c not in delivered and c not in paused]
    if failed:
        raise AirflowFailException(
            f"delivery failed for {', '.join(failed)} (see the deliver task's log); their messages are kept "
            "in their backlog; the other connectors were not affected"
        )
    return result.to_dict()


def _metrics(emit: Callable[[], None]) -> None:
    try:
        emit()
    except Exception as exc:  # noqa: BLE001 - metrics are never worth failing a delivery
        log.warning("could not send metrics: %s", exc)
