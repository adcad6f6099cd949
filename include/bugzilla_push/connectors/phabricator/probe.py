"""The Phabricator connection's check for Airflow's **Test** button: `user.whoami` with the token.

It reaches Phabricator's Conduit API as a sync would (the same URL, token, TLS settings and timeout)
and changes nothing; the answer names the account the token belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bugzilla_push.connectors.phabricator.conduit import ConduitError, ConduitRefused

if TYPE_CHECKING:
    from bugzilla_push.connectors.phabricator.connector import PhabricatorConnector


def probe(connector: PhabricatorConnector) -> tuple[bool, str]:
    """Call `user.whoami`; return whether the token works, and whose it is or what is wrong, in words."""
    where = f"Phabricator at {connector.conduit.url}"
    try:
        me = connector.conduit.call("user.whoami", {}) or {}
    except ConduitRefused as exc:
        return False, f"{where} refuses the API token (the connection's password): {exc}"
    except ConduitError as exc:
        return False, f"{where} did not answer as Conduit does: {exc}"
    return True, f"{where} accepts the API token of user {me.get('userName')!r}"
