"""JiraWebhookSync's rules, as `extensions/JiraWebhookSync/Extension.pm` states them."""

from __future__ import annotations

import pytest

from bugzilla_push.connectors.webhook.jira_sync import (
    JiraRule,
    add_jira_fields,
    add_whiteboard_tags,
    bound_for_jira,
    matches,
)


@pytest.mark.parametrize(
    ("url", "hostname", "bound"),
    [
        ("https://jira.example.org/hook", "jira.example.org", True),
        ("https://jira.example.org:8443/hook", "jira.example.org", True),  # the host alone, as Mojo::URL's
        ("https://other.example.org/hook", "jira.example.org", False),
        ("https://jira.example.org/hook", None, False),  # the parameter unset: never
    ],
)
def test_only_a_webhook_whose_host_is_the_jira_host_is_bound_for_jira(
    url: str, hostname: str | None, bound: bool
) -> None:
    assert bound_for_jira(url, hostname) is bound


def test_a_rule_matches_the_product_then_the_component_if_it_names_one() -> None:
    bug = {"product": "Firefox", "component": "General"}
    assert matches(bug, JiraRule(product="Firefox"))
    assert matches(bug, JiraRule(product="Firefox", component="General"))
    assert not matches(bug, JiraRule(product="Firefox", component="Other"))
    assert not matches(bug, JiraRule(product="Core"))
    assert not matches({"id": 1}, JiraRule(product="Firefox"))  # a private bug reduced to ids


def test_whiteboard_tags_are_appended_once_and_trimmed() -> None:
    assert add_whiteboard_tags("triage", ["a", "b", "a"]) == "triage [a] [b]"
    assert add_whiteboard_tags("[a] triage", ["a"]) == "[a] triage"
    assert add_whiteboard_tags(None, ["a"]) == "[a]"
    assert add_whiteboard_tags("  x  ", []) == "x"


def test_the_jira_issue_joins_see_also_once() -> None:
    payload = {"bug": {"id": 1, "product": "Firefox", "see_also": ["https://j/1"]}, "event": {}}
    rules = {"fx": JiraRule(product="Firefox")}
    once = add_jira_fields(payload, "https://j/1", rules)
    assert once["bug"]["see_also"] == ["https://j/1"]
    assert add_jira_fields(payload, "https://j/2", rules)["bug"]["see_also"] == ["https://j/1", "https://j/2"]
    assert once["bug"]["whiteboard"] == "[fx]"
    assert payload["bug"]["see_also"] == ["https://j/1"]  # the message's own payload is left as it was
