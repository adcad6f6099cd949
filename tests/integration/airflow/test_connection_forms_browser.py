"""Connections made in Airflow's UI, in a real browser: Debian's chromium, headless, on `airflow api-server`.

A person opens Admin → Connections → Add, picks this project's type, fills its form (standard
fields relabelled for the type, the options as extra fields), saves, and presses Test in the list:
against the real RabbitMQ the Pulse connection passes, and fails in words once its password is
wrong; a webhook connection passes against a local receiver and fails in words when the receiver
answers 503. Screenshots go to test-artifacts/connections/.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import TYPE_CHECKING
from unittest import mock

import httpx
import pytest

from bugzilla_push.airflow.hooks.pulse import PulseHook
from tests.conftest import ROOT
from tests.doubles.webhook_receiver import WebhookReceiver, always
from tests.integration.connectors.pulse.support import AMQP_HOST, AMQP_PORT, blocking
from tests.integration.console.browser import logged_in
from tests.integration.console.server import make_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Locator, Page

    from tests.integration.console.server import ConsoleServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts" / "connections"


@pytest.fixture(scope="module")
def server(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workdir = tmp_path_factory.mktemp("connection-forms")
    api = make_server(workdir, f"sqlite:///{workdir / 'bugzilla.db'}", {})
    api.env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"  # as airflow.cfg says, whatever the environment
    try:
        api.start()
        yield api
    finally:
        api.stop()


@pytest.fixture
def conn_ids(server: ConsoleServer) -> Iterator[list[str]]:
    """Connection ids a test makes in the (shared) metadata database; deleted afterwards."""
    made: list[str] = []
    yield made
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    for conn_id in made:
        httpx.delete(f"{server.url}/api/v2/connections/{conn_id}", headers=headers, timeout=30)


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def add_connection(page: Page, conn_id: str, type_name: str) -> Locator:
    """Open Admin → Connections → Add, give the id and pick the type; return the dialog."""
    page.get_by_role("button", name="Admin").click()
    page.get_by_role("menuitem", name="Connections").click()
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Connection ID").fill(conn_id)
    dialog.get_by_role("combobox").click()
    page.keyboard.type(type_name.split()[0])
    page.get_by_role("option", name=type_name, exact=True).click()
    return dialog


def option(dialog: Locator, label: str) -> Locator:
    """An extra field's input, found by the label a person reads (Airflow's labels are not bound to them)."""
    label_text = re.compile(rf"^{re.escape(label)}\s*$")
    return (
        dialog.get_by_role("group")
        .filter(has=dialog.page.locator("label", has_text=label_text))
        .locator("input")
    )


def press_test(page: Page, conn_id: str, outcome: str, screenshot: str) -> str:
    """Press the row's Test button; screenshot the answer, check its title and return its text."""
    row = page.get_by_role("row").filter(has_text=conn_id)
    row.get_by_role("button", name="Test Connection").click()
    toast = page.get_by_role("status").filter(has_text=re.compile("Test Connection (Successful|Failed)"))
    toast.wait_for()
    # Shown once it has slid in and faded in (the screenshot is for people to read).
    toast.evaluate("e => Promise.all(e.getAnimations({subtree: true}).map(a => a.finished))")
    shot(page, screenshot)
    text = toast.text_content() or ""
    toast.wait_for(state="detached")  # the next answer must not be mistaken for this one
    assert text.startswith(outcome), text
    return text


