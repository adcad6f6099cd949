"""The file connector: appends one JSON line per message; the embedded default needs no service."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Self

import msgspec
from pydantic import BaseModel, ConfigDict

from bugzilla_push.connectors.base import OK, ConnectionInfo, Connector, Outcome
from bugzilla_push.model import Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bugzilla_push.model import PushMessage


_encode = msgspec.json.Encoder().encode


def default_path(name: str) -> Path:
    """Where a file connector without a connection writes: `$AIRFLOW_HOME/var/bugzilla_push/<name>.jsonl`."""
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return home / "var" / "bugzilla_push" / f"{name}.jsonl"


class FileOptions(BaseModel):
    """Options in a `fs` connection's extra."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = None  # default: $AIRFLOW_HOME/var/bugzilla_push/<name>.jsonl
    fsync: bool = True  # flush to disk before reporting OK; off is faster but can lose lines on power loss


class FileConnector(Connector):
    """Appends `{"push_id", "routing_key", "change_set", "push_ts", "payload"}` lines to a file.

    :param path: the file; its directory is created when missing
    :param fsync: sync the file before reporting the batch delivered
    """

    kind = "fs"
    Options = FileOptions

    def __init__(self, name: str, path: Path, fsync: bool = True) -> None:
        super().__init__(name)
        self.path = path
        self.fsync = fsync

    @classmethod
    def from_connection(cls, info: ConnectionInfo) -> Self:
        options = cls.parse_options(info)
        path = Path(options.path).expanduser() if options.path else default_path(info.conn_id)
        return cls(info.conn_id, path, options.fsync)

    def send(self, batch: Sequence[PushMessage]) -> list[Outcome]:
        data = "".join(_line(m) for m in batch).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab+") as fh:
                start = _drop_torn_tail(fh)
                try:
                    fh.write(data)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
                except OSError:
                    # No half-written lines: the retry appends the whole batch again.
                    fh.truncate(start)
                    raise
        except OSError as exc:
            # A full disk or a permission problem may be fixed; keep everything and retry later.
            return [Outcome(Result.TRANSIENT, f"cannot write {self.path}: {exc.strerror or exc}")]
        return [OK] * len(batch)


def _drop_torn_tail(fh: BinaryIO) -> int:
    """Cut a last line without its newline (a write killed half-way, never acknowledged); return the end."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return 0
    fh.seek(end - 1)
    if fh.read(1) == b"\n":
        return end
    pos = end
    while pos > 0:
        step = min(pos, 64 * 1024)
        fh.seek(pos - step)
        cut = fh.read(step).rfind(b"\n")
        if cut >= 0:
            pos = pos - step + cut + 1
            break
        pos -= step
    fh.truncate(pos)
    return fh.seek(0, os.SEEK_END)


def _line(message: PushMessage) -> str:
    row = message.row
    head = _encode(
        {
            "push_id": row.id,
            "routing_key": message.routing_key,  # whole, also where the column cut it
            "change_set": row.change_set,
            "push_ts": row.push_ts.isoformat(),
        }
    ).decode()
    # The payload is valid JSON (the engine checked it), so it goes in as written: newlines can only
    # be whitespace between tokens there, and become spaces to keep one message per line.
    payload = row.payload.replace("\n", " ").replace("\r", " ")
    return f'{head[:-1]},"payload":{payload}}}\n'
