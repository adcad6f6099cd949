"""A real Airflow deployment on loopback: scheduler, dag-processor, triggerer, api-server (and workers).

Every component is its own process (its own process group), on a fresh PostgreSQL metadata
database (or one given, such as `make ui`'s SQLite file), with this repository as AIRFLOW_HOME
(dags/, plugins/, airflow.cfg); state and logs go under a work directory through AIRFLOW__…
variables, never by editing airflow.cfg. Tests, the chaos harness, benchmarks and `make ui`
(scripts/ui.py) use it as a context manager::

    with AirflowStack(workdir, env={"AIRFLOW_CONN_BUGZILLA_DB": url, ...}) as stack:
        stack.dag_runs(); stack.taskprocesses(); stack.restart("scheduler")

By hand: `python -m scripts.airflow_stack --workdir var/stack` runs one until Ctrl-C, with a fresh
source database and the file connector.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from scripts.stack_support import (
    AMQP_URL,
    PG_HOST,
    PG_PORT,
    PG_USER,
    ROOT,
    TaskProcess,
    admin_url,
    create_database,
    drop_database,
    free_port,
    marked_processes,
    processes,
    rabbitmqctl,
    task_processes,
)

DAG_ID = "bugzilla_push"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
CELERY_WORKERS = ("worker1", "worker2")
WORKER_NAME_VARIABLE = "BUGZILLA_PUSH_STACK_WORKER"
STACK_MARKER = "BUGZILLA_PUSH_STACK"  # its value, the stack's work directory, marks the stack's processes
STARTUP_SECONDS = 240


@dataclass
class AirflowStack:
    """Airflow's components as separate processes; a context manager.

    :param workdir: logs, the auth manager's password file, per-component output
    :param executor: `local` (LocalExecutor) or `celery` (CeleryExecutor, two workers, RabbitMQ broker)
    :param env: extra environment: `AIRFLOW_CONN_*`, `AIRFLOW_VAR_*`, overrides
    :param schedule: passed as BUGZILLA_PUSH_SCHEDULE (`event` or `minute`) to every component
    :param parallelism: Airflow's [core] parallelism (task slots)
    :param metadata_url: Airflow's metadata database, migrated and kept (default: a fresh PostgreSQL
        database, dropped on stop)
    :param port: the API server's port on 127.0.0.1 (default: a free one)
    :param password_file: SimpleAuthManager's passwords file, which the API server generates when it is
        missing and the stack then reads (default: the stack writes one in `workdir`)
    """

    workdir: Path
    executor: str = "local"
    env: dict[str, str] = field(default_factory=dict)
    schedule: str = "event"
    parallelism: int = 4
    metadata_url: str = ""
    port: int = 0
    password_file: Path | None = None
    metadata_db: str = ""  # the PostgreSQL database the stack made, if it made one
    url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _groups: list[int] = field(default_factory=list)  # every process group ever started, for shutdown
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    _token: str | None = None
    _vhost: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.executor not in ("local", "celery"):
            raise ValueError(f"executor {self.executor!r}: use local or celery")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.metadata_url:
            self.metadata_db = create_database("bp_airflow")
            self.metadata_url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.metadata_db}"
        self.url = f"http://127.0.0.1:{self.port or free_port()}"
        self._migrate()
        for name in COMPONENTS:  # all at once: they start in parallel (the API server is needed by tasks)
            self._spawn(name)
        self._wait(self._api_up, "the API server")
        if self.executor == "celery":
            for name in CELERY_WORKERS:
                self._spawn(name)
        self._wait(self._healthy, "scheduler, dag-processor and triggerer to report healthy")
        self._wait(lambda: self.api("GET", f"/dags/{DAG_ID}", missing_ok=True), f"DAG {DAG_ID} to be parsed")
        self.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    def stop(self) -> None:
        """Stop every process group (SIGTERM, then SIGKILL), and any process of the stack that left its
        group (a task process starts a session of its own); then drop the metadata database."""
        for pgid in reversed(self._groups):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for pgid in self._groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self._groups.clear()
        for pid in marked_processes(STACK_MARKER, str(self.workdir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.metadata_db:
            drop_database(self.metadata_db)
            self.metadata_db = self.metadata_url = ""
        if self._vhost:
            with contextlib.suppress(Exception):
                rabbitmqctl("delete_vhost", self._vhost)
            self._vhost = None

    def restart(self, component: str, sig: int = signal.SIGKILL) -> int:
        """Kill one component's main process with `sig` and start it again; return the new pid.

        The main process is killed, as a crash would, and its helpers (serve-logs); a killed
        scheduler's LocalExecutor workers live on (and finish their task) in the old process group,
        which :meth:`stop` still ends.
        """
        proc = self.processes[component]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        # Its other children go too: a surviving `serve-logs` child keeps the dead scheduler's database
        # connection, mid-transaction and holding row locks, and new schedulers then skip those tasks
        # for ever (seen in the first full chaos run). Task workers are left to finish.
        for pid, pgid, title in processes():
            if pgid == proc.pid and not title.startswith("airflow worker -- "):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return self._spawn(component).pid

    def reap_idle_orphans(self) -> int:
        """End idle LocalExecutor workers left by killed schedulers (they wait for work that never comes)."""
        live = {p.pid for p in self.processes.values()}
        reaped = 0
        for pid, pgid, title in processes():
            if pgid in self._groups and pgid not in live and title.endswith("<idle>"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    reaped += 1
        return reaped

    # -- processes ------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The environment every component gets (and `airflow` commands run against this stack)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        logs = self.workdir / "logs"
        password_file = self.password_file
        if password_file is None:
            password_file = self.workdir / "passwords.json"
            password_file.write_text(json.dumps({"admin": self._password}))
        env.update(
            {
                "AIRFLOW_HOME": str(ROOT),
                "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__API__SECRET_KEY": self._secret("api"),
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs),
                "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(logs / "dag_processor"),
                # A killed scheduler's tasks are found and reset within a minute, not five.
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                "BUGZILLA_PUSH_SCHEDULE": self.schedule,
                STACK_MARKER: str(self.workdir),  # inherited by every process of the stack
                **self._executor_env(),
                **self.env,
            }
        )
        return env

    def _secret(self, name: str) -> str:
        # Stable for the stack's life: a restarted component must accept the others' tokens.
        attr = f"_secret_{name}"
        if not hasattr(self, attr):
            setattr(self, attr, secrets.token_urlsafe(32))
        return getattr(self, attr)

    def _executor_env(self) -> dict[str, str]:
        if self.executor == "local":
            return {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor"}
        if self._vhost is None:
            self._vhost = f"bp-celery-{uuid.uuid4().hex[:8]}"
            rabbitmqctl("add_vhost", self._vhost)
            rabbitmqctl("set_permissions", "-p", self._vhost, "guest", ".*", ".*", ".*")
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"{AMQP_URL}/{self._vhost}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.metadata_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(max(1, self.parallelism // 2)),
        }

    def _component_env(self, component: str) -> dict[str, str]:
        if component not in CELERY_WORKERS:
            return {}
        # Both workers share this machine's hostname; each records its own name on the task
        # instances it runs (the UI's and REST API's `hostname`), as workers on two hosts would.
        return {
            WORKER_NAME_VARIABLE: component,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scripts.airflow_stack.worker_hostname",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }

    def _command(self, component: str) -> list[str]:
        airflow = str(Path(sys.executable).parent / "airflow")
        if component == "api-server":
            port = self.url.rsplit(":", 1)[1]
            return [airflow, "api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"]
        if component in CELERY_WORKERS:
            return [airflow, "celery", "worker", "--celery-hostname", f"{component}@%h"]
        if component in ("scheduler", "triggerer"):
            # Logs are local files, which the API server reads itself: no log server listening on
            # every interface at a fixed port (8793/8794) that two stacks on one machine would share.
            return [airflow, component, "--skip-serve-logs"]
        return [airflow, component]

    def _spawn(self, component: str) -> subprocess.Popen[bytes]:
        log_path = self.workdir / f"{component}.log"
        with log_path.open("ab") as log:
            log.write(f"\n=== started {time.strftime('%H:%M:%S')} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self._command(component),
                env=self.environment() | self._component_env(component),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        self.processes[component] = proc
        self._groups.append(proc.pid)
        return proc

    def _migrate(self) -> None:
        log_path = self.workdir / "db-migrate.log"
        with log_path.open("wb") as log:
            done = subprocess.run(
                [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                env=self.environment(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed: {log_path.read_text()[-3000:]}")

    def _wait(self, condition: Any, what: str) -> Any:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode} while waiting for {what}:\n{tail}"
                    )
            with contextlib.suppress(httpx.HTTPError):
                if result := condition():
                    return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {STARTUP_SECONDS} s for {what} (logs in {self.workdir})")
            time.sleep(0.5)

    def _api_up(self) -> bool:
        return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=10).json()

    def _healthy(self) -> bool:
        health = self.health()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    # -- REST API ---------------------------------------------------------------------------------

    @property
    def password(self) -> str:
        """The admin's password (from the generated passwords file, once the API server has written it)."""
        if self.password_file is None:
            return self._password
        return json.loads(self.password_file.read_text())["admin"]

    def token(self) -> str:
        if self._token is None:
            answer = httpx.post(
                f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> Any:
        """Call `/api/v2{path}` as admin; return the decoded JSON (None for a 404 if `missing_ok`)."""
        answer = httpx.request(
            method,
            f"{self.url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
            **kwargs,
        )
        if missing_ok and answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def dag_runs(self, limit: int = 100) -> list[dict[str, Any]]:
        """The DAG's most recent `limit` runs, newest first (paged: the API serves 100 at a time)."""
        runs: list[dict[str, Any]] = []
        while len(runs) < limit:
            params = {"order_by": "-run_after", "limit": min(100, limit - len(runs)), "offset": len(runs)}
            page = self.api("GET", f"/dags/{DAG_ID}/dagRuns", params=params)["dag_runs"]
            runs.extend(page)
            if len(page) < params["limit"]:
                break
        return runs

    def task_instances(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Task instances of every run (newest first), optionally in one state (`running`…); paged."""
        tis: list[dict[str, Any]] = []
        while len(tis) < limit:
            params: dict[str, Any] = {
                "limit": min(100, limit - len(tis)),
                "offset": len(tis),
                "order_by": "-start_date",
            }
            if state:
                params["state"] = state
            page = self.api("GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances", params=params)["task_instances"]
            tis.extend(page)
            if len(page) < params["limit"]:
                break
        return tis

    def running_tasks(self, task_id: str | None = None) -> list[tuple[TaskProcess, dict[str, Any]]]:
        """Running task processes of this stack, with their task instance (optionally of one task)."""
        by_id = {ti["id"]: ti for ti in self.task_instances("running")}
        return [
            (proc, by_id[proc.ti_id])
            for proc in task_processes()
            if proc.ti_id in by_id and (task_id is None or by_id[proc.ti_id]["task_id"] == task_id)
        ]


def worker_hostname() -> str:
    """Airflow's `hostname_callable` for this stack's Celery workers: the worker's own name."""
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


def main() -> None:
    """Run a stack with a fresh source database and the file connector until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "stack")
    parser.add_argument("--executor", choices=("local", "celery"), default="local")
    parser.add_argument("--schedule", choices=("event", "minute"), default="event")
    args = parser.parse_args()
    from bugzilla_push.store import open_store

    source = create_database("bp_source")
    source_url = admin_url(source)
    with open_store(source_url) as store:
        store.create_schema()
    env = {
        "AIRFLOW_CONN_BUGZILLA_DB": source_url,
        "AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS": "file",
        "AIRFLOW_CONN_FILE": json.dumps(
            {"conn_type": "fs", "extra": {"path": str(args.workdir / "file.jsonl")}}
        ),
    }
    try:
        with AirflowStack(args.workdir, args.executor, env, args.schedule) as stack:
            print(f"Airflow at {stack.url} (admin / {stack.password}); source {source_url}; Ctrl-C stops")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    finally:
        drop_database(source)


if __name__ == "__main__":
    main()
