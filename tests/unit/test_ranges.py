from __future__ import annotations

import random

from bugzilla_push.ranges import IdRanges


def test_ids_become_exact_ranges_and_back() -> None:
    ids = [1, 2, 3, 5, 9, 10, 11, 100]
    ranges = IdRanges.from_ids(reversed(ids))
    assert ranges.spans == ((1, 3), (5, 5), (9, 11), (100, 100))
    assert list(ranges) == ids
    assert len(ranges) == 8
    assert (ranges.first, ranges.last) == (1, 100)
    assert 4 not in ranges
    assert 10 in ranges
    assert 101 not in ranges
    assert 0 not in ranges


def test_json_round_trip() -> None:
    ranges = IdRanges.from_ids(random.Random(3).sample(range(10_000), 500))
    assert IdRanges.from_json(ranges.to_json()) == ranges
    assert IdRanges.from_json(list(map(list, ranges.spans))) == ranges


def test_after_keeps_only_greater_ids() -> None:
    ranges = IdRanges.from_ids([1, 2, 3, 7, 8, 20])
    assert list(ranges.after(2)) == [3, 7, 8, 20]
    assert list(ranges.after(7)) == [8, 20]
    assert list(ranges.after(0)) == list(ranges)
    assert not ranges.after(20)


def test_chunks_bound_the_number_of_ranges() -> None:
    ranges = IdRanges.from_ids(range(0, 1000, 2))
    pieces = list(ranges.chunks(64))
    assert all(len(p.spans) <= 64 for p in pieces)
    assert [i for p in pieces for i in p] == list(ranges)


def test_empty_set() -> None:
    empty = IdRanges.from_ids([])
    assert not empty
    assert len(empty) == 0
    assert empty.first is None
    assert 5 not in empty
