"""The budget store's values: limits checked when built, the provider's rate-limit headers read."""

from __future__ import annotations

import pytest

from llmport.domain.budget import Budget, RateHint, parse_reset
from llmport.domain.errors import ConfigurationError


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
    assert RateHint.from_headers(headers) == RateHint(remaining_tokens=9990, reset_tokens=55.0)
    assert RateHint.from_headers({"content-type": "application/json"}) is None


@pytest.mark.parametrize(
    ("options", "field"),
    [({"deployment": " "}, "deployment"), ({"rpm": 0}, "rpm"), ({"tpm": True}, "tpm"),
     ({"eject_after": 0}, "eject_after"), ({"eject_for": 0}, "eject_for"),
     ({"probe_timeout": float("nan")}, "probe_timeout")],
)  # fmt: skip
def test_a_bad_budget_names_its_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError, match=f"Budget.{field}"):
        Budget(**{"deployment": "d1", **options})  # type: ignore[arg-type]
