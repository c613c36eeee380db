"""The provider's rate-limit headers read into a RateHint (adapters/llm/wire/rate_limits.py)."""

from __future__ import annotations

import pytest

from llmport.adapters.llm.wire.rate_limits import parse_reset, rate_hint_from_headers
from llmport.domain.budget import RateHint


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("55", 55.0), ("0.5", 0.5), ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5)],
)
def test_reset_headers_in_seconds_or_durations(raw: str, seconds: float) -> None:
    assert parse_reset(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", [None, "", "soon", "-3", "6m0sx", "nan", "inf"])
def test_unreadable_resets_are_none(raw: str | None) -> None:
    assert parse_reset(raw) is None


def test_a_hint_from_azures_headers_treats_minus_one_as_unknown() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "-1",
        "x-ratelimit-remaining-tokens": "9990",
        "x-rate-limit-reset-tokens": "55",  # Azure's older spelling
    }
    assert rate_hint_from_headers(headers) == RateHint(remaining_tokens=9990, reset_tokens=55.0)
    assert rate_hint_from_headers({"content-type": "application/json"}) is None
