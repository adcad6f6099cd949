"""Airflow's own CLI, in a subprocess, sees this package as a provider with its connection types."""

from __future__ import annotations

import json

import pytest

from bugzilla_push import __version__
from bugzilla_push.airflow.provider import get_provider_info
from tests.support import airflow

pytestmark = pytest.mark.integration


def test_airflow_lists_the_provider_and_its_hooks_without_complaint() -> None:
    providers = airflow("providers", "list", "-o", "json")
    assert providers.returncode == 0, providers.stderr[-3000:]
    ours = [p for p in json.loads(providers.stdout) if p["package_name"] == "bugzilla-push"]
    assert [p["version"] for p in ours] == [__version__]

    hooks = airflow("providers", "hooks", "-o", "json")
    assert hooks.returncode == 0, hooks.stderr[-3000:]
    listed = {
        h["connection_type"]: h for h in json.loads(hooks.stdout) if h["package_name"] == "bugzilla-push"
    }
    declared = {t["connection-type"]: t["hook-class-name"] for t in get_provider_info()["connection-types"]}
    assert {t: h["class"] for t, h in listed.items()} == declared
    # No type of ours is claimed by another provider, nor one of theirs by us.
    assert "already registered" not in hooks.stderr
