"""The Phabricator connector: keeps revisions' visibility in line with their bug, as BMO's does.

bugzilla.mozilla.org's `extensions/Push/lib/Connector/Phabricator.pm`: when a bug's groups,
assignee, QA contact or CC change and the bug has Phabricator revision attachments, its revisions
are made public (the bug is in no group) or given a custom policy with the `bmo-<group>` projects,
and a private bug's revisions get the bug's people as subscribers. The bug is read as it is now
from Bugzilla's tables (:mod:`bugzilla_push.bugzilla`), the revisions through Conduit
(:mod:`.sync`); the decisions are in :mod:`.policy`.

Connection: type `http` with id `phabricator` (or the extra `"connector": "phabricator"`), the
Phabricator URL as host, the Conduit API token as password, options in the extra
(:mod:`.options`).

Failure classes: Bugzilla's database or Phabricator unreachable, a timeout, 5xx or 429 are
transient; a Conduit error for this message's revisions (such as one it may not edit) rejects the
message (BMO retried it forever); a refused token, a missing Conduit method, a redirect or no
`secure-revision` project are connector-fatal. Differences from BMO, each for a reason: the
attachment check is in `send` (`should_send` does no I/O here), and only what differs from a
revision's current state is sent, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self, cast

from bugzilla_push.bugzilla import BugzillaUnavailable
from bugzilla_push.connectors.base import OK, Connector, ConnectorConfigError, ConnectorFatal, Outcome
from bugzilla_push.connectors.phabricator.conduit import (
    ConduitClient,
    ConduitFailed,
    ConduitRefused,
    ConduitUnavailable,
)
from bugzilla_push.connectors.phabricator.options import PhabricatorOptions
from bugzilla_push.connectors.phabricator.policy import (
    PHAB_CONTENT_TYPE,
    Action,
    decide,
    is_group_change,
    is_public,
    revision_ids,
    role_user_ids,
    wants,
)
from bugzilla_push.connectors.phabricator.sync import BugSync, PhabricatorSetupError, ProjectMissing
from bugzilla_push.connectors.webhook.options import webhook_url
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from bugzilla_push.bugzilla import BugzillaReader
    from bugzilla_push.connectors.base import ConnectionInfo
    from bugzilla_push.model import PushMessage

log = logging.getLogger(__name__)


class PhabricatorConnector(Connector):
    """Applies a bug's privacy to its Phabricator revisions, one message at a time, in push-id order.

    :param url: Phabricator's base URL
    :param token: the Conduit API token (never logged or stored)
    :param options: project names, timeout, TLS
    :param bugzilla: reads Bugzilla's tables; may also be given later with :meth:`use_bugzilla`
    :param transport: an httpx transport instead of the network (tests)
    """

    kind = "phabricator"
    Options = PhabricatorOptions

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        options: PhabricatorOptions | None = None,
        bugzilla: BugzillaReader | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(name)
        self.options = options = options or PhabricatorOptions()
        if not token or not token.isprintable():
            raise ConnectorConfigError(
                f"connection {name!r}: set the Conduit API token (api-…) as the connection's password"
            )
        self.conduit = ConduitClient(url, token, options.timeout, options.verify, transport)
        self.bugzilla = bugzilla

    @classmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        options = cls.parse_options(info)
        if not info.password:
            raise ConnectorConfigError(
                f"connection {info.conn_id!r} has no password: set Phabricator's Conduit API token (api-…) "
                "as the connection's password"
            )
        return cls(info.conn_id, webhook_url(info), info.password, options)

    def use_bugzilla(self, reader: BugzillaReader) -> None:
        """Read bugs through `reader` (closed with the connector)."""
        self.bugzilla = reader

    # -- the contract ------------------------------------------------------------------------

    def should_send(self, message: PushMessage) -> bool:
        """Take a bug's group, assignee, QA contact or CC changes (`send` checks its attachments)."""
        key = message.event.routing_key or message.routing_key  # the payload keeps the key uncut
        return wants(key) and isinstance(message.bug_id, int)

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        """Sync each message's bug in order; stop at the first transient failure.

        Raises :class:`ConnectorFatal`, with the outcomes of the messages before it, when nothing can
        work until an operator acts.
        """
        reader = self.bugzilla
        if reader is None:
            raise _fatal(
                f"connector {self.name!r} reads Bugzilla's tables but was given no database to read: it "
                "runs only where the `bugzilla_db` connection is passed to it (the DAG's deliver task)"
            )
        outcomes: list[Outcome] = []
        for message in batch:
            try:
                outcome = self._sync(reader, message)
            except (ConduitRefused, PhabricatorSetupError) as exc:
                raise _fatal(str(exc), outcomes) from None
            except (ConduitUnavailable, BugzillaUnavailable, ProjectMissing) as exc:
                outcome = _transient(str(exc))
            except ConduitFailed as exc:
                outcome = _rejected(f"Phabricator refused a change for this bug: {exc}")
            outcomes.append(outcome)
            if outcome.result is Result.TRANSIENT:
                break
        return outcomes

    def close(self) -> None:
        self.conduit.close()
        if self.bugzilla is not None:
            self.bugzilla.close()

    # -- one message -------------------------------------------------------------------------

    def _sync(self, reader: BugzillaReader, message: PushMessage) -> Outcome:
        bug_id = cast("int", message.bug_id)  # should_send made sure there is one
        bug = reader.bug(bug_id)
        if bug is None:
            return _ignored(f"bug {bug_id} is not in Bugzilla's database")
        attachments = reader.attachments(
            bug_id, PHAB_CONTENT_TYPE, include_private=self.options.include_private_attachments
        )
        ids = revision_ids(attachments)
        if not ids:
            return _ignored(f"bug {bug_id} has no Phabricator revision attachments")
        groups = reader.bug_groups(bug_id)
        action = decide(is_public(groups), is_group_change(message.event.routing_key or message.routing_key))
        if action is Action.NOTHING:
            return _sent()
        people = role_user_ids(bug, reader.cc(bug_id), self.options.nobody_login)
        sync = BugSync(self.conduit, self.options)
        revisions = sync.revisions(ids)
        edited = sync.apply(action, revisions, groups, people) if revisions else 0
        log.info("bug %d (%s): %d of %d revisions changed", bug_id, action.value, edited, len(revisions))
        return _sent()


# One place that makes outcomes, so a change of the outcome vocabulary touches only these.


def _sent() -> Outcome:
    return OK


def _ignored(reason: str) -> Outcome:
    return Outcome(Result.IGNORED, reason)


def _rejected(reason: str) -> Outcome:
    return Outcome(Result.ERROR, reason)


def _transient(reason: str) -> Outcome:
    return Outcome(Result.TRANSIENT, reason)


def _fatal(reason: str, outcomes: Sequence[Outcome] = ()) -> ConnectorFatal:
    return ConnectorFatal(reason, outcomes)
