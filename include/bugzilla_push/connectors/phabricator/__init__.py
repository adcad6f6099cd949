"""Phabricator: revisions' visibility kept in line with their bug, as BMO's PhabBugz does."""

from __future__ import annotations

from bugzilla_push.connectors.phabricator.connector import PhabricatorConnector

__all__ = ["PhabricatorConnector"]
