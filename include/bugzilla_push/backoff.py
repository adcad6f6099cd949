"""Backoff after transient failures: BMO's 5**n seconds capped at 15 minutes, with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.config import DeliveryConfig


@dataclass(frozen=True)
class Backoff:
    """A connector's backoff state (a `push_backoff` row).

    :param attempts: consecutive transient failures; 0 means not backing off
    :param next_attempt_ts: no delivery attempt before this time (UTC)
    """

    attempts: int = 0
    next_attempt_ts: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.next_attempt_ts is not None and now < self.next_attempt_ts


def backoff_delay(attempts: int, config: DeliveryConfig, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th consecutive failure (1-based)."""
    base = min(config.backoff_base ** max(attempts, 1), config.backoff_cap)
    jitter = (rng or random).random() * config.backoff_jitter
    return base * (1.0 - jitter)


def next_backoff(
    current: Backoff, now: datetime, config: DeliveryConfig, rng: random.Random | None = None
) -> Backoff:
    """Return the state after one more transient failure."""
    attempts = current.attempts + 1
    return Backoff(attempts, now + timedelta(seconds=backoff_delay(attempts, config, rng)))
