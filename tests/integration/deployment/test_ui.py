"""`make ui` in a real browser: its supervisor (scripts/ui.py) started as `make ui` starts it, on a
state folder of its own, then Debian's chromium logs in with the printed password, sees runs
started by commits on the DAG's page and delivered sample messages in the push console, and
Ctrl-C stops every process it started. Screenshots and the timings go to test-artifacts/ui/."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from scripts.airflow_stack import STACK_MARKER
from scripts.stack_support import marked_processes
from tests.conftest import ROOT
from tests.integration.console.browser import logged_in
from tests.integration.console.server import ConsoleServer, free_port, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import FrameLocator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts" / "ui"
PRINTED = re.compile(r"^Log in as (?P<user>\S+), password (?P<password>\S+)$", re.MULTILINE)
STARTUP_SECONDS = 300  # the must-show is a minute; this machine's other work can slow a start down


class Supervisor:
    """`python -m scripts.ui` as `make ui` runs it, in a process group of its own (a terminal's Ctrl-C
    goes to the whole foreground group), with its state under `state`.

    :param state: the state folder (`make ui` uses var/)
    """

    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self.output = state.parent / "ui.log"
        self.started = time.monotonic()
        # `make ui`'s environment: none of the tests' Airflow settings, connections or Variables.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scripts.ui", "--state", str(state), "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def printed(self) -> re.Match[str] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"scripts.ui exited with {self.process.returncode}:\n{self.text()[-4000:]}")
        return PRINTED.search(self.text())

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def interrupt(self) -> int:
        """Press Ctrl-C: SIGINT to its process group; return its exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        for pid in marked_processes(STACK_MARKER, str(self.state)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    started = Supervisor(tmp_path / "var")
    try:
        yield started
    finally:
        started.kill()  # only if the test failed before its own Ctrl-C


def delivered_rows(frame: FrameLocator) -> int:
    """Open the console's log, refreshed, and count the messages it shows delivered (result OK)."""
    frame.get_by_role("link", name="Log").click()
    filters = frame.locator("#log-filters")
    filters.get_by_label("Result").select_option("1")
    filters.get_by_role("button", name="Apply").click()
    frame.locator("#log[data-filters='result=1']").wait_for()
    return frame.locator("#log tbody tr[data-message]").count()


@pytest.mark.timeout(900)
def test_make_ui_shows_runs_started_by_commits_and_delivered_messages_then_ctrl_c_stops_everything(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    printed = wait_until(supervisor.printed, STARTUP_SECONDS, "the URL and password to be printed", 1)
    up = time.monotonic() - supervisor.started
    assert f"{supervisor.url}/plugin/bugzilla-push" in supervisor.text()
    password_file = supervisor.state / "simple_auth_manager_passwords.json.generated"
    assert json.loads(password_file.read_text()) == {printed["user"]: printed["password"]}
    server = ConsoleServer(
        supervisor.url, {}, {printed["user"]: printed["password"]}, supervisor.state / "api-server.log"
    )

    with logged_in(server, printed["user"], tmp_path / "profile", ARTIFACTS) as session:
        frame = session.open_console()
        wait_until(lambda: delivered_rows(frame) > 0, STARTUP_SECONDS, "delivered messages in the console", 2)
        visible = time.monotonic() - supervisor.started
        assert frame.locator("#log tbody tr[data-message] td:nth-child(3)").first.text_content() == "file"
        session.screenshot("02-console-log")
        frame.get_by_role("link", name="Overview").click()
        frame.locator("tr[data-connector=file][data-state=active]").wait_for()
        session.screenshot("03-console-overview")

        page = session.page
        page.goto(f"{supervisor.url}/dags/bugzilla_push/runs")
        page.get_by_text("Asset Triggered").first.wait_for(timeout=STARTUP_SECONDS * 1000)
        session.screenshot("01-dag-runs")

    assert supervisor.interrupt() == 0
    assert "stopped every process" in supervisor.text()
    assert marked_processes(STACK_MARKER, str(supervisor.state)) == []
    timings = {"ui_printed_s": round(up, 1), "first_delivered_message_visible_s": round(visible, 1)}
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"make ui: {timings}")
