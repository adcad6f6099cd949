"""The provider info Airflow reads: valid for Airflow, found by the entry point, true to the connectors.

The forms are static data (Airflow calls `get_provider_info` in every process); these tests keep
them in step with the connectors' option models: every field is an option, of the option's type,
and a default a field states (a boolean's, or "default N" in a description) is the model's.
"""

from __future__ import annotations

import json
import re
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bugzilla_push.airflow.provider import get_provider_info
from bugzilla_push.connectors.registry import connector_class

if TYPE_CHECKING:
    from pydantic import BaseModel

TYPES = ("amqp", "amqps", "bugzilla_elasticsearch", "webhook", "phabricator")
JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def connection_types() -> dict[str, dict[str, Any]]:
    return {t["connection-type"]: t for t in get_provider_info()["connection-types"]}


def options_of(conn_type: str) -> type[BaseModel]:
    return connector_class(conn_type).Options


def test_the_entry_point_names_get_provider_info() -> None:
    found = [e for e in entry_points(group="apache_airflow_provider") if e.dist.name == "bugzilla-push"]
    assert [e.load() for e in found] == [get_provider_info]


def test_the_provider_info_passes_airflows_own_schema() -> None:
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    assert get_provider_info()["package-name"] == "bugzilla-push"


def test_each_type_names_a_hook_of_that_type_and_name() -> None:
    assert tuple(connection_types()) == TYPES
    for conn_type, entry in connection_types().items():
        module, _, name = entry["hook-class-name"].rpartition(".")
        hook = getattr(import_module(module), name)
        assert (hook.conn_type, hook.hook_name) == (conn_type, entry["hook-name"])
        assert hook.connector_class is connector_class(conn_type)
        assert callable(hook.test_connection)


@pytest.mark.parametrize("conn_type", TYPES)
def test_every_form_field_is_an_option_of_its_type(conn_type: str) -> None:
    fields = connection_types()[conn_type]["conn-fields"]
    model = options_of(conn_type)
    for key, spec in fields.items():
        assert key in model.model_fields, f"{conn_type}: {key} is not an option"
        annotation = model.model_fields[key].annotation
        python_types = [t for t in getattr(annotation, "__args__", (annotation,)) if t is not type(None)]
        wanted = JSON_TYPES.get(python_types[0], "string")  # tuples (events) are typed as text
        assert spec["schema"]["type"] == [wanted, "null"], f"{conn_type}.{key}"


@pytest.mark.parametrize("conn_type", TYPES)
def test_a_default_the_form_states_is_the_models(conn_type: str) -> None:
    model = options_of(conn_type)
    for key, spec in connection_types()[conn_type]["conn-fields"].items():
        default = model.model_fields[key].default
        if "default" in spec["schema"] and key != "tls":  # tls: null means by scheme; the form says which
            assert spec["schema"]["default"] == default, f"{conn_type}.{key}"
        stated = re.search(r"\b(?:Default|default) (\d+(?:\.\d+)?)\b", spec["description"])
        if stated:
            assert float(stated[1]) == default, f"{conn_type}.{key}: says {stated[1]}, model has {default}"


def test_the_tls_switch_shows_what_the_scheme_implies() -> None:
    types = connection_types()
    assert types["amqp"]["conn-fields"]["tls"]["schema"]["default"] is False
    assert types["amqps"]["conn-fields"]["tls"]["schema"]["default"] is True


@pytest.mark.parametrize("conn_type", TYPES)
def test_every_option_has_a_field_except_the_selector(conn_type: str) -> None:
    fields = set(connection_types()[conn_type]["conn-fields"])
    # "connector" picks Phabricator on an `http` connection; its own type needs no such field.
    assert set(options_of(conn_type).model_fields) - fields <= {"connector"}


def test_the_ui_gets_the_forms_and_keeps_the_http_providers_own() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}
    pulse = meta["amqp"]
    assert pulse.hook_name == "Pulse (AMQP)"
    assert pulse.hook_class_name == "bugzilla_push.airflow.hooks.pulse.PulseHook"
    assert pulse.standard_fields.url_schema.title == "Virtual host"
    assert pulse.extra_fields["exchange"]["schema"]["title"] == "Exchange"
    assert pulse.extra_fields["declare"]["value"] is True
    webhook = meta["webhook"]
    assert webhook.standard_fields.host.title == "Receiver URL"
    assert webhook.standard_fields.url_schema.hidden
    assert not webhook.standard_fields.port.hidden  # Airflow 3.3.2's Test refuses a connection without one
    assert set(webhook.extra_fields) == set(connection_types()["webhook"]["conn-fields"])
    http = meta["http"]
    assert http.hook_class_name == "airflow.providers.http.hooks.http.HttpHook"
    assert set(http.extra_fields) == {"srv_lookup"}
