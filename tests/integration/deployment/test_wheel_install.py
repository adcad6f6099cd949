"""The image's install, where no Docker engine runs: the built wheel with its runtime extras and the
runtime lock (constraints.txt) in a fresh virtualenv, then `pip check`, the CLI and Airflow's
provider list. The Dockerfile runs the same `pip install … -c constraints.txt && pip check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# What the image installs (Dockerfile); the check must install exactly that.
EXTRAS = "pulse,elasticsearch,webhook,mysql,airflow,celery"
DEVELOPMENT_ONLY = ("pytest", "playwright", "ruff", "mypy", "import-linter", "pre-commit")


def clean_env(home: Path) -> dict[str, str]:
    """The environment without this checkout's code on the path or its Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env["AIRFLOW_HOME"] = str(home)
    return env


def run(*args: str | Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh virtualenv with the wheel, the image's extras and the runtime lock; its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    env = clean_env(work / "airflow-home")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        work / "dist",
        ROOT,
        env=env,
    )
    (wheel,) = (work / "dist").glob("bugzilla_push-*.whl")
    run(sys.executable, "-m", "venv", work / "venv", env=env)
    bin_dir = work / "venv" / "bin"
    run(
        bin_dir / "pip",
        "install",
        "--quiet",
        "--no-compile",
        f"{wheel}[{EXTRAS}]",
        "-c",
        ROOT / "constraints.txt",
        env=env,
    )
    return bin_dir, env


def test_the_wheel_with_the_lock_passes_pip_check_and_carries_no_development_tool(
    venv: tuple[Path, dict[str, str]],
) -> None:
    bin_dir, env = venv
    assert f"[{EXTRAS}]" in (ROOT / "Dockerfile").read_text()
    assert "No broken requirements found" in run(bin_dir / "pip", "check", env=env)
    installed = {
        p["name"].lower() for p in json.loads(run(bin_dir / "pip", "list", "--format=json", env=env))
    }
    assert {"bugzilla-push", "apache-airflow", "pika", "elasticsearch", "httpx", "pymysql"} <= installed
    assert not installed & set(DEVELOPMENT_ONLY)


def test_the_installed_cli_prints_help_and_three_samples(venv: tuple[Path, dict[str, str]]) -> None:
    bin_dir, env = venv
    assert "samples" in run(bin_dir / "bugzilla-push", "--help", env=env)
    lines = run(bin_dir / "bugzilla-push", "samples", "--count", "3", env=env).splitlines()
    assert len(lines) == 3
    assert all("routing_key" in json.loads(line) for line in lines)


def test_airflow_lists_the_package_among_its_providers(venv: tuple[Path, dict[str, str]]) -> None:
    bin_dir, env = venv
    providers = json.loads(run(bin_dir / "airflow", "providers", "list", "--output", "json", env=env))
    by_name = {p["package_name"]: p for p in providers}
    assert "bugzilla-push" in by_name, sorted(by_name)
    assert {
        "apache-airflow-providers-postgres",
        "apache-airflow-providers-celery",
        "apache-airflow-providers-http",
    } <= set(by_name)
