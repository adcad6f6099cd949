"""docker-compose.yaml cannot run here (no Docker engine), so its promises are checked as data."""

from __future__ import annotations

import re
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
    assert "FROM apache/airflow:3.3.2-python3.11" in (ROOT / "Dockerfile").read_text()
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
        assert worker["environment"] == env  # the same settings as the scheduler that queues for it
        assert worker["depends_on"]["rabbitmq-vhosts"]["condition"] == "service_completed_successfully"
    vhost_job = " ".join(SERVICES["rabbitmq-vhosts"]["command"])
    assert "/api/vhosts/celery" in vhost_job
    assert "/api/permissions/celery/bugzilla" in vhost_job
    assert all("profiles" not in SERVICES[n] for n in ("airflow-scheduler", "airflow-apiserver"))


def test_the_image_installs_the_pinned_requirements_and_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r /opt/bugzilla-push/requirements.txt -c /opt/bugzilla-push/constraints.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps -e /opt/bugzilla-push" in dockerfile
    assert Path(ROOT / "airflow.cfg").exists()
