"""Alerts through an Airflow notifier chosen without code: the Variable `bugzilla_push_notifier`.

The Variable names a notifier class (any `BaseNotifier`: SMTP, Slack, … when its provider is
installed) and its arguments, as JSON::

    {"notifier": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
     "kwargs": {"to": "bugzilla-ops@example.org", "from_email": "airflow@example.org",
                "subject": "{{ alert.title }}", "html_content": "<pre>{{ alert.text }}</pre>"}}

Its templated arguments see Airflow's context plus `alert` (`kind`, `title`, `text`). It is read
when an alert is sent, never when a DAG file is parsed; without it alerts are only logged.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier, Variable

from bugzilla_push.errors import BugzillaPushError

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

NOTIFIER_VARIABLE = "bugzilla_push_notifier"


class NotifierConfigError(BugzillaPushError, ValueError):
    """The Variable `bugzilla_push_notifier` is not a notifier class and its arguments."""


def configured_notifier() -> BaseNotifier | None:
    """Build the notifier the Variable names, or None when it is not set."""
    raw = Variable.get(NOTIFIER_VARIABLE, default=None)
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        path, kwargs = spec["notifier"], spec.get("kwargs", {})
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
    except (ValueError, KeyError, TypeError, ImportError, AttributeError) as exc:
        raise NotifierConfigError(
            f"Variable {NOTIFIER_VARIABLE}: {type(exc).__name__}: {exc}; expected JSON "
            '{"notifier": "<module>.<NotifierClass>", "kwargs": {...}}'
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseNotifier)):
        raise NotifierConfigError(f"Variable {NOTIFIER_VARIABLE}: {path} is not an Airflow notifier")
    if not isinstance(kwargs, dict):
        raise NotifierConfigError(f"Variable {NOTIFIER_VARIABLE}: kwargs must be a JSON object")
    return cls(**kwargs)


def send_alert(context: Context | dict[str, Any], kind: str, title: str, text: str) -> bool:
    """Send one alert through the configured notifier (always logged); return whether one was sent."""
    log.warning("alert (%s): %s — %s", kind, title, text)
    notifier = configured_notifier()
    if notifier is None:
        log.info("no notifier configured (Variable %s): the alert is only logged", NOTIFIER_VARIABLE)
        return False
    # A copy: the notifier adds its own fields to the context it is given.
    alert_context: dict[str, Any] = {**context, "alert": {"kind": kind, "title": title, "text": text}}
    dag = alert_context.get("dag")
    if dag is not None and not hasattr(dag, "get_template_env"):
        alert_context["dag"] = _TemplatableDag(dag)
    notifier(alert_context)
    return True


class _TemplatableDag:
    """A DAG that notifiers can render templates with.

    `airflow dags test` (Airflow 3.3) hands DAG callbacks the scheduler's serialized DAG, which has
    no Jinja environment, so every notifier would fail there; templates then render in Airflow's
    default sandbox (the DAG processor, in a deployment, hands over the DAG itself).

    :param dag: the serialized DAG
    """

    render_template_as_native_obj = False  # a DAG setting that needs the DAG's own environment

    def __init__(self, dag: Any) -> None:
        self._dag = dag

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dag, name)

    def get_template_env(self, force_sandboxed: bool = False) -> Any:
        from jinja2.sandbox import SandboxedEnvironment

        return SandboxedEnvironment(cache_size=0)


class RunFailedNotifier:
    """A DAG's `on_failure_callback`: tells the configured notifier that a run failed.

    A run fails when a connector failed (connector-fatal errors included: finalize fails the run so
    that it shows) or a task could not run. Built when the DAG file is parsed, so it reads nothing
    then; the Variable is read when a run fails. A plain callable, not a notifier itself: it has
    nothing to render, and the notifier it calls renders its own templates.
    """

    def __call__(self, context: Context) -> None:
        from airflow.sdk.configuration import conf

        dag_id = context["dag"].dag_id
        run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
        ti = context.get("ti")
        base = conf.get("api", "base_url", fallback="").rstrip("/")
        lines = [f"DAG {dag_id}, run {run_id}: {context.get('reason') or 'failed'}."]
        if ti is not None:
            lines.append(f"Last task: {ti.task_id} ({getattr(ti, 'state', None) or 'failed'}).")
        if base:
            lines.append(f"{base}/dags/{dag_id}/runs/{run_id}")
        send_alert(context, "run_failed", f"{dag_id}: run {run_id} failed", "\n".join(lines))
