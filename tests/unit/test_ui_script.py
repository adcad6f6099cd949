"""`make ui`'s pieces that need no Airflow: its set-up, the sample messages it inserts, its port check."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING

from bugzilla_push.store import open_store
from scripts.ui import DEFAULT_STATE, Trickle, embedded_default, insert_samples, is_embedded, port_in_use

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_the_default_state_is_make_runs_var_folder_and_the_file_connector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AIRFLOW_CONN_BUGZILLA_DB", "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS", "AIRFLOW_CONN_FILE"):
        monkeypatch.delenv(name, raising=False)
    source, env = embedded_default(DEFAULT_STATE)
    assert source == f"sqlite:///{DEFAULT_STATE / 'bugzilla.db'}"
    assert env["AIRFLOW_CONN_BUGZILLA_DB"] == source
    assert env["AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS"] == "file"
    assert "AIRFLOW_CONN_FILE" not in env  # the file connector's default path is under var/ already


def test_another_state_folder_keeps_the_file_connectors_output_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_BUGZILLA_DB", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_FILE", raising=False)
    source, env = embedded_default(tmp_path)
    assert source == f"sqlite:///{tmp_path / 'bugzilla.db'}"
    assert json.loads(env["AIRFLOW_CONN_FILE"])["extra"]["path"] == str(
        tmp_path / "bugzilla_push" / "file.jsonl"
    )


def test_what_the_user_exported_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BUGZILLA_DB", "postgresql://bugs@db.example.org/bugs")
    monkeypatch.setenv("AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS", "pulse,file")
    monkeypatch.setenv("AIRFLOW_CONN_FILE", '{"conn_type": "fs"}')
    source, env = embedded_default(tmp_path)
    assert source == env["AIRFLOW_CONN_BUGZILLA_DB"] == "postgresql://bugs@db.example.org/bugs"
    assert env["AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS"] == "pulse,file"
    assert env["AIRFLOW_CONN_FILE"] == '{"conn_type": "fs"}'


def test_samples_go_only_into_the_embedded_default_database(tmp_path: Path) -> None:
    assert is_embedded(f"sqlite:///{tmp_path / 'bugzilla.db'}", tmp_path)
    assert is_embedded(f"sqlite:///{tmp_path / 'x' / '..' / 'bugzilla.db'}", tmp_path)
    assert not is_embedded(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
    assert not is_embedded("postgresql://bugs@db.example.org/bugs", tmp_path)
    assert not is_embedded("mysql://bugs@db.example.org/bugs", tmp_path)


def test_samples_go_into_push_as_samples_piped_to_enqueue_would(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bugzilla.db'}"
    with open_store(url) as store:
        store.create_schema()
    message = {"payload": {"bug": {"id": 1}}, "routing_key": "bug.create", "change_set": "1.2"}
    assert insert_samples(url, [message, message | {"change_set": "1.3"}]) == 2
    with open_store(url) as store:
        rows = store.query("SELECT payload, routing_key, change_set FROM push ORDER BY id")
    assert rows == [('{"bug":{"id":1}}', "bug.create", "1.2"), ('{"bug":{"id":1}}', "bug.create", "1.3")]


def test_the_trickle_inserts_a_batch_every_interval_until_stopped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bugzilla.db'}"
    with open_store(url) as store:
        store.create_schema()
    with Trickle(url, interval=0.05, batch=2) as trickle:
        deadline = time.monotonic() + 30
        while trickle.inserted < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    stopped_at = trickle.inserted
    time.sleep(0.3)
    with open_store(url) as store:
        (count,) = store.query("SELECT COUNT(*) FROM push")[0]
    assert stopped_at >= 6
    assert count == trickle.inserted == stopped_at  # nothing after the stop
    assert count % 2 == 0


def test_a_port_in_use_is_seen() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)
