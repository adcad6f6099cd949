"""Realistic Bugzilla push messages, shaped like BMO's: for the first run, tests and benchmarks.

:class:`BugzillaSimulator` plays a small Bugzilla: bugs are filed, triaged, commented on, get
patches, go private and public again, and are fixed, each change producing the message (payload,
routing key, change set) Bugzilla's Push extension would write.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bugzilla_push.model import routing_key_for

if TYPE_CHECKING:
    from collections.abc import Iterator

PRODUCTS = {
    "Core": ["DOM: Core & HTML", "Networking", "Graphics", "JavaScript Engine"],
    "Firefox": ["General", "Address Bar", "Tabbed Browser"],
    "bugzilla.mozilla.org": ["General", "Extensions: Push"],
}
USERS = [
    (13647, "[email protected]", "byron jones [:glob]"),
    (40001, "[email protected]", "Ada Lovelace [:ada]"),
    (40002, "[email protected]", "Grace Hopper"),
    (40003, "[email protected]", "Linus Builder [:lb]"),
]
STATUSES = ["NEW", "ASSIGNED", "RESOLVED"]


def _user(u: tuple[int, str, str]) -> dict[str, Any]:
    return {"id": u[0], "login": u[1], "real_name": u[2]}


@dataclass
class BugzillaSimulator:
    """Generates a plausible change stream.

    :param seed: the same seed gives the same stream
    :param private_ratio: share of bugs filed private (security bugs)
    :param start: Bugzilla's clock at the first change
    """

    seed: int = 1
    private_ratio: float = 0.1
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    _rng: random.Random = field(init=False)
    _bugs: dict[int, dict[str, Any]] = field(init=False, default_factory=dict)
    _next_bug: int = field(init=False, default=1_900_000)
    _next_comment: int = field(init=False, default=16_000_000)
    _next_attachment: int = field(init=False, default=9_300_000)
    _clock: datetime = field(init=False)
    _pid: int = field(init=False, default=4242)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._clock = self.start

    def messages(self, count: int) -> Iterator[dict[str, Any]]:
        """`count` messages as `{"payload": {...}, "routing_key": ..., "change_set": ...}`."""
        produced = 0
        while produced < count:
            for message in self._next_change():
                if produced == count:
                    return
                produced += 1
                yield message

    # -- one user action, one or more messages ----------------------------------------------

    def _next_change(self) -> list[dict[str, Any]]:
        self._clock += timedelta(seconds=self._rng.randint(1, 90))
        if not self._bugs or self._rng.random() < 0.15:
            return self._file_bug()
        bug = self._bugs[self._rng.choice(list(self._bugs))]
        roll = self._rng.random()
        if roll < 0.35:
            return [self._comment(bug)]
        if roll < 0.45:
            return [self._attachment(bug)]
        if roll < 0.52:
            return self._toggle_privacy(bug)
        return [self._modify(bug)]

    def _file_bug(self) -> list[dict[str, Any]]:
        self._next_bug += 1
        product = self._rng.choice(list(PRODUCTS))
        reporter = _user(self._rng.choice(USERS))
        now = self._now()
        bug = {
            "id": self._next_bug,
            "alias": None,
            "assigned_to": {"id": 1, "login": "[email protected]", "real_name": "Nobody; OK to take it"},
            "classification": "Components",
            "component": {"id": 500 + self._rng.randint(0, 99), "name": self._rng.choice(PRODUCTS[product])},
            "creation_time": now,
            "creator": reporter,
            "flags": [],
            "is_private": self._rng.random() < self.private_ratio,
            "keywords": [],
            "last_change_time": now,
            "operating_system": self._rng.choice(["Unspecified", "Linux", "Windows 11", "macOS"]),
            "platform": self._rng.choice(["Unspecified", "x86_64", "ARM64"]),
            "priority": "--",
            "product": {"id": list(PRODUCTS).index(product) + 1, "name": product},
            "qa_contact": None,
            "reporter": reporter,
            "resolution": "",
            "see_also": [],
            "severity": self._rng.choice(["S2", "S3", "S4", "--"]),
            "status": {"id": 1, "name": "NEW"},
            "summary": self._summary(),
            "target_milestone": {"id": 1, "name": "---"},
            "type": self._rng.choice(["defect", "enhancement", "task"]),
            "url": "",
            "version": {"id": 355, "name": "unspecified"},
            "whiteboard": "",
            "cf_crash_signature": "",
        }
        self._bugs[bug["id"]] = bug
        return [self._message("bug", "create", bug, [], _user(self._rng.choice(USERS)))]

    def _modify(self, bug: dict[str, Any]) -> dict[str, Any]:
        changes = []
        if bug["status"]["name"] != "RESOLVED" and self._rng.random() < 0.5:
            old = bug["status"]["name"]
            new = STATUSES[STATUSES.index(old) + 1]
            bug["status"] = {"id": STATUSES.index(new) + 1, "name": new}
            changes.append({"field": "status", "removed": old, "added": new})
            if new == "RESOLVED":
                bug["resolution"] = self._rng.choice(["FIXED", "DUPLICATE", "WONTFIX"])
                changes.append({"field": "resolution", "removed": "", "added": bug["resolution"]})
            if new == "ASSIGNED":
                old_assignee = bug["assigned_to"]["login"]
                bug["assigned_to"] = _user(self._rng.choice(USERS))
                changes.append(
                    {"field": "assigned_to", "removed": old_assignee, "added": bug["assigned_to"]["login"]}
                )
        else:
            old = bug["priority"]
            bug["priority"] = self._rng.choice(["P1", "P2", "P3", "P5"])
            changes.append({"field": "priority", "removed": old, "added": bug["priority"]})
            if self._rng.random() < 0.3:
                bug["keywords"] = sorted({*bug["keywords"], "regression"})
                changes.append({"field": "keywords", "removed": "", "added": "regression"})
        changes.sort(key=lambda c: c["field"])
        bug["last_change_time"] = self._now()
        return self._message("bug", "modify", bug, changes, _user(self._rng.choice(USERS)))

    def _toggle_privacy(self, bug: dict[str, Any]) -> list[dict[str, Any]]:
        """BMO sends the `is_private` transition (from the public side) before the change itself."""
        going_private = not bug["is_private"]
        removed, added = ("0", "1") if going_private else ("1", "0")
        actor = _user(self._rng.choice(USERS))
        change_set = self._change_set()
        public_side = dict(bug) if going_private else {**bug, "is_private": False}
        transition = self._message(
            "bug",
            "modify",
            public_side,
            [{"field": "is_private", "removed": removed, "added": added}],
            actor,
            change_set,
        )
        bug["is_private"] = going_private
        bug["last_change_time"] = self._now()
        change = self._message(
            "bug",
            "modify",
            bug,
            [
                {
                    "field": "bug_group",
                    "removed": "" if going_private else "core-security",
                    "added": "core-security" if going_private else "",
                }
            ],
            actor,
            change_set,
        )
        return [transition, change]

    def _comment(self, bug: dict[str, Any]) -> dict[str, Any]:
        self._next_comment += 1
        comment = {
            "id": self._next_comment,
            "body": self._rng.choice(
                [
                    "I can reproduce this on Nightly.",
                    "Patch attached, please review.",
                    "Is this still a problem with the latest build?",
                    "Landed: https://hg.example/rev/abc123",
                ]
            ),
            "creation_time": self._now(),
            "is_private": self._rng.random() < 0.05,
            "number": self._rng.randint(1, 40),
            "bug": bug,
        }
        return self._message("comment", "create", comment, [], _user(self._rng.choice(USERS)))

    def _attachment(self, bug: dict[str, Any]) -> dict[str, Any]:
        self._next_attachment += 1
        now = self._now()
        attachment = {
            "id": self._next_attachment,
            "content_type": "text/x-phabricator-request",
            "creation_time": now,
            "description": f"Bug {bug['id']} - part 1: fix it",
            "file_name": f"phabricator-D{self._rng.randint(1000, 99999)}-url.txt",
            "flags": [{"id": self._rng.randint(1, 10**6), "name": "review", "value": "?"}],
            "is_obsolete": False,
            "is_patch": False,
            "is_private": False,
            "last_change_time": now,
            "bug": bug,
        }
        return self._message("attachment", "create", attachment, [], _user(self._rng.choice(USERS)))

    # -- helpers ----------------------------------------------------------------------------

    def _message(
        self,
        target: str,
        action: str,
        obj: dict[str, Any],
        changes: list[dict[str, Any]],
        user: dict[str, Any],
        change_set: str | None = None,
    ) -> dict[str, Any]:
        change_set = change_set or self._change_set()
        event: dict[str, Any] = {
            "action": action,
            "target": target,
            "time": self._now(),
            "user": user,
            "change_set": change_set,
        }
        if action == "modify":
            event["changes"] = changes
        event["routing_key"] = routing_key_for({**event, "routing_key": None})
        payload = {target: json.loads(json.dumps(obj)), "event": event}
        return {"payload": payload, "routing_key": event["routing_key"], "change_set": change_set}

    def _now(self) -> str:
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S")

    def _change_set(self) -> str:
        return f"{self._pid}.{self._clock.timestamp() + self._rng.random():.5f}"

    def _summary(self) -> str:
        subjects = [
            "Crash in",
            "Assertion failure in",
            "Intermittent timeout in",
            "Memory leak in",
            "Wrong layout of",
        ]
        objects = [
            "nsDocShell::LoadURI",
            "the address bar dropdown",
            "WebGL context loss",
            "HTTP/3 retries",
            "the Push connector's backlog page",
        ]
        return f"{self._rng.choice(subjects)} {self._rng.choice(objects)}"


def first_run_samples() -> list[dict[str, Any]]:
    """Return what `make run` loads: every kind of message, a private bug, and one malformed row."""
    sim = BugzillaSimulator(seed=7, private_ratio=0.0)
    out: list[dict[str, Any]] = []
    public = sim._file_bug()
    out += public
    bug = sim._bugs[public[0]["payload"]["bug"]["id"]]
    out.append(sim._modify(bug))
    out.append(sim._comment(bug))
    out.append(sim._attachment(bug))
    sim.private_ratio = 1.0
    secret = sim._file_bug()
    out += secret
    out.append(sim._comment(sim._bugs[secret[0]["payload"]["bug"]["id"]]))
    out += sim._toggle_privacy(bug)  # the public bug goes private: is_private transition first
    out.append(sim._modify(bug))
    # A row Bugzilla should never write, but a broken extension or a hand edit could.
    out.append(
        {
            "payload": '{"bug": {"id": 1, "summary": "truncated',
            "routing_key": "bug.modify:summary",
            "change_set": "4242.0",
        }
    )
    out.append(sim._modify(sim._bugs[public[0]["payload"]["bug"]["id"]]))
    return out
