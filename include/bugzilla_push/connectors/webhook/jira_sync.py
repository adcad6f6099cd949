"""What BMO adds to a webhook's payload bound for Jira (`extensions/JiraWebhookSync/Extension.pm`).

Its `webhook_before_send` hook acts only on webhooks whose URL's host is the
`jira_webhook_sync_hostname` parameter: it adds the bug's Jira issue (a row of `jira_bug_map`) to
`bug.see_also`, and appends a `[tag]` to `bug.whiteboard` for every rule of
`jira_webhook_sync_config` (`{"tag": {"product": …, "component": …}}`, component optional) the bug
matches, each tag once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict


class JiraRule(BaseModel):
    """A whiteboard tag's rule: the bug's product, and its component unless left out."""

    model_config = ConfigDict(extra="forbid")
    product: str
    component: str | None = None


def bound_for_jira(url: str, hostname: str | None) -> bool:
    """Whether a webhook's URL goes to the Jira host (BMO compares the host alone, exactly)."""
    return bool(hostname) and urlsplit(url).hostname == hostname


def matches(bug: dict[str, Any], rule: JiraRule) -> bool:
    """BMO's `_bug_matches_rule`: the product, then the component if the rule names one."""
    if rule.product != bug.get("product"):
        return False
    return rule.component is None or rule.component == bug.get("component")


def add_whiteboard_tags(whiteboard: str | None, tags: list[str]) -> str:
    """BMO's `_add_whiteboard_tags`: append each `[tag]` the whiteboard lacks, then trim."""
    text = whiteboard or ""
    for tag in dict.fromkeys(tags):
        if f"[{tag}]" not in text:
            text += f" [{tag}]"
    return text.strip()


def add_jira_fields(
    payload: dict[str, Any], jira_url: str | None, rules: dict[str, JiraRule]
) -> dict[str, Any]:
    """Return the payload with the Jira issue in `bug.see_also` and the matching whiteboard tags."""
    bug = dict(payload.get("bug") or {})
    see_also = list(bug.get("see_also") or [])
    if jira_url and jira_url not in see_also:
        see_also.append(jira_url)
    bug["see_also"] = see_also
    bug["whiteboard"] = add_whiteboard_tags(
        bug.get("whiteboard"), [tag for tag, rule in rules.items() if matches(bug, rule)]
    )
    return {**payload, "bug": bug}
