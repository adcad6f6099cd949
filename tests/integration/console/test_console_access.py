"""Who may use the push console, against a real `airflow api-server` on loopback.

Every route of the app is enumerated from the app itself: without a token each answers 401, an
account without permission on the DAG gets 403, a viewer reads but every action is refused, and an
action is accepted only with the console's header, a JSON body and this server's origin.
Whatever is refused changes nothing in the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.console_plugin import console_app
from tests.integration.console.routes import calls, known_paths
from tests.integration.console.server import BOTH_AUTH_MANAGERS

if TYPE_CHECKING:
    from bugzilla_push.store import Store
    from tests.integration.console.conftest import Console

pytestmark = [pytest.mark.integration, pytest.mark.slow, BOTH_AUTH_MANAGERS]

ACTION_HEADERS = {"X-Bugzilla-Push-Console": "1"}
STATE_TABLES = ("push_connector_state", "push_backoff", "push_backlog", "push_dead_letter", "push_audit")


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Everything an action could change."""
    tables = {t: store.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in STATE_TABLES}
    tables["push_log"] = store.query("SELECT COUNT(*), MAX(id) FROM push_log")
    return tables


def send(client: httpx.Client, call: object, **kwargs: object) -> httpx.Response:
    method, path, body = call.method, call.path, call.body  # type: ignore[attr-defined]
    if method == "POST":
        return client.post(path, json=body, **kwargs)
    return client.request(method, path, **kwargs)


def test_the_enumeration_covers_every_route_of_the_app(console: Console) -> None:
    paths = {r.path for r in console_app().routes if isinstance(r, APIRoute)}
    assert paths == known_paths()  # a new route must be added here, and is then covered below
    assert len(calls(console.day)) == len(paths)


def test_without_a_token_every_endpoint_answers_401_and_changes_nothing(console: Console) -> None:
    with console.store() as store:
        before = snapshot(store)
    with console.server.client() as anonymous:
        for call in calls(console.day):
            answer = send(anonymous, call, headers=ACTION_HEADERS)
            assert answer.status_code == 401, f"{call}: {answer.status_code} {answer.text[:200]}"
    with console.store() as store:
        assert snapshot(store) == before


def test_a_token_signed_with_another_key_is_refused_everywhere(console: Console) -> None:
    forged = console.server.token("admin")[:-8] + "AAAAAAAA"
    base = console.server.console
    with (
        httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {forged}"}) as bearer,
        httpx.Client(base_url=base, timeout=60, cookies={"_token": forged}) as cookie,
    ):
        for call in calls(console.day):
            for client in (bearer, cookie):
                answer = send(client, call, headers=ACTION_HEADERS)
                assert answer.status_code in (401, 403), f"{call}: {answer.status_code}"


def test_an_account_without_permission_on_the_dag_gets_403_everywhere(console: Console) -> None:
    with console.store() as store:
        before = snapshot(store)
    with console.server.client("outsider") as outsider:
        for call in calls(console.day):
            answer = send(outsider, call, headers=ACTION_HEADERS)
            assert answer.status_code == 403, f"{call}: {answer.status_code} {answer.text[:200]}"
            assert call.path == "/" or answer.json() == {"detail": "Forbidden"}
    with console.store() as store:
        assert snapshot(store) == before


def test_a_viewer_reads_everything_and_every_action_is_forbidden(console: Console) -> None:
    with console.store() as store:
        before = snapshot(store)
    with console.server.client("viewer") as viewer:
        for call in calls(console.day):
            answer = send(viewer, call, headers=ACTION_HEADERS)
            expected = 403 if call.method == "POST" else 200
            assert answer.status_code == expected, f"{call}: {answer.status_code} {answer.text[:200]}"
        assert viewer.get("/api/me").json() == {"user": "viewer", "can_act": False, "can_read_payloads": True}
    with console.store() as store:
        assert snapshot(store) == before


