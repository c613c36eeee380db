"""The Redis reply cache store: replies shared by every process and host, one claim per key across them.

Values are ``<prefix>:v:<key>``, written with SET PX (they expire by themselves) and framed
(``frame``), so a value this store did not write reads as a miss; claims are ``<prefix>:c:<key>``,
SET NX PX with a token of the claiming thread, given back by a compare-and-delete (Lua), so a
claim that outlived its ``seconds`` and was taken by another is never given back by the first.

Each call is one round trip (MGET; the SETs pipelined, with the release of a claim when one is
named; the claim and the MGET after it pipelined), bounded by the store's ``timeout`` and half
the call's time left (``adapters/redis_link.py``). A Redis that fails is a miss, stores nothing
and lets every claim through; what failed is logged on ``llmport.cache`` once per kind (``outage.py``)
and Redis is left alone for ``retry_every`` seconds (writes only, when it is out of memory).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ...domain.defaults import CACHE_MAX_ENTRY_BYTES
from ...domain.errors import ConfigurationError
from ...domain.redaction import redact
from .frame import frame, unframe
from .memory import checked_size
from .outage import CacheOutage

__all__ = ["RedisCacheStore"]

# Deletes a claim only if it still holds this thread's token (one that expired and was taken by
# another caller holds theirs).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_SETTING = "cache"  # where the user wrote the URL, named in the fix the log gives
#: The shortest round trip worth starting: with less of the call's time left, it goes without the store.
_SHORTEST_ROUND_TRIP = 0.002


class RedisCacheStore:
    """Replies shared through Redis (the ``CacheStore`` port); never raises, never waits past the call.

    Args:
        url: ``redis://[:password@]host:port/db``, ``rediss://`` or ``unix://`` (never logged).
        prefix: the namespace of every key this store writes.
        timeout: seconds a round trip may take at most (connecting included).
        max_entry_bytes: a longer value is not stored.
        clock: seconds (``time.monotonic``), for when to try Redis again after it failed.
        retry_every: seconds Redis is left alone after it failed.

    Raises:
        ConfigurationError: the ``redis`` package is missing, the URL cannot be read, or
            ``max_entry_bytes`` is not a whole number of bytes >= 1.
    """

    origin = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "llmport:cache",
        timeout: float = 0.5,
        max_entry_bytes: int = CACHE_MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
        retry_every: float = 10.0,
    ) -> None:
        try:
            import redis  # noqa: F401 - only whether it is there
        except ImportError:
            raise ConfigurationError(
                'The Redis reply cache needs the redis package: pip install "llmport[redis]"'
            ) from None
        from .. import redis_link as link

        self._link = link
        problem: str | None = None
        try:
            self._redis: Any = link.connect(url, timeout, decode=False)
        except ValueError as exc:  # a bad port or query value; redis-py's frames hold the URL
            problem = redact(str(exc), (urlsplit(url).password or "",))
        if problem is not None:  # raised here, so that no __context__ links the ValueError
            raise ConfigurationError(f"{_SETTING}: redis cannot read the URL: {problem}")
        self.max_entry_bytes = checked_size("max_entry_bytes", max_entry_bytes)
        self.prefix = prefix
        self.clock = clock
        self._timeout = timeout
        self._outage = CacheOutage(retry_every)
        self._tokens: dict[tuple[str, int], bytes] = {}  # (key, thread) -> the token of its claim
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisCacheStore(prefix={self.prefix!r}, using={'none' if self.resting else 'redis'})"

    @property
    def resting(self) -> bool:
        """Whether Redis is left alone for now because it failed (calls go without the cache)."""
        return self._outage.waiting(self.clock(), writes=False)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, in order; ``None`` for a miss, a value this store did not
        write, or any failure."""
        if not keys:
            return []
        answers = self._send([self._mget(keys)], writes=False)
        return self._values(keys, answers, 0)

    def set_many(self, items: Mapping[str, bytes], ttl: float, *, release: str | None = None) -> None:
        """Store each value for ``ttl`` seconds (none when ``ttl`` <= 0); a value longer than
        ``max_entry_bytes`` is not stored; nothing is when Redis fails. ``release``: this
        thread's claim to give back in the same round trip (``release``)."""
        ms = int(ttl * 1000)
        commands: list[tuple[Any, ...]] = []
        if ms >= 1:
            commands = [
                ("SET", f"{self.prefix}:v:{key}", frame(value), "PX", ms)
                for key, value in items.items()
                if len(value) <= self.max_entry_bytes
            ]
        give_back = self._give_back(release) if release is not None else None
        if not commands:
            if give_back is not None:
                self._send([give_back], writes=False)
            return
        if give_back is None:
            self._send(commands, writes=True)
        elif self._send([*commands, give_back], writes=True) is None:
            # Not sent (writes rest while Redis is out of memory) or failed: the claim alone,
            # when reads still go (a delete is taken even by a Redis out of memory).
            self._send([give_back], writes=False)

    def claim(self, key: str, seconds: float) -> bool:
        """True when no caller in any process holds ``key``: this thread then holds it for
        ``seconds`` at most. True as well when Redis fails (each process then computes its own)."""
        return self.claim_and_get(key, (), seconds)[0]

    def claim_and_get(self, key: str, keys: Sequence[str], seconds: float) -> tuple[bool, list[bytes | None]]:
        """``claim(key, seconds)`` then ``get_many(keys)``, pipelined: one round trip (the values
        are read after the claim was taken). While Redis refuses writes (out of memory), the claim
        is let through and the values are read alone."""
        token = secrets.token_bytes(12)
        ms = max(1, int(seconds * 1000))
        if self._outage.waiting(self.clock(), writes=True):
            return True, self.get_many(keys)
        commands: list[tuple[Any, ...]] = [("SET", f"{self.prefix}:c:{key}", token, "NX", "PX", ms)]
        if keys:
            commands.append(self._mget(keys))
        answers = self._send(commands, writes=True)
        values = self._values(keys, answers, 1) if keys else []
        if answers is None:
            return True, values
        if answers[0] is None:
            return False, values
        with self._lock:
            self._tokens[(key, threading.get_ident())] = token
        return True, values

    def release(self, key: str) -> None:
        """Give back this thread's claim on ``key``, if it still holds it in Redis."""
        give_back = self._give_back(key)
        if give_back is not None:
            # Not a write to wait for: a delete is taken even by a Redis out of memory.
            self._send([give_back], writes=False)

    def _give_back(self, key: str) -> tuple[Any, ...] | None:
        """The command that deletes this thread's claim on ``key`` if Redis still holds its token
        (None when this thread took no claim on it)."""
        with self._lock:
            token = self._tokens.pop((key, threading.get_ident()), None)
        return None if token is None else ("EVAL", _RELEASE, 1, f"{self.prefix}:c:{key}", token)

    def _mget(self, keys: Sequence[str]) -> tuple[Any, ...]:
        return ("MGET", *(f"{self.prefix}:v:{key}" for key in keys))

    def _values(self, keys: Sequence[str], answers: list[Any] | None, at: int) -> list[bytes | None]:
        """The values MGET answered at ``answers[at]``, unframed; misses for a failure or garbage."""
        values = answers[at] if answers is not None else None
        if not isinstance(values, list) or len(values) != len(keys):
            if answers is not None:
                self._outage.garbage(self.prefix)
            return [None] * len(keys)
        found = [unframe(value) if value is not None else None for value in values]
        if any(got is None and value is not None for got, value in zip(found, values, strict=True)):
            self._outage.garbage(self.prefix)
        return found

    def _send(self, commands: list[tuple[Any, ...]], *, writes: bool) -> list[Any] | None:
        """The answers to ``commands`` in one round trip; ``None`` when Redis is left alone, the
        call has no time for it, or it failed (logged). Never raises."""
        if self._outage.waiting(self.clock(), writes=writes):
            return None
        if self._link.seconds_for(self._timeout) < _SHORTEST_ROUND_TRIP:
            return None  # the call's time is nearly up: it goes on without the cache
        try:
            answers = self._link.round_trip(self._redis, commands, self._timeout, setting=_SETTING)
            for answer in answers:
                if isinstance(answer, Exception):
                    raise self._link.refused(answer, setting=_SETTING)
        except self._link.Trouble as trouble:
            self._outage.failed(trouble, self.clock())
            return None
        except Exception as exc:  # the port never raises: anything else is a failure too
            # Its type only: a message could quote what was sent.
            unexpected = self._link.Trouble("refused", f"unexpected {type(exc).__name__}")
            self._outage.failed(unexpected, self.clock())
            return None
        self._outage.answered(writes, self.clock())
        return answers

    def after_fork(self) -> None:
        """In a forked child: a new lock, no claims (the parent's threads hold them), and
        connections of its own (no I/O here)."""
        self._lock = threading.Lock()
        self._tokens = {}
        self._outage.after_fork()
        self._redis.connection_pool.reset()

    def close(self) -> None:
        """Close the connections (claims still held end after their ``seconds``)."""
        with contextlib.suppress(Exception):  # closing never raises; the sockets go with the process
            self._redis.close()
