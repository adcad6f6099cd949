"""Reading Bugzilla's own tables (bugs, groups, users, attachments), not the push tables.

Some connectors need more than the message: the Phabricator connector reads a bug's groups,
roles and revision attachments as they are now. They get a :class:`BugzillaReader` from whoever
builds them (the Airflow layer opens it on the `bugzilla_db` connection); a connector that wants
one implements :class:`ReadsBugzilla`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bugzilla_push.bugzilla.reader import (
    Attachment,
    Bug,
    BugzillaReader,
    BugzillaUnavailable,
    Database,
    Group,
)

__all__ = [
    "Attachment",
    "Bug",
    "BugzillaReader",
    "BugzillaUnavailable",
    "Database",
    "Group",
    "ReadsBugzilla",
]


@runtime_checkable
class ReadsBugzilla(Protocol):
    """A connector that reads Bugzilla's tables; it is given a reader before its first `send`."""

    def use_bugzilla(self, reader: BugzillaReader) -> None:
        """Take the reader to use (the connector closes it in its own `close`)."""
