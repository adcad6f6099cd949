"""A simulated Bugzilla: a realistic change stream, for the first run, tests and benchmarks.

:class:`BugzillaSimulator` plays a small Bugzilla: bugs are filed, triaged, commented on, get
patches and release-tracking flags, go private and public again, and are fixed. Each change is
described once (:class:`~bugzilla_push.samples.shapes.BugzillaChange`) and written in either payload
shape (today's by default) with the routing key and change set Bugzilla's Push extension stores.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bugzilla_push.samples.shapes import (
    Attachment,
    Bug,
    BugzillaChange,
    Comment,
    FieldChange,
    Flag,
    Named,
    Shape,
    User,
    render,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

PRODUCTS = {
    "Core": ["DOM: Core & HTML", "Networking", "Graphics", "JavaScript Engine"],
    "Firefox": ["General", "Address Bar", "Tabbed Browser"],
    "bugzilla.mozilla.org": ["General", "Extensions: Push"],
}
USERS = [
    User(13647, "glob@example.org", "byron jones [:glob]"),
    User(40001, "ada@example.org", "Ada Lovelace [:ada]"),
    User(40002, "grace@example.org", "Grace Hopper"),
    User(40003, "lb@example.org", "Linus Builder [:lb]"),
]
NOBODY = User(1, "nobody@mozilla.org", "Nobody; OK to take it")
STATUSES = ["NEW", "ASSIGNED", "RESOLVED"]
SECURITY_GROUP = "core-security"
RELEASES = range(135, 139)  # Firefox versions with status and tracking flags on every bug
COMMENTS = [
    "I can reproduce this on Nightly.",
    "Patch attached, please review.",
    "Is this still a problem with the latest build?",
    "Landed: https://hg.example/rev/abc123",
]


def release_flags() -> dict[str, str]:
    """BMO's per-release custom fields, all unset (`---`)."""
    return {f"cf_{kind}_firefox{n}": "---" for n in RELEASES for kind in ("status", "tracking")}


