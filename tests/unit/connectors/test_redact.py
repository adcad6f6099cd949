from __future__ import annotations

from bugzilla_push.connectors.base import ConnectionInfo, redact


def test_credentials_in_urls_and_known_secrets_are_removed() -> None:
    text = "cannot connect to amqp://bugzilla:s3cret@pulse.example:5671/%2F (password s3cret rejected)"
    assert (
        redact(text, "s3cret")
        == "cannot connect to amqp://***:***@pulse.example:5671/%2F (password *** rejected)"
    )


def test_connection_info_never_prints_its_password() -> None:
    info = ConnectionInfo("pulse", "amqp", host="h", login="u", password="hunter2")
    assert "hunter2" not in repr(info)
