"""Delivery settings: one frozen pydantic model with defaults, checked when it is built."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bugzilla_push.errors import BugzillaPushError


class ConfigError(BugzillaPushError, ValueError):
    """A setting is unknown, out of range or of the wrong kind; the message names it."""


class DeliveryConfig(BaseModel):
    """How a delivery run behaves.

    :param batch_size: rows a run takes from `push` (10,000). Larger drains a backlog in fewer runs;
        smaller keeps runs short. Only ids travel through XCom, as ranges, so size costs no memory.
    :param chunk_size: rows sent and committed together (500). The in-flight window: after a crash at
        most this many messages are sent again, so smaller means fewer duplicates, larger fewer commits.
    :param max_payload_bytes: a larger payload is dead-lettered (16 MiB, the size of BMO's mediumtext).
    :param lock_timeout: seconds to wait for a connector held by another deliverer (60) before giving up.
    :param backoff_base: first delay after a transient failure; the n-th is base**n seconds (5, BMO's).
    :param backoff_cap: longest delay between attempts (900 s = 15 minutes, BMO's).
    :param backoff_jitter: fraction of a delay taken off at random (0.2), so connectors that failed
        together do not retry in lock-step.
    :param archive_days: how long delivered messages stay in `push_archive` for replay (30); 0 turns
        the archive off, which saves writing every payload twice.
    :param log_days: how long `push_log`, statistics and run records are kept (None: BMO's
        `log_purge` option in `push_options`, else 7 days, BMO's default).
    :param replay_batch: archived messages a replay sends per connector per run (10,000), so a
        long replay proceeds run by run and never holds up live delivery for long.
    :param purge_seconds: time an hourly maintenance run may spend purging old rows (600), in
        batches of `purge_batch` (5,000) rows, each its own short transaction; what is left goes next
        hour. Delivery never waits for it.
    :param metadata_days: how long Airflow keeps its own records of this project's DAG runs — runs,
        task instances, XComs, asset events, task logs (3 days); the maintenance DAG removes older ones.
    :param stale_seconds: the maintenance DAG alerts (Variable `bugzilla_push_notifier`) when the
        oldest message waiting in `push` or in a connector's backlog is at least this old (1800, as
        `bugzilla-push check --crit-age`); 0 never alerts.
    :param linger_seconds: how long a scheduled or commit-triggered run keeps delivering what is
        committed after its batch (30): each connector's task goes on with the next rows as soon as
        every connector has finished the previous ones, so a message waits for a poll, not for a
        new run and its process starts. 0: one batch per run.
    :param linger_poll_seconds: how often a lingering task looks for new rows (0.2).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    batch_size: int = Field(10_000, ge=1, le=1_000_000)
    chunk_size: int = Field(500, ge=1, le=100_000)
    max_payload_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    lock_timeout: float = Field(60.0, ge=0)
    backoff_base: float = Field(5.0, gt=1)
    backoff_cap: float = 900.0  # at least backoff_base
    backoff_jitter: float = Field(0.2, ge=0, lt=1)
    archive_days: int = Field(30, ge=0, le=3650)
    log_days: int | None = Field(None, ge=1, le=3650)
    replay_batch: int = Field(10_000, ge=1, le=1_000_000)
    purge_seconds: float = Field(600.0, ge=0)
    purge_batch: int = Field(5_000, ge=1, le=100_000)
    metadata_days: int = Field(3, ge=1, le=3650)
    stale_seconds: int = Field(1800, ge=0)
    linger_seconds: float = Field(30.0, ge=0, le=600)
    linger_poll_seconds: float = Field(0.2, gt=0, le=60)

    def __init__(self, **settings: Any) -> None:
        try:
            super().__init__(**settings)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> DeliveryConfig:
        if self.backoff_cap < self.backoff_base:
            raise ValueError(_out_of_range("backoff_cap", self.backoff_cap))
        return self

    def validate(self) -> DeliveryConfig:  # type: ignore[override]  # pydantic's is a deprecated classmethod
        """Return self: the settings were checked when the model was built (kept for its callers)."""
        return self

    def with_overrides(self, **overrides: Any) -> DeliveryConfig:
        """Return a copy with the given settings (None: keep; unknown names are an error), checked."""
        unknown = set(overrides) - set(type(self).model_fields)
        if unknown:
            raise ConfigError(f"unknown delivery setting(s): {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return type(self)(**{**self.model_dump(), **given})


# Pydantic's error types for a value outside a field's bounds (the rest are values of the wrong kind).
_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


def _out_of_range(name: str, value: Any) -> str:
    return f"delivery setting {name}={value!r} is out of range"


def _config_error(exc: ValidationError) -> ConfigError:
    """Say what is wrong in the words users have always seen: unknown names, else the first bad value."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return ConfigError(f"unknown delivery setting(s): {', '.join(unknown)}")
    first = errors[0]
    if not first["loc"]:  # a rule across settings (backoff_cap): its message is already in these words
        return ConfigError(str(first["ctx"]["error"]))
    name, value = first["loc"][0], first["input"]
    if first["type"] in _RANGE_ERRORS:
        return ConfigError(_out_of_range(str(name), value))
    return ConfigError(f"delivery setting {name}={value!r} is not valid: {first['msg']}")
