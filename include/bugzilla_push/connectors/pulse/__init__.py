"""Pulse: Mozilla's RabbitMQ exchanges (AMQP 0-9-1), published to with pipelined confirms."""

from __future__ import annotations

from bugzilla_push.connectors.pulse.connector import PulseConnector, PulseOptions

__all__ = ["PulseConnector", "PulseOptions"]
