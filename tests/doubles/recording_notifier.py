"""A test double: an Airflow notifier that records what it was sent instead of sending it.

Alerts are sent from other processes (`airflow dags test`, `airflow tasks test`, the DAG
processor), so it appends one JSON line per notification to a file the test reads. Its subject and
message are templated like a real notifier's (`{{ alert.title }}`), so the rendering is tested too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context


class RecordingNotifier(BaseNotifier):
    """Appends each notification to `path` as JSON: subject, message, DAG, and the alert's kind.

    :param path: the JSON-lines file
    :param subject: a template, like SmtpNotifier's
    :param message: a template
    """

    template_fields = ("subject", "message")

    def __init__(
        self, path: str, subject: str = "{{ alert.title }}", message: str = "{{ alert.text }}"
    ) -> None:
        super().__init__()
        self.path = path
        self.subject = subject
        self.message = message

    def notify(self, context: Context) -> None:
        record = {
            "subject": self.subject,
            "message": self.message,
            "dag_id": context["dag"].dag_id,
            "kind": context["alert"]["kind"],
        }
        with Path(self.path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def notifier_variable(path: Path) -> str:
    """The Variable `bugzilla_push_notifier` that makes alerts go to a RecordingNotifier on `path`."""
    return json.dumps({"notifier": f"{__name__}.{RecordingNotifier.__name__}", "kwargs": {"path": str(path)}})


def recorded(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
