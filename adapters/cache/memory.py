"""The in-process reply cache store: bounded in bytes, an expiry per entry, one claim per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from cachetools import TLRUCache

from ...domain.defaults import CACHE_MAX_BYTES, CACHE_MAX_ENTRY_BYTES
from ...domain.errors import ConfigurationError

__all__ = ["MemoryCacheStore", "checked_size"]

# Claims kept before those past their time are swept out (claims are dropped when released, so
# only claims never released pile up).
_SWEEP_AT = 1024

_Entry = tuple[bytes, float]  # the value and its time to live, in seconds


def checked_size(name: str, value: int) -> int:
    """``value`` if it is a whole number of bytes >= 1.

    Raises:
        ConfigurationError: it is not (the message names ``name``).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number of bytes >= 1, got {value!r}")
    return value


class MemoryCacheStore:
    """Replies in this process's memory (the ``CacheStore`` port), for every thread of the process.

    Bounded in bytes: the values together hold at most ``max_bytes`` (their own bytes; keys and
    Python's bookkeeping are not counted); past it, the least recently used go first
    (cachetools' ``TLRUCache``). Each entry expires ``ttl`` seconds after it was stored, on
    ``clock``. A claim is a single flight inside the process: while a key is claimed (until
    ``release`` or ``seconds`` pass), ``claim`` answers False to every caller, the holder too;
    only the thread that claimed a key releases it.

    Args:
        max_bytes: what the values may hold together.
        max_entry_bytes: a longer value is not stored.
        clock: seconds, for expiry and claims (``time.monotonic``).

    Raises:
        ConfigurationError: a size is not a whole number of bytes >= 1.
    """

    origin = "memory"

    def __init__(
        self,
        max_bytes: int = CACHE_MAX_BYTES,
        *,
        max_entry_bytes: int = CACHE_MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = checked_size("max_bytes", max_bytes)
        # An entry larger than the whole cache could never be stored (cachetools refuses it).
        self.max_entry_bytes = min(checked_size("max_entry_bytes", max_entry_bytes), self.max_bytes)
        self.clock = clock
        self._cache: TLRUCache[str, _Entry] = TLRUCache(
            maxsize=self.max_bytes, ttu=_expires, timer=clock, getsizeof=_size
        )
        self._claims: dict[str, tuple[int, float]] = {}  # key -> (the claiming thread, until)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryCacheStore(max_bytes={self.max_bytes}, held={self.bytes_held})"

    @property
    def bytes_held(self) -> int:
        """The bytes the values stored now hold (expired ones count until they are swept)."""
        return int(self._cache.currsize)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, in order; ``None`` for a miss or an expired entry."""
        cache = self._cache
        values: list[bytes | None] = []
        with self._lock:
            for key in keys:
                # Indexing is TLRUCache's read (it touches the LRU order; an expired entry raises
                # KeyError), at a fifth of what ``get`` costs.
                try:
                    values.append(cache[key][0])
                except KeyError:
                    values.append(None)
        return values

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        """Store each value for ``ttl`` seconds (none when ``ttl`` <= 0); a value longer than
        ``max_entry_bytes`` is not stored, and older entries make room for the others. Then give
        back the calling thread's claim ``release``, if one is named."""
        kept = {key: bytes(value) for key, value in items.items() if len(value) <= self.max_entry_bytes}
        with self._lock:
            if ttl > 0:
                for key, value in kept.items():
                    self._cache[key] = (value, float(ttl))
            if release is not None:
                self._give_back(release)

    def claim(self, key: str, seconds: float) -> bool:
        """True when no one holds ``key``: the calling thread then holds it for ``seconds`` at most."""
        with self._lock:
            return self._claim(key, seconds)

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        """``claim(key, seconds)``, and the value of each of ``keys`` (``get_many``), at once."""
        with self._lock:
            claimed = self._claim(key, seconds)
        return claimed, self.get_many(keys)

    def _claim(self, key: str, seconds: float) -> bool:
        now = self.clock()
        held = self._claims.get(key)
        if held is not None and now < held[1]:
            return False
        if len(self._claims) >= _SWEEP_AT:
            self._claims = {k: v for k, v in self._claims.items() if now < v[1]}
        self._claims[key] = (threading.get_ident(), now + seconds)
        return True

    def release(self, key: str) -> None:
        """Give back the calling thread's claim on ``key``; another's claim stays."""
        with self._lock:
            self._give_back(key)

    def _give_back(self, key: str) -> None:
        held = self._claims.get(key)
        if held is not None and held[0] == threading.get_ident():
            del self._claims[key]

    def after_fork(self) -> None:
        """In a forked child: a new lock, and no claims (they belong to the parent's threads).

        The entries stay: they are as true in the child as in the parent.
        """
        self._lock = threading.Lock()
        self._claims = {}

    def close(self) -> None:
        """Drop every entry and claim."""
        with self._lock:
            self._cache.clear()
            self._claims.clear()


def _expires(_key: str, entry: _Entry, now: float) -> float:
    return now + entry[1]


def _size(entry: _Entry) -> int:
    return len(entry[0])
