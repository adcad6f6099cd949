"""The AMQP routing key of a message: Bugzilla's whole key, cut at a field boundary past 255 bytes.

Bugzilla's routing key names every changed field (`bug.modify:cf_status_firefox135,…`,
`extensions/Push/Extension.pm`), so it can be long; AMQP carries a routing key as a short string of
at most 255 bytes. A longer key keeps as many whole fields as fit, so consumers' bindings on the
target and action (`bug.modify:#`) and on its first fields still match.
"""

from __future__ import annotations

AMQP_KEY_MAX_BYTES = 255  # AMQP 0-9-1 shortstr


def amqp_routing_key(key: str) -> str:
    """Return `key` if it fits AMQP, else the longest prefix of it that ends at a whole field."""
    if len(key) <= AMQP_KEY_MAX_BYTES // 4 or len(key.encode()) <= AMQP_KEY_MAX_BYTES:
        return key
    base, _, fields = key.partition(":")
    kept: list[str] = []
    size = len(base.encode()) + 1
    for name in fields.split(","):
        size += len(name.encode()) + (1 if kept else 0)
        if size > AMQP_KEY_MAX_BYTES:
            break
        kept.append(name)
    return f"{base}:{','.join(kept)}" if kept else base


def cut_note(key: str, sent: str) -> str:
    """Say what was left out of a routing key (for the message's push_log row)."""
    dropped = key[len(sent) :].lstrip(":,")
    return (
        f"routing key of {len(key.encode())} bytes published as its first {len(sent.encode())} "
        f"(AMQP allows {AMQP_KEY_MAX_BYTES}), without the fields {dropped}"
    )
