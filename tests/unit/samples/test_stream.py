from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest

from bugzilla_push.cli import main
from bugzilla_push.model import InvalidMessage, PushRow, parse_message
from bugzilla_push.samples import SHAPES, BugzillaSimulator, first_run_samples, render


def _parse(message: dict) -> object:
    payload = message["payload"]
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return parse_message(
        PushRow(1, datetime(2026, 1, 1), text, message["change_set"], message["routing_key"]), 10**7
    )


def test_generated_stream_is_valid_varied_and_repeatable() -> None:
    stream = list(BugzillaSimulator(seed=5, private_ratio=0.2).messages(2000))
    assert stream == list(BugzillaSimulator(seed=5, private_ratio=0.2).messages(2000))
    kinds = Counter(m["routing_key"].split(":")[0] for m in stream)
    assert {"bug.create", "bug.modify", "comment.create", "attachment.create"} <= set(kinds)
    parsed = [_parse(m) for m in stream]
    assert any(p.bug and p.bug.get("is_private") for p in parsed)
    assert any(p.routing_key == "bug.modify:is_private" for p in parsed)
    assert all(len(m["change_set"]) <= 32 and len(m["routing_key"]) <= 64 for m in stream)
    # Release-tracking changes: keys the column cuts, whole in the payload (as on bugzilla.mozilla.org).
    long = [p for p in parsed if len(p.routing_key) > 64]
    assert len(long) > 40
    assert all(p.row.routing_key == p.routing_key[:64] for p in long)


def test_the_stream_is_in_todays_shape_unless_asked_for_the_legacy_one() -> None:
    current = next(BugzillaSimulator(seed=5).messages(1))["payload"]["bug"]
    legacy = next(BugzillaSimulator(seed=5, shape="legacy").messages(1))["payload"]["bug"]
    assert isinstance(current["assigned_to"], str)
    assert "assigned_to_detail" in current
    assert isinstance(legacy["assigned_to"], dict)
    assert legacy["id"] == current["id"]


def test_bugs_are_filed_in_the_products_and_components_given() -> None:
    catalogue = {f"Product {p}": [f"Component {p}.{c}" for c in range(5)] for p in range(20)}
    stream = BugzillaSimulator(seed=3, products=catalogue).messages(3000)
    bugs = [m["payload"]["bug"] for m in stream if m["routing_key"] == "bug.create"]
    seen = {(b["product"], b["component"]) for b in bugs}
    assert {p for p, _ in seen} == set(catalogue)
    assert all(c in catalogue[p] for p, c in seen)
    assert len(seen) > 80


def test_one_description_of_each_change_gives_both_shapes() -> None:
    changes = list(BugzillaSimulator(seed=9).changes(300))
    assert [render(c, "current") for c in changes] == list(BugzillaSimulator(seed=9).messages(300))
    assert [render(c, "legacy") for c in changes] == list(
        BugzillaSimulator(seed=9, shape="legacy").messages(300)
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_first_run_set_has_every_kind_a_private_bug_a_long_key_and_one_bad_row(shape: str) -> None:
    samples = first_run_samples(shape)  # type: ignore[arg-type]
    keys = [m["routing_key"] for m in samples]
    assert "bug.create" in keys
    assert "comment.create" in keys
    assert "bug.modify:is_private" in keys
    assert any(k.startswith("bug.modify:") and k != "bug.modify:is_private" for k in keys)
    assert any(
        len(m["payload"]["event"]["routing_key"]) > 64 for m in samples if isinstance(m["payload"], dict)
    )
    bad = 0
    for message in samples:
        try:
            _parse(message)
        except InvalidMessage:
            bad += 1
    assert bad == 1
    private = [
        m for m in samples if isinstance(m["payload"], dict) and m["payload"].get("bug", {}).get("is_private")
    ]
    assert private


@pytest.mark.parametrize(
    ("args", "assigned_to_type"),
    [([], str), (["--shape", "current"], str), (["--shape", "legacy"], dict), (["--count", "5"], str)],
)
def test_the_samples_command_writes_todays_shape_by_default(
    args: list[str], assigned_to_type: type, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["samples", *args]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == (5 if "--count" in args else len(first_run_samples()))
    assert type(rows[0]["payload"]["bug"]["assigned_to"]) is assigned_to_type
