from __future__ import annotations

import pytest

from bugzilla_push.config import ConfigError, DeliveryConfig


def test_defaults_are_valid_and_match_bmo() -> None:
    config = DeliveryConfig().validate()
    assert (config.backoff_base, config.backoff_cap) == (5.0, 900.0)


def test_overrides_are_checked() -> None:
    assert DeliveryConfig().with_overrides(batch_size=50, chunk_size=None).batch_size == 50
    with pytest.raises(ConfigError, match="batch_size=0"):
        DeliveryConfig().with_overrides(batch_size=0)
    with pytest.raises(ConfigError, match="unknown delivery setting"):
        DeliveryConfig().with_overrides(bach_size=10)
