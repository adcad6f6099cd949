"""bugzilla-push as an Airflow provider: what the `apache_airflow_provider` entry point answers.

Airflow lists it under `airflow providers list`; connection types, hooks and the like are read from
the same dictionary, and none is registered here yet.
"""

from __future__ import annotations

from typing import Any

from bugzilla_push import __version__


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata in the shape of Airflow's provider_info schema."""
    return {
        "package-name": "bugzilla-push",
        "name": "bugzilla-push",
        "description": "Delivers Bugzilla's push table to Pulse, Elasticsearch, files and webhooks.",
        "versions": [__version__],
    }
