"""The options table of `docs/connectors/phabricator.md` lists exactly the connector's options."""

from __future__ import annotations

import json
import re

from bugzilla_push.connectors import ConnectorOptions
from bugzilla_push.connectors.phabricator import PhabricatorConnector
from tests.conftest import ROOT

_ROW = re.compile(r"^\| `(?P<option>\w+)` \| `(?P<default>[^`]*)` \| (?P<required>yes|no) \|")


def test_the_options_table_matches_the_options_model() -> None:
    text = (ROOT / "docs" / "connectors" / "phabricator.md").read_text()
    section = text.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = {m["option"]: m for line in section.splitlines() if (m := _ROW.match(line))}
    common = ConnectorOptions.model_fields  # every connector's, in docs/connectors/index.md
    fields = {k: f for k, f in PhabricatorConnector.Options.model_fields.items() if k not in common}
    assert list(rows) == list(fields)
    for name, field in fields.items():
        assert json.loads(rows[name]["default"]) == field.default, name
        assert rows[name]["required"] == ("yes" if field.is_required() else "no")
