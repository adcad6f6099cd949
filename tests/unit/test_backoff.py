from __future__ import annotations

import random
from datetime import datetime

from bugzilla_push.backoff import Backoff, backoff_delay, next_backoff
from bugzilla_push.config import DeliveryConfig


def test_delays_grow_as_five_to_the_n_and_stop_at_fifteen_minutes() -> None:
    config = DeliveryConfig(backoff_jitter=0.0)
    assert [backoff_delay(n, config) for n in range(1, 8)] == [5, 25, 125, 625, 900, 900, 900]


def test_jitter_only_shortens_and_stays_within_its_fraction() -> None:
    config = DeliveryConfig(backoff_jitter=0.2)
    rng = random.Random(1)
    for n in range(1, 8):
        base = min(5**n, 900)
        delays = [backoff_delay(n, config, rng) for _ in range(200)]
        assert all(0.8 * base <= d <= base for d in delays)
        assert len(set(delays)) > 100  # really random, not a constant


def test_next_backoff_counts_attempts_and_sets_the_next_time() -> None:
    now = datetime(2026, 1, 1)
    config = DeliveryConfig(backoff_jitter=0.0)
    state = next_backoff(Backoff(), now, config)
    assert state.attempts == 1
    assert (state.next_attempt_ts - now).total_seconds() == 5
    assert state.active(now)
    assert not state.active(state.next_attempt_ts)
    assert not Backoff().active(now)
