"""What every connector's hook shares: build the connector from its connection, answer the Test button."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from airflow.sdk import BaseHook

from bugzilla_push.airflow.connection_info import info_of
from bugzilla_push.connectors import Connector, ConnectorConfigError, build_connector
from bugzilla_push.errors import BugzillaPushError


class ConnectorHook(BaseHook):
    """Builds the connector named by an Airflow connection (the connector's name is the connection id).

    Subclasses set Airflow's `conn_name_attr`/`default_conn_name`/`conn_type`/`hook_name`, the
    connector class they build, and the probe that answers the UI's **Test** button.

    :param conn_id: the connection id, which is also the connector's name (or by the keyword
        `conn_name_attr` names; default `default_conn_name`)
    """

    conn_name_attr: ClassVar[str]
    default_conn_name: ClassVar[str]
    connector_class: ClassVar[type[Connector]]

    @staticmethod
    def probe(connector: Any) -> tuple[bool, str]:
        """Reach the destination as delivery would, sending nothing: (ok, what was found or is wrong)."""
        raise NotImplementedError

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        # Airflow passes the id by the hook's own keyword (`pulse_conn_id=…`); callers may pass it first.
        conn_id = kwargs.pop(self.conn_name_attr, conn_id) or self.default_conn_name
        super().__init__(**kwargs)
        setattr(self, self.conn_name_attr, conn_id)

    @property
    def conn_id(self) -> str:
        return getattr(self, self.conn_name_attr)

    def get_conn(self) -> Connector:
        """Build the connector from the connection (nothing is opened yet)."""
        info = info_of(self.conn_id, self.get_connection(self.conn_id))
        connector = build_connector(info)
        if not isinstance(connector, self.connector_class):
            raise ConnectorConfigError(
                f"connection {self.conn_id!r} selects the {type(connector).__name__}, not the "
                f"{self.connector_class.__name__} of {type(self).__name__}"
            )
        return connector

    def test_connection(self) -> tuple[bool, str]:
        """Answer the UI's Test button: would delivery get through, and if not, what is wrong, in words."""
        try:
            connector = self.get_conn()
        except BugzillaPushError as exc:
            return False, self._for_form(str(exc))
        try:
            ok, detail = self.probe(connector)
        finally:
            connector.close()
        return ok, self._for_form(detail)

    def _for_form(self, text: str) -> str:
        """Say "this connection" for the connection on the form (the API tests it under a random id)."""
        name = re.escape(repr(self.conn_id))
        return re.sub(rf"(?:Airflow )?connection {name}", "this connection", text)
