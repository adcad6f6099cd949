"""The executor comparison's agreement rule: same ids in the same order of first arrival."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from scripts.chaos.compare import compare, first_arrivals

if TYPE_CHECKING:
    from pathlib import Path


def test_first_arrivals_drop_resends_and_ids_beyond_the_common_range() -> None:
    assert first_arrivals([1, 2, 3, 2, 3, 4, 9, 5], upto=5) == [1, 2, 3, 4, 5]


def write_run(path: Path, produced: int, received: dict[str, list[int]]) -> Path:
    path.mkdir()
    (path / "produced.jsonl").write_text(
        "".join(json.dumps({"id": i}) + "\n" for i in range(1, produced + 1))
    )
    (path / "received.json").write_text(json.dumps(received))
    return path


def test_runs_agree_over_the_ids_both_produced_even_with_resends(tmp_path: Path) -> None:
    local = write_run(tmp_path / "local", 5, {"pulse": [1, 2, 3, 4, 5], "file": [1, 2, 3, 4, 5]})
    celery = write_run(
        tmp_path / "celery", 7, {"pulse": [1, 2, 2, 3, 4, 5, 6, 7], "file": [1, 2, 3, 4, 5, 6, 7]}
    )
    assert compare(local, celery) == {
        "pulse": {"local": 5, "celery": 5, "same": True},
        "file": {"local": 5, "celery": 5, "same": True},
    }


def test_a_missing_or_reordered_id_is_a_disagreement(tmp_path: Path) -> None:
    local = write_run(tmp_path / "local", 4, {"pulse": [1, 2, 3, 4], "file": [1, 2, 3, 4]})
    celery = write_run(tmp_path / "celery", 4, {"pulse": [1, 3, 2, 4], "file": [1, 2, 4]})
    result = compare(local, celery)
    assert result["pulse"]["same"] is False
    assert (result["file"]["celery"], result["file"]["same"]) == (3, False)
