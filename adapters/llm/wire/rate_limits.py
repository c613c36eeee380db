"""The provider's rate-limit headers (``x-ratelimit-*``) read into the domain's ``RateHint``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ....domain.budget import RateHint

__all__ = ["RATE_HEADERS", "parse_reset", "rate_hint_from_headers", "rate_hint_of_reply"]

#: The headers a hint is read from (lower case), Azure's older spelling of the tokens' reset included.
RATE_HEADERS = (
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "x-rate-limit-reset-tokens",
)
_NO_HINT = RateHint()
_DURATION = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def rate_hint_from_headers(headers: Mapping[str, str]) -> RateHint | None:
    """Read a reply's headers (any case); None when they carry no rate-limit hint.

    Azure's ``-1`` ("unknown") counts as absent; resets may be seconds (``55``, Azure) or
    durations (``6m0s``, ``20ms``, OpenAI); ``x-rate-limit-reset-tokens`` (Azure's older
    spelling) is read too.

    Args:
        headers: the reply's headers, names in any case.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    hint = RateHint(
        remaining_requests=_count(lower.get("x-ratelimit-remaining-requests")),
        remaining_tokens=_count(lower.get("x-ratelimit-remaining-tokens")),
        reset_requests=parse_reset(lower.get("x-ratelimit-reset-requests")),
        reset_tokens=parse_reset(
            lower.get("x-ratelimit-reset-tokens") or lower.get("x-rate-limit-reset-tokens")
        ),
    )
    return None if hint == _NO_HINT else hint


def rate_hint_of_reply(headers: Any) -> RateHint | None:
    """The rate hint of an httpx reply's headers (which read names case-insensitively), or None.

    Args:
        headers: an ``httpx2.Headers`` (anything with a case-insensitive ``get``).
    """
    found = {name: value for name in RATE_HEADERS if (value := headers.get(name)) is not None}
    return rate_hint_from_headers(found) if found else None


def parse_reset(raw: str | None) -> float | None:
    """Seconds from a reset header: ``55``, ``0.5``, ``1s``, ``6m0s``, ``20ms``; None if unreadable.

    Args:
        raw: the header's value, or None when it was not sent.
    """
    if raw is None:
        return None
    text = raw.strip()
    try:
        seconds = float(text)
    except ValueError:
        parts = list(_DURATION.finditer(text))
        if not parts or "".join(part.group(0) for part in parts) != text:
            return None
        seconds = sum(float(part["value"]) * _UNIT[part["unit"]] for part in parts)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _count(raw: str | None) -> int | None:
    try:
        value = int(raw.strip()) if raw is not None else -1
    except ValueError:
        return None
    return value if value >= 0 else None
