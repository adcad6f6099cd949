"""Bugzilla's own webhooks (its `webhooks` table) as connectors: `Webhook_<id>`, BMO's name and rules.

Each row of the table (:mod:`bugzilla_push.bugzilla.webhooks`) becomes a
:class:`TableWebhookConnector`: the webhook connector's HTTP, failure classes and payload, with
BMO's matching (:mod:`.bmo_rules`), its owner-visibility rule checked against Bugzilla's tables
when the message is sent (:class:`~bugzilla_push.bugzilla.visibility.Visibility`), its
`User-Agent` (`Bugzilla`, what `Bugzilla::Util::mojo_user_agent` sends) and its API key header.
Settings common to all of them are a :class:`TableWebhookSettings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bugzilla_push.bugzilla import BugzillaUnavailable
from bugzilla_push.connectors.base import ConnectorConfigError, ConnectorFatal, Outcome
from bugzilla_push.connectors.webhook import bmo_rules
from bugzilla_push.connectors.webhook.connector import WebhookConnector
from bugzilla_push.connectors.webhook.jira_sync import JiraRule, add_jira_fields, bound_for_jira
from bugzilla_push.connectors.webhook.options import WebhookOptions
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import httpx

    from bugzilla_push.bugzilla.visibility import Visibility
    from bugzilla_push.bugzilla.webhooks import TableWebhook
    from bugzilla_push.model import PushMessage

TABLE_WEBHOOKS = "bugzilla_webhooks"  # the Variable entry (and optional connection) for all of them
USER_AGENT = "Bugzilla"  # Mojo::UserAgent's name as BMO sets it
NOT_VISIBLE = "the webhook's owner cannot see this (BMO sends nothing)"
_WAIT = frozenset({Result.TRANSIENT, Result.UNKNOWN, Result.BLOCKED})


class TableWebhookSettings(BaseModel):
    """Settings for all of Bugzilla's webhooks: the extra of the optional `bugzilla_webhooks` connection."""

    model_config = ConfigDict(extra="forbid")
    # None: the name of Bugzilla's insider group (its `insidergroup` parameter). Unset, no owner is an
    # insider and no private comment or attachment is sent to any webhook.
    insidergroup: str | None = None
    # True: Bugzilla's `useqacontact` parameter (a bug's QA contact may see it).
    use_qa_contact: bool = True
    # 8: webhooks delivered at once, each worker with its own two database connections (push tables,
    # Bugzilla's tables). More finishes a run of many webhooks sooner; fewer spares the database.
    workers: int = Field(8, ge=1, le=64)
    # 30 s (BMO's request timeout) per connect, read or write: what a hanging receiver costs a run.
    timeout: float = Field(30.0, gt=0, le=300)
    # 10: a webhook pauses after this many failed deliveries in a row (0 never), until resumed.
    pause_after_failures: int = Field(10, ge=0)
    # True: check receivers' TLS certificates.
    verify: bool = True
    # None: a PEM file of CA certificates for receivers with a private CA.
    ca_bundle: str | None = None
    # None: BMO's `jira_webhook_sync_hostname` parameter: webhooks to this host get the bug's Jira
    # issue in see_also and the whiteboard tags of `jira_webhook_sync_config` (tag → product/component).
    jira_webhook_sync_hostname: str | None = None
    jira_webhook_sync_config: dict[str, JiraRule] = Field(default_factory=dict)

    @classmethod
    def parse(cls, extra: dict[str, Any] | None) -> TableWebhookSettings:
        try:
            return cls.model_validate(extra or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConnectorConfigError(
                f"connection {TABLE_WEBHOOKS!r} has invalid extra options: {problems}"
            ) from None


def _outcome(result: Result, detail: str | None = None) -> Outcome:
    """Make an outcome: the one place here that does (the connectors' outcome constructors may change)."""
    return Outcome(result, detail)


class TableWebhookConnector(WebhookConnector):
    """One of Bugzilla's webhooks: POSTs what BMO's `Webhook_<id>` connector would, as it would.

    What its rules filter out is counted, not logged, as BMO's Push.pm logs it not.

    :param webhook: the table's row
    :param settings: settings common to the table's webhooks
    :param visibility: returns the visibility checker of the calling thread (its own DB connection)
    :param transport: an httpx transport to use instead of the network (tests)
    """

    log_filtered = False

    def __init__(
        self,
        webhook: TableWebhook,
        settings: TableWebhookSettings,
        visibility: Callable[[], Visibility],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        name = webhook.connector
        if urlsplit(webhook.url).scheme.lower() not in ("http", "https"):
            raise ConnectorConfigError(f"{name} ({webhook.name!r}): its URL is not http(s)")
        # BMO sends the key only when both the header and the value are set.
        keyed = bool(webhook.api_key_header and webhook.api_key_value)
        try:
            options = WebhookOptions(
                api_key_header=webhook.api_key_header if keyed else None,
                timeout=settings.timeout,
                pause_after_failures=settings.pause_after_failures,
                verify=settings.verify,
                ca_bundle=settings.ca_bundle,
                webhook_name=webhook.name,
                webhook_id=webhook.id,
            )
        except ValidationError as exc:
            raise ConnectorConfigError(
                f"{name} ({webhook.name!r}): {exc.errors()[0]['msg']} (its api_key_header in Bugzilla)"
            ) from None
        super().__init__(
            name, webhook.url, options, api_key=webhook.api_key_value if keyed else None, transport=transport
        )
        self.webhook = webhook
        self.pause_after = settings.pause_after_failures
        self._visibility = visibility
        self._jira_rules = settings.jira_webhook_sync_config
        self._to_jira = bound_for_jira(webhook.url, settings.jira_webhook_sync_hostname)
        self._jira_urls: dict[int, str | None] = {}  # bug id → its Jira issue, read once per send

    def should_send(self, message: PushMessage) -> bool:
        w = self.webhook
        return bmo_rules.wants_facts(w.event, w.product, w.component, bmo_rules.message_facts(message))

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        """Send what the owner may see; what it may not is IGNORED (BMO sends nothing of it).

        The check reads Bugzilla's tables now, at sending, as BMO's `send` checks again (BLOCKED
        there): a bug made private after it was queued is not sent. A failed read is transient.
        """
        outcomes: list[Outcome] = []
        visible: list[PushMessage] = []
        self._jira_urls.clear()  # read afresh each send, once per bug
        for message in batch:
            try:
                visibility = self._visibility()
                seen = bmo_rules.owner_can_see(
                    visibility, self.webhook.user_id, message.routing_key, message.body
                )
                bug_id = message.bug_id
                if seen and self._to_jira and bug_id is not None and bug_id not in self._jira_urls:
                    self._jira_urls[bug_id] = visibility.reader.jira_url(bug_id)
            except BugzillaUnavailable as exc:
                if self._send_visible(visible, outcomes):
                    outcomes.append(_outcome(Result.TRANSIENT, str(exc)))
                return outcomes
            if seen:
                visible.append(message)
            elif self._send_visible(visible, outcomes):
                outcomes.append(_outcome(Result.IGNORED, NOT_VISIBLE))
            else:
                return outcomes
        self._send_visible(visible, outcomes)
        return outcomes

    def _send_visible(self, messages: list[PushMessage], outcomes: list[Outcome]) -> bool:
        """POST `messages`, add their outcomes to `outcomes`; return whether the next may follow."""
        if not messages:
            return True
        try:
            answers = super().send(messages)
        except ConnectorFatal as exc:
            exc.outcomes = [*outcomes, *exc.outcomes]
            raise
        outcomes += answers
        sent_all = len(answers) == len(messages) and not (answers and answers[-1].result in _WAIT)
        messages.clear()
        return sent_all

    def _payload(self, message: PushMessage) -> dict[str, Any]:
        """BMO's payload; for a webhook bound for Jira, with JiraWebhookSync's additions."""
        payload = super()._payload(message)
        if not self._to_jira:
            return payload
        jira_url = self._jira_urls.get(message.bug_id) if message.bug_id is not None else None
        return add_jira_fields(payload, jira_url, self._jira_rules)

    def _client(self) -> httpx.Client:
        client = super()._client()
        client.headers["User-Agent"] = USER_AGENT
        return client
