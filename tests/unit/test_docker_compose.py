"""docker-compose.yaml cannot run here (no Docker engine), so its promises are checked as data, and
the real compose implementation (Debian's docker-compose, which needs no daemon) validates the file."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bugzilla_push.connectors.registry import KINDS
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"airflow-init", "rabbitmq-vhosts"}
VARIABLE = re.compile(r"(?<!\$)\$\{(\w+)(?::?([-?])([^}]*))?\}")  # ${NAME}, ${NAME:-default}, ${NAME:?error}


def airflow_env() -> dict[str, str]:
    return SERVICES["airflow-scheduler"]["environment"]


def substituted(value: str) -> str:
    return VARIABLE.sub(lambda m: f"x{m.group(1).lower()}", value)


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_airflow_runs_all_four_components_on_3_3_2_after_init() -> None:
    commands = {name: s.get("command") for name, s in SERVICES.items()}
    assert {
        commands[n]
        for n in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
    } == {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert "FROM apache/airflow:slim-3.3.2-python3.11" in (ROOT / "Dockerfile").read_text()
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        depends = SERVICES[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"
        assert all(
            d["condition"] in ("service_healthy", "service_completed_successfully") for d in depends.values()
        )


def enabled_connectors() -> list[str]:
    """The connector list compose gives the DAG: the variable's default, which .env.example repeats."""
    match = VARIABLE.fullmatch(airflow_env()["AIRFLOW_VAR_BUGZILLA_PUSH_CONNECTORS"])
    assert match, "the connector list is one variable"
    assert match.group(2) == "-", "the connector list needs a default"
    example = re.search(rf"^{match.group(1)}=(\S+)", (ROOT / ".env.example").read_text(), re.M)
    assert example
    assert example.group(1) == match.group(3)
    return match.group(3).split(",")


def test_every_connection_the_dag_needs_is_defined_and_of_a_known_type() -> None:
    from airflow.sdk import Connection

    env = airflow_env()
    names = enabled_connectors()
    assert names == ["pulse", "elasticsearch", "file"]
    db = Connection.from_uri(substituted(env["AIRFLOW_CONN_BUGZILLA_DB"]), conn_id="bugzilla_db")
    assert (db.conn_type, db.host, db.schema) == ("postgres", "bugzilla-db", "bugs")
    for name in names:
        uri = env.get(f"AIRFLOW_CONN_{name.upper()}")
        assert uri, f"connector {name} has no AIRFLOW_CONN_{name.upper()}"
        conn = Connection.from_uri(substituted(uri), conn_id=name)
        assert conn.conn_type in KINDS, (name, conn.conn_type)
        if conn.host:
            assert conn.host in SERVICES, f"{name} points at {conn.host}, which compose does not start"


@pytest.mark.parametrize("path", ["docker-compose.yaml"])
def test_no_secret_is_written_in_the_file_and_every_variable_is_documented(path: str) -> None:
    text = (ROOT / path).read_text()
    example = (ROOT / ".env.example").read_text()
    for match in VARIABLE.finditer(text):
        assert re.search(rf"^{match.group(1)}=", example, re.M), f"{match.group(1)} is not in .env.example"
    secret_setting = re.compile(r"^\s*\w*(PASSWORD|PASS|FERNET_KEY|JWT_SECRET)\w*:\s*(\S.*)$", re.M)
    for match in secret_setting.finditer(text):
        value = match.group(2)
        assert value.startswith("${") or value.startswith("/"), (
            f"literal secret in {path}: {match.group(0).strip()}"
        )
    for uri in re.findall(r"\w+://[^\s]+", text):
        if "@" in uri:
            assert re.search(r":\$\{\w+:\?[^}]*\}@", uri), f"a URI with a literal password: {uri}"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_celery_profile_adds_two_workers_on_rabbitmq_with_postgresql_results() -> None:
    from urllib.parse import urlsplit

    env = airflow_env()
    executor = VARIABLE.fullmatch(env["AIRFLOW__CORE__EXECUTOR"])
    assert executor
    assert (executor.group(2), executor.group(3)) == ("-", "LocalExecutor")  # Celery is opt-in
    assert re.search(
        rf"^{executor.group(1)}=(Local|Celery)Executor$", (ROOT / ".env.example").read_text(), re.M
    )
    broker = urlsplit(substituted(env["AIRFLOW__CELERY__BROKER_URL"]))
    assert (broker.scheme, broker.hostname, broker.path) == ("amqp", "rabbitmq", "/celery")
    backend = urlsplit(substituted(env["AIRFLOW__CELERY__RESULT_BACKEND"]))
    assert (backend.scheme, backend.hostname) == ("db+postgresql", "airflow-db")
    workers = {name: s for name, s in SERVICES.items() if "celery" in s.get("profiles", [])}
    assert sorted(workers) == ["airflow-worker-1", "airflow-worker-2"]
    for worker in workers.values():
        assert worker["command"] == "celery worker"
        # The same settings as the scheduler that queues for it, plus Celery's warm shutdown.
        assert {k: v for k, v in worker["environment"].items() if k != "DUMB_INIT_SETSID"} == env
        assert worker["depends_on"]["rabbitmq-vhosts"]["condition"] == "service_completed_successfully"
    vhost_job = " ".join(SERVICES["rabbitmq-vhosts"]["command"])
    assert "/api/vhosts/celery" in vhost_job
    assert "/api/permissions/celery/bugzilla" in vhost_job
    assert all("profiles" not in SERVICES[n] for n in ("airflow-scheduler", "airflow-apiserver"))


