"""bugzilla-push as an Airflow provider: the connection types its connectors read, with their forms.

Airflow finds :func:`get_provider_info` through the `apache_airflow_provider` entry point. The
forms are declared here (`conn-fields`, `ui-field-behaviour`), as Airflow 3.2+ providers do, so the
UI builds them without importing a hook. Every option field is one key of the connection's extra;
a field left empty is null there, which means the option's default (stated in its description).
Only booleans carry a default, so that their switch shows what applies.

Types: `amqp`/`amqps` (Pulse), `bugzilla_elasticsearch`, `webhook` and `phabricator`. The
`elasticsearch` and `http` types belong to their providers, whose forms lack this project's options
and whose Test buttons would send them as client arguments or HTTP headers; such connections still
deliver as before.

Every form asks for the port: Airflow 3.3.2's Test button sends a saved connection without one as
port 0, which its API refuses (400, "host or port ... differs"; apache/airflow PR #73298 fixes it).

Static data, no imports from the connectors: Airflow calls this in every process that lists
providers, and it must not fail there.
"""

from __future__ import annotations

from typing import Any

from bugzilla_push import __version__

HOOKS = "bugzilla_push.airflow.hooks"


def _field(label: str, kind: str, description: str, default: Any = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "schema": schema, "description": description}


def _pulse_fields(tls: bool) -> dict[str, Any]:
    return {
        "exchange": _field(
            "Exchange",
            "string",
            "Where messages are published. Default: exchange/<login>/bugzilla (on Pulse a user may write "
            "only under exchange/<login>/).",
        ),
        "declare": _field(
            "Declare the exchange",
            "boolean",
            "On: declare it as a durable topic exchange when connecting. Off: it must exist, or delivery "
            "stops until it does.",
            default=True,
        ),
        "confirm_window": _field(
            "Confirm window",
            "integer",
            "Messages unconfirmed at once, 1-65535 (default 1000): more hides latency; as many may be sent "
            "again after a lost connection.",
        ),
        "chunk_size": _field(
            "Messages per send",
            "integer",
            "Default 2000: bigger chunks publish faster; after a crash up to this many are sent again.",
        ),
        "heartbeat": _field(
            "Heartbeat (s)",
            "integer",
            "Default 60; 0 turns heartbeats off. A dead connection is noticed within about twice this.",
        ),
        "blocked_connection_timeout": _field(
            "Blocked timeout (s)",
            "number",
            "Default 300: how long the broker may block publishing (memory or disk alarm) before the run "
            "backs off.",
        ),
        "confirm_timeout": _field(
            "Confirm timeout (s)",
            "number",
            "Default 30: without any confirm for this long, the messages in flight count as not sent.",
        ),
        "connect_timeout": _field(
            "Connect timeout (s)", "number", "Default 10, to open the TCP (and TLS) connection."
        ),
        "max_message_bytes": _field(
            "Largest message (bytes)",
            "integer",
            "Larger messages are dead-lettered without being sent. Default: the broker's max_message_size, "
            "learned on use.",
        ),
        "tls": _field(
            "TLS",
            "boolean",
            "Encrypt the connection and verify the broker's certificate and host name.",
            default=tls,
        ),
        "ca_file": _field(
            "CA file",
            "string",
            "PEM file of the CA that signs the broker's certificate (TLS only). Default: the system's CAs.",
        ),
    }


def _pulse_form(port: int) -> dict[str, Any]:
    return {
        "hidden-fields": [],
        "relabeling": {"schema": "Virtual host", "login": "User"},
        "placeholders": {
            "host": "pulse.mozilla.org",
            "port": f"{port} (Test needs a port)",
            "schema": "/",
            "login": "bugzilla",
            "password": "the user's password",
        },
    }


