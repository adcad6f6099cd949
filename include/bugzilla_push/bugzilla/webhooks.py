"""Bugzilla's own webhooks: the rows of its `webhooks` table, each BMO's push connector `Webhook_<id>`.

The table is the Webhooks extension's (`extensions/Webhooks/Extension.pm`, `db_schema_abstract_schema`);
a webhook's product and component are ids there, read with their names as BMO's
`Bugzilla::Extension::Webhooks::Webhook` reads them (`Any` when unset). Whether a webhook is enabled
is its `push_options` row (connector `Webhook_<id>`, option `enabled`), `Enabled` unless set
otherwise (`extensions/Push/lib/Connector/Webhook.pm`, `load_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.bugzilla.reader import BugzillaReader

PREFIX = "Webhook_"  # BMO's connector name for a webhook (extensions/Push/lib/Connectors.pm)
ANY = "Any"


def connector_name(webhook_id: int) -> str:
    return f"{PREFIX}{webhook_id}"


def webhook_id_of(name: str) -> int | None:
    """Return the id in a `Webhook_<id>` connector name, or None for any other name."""
    rest = name.removeprefix(PREFIX)
    return int(rest) if rest != name and rest.isdigit() else None


@dataclass(frozen=True)
class TableWebhook:
    """One row of Bugzilla's `webhooks` table, with its product and component names.

    :param user_id: the owner: what the webhook may see is what this user may see
    :param event: BMO's comma-separated event kinds (`create,change,comment,attachment,attachment_change`)
    :param api_key_value: sent in the `api_key_header` header; never printed (excluded from `repr`)
    :param enabled: `push_options` says so (or says nothing)
    """

    id: int
    user_id: int
    name: str
    url: str
    event: str
    product: str = ANY
    component: str = ANY
    api_key_header: str | None = None
    api_key_value: str | None = field(default=None, repr=False)
    enabled: bool = True

    @property
    def connector(self) -> str:
        return connector_name(self.id)


def read_webhooks(reader: BugzillaReader) -> list[TableWebhook]:
    """Return every row of `webhooks` in id order, each with its `push_options` enabled flag."""
    enabled = {
        str(connector): str(value)
        for connector, value in reader.query(
            "SELECT connector, option_value FROM push_options "
            "WHERE option_name = 'enabled' AND connector LIKE %(prefix)s",
            {"prefix": PREFIX + "%"},
        )
    }
    rows = reader.query(
        "SELECT w.id, w.user_id, w.name, w.url, w.event, p.name, c.name, w.api_key_header, w.api_key_value "
        "FROM webhooks w LEFT JOIN products p ON p.id = w.product_id "
        "LEFT JOIN components c ON c.id = w.component_id ORDER BY w.id"
    )
    return [
        TableWebhook(
            int(i),
            int(user),
            str(name),
            str(url),
            str(event),
            str(product) if product else ANY,
            str(component) if component else ANY,
            str(header) if header else None,
            str(value) if value else None,
            enabled.get(connector_name(int(i)), "Enabled") == "Enabled",
        )
        for i, user, name, url, event, product, component, header, value in rows
    ]
