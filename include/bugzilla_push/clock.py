"""Times as the push tables hold them: naive UTC, as Bugzilla stores its DATETIME columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    """Return "now" in naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


@overload
def naive_utc(value: datetime) -> datetime: ...
@overload
def naive_utc(value: None) -> None: ...
def naive_utc(value: datetime | None) -> datetime | None:
    """Return an aware time in naive UTC; a naive one is taken to be UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def aware_utc(value: datetime) -> datetime:
    """Return a time as aware UTC (a naive one is UTC), so that it is written with its zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
