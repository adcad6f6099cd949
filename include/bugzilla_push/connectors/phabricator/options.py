"""The Phabricator connector's options, in its connection's extra (no I/O here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bugzilla_push.connectors.base import ConnectorOptions


class PhabricatorOptions(ConnectorOptions):
    """Options in the `phabricator` connection's extra; the token is the connection's password."""

    # None: "phabricator" selects this connector for an `http` connection of another id.
    connector: Literal["phabricator"] | None = None
    # 60 s (BMO's PHAB_TIMEOUT) per connect, read or write: shorter frees the task sooner, makes a
    # slow Phabricator a retry.
    timeout: float = Field(60.0, gt=0, le=300)
    # True: check Phabricator's TLS certificate; off lets anyone on the path read the token.
    verify: bool = True
    # "bmo-": a bug group's project is this prefix and the group's name (BMO's `bmo-<group>`).
    project_prefix: str = Field("bmo-", min_length=1)
    # "secure-revision": the project every private revision is tagged with, and whose members
    # govern the group projects (BMO's PhabBugz setup creates it).
    secure_project: str = Field("secure-revision", min_length=1)
    # "bmo-editbugs-team": the edit policy of a public revision; "users" (any user) if it is missing.
    editbugs_project: str = Field("bmo-editbugs-team", min_length=1)
    # True: create a missing `bmo-<group>` project as BMO's feed daemon does; False waits (transient)
    # until that daemon's group sync has made it.
    create_projects: bool = True
    # "nobody@mozilla.org": the placeholder assignee, who is not a subscriber (BMO's `is_bug_assigned`).
    nobody_login: str = "nobody@mozilla.org"
    # False: only public attachments name revisions, as BMO's daemon (logged out) sees them; True also
    # follows private ones.
    include_private_attachments: bool = False
