"""Shared by the webhook integration tests: building webhooks from connections, one run, the hook."""

from __future__ import annotations

import json
import random
import secrets
from typing import TYPE_CHECKING, Any

from bugzilla_push.config import DeliveryConfig
from bugzilla_push.connectors import ConnectionInfo, ConnectorFatal, build_connector
from bugzilla_push.engine import Engine

if TYPE_CHECKING:
    from bugzilla_push.connectors.base import Connector
    from bugzilla_push.reports import DeliveryReport
    from bugzilla_push.store import Store
    from tests.doubles.webhook_receiver import Request
    from tests.fakes import FakeClock

KEY = "wh-" + secrets.token_hex(12)  # the API key; a fresh one per session, so a leak cannot hide


def engine_for(store: Store, clock: FakeClock, **settings: Any) -> Engine:
    config = DeliveryConfig(**{"chunk_size": 25, "backoff_jitter": 0.0, **settings})
    return Engine(store, config, clock=clock, rng=random.Random(0))


def webhook(url: str, name: str = "webhook_a", **extra: Any) -> Connector:
    """Build the connector from a connection, as each DAG run does."""
    extra = {"api_key_header": "X-Api-Key", "timeout": 5, **extra}
    return build_connector(ConnectionInfo(name, "http", host=url, password=KEY, extra=extra))


def run(engine: Engine, *connectors: Connector) -> dict[str, DeliveryReport | ConnectorFatal]:
    """One DAG run without Airflow: open the batch, deliver to each webhook, finalize, close them."""
    batch = engine.open_batch("test-run", [c.name for c in connectors])
    results: dict[str, DeliveryReport | ConnectorFatal] = {}
    for connector in connectors:
        with connector:
            try:
                results[connector.name] = engine.deliver(batch, connector)
            except ConnectorFatal as exc:
                results[connector.name] = exc
    engine.finalize(batch)
    return results


def queued(store: Store) -> list[tuple[int, str, dict[str, Any]]]:
    """The pending messages as (push id, routing key, payload)."""
    rows = store.query("SELECT id, routing_key, payload FROM push ORDER BY id")
    return [(i, key, json.loads(body)) for i, key, body in rows]


def bug_of(body: dict[str, Any]) -> dict[str, Any]:
    target = body["event"]["target"]
    return body[target] if target == "bug" else body[target]["bug"]


def name(value: Any) -> str:
    return value["name"] if isinstance(value, dict) else value


def own_private(body: dict[str, Any]) -> bool:
    target = body["event"]["target"]
    return target != "bug" and bool(body[target]["is_private"])


def ids(requests: list[Request]) -> list[int]:
    return [r.push_id for r in requests]
