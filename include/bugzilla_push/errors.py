"""The root of every exception bugzilla-push raises on purpose (the bottom layer: imports nothing).

`except BugzillaPushError` catches them all. Each subclass is defined beside the code that raises
it and keeps a built-in base where callers expect one (a bad message is also a ValueError):

- :class:`~bugzilla_push.model.InvalidMessage`, :class:`~bugzilla_push.config.ConfigError`,
  :class:`~bugzilla_push.store.replays.ReplayError`, :class:`~bugzilla_push.cli.InputError`:
  bad input, said how to fix (ValueError);
- :class:`~bugzilla_push.connectors.base.ConnectorConfigError`: a connector's connection is wrong;
  :class:`~bugzilla_push.connectors.base.ConnectorFatal`: a connector cannot deliver until an
  operator acts, and its subclass :class:`~bugzilla_push.self_pause.ConnectorPaused`: the engine
  paused it after too many failed deliveries in a row;
- :class:`~bugzilla_push.store.base.LockTimeout`,
  :class:`~bugzilla_push.store.notify.NotifyUnsupported`,
  :class:`~bugzilla_push.store.operations.NotFound`: the store;
- :class:`~bugzilla_push.airflow.hooks.bugzilla_db.BugzillaDbNotConfigured`: the database connection;
  :class:`~bugzilla_push.bugzilla.reader.BugzillaUnavailable`: Bugzilla's own tables cannot be read;
- inside a connector, the causes it classifies into outcomes (the Phabricator connector's
  :class:`~bugzilla_push.connectors.phabricator.conduit.ConduitError` and its subclasses,
  :class:`~bugzilla_push.connectors.phabricator.sync.PhabricatorSetupError`,
  :class:`~bugzilla_push.connectors.phabricator.sync.ProjectMissing`).

What happens to one message is not an exception but an :class:`~bugzilla_push.connectors.base.Outcome`.
"""

from __future__ import annotations


class BugzillaPushError(Exception):
    """Something bugzilla-push detected and explains; the message says what to do about it."""
