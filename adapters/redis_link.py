"""The Redis stores' link (budgets, the reply cache): each round trip bounded by the call's time
left, each failure named.

Connecting (with the handshake), then sending and reading every reply, each end within the
store's own timeout, or half of what is left of the current call's deadline when that is less
(the send keeps the rest). Whatever goes wrong comes out as one ``Trouble`` that
says what it is and how to fix it (naming the setting that holds the URL): a password refused,
Redis out of memory, a TLS handshake with a plaintext server, no answer in time, no server at all.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..domain.deadline import current_deadline

__all__ = ["DEADLINE_SHARE", "NoScriptError", "Trouble", "connect", "refused", "round_trip", "seconds_for"]

NoScriptError = redis.exceptions.NoScriptError

#: The share of a call's time left that one round trip to the store may take.
DEADLINE_SHARE = 0.5

# When the round trip running on this thread must be over (time.monotonic); None: unbounded.
_END: ContextVar[float | None] = ContextVar("llmport_redis_round_trip_end", default=None)
# The shortest socket wait: a round trip past its end still fails at once, never blocks.
_MIN_WAIT = 0.001


class Trouble(Exception):
    """What kept a round trip from being answered: ``kind`` (password, memory, tls, timeout,
    unreachable, refused) and a message that says what to do; never the URL's password."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def seconds_for(timeout: float) -> float:
    """How long the next round trip may take: ``timeout``, or a share of the call's time left."""
    deadline = current_deadline()
    if deadline is None:
        return timeout
    return min(timeout, max(0.0, deadline.remaining()) * DEADLINE_SHARE)


def _bounded(seconds: float | None) -> float | None:
    end = _END.get()
    if end is None:
        return seconds
    left = max(_MIN_WAIT, end - time.monotonic())
    return left if seconds is None else min(seconds, left)


class _Bounded:
    """A connection whose connect and handshake waits end with the round trip they run in."""

    _socket_timeout: float | None
    _socket_connect_timeout: float | None

    @property
    def socket_timeout(self) -> float | None:
        return _bounded(self._socket_timeout)

    @socket_timeout.setter
    def socket_timeout(self, value: float | None) -> None:
        self._socket_timeout = value

    @property
    def socket_connect_timeout(self) -> float | None:
        return _bounded(self._socket_connect_timeout)

    @socket_connect_timeout.setter
    def socket_connect_timeout(self, value: float | None) -> None:
        self._socket_connect_timeout = value


_CLASSES: dict[str, Any] = {
    "redis": type("BoundedConnection", (_Bounded, redis.Connection), {}),
    "rediss": type("BoundedSSLConnection", (_Bounded, redis.SSLConnection), {}),
    "unix": type("BoundedUnixConnection", (_Bounded, redis.UnixDomainSocketConnection), {}),
}


def connect(url: str, timeout: float, *, decode: bool = True) -> Any:
    """A Redis client for ``url`` whose connections wait at most ``timeout`` and never retry.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` (never logged: it may hold a password).
        timeout: seconds to connect or wait for an answer.
        decode: answers as ``str`` (UTF-8); ``False`` keeps them ``bytes`` (values that are not text).
    """
    scheme = url.split(":", 1)[0].lower()
    # No handshake round trip but AUTH (when a password is set): RESP2 needs no HELLO, and the
    # client does not name itself (CLIENT SETINFO); a slow Redis makes each round trip count.
    quiet: dict[str, Any] = {"lib_name": None, "lib_version": None}
    if importlib.util.find_spec("redis.driver_info") is not None:
        quiet = {"driver_info": None}  # the same, where redis-py deprecates lib_name
    return redis.Redis.from_url(
        url,
        decode_responses=decode,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        connection_class=_CLASSES.get(scheme, _CLASSES["redis"]),
        protocol=2,
        **quiet,
    )


