"""Exact sets of push ids, kept as sorted inclusive ranges.

A batch is the set of `push` ids visible when it was read. Ids are mostly contiguous, so ranges
keep a 100,000-row batch to a few numbers in XCom and in the run record, while staying exact:
an id that commits later inside a gap (a concurrent writer) is *not* in the batch and is picked
up by the next one, instead of being skipped behind a high-water mark.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence


@dataclass(frozen=True)
class IdRanges:
    """Sorted, disjoint, inclusive `(low, high)` id ranges.

    :param spans: the ranges; build with :meth:`from_ids` to get them normalised
    """

    spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_ids(cls, ids: Iterable[int]) -> IdRanges:
        spans: list[tuple[int, int]] = []
        for i in sorted(set(ids)):
            if spans and i == spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], i)
            else:
                spans.append((i, i))
        return cls(tuple(spans))

    @classmethod
    def from_json(cls, text: str | Sequence[Sequence[int]]) -> IdRanges:
        """Read `[[lo, hi], …]`: JSON text, or the decoded list (as XCom carries it)."""
        raw = json.loads(text) if isinstance(text, str) else text
        return cls(tuple((int(lo), int(hi)) for lo, hi in raw))

    def to_json(self) -> str:
        return json.dumps([list(s) for s in self.spans], separators=(",", ":"))

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.spans)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int) or not self.spans:
            return False
        pos = bisect.bisect_right(self._lows, item) - 1
        return pos >= 0 and item <= self.spans[pos][1]

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.spans:
            yield from range(lo, hi + 1)

    @cached_property
    def _lows(self) -> list[int]:
        return [lo for lo, _ in self.spans]

    @property
    def first(self) -> int | None:
        return self.spans[0][0] if self.spans else None

    @property
    def last(self) -> int | None:
        return self.spans[-1][1] if self.spans else None

    def after(self, id_: int) -> IdRanges:
        """Return the ids greater than `id_`."""
        out = []
        for lo, hi in self.spans:
            if hi > id_:
                out.append((max(lo, id_ + 1), hi))
        return IdRanges(tuple(out))

    def chunks(self, max_spans: int) -> Iterator[IdRanges]:
        """Split into pieces of at most `max_spans` ranges, for bounded SQL statements."""
        for start in range(0, len(self.spans), max_spans):
            yield IdRanges(self.spans[start : start + max_spans])
