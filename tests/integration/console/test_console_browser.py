"""The push console in a real browser: Debian's chromium, headless, against `airflow api-server`.

A person logs in through Airflow's login page, opens the console from Airflow's navigation (it is
shown in a sandboxed frame there), and sees the queues and charts of a day of real deliveries. A
hostile payload is shown as text and runs nothing. Retrying a dead letter and pausing a connector
take effect in the next `airflow dags test bugzilla_push` run. A viewer is offered no action, and
a page of another origin cannot make the browser change anything. Screenshots go to
test-artifacts/console/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.integration.console.browser import logged_in
from tests.integration.console.day import MIRROR_ERROR, XSS_REASON
from tests.integration.console.server import BOTH_AUTH_MANAGERS, free_port
from tests.support import enqueue_samples

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.integration.console.conftest import Console

pytestmark = [pytest.mark.integration, pytest.mark.slow, BOTH_AUTH_MANAGERS]


def backlog(console: Console, connector: str) -> list[int]:
    with console.store() as store:
        return [
            r[0]
            for r in store.query(
                "SELECT message_id FROM push_backlog WHERE connector = %(c)s ORDER BY message_id",
                {"c": connector},
            )
        ]


def test_the_console_shows_the_queues_and_charts_of_a_day(console: Console, tmp_path: Path) -> None:
    with logged_in(console.server, "admin", tmp_path / "profile") as session:
        frame = session.open_console()
        assert frame.locator("#who").text_content() == "admin"
        assert frame.locator("#pending-count").text_content() == "0"
        mirror = frame.locator("tr[data-connector=mirror]")
        assert mirror.get_attribute("data-state") == "backing_off"
        assert "backing off" in mirror.text_content()
        assert mirror.locator(".backlog-depth").text_content() == str(len(backlog(console, "mirror")))
        assert MIRROR_ERROR in mirror.text_content()
        file = frame.locator("tr[data-connector=file]")
        assert file.get_attribute("data-state") == "active"
        assert file.get_by_role("link", name="2").is_visible()  # two dead letters

        sent = frame.locator("#chart-sent svg.chart-svg")
        assert sent.get_attribute("role") == "img"
        assert [p.get_attribute("data-series") for p in sent.locator("path.series").all()] == [
            "file",
            "mirror",
        ]
        for line in sent.locator("path.series").all():
            assert line.get_attribute("d").count("L") > 100  # a point every ten minutes for a day
        depth = frame.locator("#chart-backlog svg.chart-svg")
        assert [p.get_attribute("data-series") for p in depth.locator("path.series").all()] == [
            "file",
            "mirror",
            "pending (push)",
        ]
        assert len(depth.locator("text.tick").all()) >= 12  # value and time labels
        assert frame.locator("#chart-backlog .legend li").all_text_contents() == [
            " file",
            " mirror",
            " pending (push)",
        ]
        sent.hover()
        assert "UTC" in frame.locator("#chart-sent .readout").text_content()
        session.screenshot("01-overview")


def test_a_payload_with_markup_is_shown_as_text_and_runs_nothing(console: Console, tmp_path: Path) -> None:
    day = console.day
    with logged_in(console.server, "admin", tmp_path / "profile") as session:
        frame = session.open_console()
        frame.get_by_role("link", name="Dead letters").click()
        row = frame.locator(f"tr[data-dead-letter='{day.xss_dead_letter_id}']")
        assert row.locator(".reason").text_content() == XSS_REASON  # the reason's markup, as text
        session.screenshot("02-dead-letters")

        row.get_by_role("link", name=str(day.xss_message_id)).click()
        frame.locator("body[data-loaded=message]").wait_for()
        payload = frame.locator("#payload")
        text = payload.text_content()
        assert "<script>window.__xss" in text
        assert "<img src=x onerror=" in text
        assert "</pre><b>Mallory</b>" in text
        assert json.loads(text)["bug"]["id"] == 1_999_999  # pretty-printed JSON, whole
        assert payload.locator("*").count() == 0  # one text node: no element was made from the data
        assert frame.locator("img, iframe, b").count() == 0
        assert frame.locator("script").count() == 1  # the console's own module, nothing else
        assert frame.locator("body").evaluate("() => window.__xss === undefined")
        assert session.page.evaluate("() => window.__xss === undefined")
        session.screenshot("03-message-with-script-payload")


def test_a_retried_dead_letter_and_a_paused_connector_take_effect_in_the_next_dag_run(
    console: Console, tmp_path: Path
) -> None:
    day, server = console.day, console.server
    with logged_in(server, "admin", tmp_path / "profile") as session:
        frame = session.open_console()

        # Retry the hostile message's dead letter, from the message's own page.
        frame.locator("#view-message").evaluate(
            f"() => {{ location.hash = 'message/{day.xss_message_id}'; }}"
        )
        frame.locator("body[data-loaded=message]").wait_for()
        frame.locator("tr[data-place='dead letter']").get_by_role("button", name="Retry").click()
        dialog = frame.get_by_role("dialog")
        assert dialog.get_by_role("heading").text_content() == f"Retry message {day.xss_message_id} for file?"
        assert not dialog.get_by_label("Reason").is_visible()  # only a pause asks why
        session.screenshot("04-confirm-retry")
        dialog.get_by_role("button", name="Retry").click()
        frame.locator("#notice").get_by_text("is back in file's backlog").wait_for()
        frame.locator("tr[data-place=backlog]").wait_for()
        assert backlog(console, "file") == [day.xss_message_id]

        # Pause the mirror, saying why; the dialog insists on a reason.
        frame.get_by_role("link", name="Overview").click()
        mirror = frame.locator("tr[data-connector=mirror]")
        mirror.get_by_role("button", name="Pause").click()
        dialog.get_by_role("button", name="Pause").click()
        assert dialog.locator("#confirm-problem").is_visible()
        dialog.get_by_label("Reason").fill("mirror.example.org moves to a new rack")
        dialog.get_by_role("button", name="Pause").click()
        frame.locator("tr[data-connector=mirror][data-state=paused]").wait_for()
        assert "by admin" in mirror.text_content()
        assert "mirror.example.org moves to a new rack" in mirror.text_content()
        session.screenshot("05-mirror-paused")
        with console.store() as store:
            state = store.connector_state("mirror")
        assert (state.paused, state.changed_by, state.reason) == (
            True,
            "admin",
            "mirror.example.org moves to a new rack",
        )

        # The next DAG run delivers to the file (the retried message first) and skips the mirror.
        held_before = backlog(console, "mirror")
        with console.store() as store:
            new = enqueue_samples(store, 25, seed=99)
        states = run_dag(console)
        assert states[("deliver", "mirror")] == "skipped"
        assert states[("deliver", "file")] == "success"
        assert states[("finalize", "")] == "success"
        delivered = [json.loads(line)["push_id"] for line in console.outputs["file"].read_text().splitlines()]
        assert delivered == [day.xss_message_id, *new]
        assert not console.outputs["mirror"].exists()
        assert backlog(console, "mirror") == held_before + new
        assert backlog(console, "file") == []

        frame.locator("#refresh").click()
        mirror_depth = mirror.locator(".backlog-depth")
        mirror_depth.get_by_text(str(len(held_before) + len(new)), exact=True).wait_for()
        assert mirror.get_attribute("data-state") == "paused"
        session.screenshot("06-after-the-dag-run")

        # The log shows what the run delivered; filters and paging work in the page.
        frame.get_by_role("link", name="Log").click()
        filters = frame.locator("#log-filters")
        filters.get_by_label("Connector").select_option("file")
        filters.get_by_label("Result").select_option("1")
        filters.get_by_role("button", name="Apply").click()
        # Each message has a row per connector (the mirror's say BLOCKED): wait for the filtered page.
        log = frame.locator("#log[data-filters='connector=file&result=1']")
        log.locator(f"tr[data-message='{new[-1]}']").wait_for()
        first_page = frame.locator("#log tbody tr").count()
        assert first_page == 50
        assert set(frame.locator("#log tbody tr td:nth-child(3)").all_text_contents()) == {"file"}
        session.screenshot("07-log")
        frame.get_by_role("button", name="Older").click()
        frame.locator(f"#log tr[data-message='{new[-1]}']").wait_for(state="detached")
        assert frame.locator("#log tbody tr").count() == 50

        # What the paused mirror holds is in its log as BLOCKED, saying who paused it and why.
        filters.get_by_label("Connector").select_option("mirror")
        filters.get_by_label("Result").select_option("6")
        filters.get_by_role("button", name="Apply").click()
        held = frame.locator(f"#log[data-filters='connector=mirror&result=6'] tr[data-message='{new[-1]}']")
        held.wait_for()
        assert "BLOCKED" in held.text_content()
        assert "connector paused by admin: mirror.example.org moves to a new rack" in held.text_content()

        frame.get_by_role("link", name="Activity").click()
        audit = frame.locator("#audit tbody tr")
        audit.first.wait_for()
        assert [r.get_attribute("data-action") for r in audit.all()[:2]] == ["pause", "retry_dead_letter"]
        assert audit.first.locator("td").nth(1).text_content() == "admin"
        session.screenshot("08-activity")

        # Give up on the mirror's oldest waiting message, then resume the mirror.
        frame.get_by_role("link", name="Overview").click()
        mirror.get_by_role("button", name="Backlog").click()
        oldest = held_before[0]
        frame.locator(f"#backlog tr[data-message='{oldest}']").get_by_role("button", name="Drop").click()
        assert dialog.get_by_role("heading").text_content() == f"Drop message {oldest}?"
        dialog.get_by_role("button", name="Drop message").click()
        frame.locator(f"#backlog tr[data-message='{oldest}']").wait_for(state="detached")
        assert backlog(console, "mirror") == held_before[1:] + new
        mirror.get_by_role("button", name="Resume").click()
        dialog.get_by_role("button", name="Resume").click()
        frame.locator("tr[data-connector=mirror][data-state=active]").wait_for()
        with console.store() as store:
            actions = store.query(
                "SELECT actor, action, connector, message_id FROM push_audit ORDER BY id DESC LIMIT 2"
            )
        assert actions == [
            ("admin", "resume", "mirror", None),
            ("admin", "drop_backlog_message", "mirror", oldest),
        ]


def run_dag(console: Console) -> dict[tuple[str, str], str]:
    """Run `airflow dags test bugzilla_push`; return its task instances' states by (task, connector)."""
    server = console.server
    api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.token('admin')}"}, timeout=60
    )
    runs = "/api/v2/dags/bugzilla_push/dagRuns"
    with api:
        newest = {"order_by": "-id", "limit": 20}
        known = api.get(runs, params=newest)  # 404 until a first run has registered the DAG
        before = {r["dag_run_id"] for r in known.json()["dag_runs"]} if known.status_code == 200 else set()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "dags", "test", "bugzilla_push"],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        after = api.get(runs, params=newest).json()["dag_runs"]
        (run,) = [r for r in after if r["dag_run_id"] not in before]
        instances = api.get(f"{runs}/{run['dag_run_id']}/taskInstances").json()["task_instances"]
    return {(ti["task_id"], ti["rendered_map_index"] or ""): ti["state"] for ti in instances}


