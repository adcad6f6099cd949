from __future__ import annotations

from typing import Any

from rich.console import Console

from scripts.chaos.report import attempt_table
from scripts.chaos.run import delivery_outcomes


def _ti(run: str, index: int, state: str | None, name: str | None = None) -> dict[str, Any]:
    return {"dag_run_id": run, "map_index": index, "state": state, "rendered_map_index": name}


RETURNED = {("r1", 0): {"state": "done"}, ("r1", 1): {"state": "backing_off"}, ("r2", 0): None}


def _returned(ti: dict[str, Any]) -> Any:
    return RETURNED[(ti["dag_run_id"], ti["map_index"])]


def test_outcomes_come_from_what_each_deliver_task_returned_or_its_end_state() -> None:
    delivers = [
        _ti("r1", 0, "success", "pulse"),
        _ti("r1", 1, "success", "elasticsearch"),
        _ti("r2", 0, "success"),  # returned nothing: skipped
        _ti("r2", 1, "failed"),  # killed before it rendered its name: its map index names it
        _ti("r3", 0, None),  # expanded, not started yet
        _ti("r4", -1, None),  # a run still starting: nothing attempted, left out
    ]
    assert delivery_outcomes(delivers, _returned) == {
        "pulse": {"done": 1, "skipped": 1, "not started": 1},
        "elasticsearch": {"backing_off": 1, "failed": 1},
    }


def test_the_attempt_table_renders_every_outcome_as_a_column() -> None:
    outcomes = {"pulse": {"done": 3, "not started": 1}, "file": {"done": 4}}
    cadence = {
        "runs": 4,
        "run_seconds_median": 5.0,
        "run_seconds_max": 9.0,
        "gap_seconds_median": 1.0,
        "gap_seconds_max": 2.0,
        "deliver_tasks_retried": 0,
    }
    console = Console(width=200, record=True)
    console.print(attempt_table(outcomes, cadence, {"200": 7}))
    text = console.export_text()
    cells = [
        [cell.strip() for cell in line.strip("┃│").split("┃" if "┃" in line else "│")]
        for line in text.splitlines()
        if line.startswith(("┃", "│"))
    ]
    assert cells == [
        ["connector", "done", "not started"],
        ["file", "4", "0"],
        ["pulse", "3", "1"],
    ]
