"""Realistic Bugzilla push messages in either payload shape BMO has used (today's by default).

`shapes` describes a change once and writes it as a legacy or current payload; `stream` simulates
a Bugzilla producing such changes.
"""

from __future__ import annotations

from bugzilla_push.samples.shapes import SHAPES, BugzillaChange, Shape, render
from bugzilla_push.samples.stream import BugzillaSimulator, first_run_changes, first_run_samples

__all__ = [
    "SHAPES",
    "BugzillaChange",
    "BugzillaSimulator",
    "Shape",
    "first_run_changes",
    "first_run_samples",
    "render",
]