def test_a_viewer_is_offered_no_action(console: Console, tmp_path: Path) -> None:
    with logged_in(console.server, "viewer", tmp_path / "profile") as session:
        # FAB's Viewer may not list plugins, so Airflow's navigation has no entry for the console.
        frame = session.open_console(from_navigation=console.server.auth_manager == "simple")
        assert frame.locator("#who").text_content() == "viewer (read only)"
        for label in ("Pause", "Resume", "Reset backoff"):
            for button in frame.get_by_role("button", name=label, exact=True).all():
                assert button.is_disabled()
        frame.get_by_role("link", name="Dead letters").click()
        frame.locator("#dead-letters tbody tr[data-dead-letter]").first.wait_for()
        for label in ("Retry", "Drop"):
            buttons = frame.get_by_role("button", name=label, exact=True).all()
            assert buttons
            assert all(b.is_disabled() for b in buttons)


@pytest.fixture
def other_origin() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server on another loopback port (another origin, the same site) serving one page."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", pages
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_a_forged_cross_site_post_changes_nothing(
    console: Console, tmp_path: Path, other_origin: tuple[str, dict[str, str]]
) -> None:
    from tests.integration.console.test_console_access import snapshot

    server, (origin, pages) = console.server, other_origin
    with console.store() as store:
        dead = store.query("SELECT id FROM push_dead_letter WHERE connector = 'file' ORDER BY id")[0][0]
        waiting = store.query("SELECT message_id FROM push_backlog WHERE connector = 'mirror' ORDER BY 1")[0][
            0
        ]
        before = snapshot(store)
    pause = f"{server.console}/api/connectors/file/pause"
    retry = f"{server.console}/api/dead-letters/{dead}/retry"
    drop = f"{server.console}/api/connectors/mirror/backlog/{waiting}/drop"
    # A simple request with the cookie (no preflight), one that claims to be the console (preflight,
    # which is never granted), then a form that posts JSON-looking text/plain and navigates.
    pages["/attack.html"] = f"""<!doctype html><html><body>
<form id="f" method="POST" action="{pause}" enctype="text/plain">
<input type="hidden" name='{{"reason": "forged", "x": "' value='"}}'></form>
<script>
const simple = fetch("{retry}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}});
const claimed = fetch("{drop}", {{method: "POST", credentials: "include",
  headers: {{"Content-Type": "application/json", "X-Bugzilla-Push-Console": "1"}}, body: "{{}}"}})
  .then(() => "sent", () => "blocked");
Promise.allSettled([simple, claimed]).then(([, c]) => {{
  document.title = "claimed: " + c.value;
  document.getElementById("f").submit();
}});
</script></body></html>"""
    with logged_in(server, "admin", tmp_path / "profile") as session:
        page = session.page
        page.goto(f"{origin}/attack.html")
        page.wait_for_url(pause)
        refused = page.locator("body").text_content()
        assert "X-Bugzilla-Push-Console" in refused  # the cookie was good: the console's own check refused it
        session.screenshot("09-forged-post-refused")
    with console.store() as store:
        assert snapshot(store) == before
    targets = {url.removeprefix(server.url) for url in (pause, retry, drop)}
    posts = sorted(
        (e["path"], e["status_code"])
        for e in server.access_log()
        if e["method"] == "POST" and e["path"] in targets
    )
    # The simple fetch and the form arrived (with the cookie) and were refused; the fetch that
    # claimed to be the console never got past its preflight.
    assert posts == sorted([(pause.removeprefix(server.url), "403"), (retry.removeprefix(server.url), "403")])
