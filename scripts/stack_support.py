"""What the Airflow stack needs of this machine: PostgreSQL databases, a free port, `rabbitmqctl`,
and the processes in /proc (task processes by their title, process groups)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
PG_HOST = os.environ.get("BUGZILLA_PUSH_TEST_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BUGZILLA_PUSH_TEST_PG_PORT", "5432")
PG_USER = os.environ.get("BUGZILLA_PUSH_TEST_PG_USER", "postgres")
AMQP_URL = os.environ.get("BUGZILLA_PUSH_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")

# Process titles Airflow 3 sets (airflow.sdk.execution_time.task_runner.startup): the task's own
# process is "airflow worker -- <task instance uuid>"; its supervisor names the executor too.
TASK_TITLE = "airflow worker -- "


def admin_url(database: str = "postgres") -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def create_database(prefix: str) -> str:
    """Create an empty PostgreSQL database; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rabbitmqctl(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class TaskProcess:
    """A running task's own process (the one that runs the task's code), found by its title."""

    pid: int
    ti_id: str
    supervisor_pid: int


def task_processes() -> list[TaskProcess]:
    """Every Airflow task process on this machine (whatever the executor), from /proc."""
    found = []
    for pid, title, stat in _proc():
        if title.startswith(TASK_TITLE):
            with contextlib.suppress(ValueError):
                found.append(TaskProcess(pid, str(uuid.UUID(title[len(TASK_TITLE) :].strip())), int(stat[1])))
    return found


def processes() -> list[tuple[int, int, str]]:
    """(pid, process group, title) of every process on this machine."""
    return [(pid, int(stat[2]), title) for pid, title, stat in _proc()]


def marked_processes(name: str, value: str) -> list[int]:
    """Pids of the processes whose environment has `name=value` (the processes it started inherit it)."""
    wanted = f"{name}={value}".encode()
    found = []
    for pid, _, _ in _proc():
        with contextlib.suppress(OSError):
            if wanted in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
    return found


def _proc() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, title, the `stat` fields after the command: state, ppid, pgrp, …) of each process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        yield int(entry.name), title, stat
