"""Test doubles, named as such: a scripted connector and a clock the tests move."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Self

from bugzilla_push.connectors.base import ConnectionInfo, Connector, ConnectorFatal, NoOptions, Outcome
from bugzilla_push.model import PushMessage, Result

Script = Callable[[PushMessage, int], Outcome]


class FakeClock:
    """Naive-UTC 'now' that only moves when a test says so."""

    def __init__(self, start: datetime = datetime(2026, 11, 27, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedConnector(Connector):
    """A fake destination: records what it accepted and answers as its script says.

    :param script: `(message, attempt number) -> Outcome`; default always OK
    :param accept: `should_send` filter; default accept all
    :param delay: seconds each `send` call takes (a slow destination)
    """

    kind = "scripted"

    def __init__(
        self,
        name: str,
        script: Script | None = None,
        accept: Callable[[PushMessage], bool] | None = None,
        delay: float = 0.0,
        before_send: Callable[[Sequence[PushMessage]], None] | None = None,
    ) -> None:
        super().__init__(name)
        self.script = script
        self.accept = accept
        self.delay = delay
        self.before_send = before_send
        self.received: list[int] = []
        self.attempts: Counter[int] = Counter()
        self.calls = 0
        self.sending = threading.Event()

    @classmethod
    def from_options(cls, info: ConnectionInfo, options: NoOptions) -> Self:
        return cls(info.conn_id)

    def should_send(self, message: PushMessage) -> bool:
        return self.accept(message) if self.accept else True

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        self.calls += 1
        self.sending.set()
        if self.before_send:
            try:
                self.before_send(batch)
            except ConnectorFatal as exc:
                self.received += [m.id for m in batch[: len(exc.outcomes)]]
                raise
        if self.delay:
            time.sleep(self.delay)
        outcomes: list[Outcome] = []
        for message in batch:
            self.attempts[message.id] += 1
            outcome = self.script(message, self.attempts[message.id]) if self.script else Outcome.sent()
            outcomes.append(outcome)
            if outcome.result == Result.OK:
                self.received.append(message.id)
            if outcome.result in (Result.TRANSIENT, Result.UNKNOWN):
                break
        return outcomes


def always(result: Result, detail: str = "scripted") -> Script:
    return lambda message, attempt: Outcome(result, detail)


def fail_at(push_id: int, result: Result, times: int = 1) -> Script:
    """Fail message `push_id` with `result` on its first `times` attempts; everything else OK."""
    return lambda m, attempt: (
        Outcome(result, f"scripted {result.name}") if m.id == push_id and attempt <= times else Outcome.sent()
    )


def raise_fatal(message: PushMessage, attempt: int) -> Outcome:
    raise ConnectorFatal("scripted: authentication failed for user 'bugzilla'")


def fatal_after(count: int) -> Callable[[Sequence[PushMessage]], None]:
    """A `before_send` hook: the destination answers `count` messages, then refuses everything."""
    answered = [0]

    def hook(batch: Sequence[PushMessage]) -> None:
        room = count - answered[0]
        if room < len(batch):
            answered[0] = count
            raise ConnectorFatal(
                "scripted: access refused to exchange", outcomes=[Outcome.sent()] * max(room, 0)
            )
        answered[0] += len(batch)

    return hook
