"""Bugzilla's own webhooks in the DAG: read from its `webhooks` table each run, delivered by one task.

The entry `bugzilla_webhooks` in the `bugzilla_push_connectors` Variable turns them on. Then every
run reads the table (:func:`expand`): each enabled webhook is the connector `Webhook_<id>` of the
run's batch, a disabled one is not (so nothing is held for it, as in BMO a disabled connector
queues nothing), and a webhook added, changed, disabled or deleted in Bugzilla takes effect at the
next run. All of them go to one mapped `deliver` item named `bugzilla_webhooks`
(:func:`deliver_all`), which delivers them concurrently. Settings common to them are the extra of
the optional connection `bugzilla_webhooks` (:class:`TableWebhookSettings`).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bugzilla_push.airflow.connectors import connection_info
from bugzilla_push.airflow.hooks.bugzilla_db import BugzillaDbHook
from bugzilla_push.bugzilla import BugzillaReader
from bugzilla_push.bugzilla.visibility import Visibility
from bugzilla_push.bugzilla.webhooks import PREFIX, read_webhooks, webhook_id_of
from bugzilla_push.connectors.webhook.bugzilla_table import (
    TABLE_WEBHOOKS,
    TableWebhookConnector,
    TableWebhookSettings,
)
from bugzilla_push.engine import Engine
from bugzilla_push.group_delivery import PerThread, deliver_group
from bugzilla_push.reports import DeliveryReport

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from bugzilla_push.bugzilla.webhooks import TableWebhook
    from bugzilla_push.config import DeliveryConfig
    from bugzilla_push.store import Batch, Store

log = logging.getLogger(__name__)


def is_table_webhook(name: str) -> bool:
    return webhook_id_of(name) is not None


def settings() -> TableWebhookSettings:
    info = connection_info(TABLE_WEBHOOKS)
    return TableWebhookSettings.parse(info.extra if info else None)


def expand(enabled: Sequence[str], store: Store) -> list[str]:
    """Replace the entry `bugzilla_webhooks` with `Webhook_<id>` of each enabled webhook in the table."""
    if TABLE_WEBHOOKS not in enabled:
        return list(enabled)
    webhooks = read_webhooks(BugzillaReader(lambda: store))
    names = [w.connector for w in webhooks if w.enabled]
    disabled = [w.connector for w in webhooks if not w.enabled]
    if disabled:
        log.info("disabled in push_options (nothing is kept for them): %s", ", ".join(disabled))
    known = {w.connector for w in webhooks}
    gone = [
        str(c)
        for (c,) in store.query(
            "SELECT DISTINCT connector FROM push_backlog WHERE connector LIKE %(p)s", {"p": PREFIX + "%"}
        )
        if is_table_webhook(str(c)) and c not in known
    ]
    if gone:
        log.warning(
            "backlog kept for webhooks no longer in Bugzilla's table (Bugzilla drops it when a webhook is "
            "deleted in its UI): %s; `bugzilla-push status` shows it",
            ", ".join(sorted(gone)),
        )
    i = list(enabled).index(TABLE_WEBHOOKS)
    return [*enabled[:i], *names, *(n for n in enabled[i + 1 :] if n not in names)]


def choose(chosen: Sequence[str], enabled: Sequence[str]) -> list[str]:
    """Return a run's chosen connectors, `bugzilla_webhooks` standing for every enabled table webhook."""
    if TABLE_WEBHOOKS not in chosen:
        return list(chosen)
    rest = [n for n in chosen if n != TABLE_WEBHOOKS]
    return [*rest, *(n for n in enabled if is_table_webhook(n) and n not in rest)]


def plan(
    selected: Sequence[str], batch: dict[str, Any], linger_until: str | None = None
) -> list[dict[str, Any]]:
    """One mapped `deliver` item per connector, and one for all of the table's webhooks."""
    names = [n for n in selected if not is_table_webhook(n)]
    if any(is_table_webhook(n) for n in selected):
        names.append(TABLE_WEBHOOKS)
    return [{"connector": n, "batch": batch, "linger_until": linger_until} for n in names]


def merge(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result of :func:`deliver_all` for the segments of a lingering run: counts added up."""
    reports: dict[str, DeliveryReport] = {}
    failed: dict[str, str] = {}
    for result in results:
        for data in result["webhooks"]:
            done = DeliveryReport.from_dict(data)
            reports[done.connector] = (
                reports[done.connector].absorb(done) if done.connector in reports else done
            )
        failed.update(result["failed"])
    return {
        "connector": TABLE_WEBHOOKS,
        "webhooks": [r.to_dict() for r in reports.values()],
        "failed": failed,
    }


def deliver_all(
    batches: Iterable[Batch], conn_id: str, config: DeliveryConfig, lingering: bool = False
) -> dict[str, Any]:
    """Deliver every webhook of each batch that is still in the table, `workers` at once.

    The batches are a run's segments (:mod:`bugzilla_push.linger`): the table is read again for
    each, while the threads and their database connections serve them all.
    """
    opts = settings()
    open_store = BugzillaDbHook(conn_id).opener()
    stores: PerThread[Store] = PerThread(open_store, lambda s: s.close())
    readers: PerThread[Visibility] = PerThread(
        lambda: Visibility(BugzillaReader(open_store), opts.insidergroup, opts.use_qa_contact),
        lambda v: v.reader.close(),
    )
    results = []
    try:
        with ThreadPoolExecutor(max_workers=opts.workers, thread_name_prefix="deliver") as pool:
            for batch in batches:
                results.append(
                    _deliver_batch(batch, open_store, opts, stores, readers, config, pool, not lingering)
                )
        merged = merge(results)
        if lingering:  # one statistics row per webhook for the run's segments, as for a batch
            engine = Engine(stores.get(), config)
            for data in merged["webhooks"]:
                engine.sample(DeliveryReport.from_dict(data))
    finally:
        stores.close()
        readers.close()
    return merged


def _deliver_batch(
    batch: Batch,
    open_store: Callable[[], Store],
    opts: TableWebhookSettings,
    stores: PerThread[Store],
    readers: PerThread[Visibility],
    config: DeliveryConfig,
    pool: ThreadPoolExecutor,
    sample: bool,
) -> dict[str, Any]:
    wanted = {n for n in batch.selected if is_table_webhook(n)}
    reader = BugzillaReader(open_store)
    try:
        webhooks = [w for w in read_webhooks(reader) if w.connector in wanted]
    finally:
        reader.close()
    builders = {w.connector: _builder(w, opts, readers.get) for w in webhooks}
    result = deliver_group(batch, builders, stores, config, opts.workers, pool, sample)
    for report in result.reports:
        quiet = report.state not in ("backing_off", "blocked", "paused")
        (log.info if quiet else log.warning)("%s", report.summary())
    for name in sorted(wanted - builders.keys()):
        result.failed[name] = "no longer in Bugzilla's webhooks table, or disabled since the batch was opened"
    return {
        "connector": TABLE_WEBHOOKS,
        "webhooks": [r.to_dict() for r in result.reports],
        "failed": result.failed,
    }


def _builder(
    webhook: TableWebhook, opts: TableWebhookSettings, visibility: Callable[[], Visibility]
) -> Callable[[], TableWebhookConnector]:
    return lambda: TableWebhookConnector(webhook, opts, visibility)


def flatten(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the deliver tasks' reports, the table webhooks' one split into one per webhook."""
    out: list[dict[str, Any]] = []
    for report in reports:
        if report and report.get("connector") == TABLE_WEBHOOKS:
            out += report.get("webhooks", [])
        elif report:
            out.append(report)
    return out
