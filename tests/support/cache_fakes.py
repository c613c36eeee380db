"""CacheStore fakes for the caching service's tests: a dict store, and stores that fail or are slow."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from llmport.domain.deadline import current_deadline

__all__ = ["DictCacheStore", "RaisingCacheStore", "SlowCacheStore"]


class DictCacheStore:
    """A thread-safe dict CacheStore with single-flight claims; ``failing = True`` makes it a miss.

    Records what was asked: ``gets`` (key lists), ``sets`` (item dicts with their ttl), ``claims``.
    Time-to-live is recorded, not enforced (tests read ``ttls``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, float] = {}
        self.held: set[str] = set()
        self.gets: list[list[str]] = []
        self.sets: list[dict[str, bytes]] = []
        self.claims: list[tuple[str, float, bool]] = []
        self.failing = False
        self.closed = False

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            self.gets.append(list(keys))
            if self.failing:
                return [None] * len(keys)
            return [self.values.get(key) for key in keys]

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        with self._lock:
            self.sets.append(dict(items))
            if not self.failing:
                self.values.update(items)
                self.ttls.update(dict.fromkeys(items, ttl))
        if release is not None:
            self.release(release)

    def claim(self, key: str, seconds: float) -> bool:
        with self._lock:
            won = self.failing or key not in self.held
            if won and not self.failing:
                self.held.add(key)
            self.claims.append((key, seconds, won))
            return won

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        # Through ``claim`` and ``get_many``, so that a test's override of either still counts.
        return self.claim(key, seconds), self.get_many(keys)

    def release(self, key: str) -> None:
        with self._lock:
            self.held.discard(key)

    def close(self) -> None:
        self.closed = True


class RaisingCacheStore:
    """Breaks the port's promise on purpose: every method raises, to prove the service survives it."""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self) -> None:
        self.calls += 1
        raise ConnectionError("cache store is down")

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        self._fail()
        return []

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        self._fail()

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        self._fail()
        return False, []

    def release(self, key: str) -> None:
        self._fail()

    def close(self) -> None:
        self._fail()


class SlowCacheStore:
    """A store that answers each round trip after ``delay`` seconds of ``sleep``, bounded by what is
    left of the call's deadline (as the port asks), then as a miss; its claims are always taken by
    someone else, so a caller would wait on it."""

    def __init__(self, delay: float, sleep: Callable[[float], None]) -> None:
        self.delay = delay
        self._sleep = sleep
        self.waits: list[float] = []

    def _wait(self) -> None:
        deadline = current_deadline()
        wait = self.delay if deadline is None else max(0.0, min(self.delay, deadline.remaining()))
        self.waits.append(wait)
        self._sleep(wait)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        self._wait()
        return [b"\x80garbage"] * len(keys)

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        self._wait()

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        self._wait()
        return False, [b"\x80garbage"] * len(keys)

    def release(self, key: str) -> None:
        self._wait()

    def close(self) -> None:
        pass