def round_trip(client: Any, commands: Sequence[Sequence[Any]], timeout: float, *, setting: str) -> list[Any]:
    """Send ``commands`` at once and read every answer.

    Connecting (when the pool has no connection ready) and then the commands each take at most
    ``seconds_for(timeout)``: the store's timeout, or half the call's time left. An answer Redis
    refused (a ``ResponseError``) comes back in its place; out of memory is raised as a Trouble.
    ``setting`` names where the user wrote the URL, in a Trouble's fix.

    Raises:
        Trouble: the round trip could not be made, or was not answered in time.
    """
    pool = client.connection_pool
    tls = pool.connection_class is _CLASSES["rediss"]
    seconds = seconds_for(timeout)
    token = _END.set(time.monotonic() + seconds)
    try:
        try:
            conn = pool.get_connection()
        except (redis.RedisError, OSError) as exc:
            raise _trouble(exc, setting, connecting=True, tls=tls, seconds=seconds) from None
        seconds = seconds_for(timeout)
        end = time.monotonic() + seconds
        _END.set(end)
        try:
            _arm(conn, end)
            conn.send_packed_command(conn.pack_commands(commands))
            answers: list[Any] = []
            for _ in commands:
                _arm(conn, end)
                try:
                    answers.append(conn.read_response())
                except redis.ResponseError as refused:
                    if isinstance(refused, redis.exceptions.OutOfMemoryError):
                        raise  # every write of the round trip is refused alike
                    answers.append(refused)
        except (redis.RedisError, OSError) as exc:
            conn.disconnect()
            raise _trouble(exc, setting, connecting=False, tls=tls, seconds=seconds) from None
        finally:
            sock = getattr(conn, "_sock", None)
            if sock is not None:
                sock.settimeout(timeout)  # as redis-py left it, for anyone else using the client
            pool.release(conn)
        return answers
    finally:
        _END.reset(token)


def _arm(conn: Any, end: float) -> None:
    """Make the connection's next socket wait end by ``end`` (every redis-py since 5 reads through
    this socket with its timeout as set)."""
    sock = getattr(conn, "_sock", None)
    if sock is not None:
        sock.settimeout(max(_MIN_WAIT, end - time.monotonic()))


def _trouble(exc: BaseException, setting: str, *, connecting: bool, tls: bool, seconds: float) -> Trouble:
    """``exc`` named for what it is, with the fix; Redis's own words, never the URL."""
    said = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, redis.AuthenticationError) or "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
        return Trouble(
            "password",
            f"Redis refused the store's password ({said}); set the right one in "
            f"{setting} (redis://:PASSWORD@host:port/db)",
        )
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return Trouble(
            "memory",
            f"Redis is out of memory and refuses every write ({said}); raise its maxmemory or set "
            "maxmemory-policy to volatile-lru (every key the store writes expires)",
        )
    if tls and connecting and (isinstance(exc, (redis.TimeoutError, TimeoutError)) or "SSL" in said):
        return Trouble(
            "tls",
            f"no TLS handshake with Redis within {seconds:.2f} s ({said}); if the server speaks "
            f"plaintext, use redis:// in {setting}, else check its TLS port",
        )
    if isinstance(exc, (redis.TimeoutError, TimeoutError)):
        return Trouble(
            "timeout",
            f"Redis did not answer within {seconds:.2f} s ({said}); the store's timeout or half the "
            "call's time left bounds each round trip: a slow or stalled Redis, or a busy host",
        )
    if isinstance(exc, (redis.ConnectionError, OSError)):
        return Trouble("unreachable", f"Redis is unreachable ({said}); check {setting}'s host and port")
    return Trouble("refused", f"Redis refused the store's commands ({said})")


def refused(answer: Exception, *, setting: str) -> Trouble:
    """A command's refusal (an answer in ``round_trip``'s list) as a ``Trouble``."""
    return _trouble(answer, setting, connecting=False, tls=False, seconds=0.0)
