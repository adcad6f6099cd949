"""A real `airflow api-server` on loopback with the push console, its users and a database of its own.

The server runs from this repository (AIRFLOW_HOME: `plugins/` holds the console) under either auth
manager, with the same three users: `admin`, `viewer` (read-only) and `outsider` (no permission on
the DAG). Under SimpleAuthManager (the default) it uses the tests' Airflow metadata database, and
the tests write the users' passwords file; under the FAB auth manager it uses a metadata database
of its own with FAB's users and roles (`fab.py`). The enabled connectors are an Airflow Variable in
the metadata database, set through the REST API as an operator would, so the console reads it the
way the API server reads Variables.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.console.fab import FAB_AUTH_MANAGER

USERS = {"admin": "admin", "viewer": "viewer", "outsider": ""}  # name → SimpleAuthManager role
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
AUTH_MANAGERS = {"simple": SIMPLE_AUTH_MANAGER, "fab": FAB_AUTH_MANAGER}
# A module's mark for running each of its tests under both auth managers (a server for each).
BOTH_AUTH_MANAGERS = pytest.mark.parametrize(
    "auth_manager", list(AUTH_MANAGERS), indirect=True, scope="module"
)
CONNECTORS = "file,mirror"
JWT_SECRET = "bugzilla-push-console-tests-" + "x" * 32  # fixed: tokens survive a restart of the server
STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `condition` until it returns something true; fail saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


@dataclass
class ConsoleServer:
    """A running API server and how to reach it.

    :param url: e.g. http://127.0.0.1:PORT
    :param env: the environment it runs with (for `airflow dags test` against the same set-up)
    :param passwords: user name → password
    :param log_path: the server's output (access log included)
    :param auth_manager: `simple` or `fab`
    """

    url: str
    env: dict[str, str]
    passwords: dict[str, str]
    log_path: Path
    auth_manager: str = "simple"
    process: subprocess.Popen[bytes] | None = None
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def console(self) -> str:
        return f"{self.url}/bugzilla-push"

    def token(self, user: str) -> str:
        """A JWT for the user, from the auth manager's token endpoint."""
        if user not in self._tokens:
            answer = httpx.post(
                f"{self.url}/auth/token",
                json={"username": user, "password": self.passwords[user]},
                timeout=30,
            )
            answer.raise_for_status()
            self._tokens[user] = answer.json()["access_token"]
        return self._tokens[user]

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client for the console, with the user's Bearer token (None: anonymous)."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=self.console, headers=headers, timeout=60)

    def access_log(self) -> list[dict[str, str]]:
        """The server's access log so far: method, path and status of each request."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if "request finished" not in line:
                continue
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            entries.append({k: fields.get(k, "").strip("'\"") for k in ("method", "path", "status_code")})
        return entries

    def start(self) -> None:
        host, port = "127.0.0.1", self.url.rsplit(":", 1)[1]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "airflow"),
                    "api-server",
                    "--host",
                    host,
                    "--port",
                    port,
                    "--workers",
                    "1",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops its workers
            )
        wait_until(self._healthy, STARTUP_SECONDS, f"the API server on {self.url} (log: {self.log_path})")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the API server exited with {self.process.returncode}:\n"
                + self.log_path.read_text(errors="replace")[-4000:]
            )
        try:
            return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def set_connectors(self, value: str) -> None:
        """Set the Variable `bugzilla_push_connectors` in the metadata database, through the REST API."""
        with httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token('admin')}"}, timeout=30
        ) as api:
            answer = api.patch(
                "/api/v2/variables/bugzilla_push_connectors",
                json={"key": "bugzilla_push_connectors", "value": value},
            )
            if answer.status_code == 404:
                answer = api.post(
                    "/api/v2/variables", json={"key": "bugzilla_push_connectors", "value": value}
                )
            answer.raise_for_status()

    def delete_connectors_variable(self) -> None:
        with httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token('admin')}"}, timeout=30
        ) as api:
            api.delete("/api/v2/variables/bugzilla_push_connectors")


@dataclass(frozen=True)
class Accounts:
    """Who logs in, and where: an auth manager, the users' passwords, and its metadata database.

    :param auth_manager: `simple` or `fab`
    :param metadata_url: Airflow's metadata database ("": the tests' own, from the environment)
    """

    auth_manager: str
    passwords: dict[str, str]
    metadata_url: str = ""

    def environment(self, workdir: Path) -> dict[str, str]:
        """The auth manager's settings for a server (SimpleAuthManager's passwords file goes in `workdir`)."""
        env = {"AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS[self.auth_manager]}
        if self.metadata_url:
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.metadata_url
        if self.auth_manager == "simple":
            password_file = workdir / "passwords.json"
            password_file.write_text(json.dumps(self.passwords))
            env |= {
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            }
        return env


def simple_accounts() -> Accounts:
    return Accounts("simple", {user: secrets.token_urlsafe(12) for user in USERS})


def make_server(
    workdir: Path, source_url: str, outputs: dict[str, Path], accounts: Accounts | None = None
) -> ConsoleServer:
    """Prepare (not start) a server on `source_url`; `outputs` are the file connectors' files."""
    workdir.mkdir(parents=True, exist_ok=True)
    accounts = accounts or simple_accounts()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(ROOT),
            **accounts.environment(workdir),
            "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_BUGZILLA_DB": source_url,
            **{
                f"AIRFLOW_CONN_{name.upper()}": json.dumps({"conn_type": "fs", "extra": {"path": str(path)}})
                for name, path in outputs.items()
            },
        }
    )
    return ConsoleServer(
        f"http://127.0.0.1:{free_port()}",
        env,
        accounts.passwords,
        workdir / "api-server.log",
        accounts.auth_manager,
    )