@dataclass
class BugzillaSimulator:
    """Generates a plausible change stream.

    :param seed: the same seed gives the same stream
    :param private_ratio: share of bugs filed private (security bugs)
    :param start: Bugzilla's clock at the first change
    :param shape: the payload shape :meth:`messages` writes (`current`: BMO since 2021)
    :param products: product name → its components, for new bugs (a few of BMO's by default)
    """

    seed: int = 1
    private_ratio: float = 0.1
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    shape: Shape = "current"
    products: dict[str, list[str]] = field(default_factory=lambda: PRODUCTS)
    _rng: random.Random = field(init=False)
    _bugs: dict[int, Bug] = field(init=False, default_factory=dict)
    _next_bug: int = field(init=False, default=1_900_000)
    _next_comment: int = field(init=False, default=16_000_000)
    _next_attachment: int = field(init=False, default=9_300_000)
    _clock: datetime = field(init=False)
    _pid: int = field(init=False, default=4242)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._clock = self.start

    def messages(self, count: int) -> Iterator[dict[str, Any]]:
        """`count` rows as `{"payload": {...}, "routing_key": ..., "change_set": ...}`, in :attr:`shape`."""
        for change in self.changes(count):
            yield render(change, self.shape)

    def changes(self, count: int) -> Iterator[BugzillaChange]:
        """`count` changes, each described once (render them in any shape)."""
        produced = 0
        while produced < count:
            for change in self._next_change():
                if produced == count:
                    return
                produced += 1
                yield change

    # -- one user action, one or more messages ----------------------------------------------

    def _next_change(self) -> list[BugzillaChange]:
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
        if roll < 0.60:
            return [self._track(bug)]
        return [self._modify(bug)]

    def _file_bug(self) -> list[BugzillaChange]:
        self._next_bug += 1
        product = self._rng.choice(list(self.products))
        reporter = self._rng.choice(USERS)
        now = self._now()
        bug = Bug(
            id=self._next_bug,
            summary=self._summary(),
            product=Named(list(self.products).index(product) + 1, product),
            component=Named(500 + self._rng.randint(0, 99), self._rng.choice(self.products[product])),
            reporter=reporter,
            assigned_to=NOBODY,
            creation_time=now,
            last_change_time=now,
            qa_contact=self._rng.choice([None, None, USERS[0]]),
            severity=self._rng.choice(["S2", "S3", "S4", "--"]),
            groups=(SECURITY_GROUP,) if self._rng.random() < self.private_ratio else (),
            operating_system=self._rng.choice(["Unspecified", "Linux", "Windows 11", "macOS"]),
            platform=self._rng.choice(["Unspecified", "x86_64", "ARM64"]),
            type=self._rng.choice(["defect", "enhancement", "task"]),
            custom={"cf_crash_signature": "", **release_flags()},
        )
        self._bugs[bug.id] = bug
        return [self._change("bug", "create", bug, self._rng.choice(USERS))]

    def _modify(self, bug: Bug) -> BugzillaChange:
        changes: list[FieldChange] = []
        updates: dict[str, Any] = {}
        if bug.status.name != "RESOLVED" and self._rng.random() < 0.5:
            old = bug.status.name
            new = STATUSES[STATUSES.index(old) + 1]
            updates["status"] = Named(STATUSES.index(new) + 1, new)
            changes.append(FieldChange("bug_status", old, new))
            if new == "RESOLVED":
                updates["resolution"] = self._rng.choice(["FIXED", "DUPLICATE", "WONTFIX"])
                changes.append(FieldChange("resolution", "", updates["resolution"]))
            if new == "ASSIGNED":
                updates["assigned_to"] = self._rng.choice(USERS)
                assignee = updates["assigned_to"].login
                changes.append(FieldChange("assigned_to", bug.assigned_to.login, assignee))
        else:
            updates["priority"] = self._rng.choice(["P1", "P2", "P3", "P5"])
            changes.append(FieldChange("priority", bug.priority, updates["priority"]))
            if self._rng.random() < 0.3:
                updates["keywords"] = tuple(sorted({*bug.keywords, "regression"}))
                changes.append(FieldChange("keywords", "", "regression"))
        bug = self._update(bug, **updates)
        return self._change("bug", "modify", bug, self._rng.choice(USERS), changes)

    def _track(self, bug: Bug) -> BugzillaChange:
        """Release management marks a bug affected in several releases: a routing key over 64 characters."""
        releases = sorted(self._rng.sample(list(RELEASES), self._rng.randint(2, len(RELEASES))))
        custom = dict(bug.custom)
        changes = []
        for n in releases:
            for kind, value in (("status", "affected"), ("tracking", "+")):
                name = f"cf_{kind}_firefox{n}"
                if custom[name] != value:
                    changes.append(FieldChange(name, custom[name], value))
                    custom[name] = value
        if not changes:
            return self._modify(bug)
        bug = self._update(bug, custom=custom)
        return self._change("bug", "modify", bug, USERS[0], changes)

    def _toggle_privacy(self, bug: Bug) -> list[BugzillaChange]:
        """BMO sends the `is_private` transition (from the public side) before the change itself."""
        going_private = not bug.is_private
        removed, added = ("0", "1") if going_private else ("1", "0")
        actor = self._rng.choice(USERS)
        change_set = self._change_set()
        groups = (SECURITY_GROUP,) if going_private else ()
        after = self._update(bug, groups=groups)
        public_side = bug if going_private else after
        transition = self._change(
            "bug", "modify", public_side, actor, [FieldChange("is_private", removed, added)], change_set
        )
        change = self._change(
            "bug",
            "modify",
            after,
            actor,
            [FieldChange("bug_group", ", ".join(bug.groups), ", ".join(groups))],
            change_set,
        )
        return [transition, change]

    def _comment(self, bug: Bug) -> BugzillaChange:
        self._next_comment += 1
        comment = Comment(
            id=self._next_comment,
            body=self._rng.choice(COMMENTS),
            creation_time=self._now(),
            is_private=self._rng.random() < 0.05,
            number=self._rng.randint(1, 40),
        )
        return self._change("comment", "create", bug, self._rng.choice(USERS), comment=comment)

    def _attachment(self, bug: Bug) -> BugzillaChange:
        self._next_attachment += 1
        now = self._now()
        reviewer = self._rng.choice(USERS)
        attachment = Attachment(
            id=self._next_attachment,
            description=f"Bug {bug.id} - part 1: fix it",
            file_name=f"phabricator-D{self._rng.randint(1000, 99999)}-url.txt",
            content_type="text/x-phabricator-request",
            creation_time=now,
            last_change_time=now,
            flags=(Flag(self._rng.randint(1, 10**6), "review", "?", reviewer),),
        )
        return self._change("attachment", "create", bug, self._rng.choice(USERS), attachment=attachment)

    # -- helpers ----------------------------------------------------------------------------

    def _update(self, bug: Bug, **changes: Any) -> Bug:
        bug = replace(bug, last_change_time=self._now(), **changes)
        self._bugs[bug.id] = bug
        return bug

    def _change(
        self,
        target: str,
        action: str,
        bug: Bug,
        user: User,
        changes: list[FieldChange] | None = None,
        change_set: str | None = None,
        **objects: Any,
    ) -> BugzillaChange:
        return BugzillaChange(
            target=target,  # type: ignore[arg-type]
            action=action,  # type: ignore[arg-type]
            bug=bug,
            user=user,
            time=self._now(),
            change_set=change_set or self._change_set(),
            changes=tuple(changes or ()),
            **objects,
        )

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


def first_run_changes() -> list[BugzillaChange | dict[str, Any]]:
    """Describe what `make run` loads: every kind of message, a private bug, long routing keys.

    One item is a row rather than a change: a payload Bugzilla should never write, but a broken
    extension or a hand edit could (cut JSON), so the first run shows a dead letter.
    """
    sim = BugzillaSimulator(seed=7, private_ratio=0.0)
    out: list[BugzillaChange | dict[str, Any]] = []
    public = sim._file_bug()
    out += public
    bug_id = public[0].bug.id
    out.append(sim._modify(sim._bugs[bug_id]))
    out.append(sim._comment(sim._bugs[bug_id]))
    out.append(sim._attachment(sim._bugs[bug_id]))
    out.append(sim._track(sim._bugs[bug_id]))
    sim.private_ratio = 1.0
    secret = sim._file_bug()
    out += secret
    out.append(sim._comment(sim._bugs[secret[0].bug.id]))
    out += sim._toggle_privacy(sim._bugs[bug_id])  # the public bug goes private: is_private transition first
    out.append(sim._modify(sim._bugs[bug_id]))
    out.append(
        {
            "payload": '{"bug": {"id": 1, "summary": "truncated',
            "routing_key": "bug.modify:summary",
            "change_set": "4242.0",
        }
    )
    out.append(sim._modify(sim._bugs[bug_id]))
    return out


def first_run_samples(shape: Shape = "current") -> list[dict[str, Any]]:
    """Return the rows `make run` loads (see :func:`first_run_changes`) in a payload shape."""
    return [item if isinstance(item, dict) else render(item, shape) for item in first_run_changes()]