WEBHOOK_FIELDS: dict[str, Any] = {
    "endpoint": _field(
        "Endpoint", "string", "A path (and query) put after the URL, like HttpHook's endpoint. Default: none."
    ),
    "api_key_header": _field(
        "API key header",
        "string",
        "The header that carries the API key, e.g. X-Api-Key; the key is the password. Leave empty for "
        "basic authentication (login and password) or none.",
    ),
    "product": _field("Product", "string", "One product's name, or Any (default)."),
    "component": _field(
        "Component", "string", "One component's name, or Any (default); with product Any, in every product."
    ),
    "events": _field(
        "Events",
        "string",
        "Comma-separated, default all: create, change, comment, attachment, attachment_change.",
    ),
    "timeout": _field(
        "Timeout (s)",
        "number",
        "Default 30 per connect, read or write: shorter frees the task sooner and makes a slow receiver's "
        "messages retries.",
    ),
    "pause_after_failures": _field(
        "Pause after failures",
        "integer",
        "Default 10: the webhook pauses itself after this many failed deliveries in a row (0: never).",
    ),
    "include_private_comments": _field(
        "Include private comments",
        "boolean",
        "Send private comments and attachments too, reduced to their ids.",
        default=False,
    ),
    "include_private_bugs": _field(
        "Include private bugs",
        "boolean",
        "Send messages about private bugs reduced to ids; off sends nothing about them.",
        default=True,
    ),
    "verify": _field(
        "Verify TLS certificate",
        "boolean",
        "Off lets anyone on the path read and change the messages; prefer a CA bundle.",
        default=True,
    ),
    "ca_bundle": _field(
        "CA bundle", "string", "PEM file of CA certificates, for a receiver with a private CA."
    ),
    "webhook_name": _field(
        "Webhook name",
        "string",
        "webhook_name in every payload. Default: the connection id without webhook_.",
    ),
    "webhook_id": _field(
        "Webhook id", "integer", "webhook_id in every payload: the webhook's id in Bugzilla. Default: null."
    ),
}

WEBHOOK_FORM: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {
        "host": "Receiver URL",
        "login": "Login (basic authentication)",
        "password": "API key or password",
    },
    "placeholders": {
        "host": "https://hooks.example.org/bugzilla",
        "port": "the URL's, e.g. 443 (Test needs a port)",
        "login": "empty with an API key",
        "password": "sent in the API key header, or with the login",
    },
}

ELASTICSEARCH_FIELDS: dict[str, Any] = {
    "bugs_index": _field("Bugs index", "string", "One document per bug (default bugzilla-bugs)."),
    "comments_index": _field(
        "Comments index", "string", "One per public comment (default bugzilla-comments)."
    ),
    "attachments_index": _field(
        "Attachments index",
        "string",
        "One per public attachment, metadata only (default bugzilla-attachments).",
    ),
    "index_private": _field(
        "Index private objects",
        "boolean",
        "Off: private bugs, comments and attachments never reach the cluster. On: they go to the private "
        "indices, which must be restricted like security bugs.",
        default=False,
    ),
    "private_suffix": _field(
        "Private suffix", "string", "Private indices are <index><suffix> (default -private)."
    ),
    "bulk_size": _field(
        "Actions per request",
        "integer",
        "Default 1000, at most 10000: fewer round trips against more to redo.",
    ),
    "bulk_bytes": _field(
        "Bytes per request", "integer", "Default 10485760 (10 MiB); Elasticsearch refuses 100 MB."
    ),
    "manage_indices": _field(
        "Manage indices",
        "boolean",
        "Install the index templates and create the indices (needs manage_index_templates and create_index); "
        "off needs fewer privileges.",
        default=True,
    ),
    "template_name": _field(
        "Template name", "string", "Prefix of the three index templates (default bugzilla-push)."
    ),
    "gc_deletes": _field(
        "Keep deletes for",
        "string",
        "How long a delete's version is kept (default 7d): an older replay could bring a document back.",
    ),
    "timeout": _field("Timeout (s)", "number", "Default 30 per request; a timeout is retried with backoff."),
    "retries": _field(
        "Client retries", "integer", "Default 2: immediate retries of a lost connection or 429/502/503/504."
    ),
    "verify_certs": _field("Verify TLS certificate", "boolean", "Off only for a test cluster.", default=True),
    "ca_certs": _field("CA bundle", "string", "PEM file, for a cluster with a private CA."),
    "http_compress": _field(
        "Compress requests", "boolean", "gzip request bodies: less network, more CPU.", default=False
    ),
}

