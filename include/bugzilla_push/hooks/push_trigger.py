"""The trigger's class path before 0.2, kept importable: Airflow stores it with each serialized trigger.

A triggerer that restarts onto this release may still hold rows naming
`bugzilla_push.hooks.push_trigger.PushCommitTrigger` until the DAG is parsed again.
"""

from __future__ import annotations

from bugzilla_push.airflow.trigger import PushCommitTrigger

__all__ = ["PushCommitTrigger"]
