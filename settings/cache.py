"""The reply cache's settings: where replies are kept (``cache``), for how long, how much, and apart."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ..domain.errors import ConfigurationError
from .checks import check_range, check_whole
from .routing import _STORE_SCHEMES, _store_problem, redacted_store
from .sources import origin

__all__ = ["CACHE_CHOICES", "check_cache"]

#: The ``cache`` values that are not a Redis URL.
CACHE_CHOICES = ("off", "memory")
#: The longest a reply may be kept: 30 days.
MAX_TTL = 30 * 86400.0


def check_cache(values: Mapping[str, object], sources: Mapping[str, str]) -> None:
    """``cache`` is off, memory or a Redis URL; its time-to-live, size bound and namespace in range.

    Args:
        values: the settings by name, as given.
        sources: where each came from, for the messages.

    Raises:
        ConfigurationError: naming the setting, where it came from, and what to write instead.
    """
    _check_store(values["cache"], origin(sources, "cache"))
    check_range("cache_ttl", values["cache_ttl"], 1e-9, MAX_TTL, origin(sources, "cache_ttl"))
    where = origin(sources, "cache_max_bytes")
    check_whole("cache_max_bytes", values["cache_max_bytes"], 1024, 2**40, where)
    check_range("cache_max_bytes", values["cache_max_bytes"], 1024, 2**40, where)
    namespace = values["cache_namespace"]
    if not isinstance(namespace, str) or namespace != namespace.strip() or len(namespace) > 200:
        raise ConfigurationError(
            f"cache_namespace: {namespace!r:.60} must be a string of at most 200 characters without "
            f"leading or trailing blanks, e.g. 'my-app'{origin(sources, 'cache_namespace')}"
        )


def _check_store(value: object, where: str) -> None:
    if value in CACHE_CHOICES:
        return
    if not isinstance(value, str) or urlsplit(value).scheme not in _STORE_SCHEMES or value != value.strip():
        shown = redacted_store(value) if isinstance(value, str) else repr(value)
        raise ConfigurationError(
            f"cache: {shown!r} is neither 'off', 'memory' nor a Redis URL like "
            f"'redis://127.0.0.1:6379/0'{where}"
        )
    problem = _store_problem(value)
    if problem:
        raise ConfigurationError(
            f"cache: {redacted_store(value)!r} {problem}; write it like 'redis://HOST:6379/0'{where}"
        )