def test_a_pulse_connection_made_in_the_form_passes_test_until_its_password_is_wrong(
    server: ConsoleServer, conn_ids: list[str], tmp_path: Path
) -> None:
    conn_id = f"pulse_forms_{uuid.uuid4().hex[:8]}"
    exchange = f"bugzilla-push/forms-{uuid.uuid4().hex[:8]}"  # no "guest" in it: Airflow masks the password
    conn_ids.append(conn_id)
    with blocking() as amqp:
        amqp.channel().exchange_declare(exchange, exchange_type="topic", durable=True)
    try:
        with logged_in(server, "admin", tmp_path / "profile") as session:
            page = session.page
            dialog = add_connection(page, conn_id, "Pulse (AMQP)")
            dialog.get_by_label("Host", exact=True).fill(AMQP_HOST)
            dialog.get_by_label("Port").fill(str(AMQP_PORT))
            dialog.get_by_role("textbox", name="User").fill("guest")
            dialog.get_by_label("Password").fill("guest")
            dialog.get_by_label("Virtual host").fill("/")
            dialog.get_by_text("Extra Fields", exact=True).click()
            option(dialog, "Exchange").fill(exchange)
            assert option(dialog, "Declare the exchange").is_checked()
            shot(page, "pulse-form")
            dialog.get_by_role("button", name="Save").click()
            page.get_by_role("row").filter(has_text=conn_id).wait_for()

            passed = press_test(page, conn_id, "Test Connection Successful", "pulse-test-passed")
            assert f"RabbitMQ at {AMQP_HOST}:{AMQP_PORT}, virtual host '/'" in passed
            assert f"exchange {exchange!r} is a durable topic exchange" in passed

            page.get_by_role("row").filter(has_text=conn_id).get_by_role(
                "button", name="Edit Connection"
            ).click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_label("Password").fill("not-the-password")
            dialog.get_by_role("button", name="Save").click()
            page.get_by_role("status").filter(has_text="Connection has been successfully updated").wait_for()
            failed = press_test(page, conn_id, "Test Connection Failed", "pulse-test-wrong-password")
            assert (
                f"RabbitMQ at {AMQP_HOST}:{AMQP_PORT} refused the login of user 'guest': fix the login or "
                "password of this connection"
            ) in failed
            assert "not-the-password" not in failed
    finally:
        with blocking() as amqp:
            amqp.channel().exchange_delete(exchange)
    # What the form saved, untouched options as nulls, builds the connector delivery uses.
    saved = httpx.get(
        f"{server.url}/api/v2/connections/{conn_id}",
        headers={"Authorization": f"Bearer {server.token('admin')}"},
        timeout=30,
    ).json()
    extra = json.loads(saved["extra"])
    assert (extra["exchange"], extra["declare"], extra["confirm_window"]) == (exchange, True, None)
    fields = {k: saved[k] for k in ("conn_type", "host", "port", "login", "schema")}
    with mock.patch.dict(
        os.environ, {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(fields | {"extra": extra})}
    ):
        connector = PulseHook(conn_id).get_conn()
    assert (connector.target.exchange, connector.target.declare, connector.publisher.window) == (
        exchange,
        True,
        1000,
    )


def test_a_webhook_connection_made_in_the_form_pings_its_receiver(
    server: ConsoleServer, conn_ids: list[str], tmp_path: Path
) -> None:
    conn_id = f"webhook_forms_{uuid.uuid4().hex[:8]}"
    conn_ids.append(conn_id)
    with WebhookReceiver() as receiver, logged_in(server, "admin", tmp_path / "profile") as session:
        page = session.page
        dialog = add_connection(page, conn_id, "Bugzilla webhook")
        dialog.get_by_label("Receiver URL").fill(receiver.url("/bugzilla"))
        dialog.get_by_label("API key or password").fill("k3y-for-forms")
        dialog.get_by_label("Port").fill(str(receiver.port))  # Airflow 3.3.2's Test needs one
        dialog.get_by_text("Extra Fields", exact=True).click()
        option(dialog, "API key header").fill("X-Api-Key")
        option(dialog, "Events").fill("create, comment")
        shot(page, "webhook-form")
        dialog.get_by_role("button", name="Save").click()
        page.get_by_role("row").filter(has_text=conn_id).wait_for()

        passed = press_test(page, conn_id, "Test Connection Successful", "webhook-test-passed")
        assert f"the receiver at 127.0.0.1:{receiver.port} answered HTTP 200 to a test ping" in passed
        (ping,) = receiver.requests("/bugzilla")
        assert ping.headers["x-bugzilla-push-test"] == "ping"
        assert ping.headers["x-api-key"] == "k3y-for-forms"
        assert ping.json["event"]["action"] == "ping"

        receiver.script = always(503, "down for maintenance")
        failed = press_test(page, conn_id, "Test Connection Failed", "webhook-test-503")
        assert "answered the test ping (POST, X-Bugzilla-Push-Test: ping): HTTP 503" in failed
        assert "down for maintenance" in failed