def test_the_image_installs_the_wheel_with_its_runtime_extras_and_lock_and_no_development_tool() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["apache/airflow:slim-3.3.2-python3.11"] * 2
    assert "pip wheel --no-cache-dir --no-deps" in dockerfile
    install = re.search(r"^RUN pip install (.*?)(?=^\S)", dockerfile, re.M | re.S)
    assert install
    assert "bugzilla_push-*.whl)[pulse,elasticsearch,webhook,mysql,airflow,celery]" in install.group(1)
    assert "-c /opt/bugzilla-push/constraints.txt" in install.group(1)
    assert "&& pip check" in install.group(1)
    instructions = "\n".join(line for line in dockerfile.splitlines() if not line.startswith("#"))
    for tool in ("requirements-dev", "constraints-dev", "pytest", "playwright", "ruff", "mypy"):
        assert tool not in instructions, tool
    lock = (ROOT / "constraints.txt").read_text().lower()
    assert "\napache-airflow==3.3.2\n" in lock
    assert not re.search(r"^(pytest|playwright|ruff|mypy)==", lock, re.M)
    assert Path(ROOT / "airflow.cfg").exists()


# -- part 3: a compose file that starts ------------------------------------------------------------


def test_init_runs_as_root_and_hands_var_to_the_airflow_user_before_anything_else_starts() -> None:
    init = SERVICES["airflow-init"]
    assert init["user"] == "0:0"
    assert "./var:/opt/airflow/var" in init["volumes"]
    script = init["command"][-1]
    assert re.search(r"^mkdir -p /opt/airflow/var/\S+", script, re.M)
    assert script.strip().splitlines()[-1] == 'chown -R "$${AIRFLOW_UID}:0" /opt/airflow/var'
    assert init["environment"]["AIRFLOW_UID"] == "${AIRFLOW_UID:-50000}"
    airflow_services = [n for n, s in SERVICES.items() if s.get("image") == "bugzilla-push:local"]
    for name in airflow_services:
        if name != "airflow-init":
            assert SERVICES[name]["user"] == "${AIRFLOW_UID:-50000}:0", name
            assert (
                SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            )


def test_each_service_waits_only_for_what_it_uses() -> None:
    waits = {name: set(s.get("depends_on", {})) for name, s in SERVICES.items()}
    airflow = {"airflow-db", "airflow-init"}
    delivery = airflow | {"bugzilla-db", "rabbitmq", "elasticsearch"}
    assert waits["airflow-init"] == {"airflow-db", "bugzilla-db"}
    assert waits["airflow-apiserver"] == airflow  # the UI does not wait for the brokers
    assert waits["airflow-dag-processor"] == airflow
    assert waits["airflow-triggerer"] == airflow | {"bugzilla-db"}  # the asset watcher's trigger
    assert waits["airflow-scheduler"] == delivery  # LocalExecutor runs the tasks here
    assert waits["airflow-worker-1"] == waits["airflow-worker-2"] == delivery | {"rabbitmq-vhosts"}


def test_celery_workers_shut_down_warm() -> None:
    for name in ("airflow-worker-1", "airflow-worker-2"):
        assert SERVICES[name]["environment"]["DUMB_INIT_SETSID"] == "0"
    assert all(
        "DUMB_INIT_SETSID" not in SERVICES[n]["environment"] for n in ("airflow-scheduler", "airflow-init")
    )


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        return ["docker", "compose"]
    pytest.fail("no compose implementation: `scripts/services tools` installs Debian's docker-compose")


@pytest.mark.parametrize("profile", [[], ["--profile", "celery"]], ids=["default", "celery"])
def test_the_real_compose_implementation_accepts_the_file(tmp_path: Path, profile: list[str]) -> None:
    """`config -q` parses, interpolates and validates against the compose schema, without a daemon."""
    (tmp_path / "docker-compose.yaml").write_text((ROOT / "docker-compose.yaml").read_text())
    example = (ROOT / ".env.example").read_text()
    # Every variable .env.example lists, set as `make env` would (values are never used here).
    names = re.findall(r"^(\w+)=", example, re.M)
    (tmp_path / ".env").write_text("".join(f"{n}=x{n.lower()}\n" for n in names))
    done = subprocess.run(
        [*compose_command(), *profile, "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (tmp_path / ".env").write_text("")  # and without .env it refuses to start, naming the fix
    done = subprocess.run([*compose_command(), "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0
    assert "run make env" in done.stderr
