"""The bodies of the `bugzilla_push` DAG's tasks: Airflow in, engine calls, small dicts out.

Only ids (as ranges) and counts travel through XCom; payloads stay in the database.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.sdk import Variable
from airflow.sdk.exceptions import AirflowFailException

from bugzilla_push.config import ConfigError, DeliveryConfig
from bugzilla_push.connectors import ConnectorConfigError, ConnectorFatal
from bugzilla_push.engine import Engine
from bugzilla_push.hooks.connectors import enabled_connectors, load_connector
from bugzilla_push.hooks.db import BugzillaDbHook, BugzillaDbNotConfigured
from bugzilla_push.store import Batch, Store

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


def read_pending(params: dict[str, Any], run_id: str, conn_id: str) -> list[dict[str, Any]]:
    """Open (or adopt) the batch; return one `{connector, batch}` per connector to deliver to."""
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
    with open_store(conn_id) as store:
        batch = Engine(store, config).open_batch(run_id, enabled, chosen or enabled)
    payload = batch.to_xcom()
    return [{"connector": name, "batch": payload} for name in batch.selected]


def deliver(connector: str, batch: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """Deliver one connector's backlog and its share of the batch."""
    config = delivery_config()
    with open_store(conn_id) as store:
        try:
            with load_connector(connector) as target:
                report = Engine(store, config).deliver(Batch.from_xcom(batch), target)
        except ConnectorConfigError as exc:
            raise AirflowFailException(f"{connector}: {exc}") from None
        except ConnectorFatal as exc:
            raise AirflowFailException(
                f"{connector}: {exc} — its messages are kept in its backlog and are sent once this is fixed"
            ) from None
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
        result = Engine(store, delivery_config()).finalize(batch)
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
    failed = [c for c in batch.selected if c not in delivered]
    if failed:
        raise AirflowFailException(
            f"delivery failed for {', '.join(failed)} (see the deliver task's log); their messages are kept "
            f"in their backlog ({result.held}); the other connectors were not affected"
        )
    return result.to_dict()
