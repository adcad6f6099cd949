"""Whether Bugzilla writes every change into `push`: its Push extension's settings in `push_options`.

Bugzilla inserts a `push` row only when its Push extension is enabled (connector `global`, option
`enabled`, default `Disabled`) and at least one of its own enabled Perl connectors wants the change
(`extensions/Push/Extension.pm`, `_push_object`). Of those connectors only `File` wants every change
(`extensions/Push/lib/Connector/File.pm`: `should_send` returns 1); `Phabricator`, `Spark` and each
`Webhook_<id>` want a few. With File off, this project's Pulse and Elasticsearch connectors would
get only what some webhook happened to want — silently. Webhooks are enabled unless set otherwise
(`extensions/Push/lib/Connector/Webhook.pm`: `load_config`); every other connector is disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugzilla_push.bugzilla.reader import BugzillaReader

ENABLED = "Enabled"
CATCH_ALL = "File"  # BMO's only connector whose should_send takes every change


@dataclass(frozen=True)
class ProducerWarning:
    """A reason Bugzilla may not write every change into `push`.

    :param code: Nagios severity: 1 WARNING (some changes are not written), 2 CRITICAL (none are)
    :param text: what is wrong, naming the `push_options` setting to change
    """

    code: int
    text: str


def producer_warnings(reader: BugzillaReader) -> list[ProducerWarning]:
    """Return what keeps Bugzilla from writing every change, or nothing.

    A database without Bugzilla's `bugs` table is not a Bugzilla database (a stand-alone `push`
    table, as `bugzilla-push schema` makes): nothing is said about it.
    """
    if not reader.has_table("bugs"):
        return []
    options = {
        (connector, name): value
        for connector, name, value in reader.query(
            "SELECT connector, option_name, option_value FROM push_options WHERE option_name = 'enabled'"
        )
    }
    if options.get(("global", "enabled"), "Disabled") != ENABLED:
        return [
            ProducerWarning(
                2,
                "push_options global.enabled is not 'Enabled': Bugzilla's Push extension writes no push rows "
                "at all (Administration → Push → global → enabled)",
            )
        ]
    if options.get((CATCH_ALL, "enabled"), "Disabled") == ENABLED:
        return []
    wanting = sorted(
        c
        for (c, _), v in options.items()
        if c not in ("global", CATCH_ALL) and (v == ENABLED or (c.startswith("Webhook_") and v != "Disabled"))
    )
    return [
        ProducerWarning(
            1,
            "push_options File.enabled is not 'Enabled': Bugzilla writes a push row only when one of its own "
            "enabled connectors wants the change, and only File wants every change; now only what "
            f"{', '.join(wanting) or 'no connector'} wanted reaches push "
            "(Administration → Push → File → enabled)",
        )
    ]
