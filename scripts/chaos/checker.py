"""What each connector received, judged against what it should have: lost, duplicated, out of order.

Pure functions on plain data (push ids in the order a destination received them), so the
counting rules are unit-tested without any service (tests/unit/test_chaos_checker.py).

Definitions (README, "Chaos test"):

- *expected*: the push ids the connector should receive (its own `should_send` filter);
- *delivered*: expected ids received at least once; *lost* = expected − received;
- *duplicated*: receipts beyond the first of an id (re-sends after a crash or a lost connection);
- *out of order*: judged on first occurrences only — an id whose first receipt comes after the
  first receipt of a higher id. Re-sends are duplicates, not disorder: after a lost connection a
  publisher sends again from its first unconfirmed message, so `1 2 3 4 | 3 4 5` is in order;
- Elasticsearch: a bulk request applies the items after a refused one (429), so a retried item
  can arrive after higher ids; external versioning (version = push id) makes that harmless. Its
  *out of order* is therefore per document: a write applied (2xx) with a lower version than one
  applied before it; ids arriving after higher ones are reported as *arrived late*, and a document
  whose final version is not the highest push id written to it is *stale* (a failure too);
- *episode*: a maximal run of consecutive re-deliveries; each should be one fault's re-sent window,
  so the longest must not exceed the connector's window (confirm window, chunk or bulk size).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence


@dataclass(frozen=True)
class Verdict:
    """One connector's counts; `ok` is what the harness's exit status follows."""

    connector: str
    expected: int
    received: int
    delivered: int
    lost: int
    duplicated: int
    out_of_order: int
    unexpected: int
    episodes: int
    max_episode: int
    window: int
    stale_documents: int = 0
    arrived_late: int = 0
    samples: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.out_of_order == 0 and self.stale_documents == 0

    @property
    def episodes_within_window(self) -> bool:
        return self.max_episode <= self.window

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "episodes_within_window": self.episodes_within_window}


def first_occurrence_disorder(received: Iterable[int]) -> list[int]:
    """Ids whose first receipt follows the first receipt of a higher id."""
    seen: set[int] = set()
    highest = None
    late = []
    for push_id in received:
        if push_id in seen:
            continue
        seen.add(push_id)
        if highest is not None and push_id < highest:
            late.append(push_id)
        else:
            highest = push_id
    return late


def duplicate_episodes(received: Iterable[int]) -> list[int]:
    """Lengths of the maximal runs of consecutive re-deliveries."""
    seen: set[int] = set()
    runs: list[int] = []
    current = 0
    for push_id in received:
        if push_id in seen:
            current += 1
            continue
        seen.add(push_id)
        if current:
            runs.append(current)
        current = 0
    if current:
        runs.append(current)
    return runs


def check_stream(connector: str, expected: Collection[int], received: Sequence[int], window: int) -> Verdict:
    """Judge one connector's receipts (in arrival order) against the ids it should have received."""
    expected_set = set(expected)
    got = set(received)
    lost = sorted(expected_set - got)
    unexpected = sorted(got - expected_set)
    late = first_occurrence_disorder(received)
    runs = duplicate_episodes(received)
    return Verdict(
        connector=connector,
        expected=len(expected_set),
        received=len(received),
        delivered=len(expected_set & got),
        lost=len(lost),
        duplicated=len(received) - len(got),
        out_of_order=len(late),
        unexpected=len(unexpected),
        episodes=len(runs),
        max_episode=max(runs, default=0),
        window=window,
        samples={"lost": lost[:20], "out_of_order": late[:20], "unexpected": unexpected[:20]},
    )


@dataclass(frozen=True)
class Write:
    """One write or delete the Elasticsearch double processed (not one it refused by injected fault)."""

    index: str
    doc_id: str
    version: int
    status: int
    op: str = "index"

    @property
    def applied(self) -> bool:
        """It changed the index (a delete of a missing document still records its version)."""
        return 200 <= self.status < 300 or (self.op == "delete" and self.status == 404)


def es_arrivals(writes: Iterable[Write]) -> list[int]:
    """Push ids in arrival order: a message's several actions (a bug and its swept children) count once."""
    out: list[int] = []
    for write in writes:
        if not out or out[-1] != write.version:
            out.append(write.version)
    return out


def stale_documents(writes: Iterable[Write], final: dict[tuple[str, str], int]) -> list[tuple[str, str]]:
    """Documents whose final version is not the highest push id ever written to them.

    External versioning makes Elasticsearch's state independent of arrival order, so this, not
    arrival order alone, says whether the index ended up with the newest data.
    """
    highest: dict[tuple[str, str], int] = defaultdict(int)
    for write in writes:
        if not (write.applied or write.status == 409):
            continue  # refused as invalid (400): dead-lettered, never meant to land
        key = (write.index, write.doc_id)
        highest[key] = max(highest[key], write.version)
    return sorted(k for k, v in highest.items() if final.get(k) != v)


def regressions(writes: Iterable[Write]) -> list[Write]:
    """Writes applied with a lower version than one applied to the same document before them."""
    applied: dict[tuple[str, str], int] = {}
    out = []
    for write in writes:
        if not write.applied:
            continue
        key = (write.index, write.doc_id)
        if applied.get(key, 0) > write.version:
            out.append(write)
        applied[key] = max(applied.get(key, 0), write.version)
    return out


def check_elasticsearch(
    expected: Collection[int], writes: Sequence[Write], final: dict[tuple[str, str], int], window: int
) -> Verdict:
    """Judge the Elasticsearch connector: stream counts on push ids, plus the final document versions."""
    verdict = check_stream("elasticsearch", expected, es_arrivals(writes), window)
    stale = stale_documents(writes, final)
    backwards = regressions(writes)
    samples = {**verdict.samples, "arrived_late": verdict.samples["out_of_order"]}
    samples["out_of_order"] = [w.version for w in backwards[:20]]
    return Verdict(
        **{
            **asdict(verdict),
            "out_of_order": len(backwards),
            "arrived_late": verdict.out_of_order,
            "stale_documents": len(stale),
            "samples": samples,
        }
    )
