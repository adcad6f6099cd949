from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from bugzilla_push.connectors import ConnectionInfo, ConnectorConfigError, build_connector
from bugzilla_push.connectors.file import FileConnector, default_path
from bugzilla_push.model import PushRow, Result, parse_message

if TYPE_CHECKING:
    from pathlib import Path


def messages(ids: list[int]) -> list:
    out = []
    for i in ids:
        payload = {
            "bug": {"id": i, "summary": "line\nbreak ünïcode"},
            "event": {"action": "create", "target": "bug"},
        }
        out.append(
            parse_message(
                PushRow(i, datetime(2026, 1, 1), json.dumps(payload, indent=2), "1.1", "bug.create"), 10**6
            )
        )
    return out


def test_appends_one_json_line_per_message(tmp_path: Path) -> None:
    connector = FileConnector("file", tmp_path / "out" / "push.jsonl")
    assert [o.result for o in connector.send(messages([1, 2]))] == [Result.OK, Result.OK]
    connector.send(messages([3]))
    lines = (tmp_path / "out" / "push.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["push_id"] for r in records] == [1, 2, 3]
    assert records[0]["routing_key"] == "bug.create"
    assert records[0]["change_set"] == "1.1"
    assert records[0]["payload"]["bug"]["summary"] == "line\nbreak ünïcode"


def test_a_torn_last_line_from_a_crash_is_removed_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "push.jsonl"
    connector = FileConnector("file", path)
    connector.send(messages([1]))
    with path.open("ab") as fh:
        fh.write(b'{"push_id": 2, "rout')  # the process died mid-write; id 2 was never acknowledged
    connector.send(messages([2]))
    assert [json.loads(line)["push_id"] for line in path.read_text().splitlines()] == [1, 2]


def test_unwritable_path_is_transient_not_lost(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    outcomes = FileConnector("file", blocker / "push.jsonl").send(messages([1, 2]))
    assert [o.result for o in outcomes] == [Result.TRANSIENT]
    assert "cannot write" in outcomes[0].detail


def test_built_from_an_fs_connection_with_a_path(tmp_path: Path) -> None:
    info = ConnectionInfo("archive", "fs", extra={"path": str(tmp_path / "a.jsonl"), "fsync": False})
    connector = build_connector(info)
    assert isinstance(connector, FileConnector)
    assert connector.path == tmp_path / "a.jsonl"
    assert not connector.fsync


def test_default_path_is_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert default_path("file") == tmp_path / "var" / "bugzilla_push" / "file.jsonl"
    assert (
        build_connector(ConnectionInfo("file", "fs")).path
        == tmp_path / "var" / "bugzilla_push" / "file.jsonl"
    )


def test_unknown_options_and_types_are_clear_errors() -> None:
    with pytest.raises(ConnectorConfigError, match="invalid extra options: pth: Extra inputs"):
        build_connector(ConnectionInfo("file", "fs", extra={"pth": "/tmp/x"}))
    with pytest.raises(ConnectorConfigError, match="no connector for connection type 'ftp'"):
        build_connector(ConnectionInfo("x", "ftp"))


def test_fsync_is_called_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    FileConnector("file", tmp_path / "a.jsonl", fsync=True).send(messages([1]))
    FileConnector("file", tmp_path / "b.jsonl", fsync=False).send(messages([1]))
    assert len(calls) == 1