ELASTICSEARCH_FORM: dict[str, Any] = {
    "hidden-fields": [],
    "relabeling": {"schema": "Scheme", "password": "Password or API key"},
    "placeholders": {
        "host": "es.example.org",
        "port": "9200 (Test needs a port)",
        "schema": "https (or http)",
        "login": "empty with an API key",
        "password": "with a login its password, alone an API key",
    },
}

PHABRICATOR_FIELDS: dict[str, Any] = {
    "timeout": _field("Timeout (s)", "number", "Default 60 per connect, read or write (BMO's PHAB_TIMEOUT)."),
    "verify": _field(
        "Verify TLS certificate", "boolean", "Off lets anyone on the path read the token.", default=True
    ),
    "project_prefix": _field(
        "Group project prefix", "string", "A bug group's project is this prefix and the group's name (bmo-)."
    ),
    "secure_project": _field(
        "Secure project",
        "string",
        "The project every private revision is tagged with (default secure-revision).",
    ),
    "editbugs_project": _field(
        "Edit-bugs project",
        "string",
        "The edit policy of a public revision (default bmo-editbugs-team; any user if it is missing).",
    ),
    "create_projects": _field(
        "Create group projects",
        "boolean",
        "Create a missing group project as BMO's feed daemon does; off waits for the group sync.",
        default=True,
    ),
    "nobody_login": _field(
        "Nobody's login", "string", "The placeholder assignee (default nobody@mozilla.org), never subscribed."
    ),
    "include_private_attachments": _field(
        "Follow private attachments",
        "boolean",
        "Off: only public attachments name revisions, as BMO's daemon sees them.",
        default=False,
    ),
}

PHABRICATOR_FORM: dict[str, Any] = {
    "hidden-fields": ["schema", "login"],
    "relabeling": {"host": "Phabricator URL", "password": "Conduit API token"},
    "placeholders": {
        "host": "https://phabricator.services.mozilla.com",
        "port": "the URL's, e.g. 443 (Test needs a port)",
        "password": "api-…",
    },
}


# Options every connector has (`ConnectorOptions`); a connector's own fields may override them.
COMMON_FIELDS: dict[str, Any] = {
    "pause_after_failures": _field(
        "Pause after failures",
        "integer",
        "The connector pauses itself after this many failed deliveries in a row (default 0: never).",
    ),
}


def _type(
    conn_type: str, hook: str, name: str, fields: dict[str, Any], form: dict[str, Any]
) -> dict[str, Any]:
    return {
        "connection-type": conn_type,
        "hook-class-name": f"{HOOKS}.{hook}",
        "hook-name": name,
        "conn-fields": {**COMMON_FIELDS, **fields},
        "ui-field-behaviour": form,
    }


def get_provider_info() -> dict[str, Any]:
    """Describe this package to Airflow's ProvidersManager (the `apache_airflow_provider` entry point)."""
    return {
        "package-name": "bugzilla-push",
        "name": "Bugzilla push",
        "description": "Delivers Bugzilla's push table to Pulse, Elasticsearch, webhooks, Phabricator, files",
        "versions": [__version__],
        "connection-types": [
            _type("amqp", "pulse.PulseHook", "Pulse (AMQP)", _pulse_fields(tls=False), _pulse_form(5672)),
            _type(
                "amqps",
                "pulse.PulseTlsHook",
                "Pulse (AMQP over TLS)",
                _pulse_fields(tls=True),
                _pulse_form(5671),
            ),
            _type(
                "bugzilla_elasticsearch",
                "elasticsearch.ElasticsearchHook",
                "Elasticsearch (bugzilla-push)",
                ELASTICSEARCH_FIELDS,
                ELASTICSEARCH_FORM,
            ),
            _type("webhook", "webhook.WebhookHook", "Bugzilla webhook", WEBHOOK_FIELDS, WEBHOOK_FORM),
            _type(
                "phabricator",
                "phabricator.PhabricatorHook",
                "Phabricator",
                PHABRICATOR_FIELDS,
                PHABRICATOR_FORM,
            ),
        ],
    }