def test_an_action_needs_the_header_a_json_body_and_this_servers_origin(console: Console) -> None:
    server = console.server
    token = server.token("admin")
    pause = "/api/connectors/file/pause"
    body = {"reason": "should not happen"}
    with console.store() as store:
        before = snapshot(store)
    refused = [
        ("no console header", {"json": body, "headers": {"Authorization": f"Bearer {token}"}}),
        (
            "a form's body",
            {
                "content": "reason=x",
                "headers": {
                    **ACTION_HEADERS,
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            },
        ),
        (
            "text/plain, as a no-cors fetch sends it",
            {"content": '{"reason": "x"}', "headers": {**ACTION_HEADERS, "Content-Type": "text/plain"}},
        ),
        ("another origin", {"json": body, "headers": {**ACTION_HEADERS, "Origin": "http://127.0.0.1:1"}}),
        ("an opaque origin", {"json": body, "headers": {**ACTION_HEADERS, "Origin": "null"}}),
        (
            "another site's referer",
            {"json": body, "headers": {**ACTION_HEADERS, "Referer": "http://evil.test/x"}},
        ),
        ("a cookie and no origin at all", {"json": body, "headers": ACTION_HEADERS}),
    ]
    with httpx.Client(base_url=server.console, timeout=60, cookies={"_token": token}) as browser_like:
        for what, request in refused:
            answer = browser_like.post(pause, **request)
            assert answer.status_code == 403, f"{what}: {answer.status_code} {answer.text[:200]}"
            assert answer.json()["detail"] != "Forbidden", what  # refused by the console's check
    with console.store() as store:
        assert snapshot(store) == before

    same_origin = {**ACTION_HEADERS, "Origin": server.url}
    with httpx.Client(base_url=server.console, timeout=60, cookies={"_token": token}) as browser_like:
        assert (
            browser_like.post(pause, json={"reason": "from the page"}, headers=same_origin).status_code == 200
        )
        assert (
            browser_like.post("/api/connectors/file/resume", json={}, headers=same_origin).status_code == 200
        )
    with server.client("admin") as script:  # a script with a Bearer token sends no Origin
        answer = script.post("/api/connectors/file/reset-backoff", json={}, headers=ACTION_HEADERS)
        assert answer.status_code == 200, answer.text
    with console.store() as store:
        actions = store.query(
            "SELECT actor, action, connector, detail FROM push_audit ORDER BY id DESC LIMIT 3"
        )
    assert actions == [
        ("admin", "reset_backoff", "file", None),
        ("admin", "resume", "file", None),
        ("admin", "pause", "file", "from the page"),
    ]


def test_the_page_and_its_files_are_served_with_a_strict_policy(console: Console) -> None:
    with console.server.client("admin") as admin:
        page = admin.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'self'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert 'src="static/console.js"' in page.text
        for name, kind in (
            ("console.js", "text/javascript"),
            ("charts.js", "text/javascript"),
            ("console.css", "text/css"),
        ):
            asset = admin.get(f"/static/{name}")
            assert asset.status_code == 200
            assert asset.headers["content-type"].startswith(kind)
        assert admin.get("/static/..%2Fmodels.py").status_code == 404
        assert admin.get("/static/index.html").status_code == 404
        assert admin.get("/api/overview").headers["cache-control"] == "no-store"
    with console.server.client() as anonymous:
        login = anonymous.get("/")
        assert login.status_code == 401
        assert login.headers["content-type"].startswith("text/html")
        assert "log in" in login.text


def test_the_plugin_is_registered_with_airflow(console: Console) -> None:
    # Listing plugins is an admin's right under FAB (Viewer has no "Plugins" permission).
    with httpx.Client(
        base_url=console.server.url,
        headers={"Authorization": f"Bearer {console.server.token('admin')}"},
        timeout=60,
    ) as api:
        plugins = {p["name"]: p for p in api.get("/api/v2/plugins").json()["plugins"]}
    plugin = plugins["bugzilla_push_console"]
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == ["/bugzilla-push"]
    view = next(v for v in plugin["external_views"] if v["name"] == "Bugzilla push")
    assert (view["href"], view["destination"], view["url_route"]) == (
        "bugzilla-push/",
        "nav",
        "bugzilla-push",
    )
