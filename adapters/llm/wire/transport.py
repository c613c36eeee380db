"""The HTTP client every adapter sends through: each request bounded by the call's deadline and a byte cap.

httpx's timeouts bound each socket operation, not a request: a server that drips a byte a second
never trips a 60 s read timeout. So the SDK's httpx client gets a network backend whose streams
clamp every connect, read and write to the time left of the current request, and count the bytes
read against ``max_response_bytes``. The limits travel in a context variable that the adapter sets
around each SDK call and each step of a stream; requests made outside such a scope are unbounded,
as plain httpx would leave them.

It is also where a test's cassette sees every request (``adapters/recording/``): the transports
consult the process-wide recorder slot, which costs one attribute read while it is empty.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, TypeVar

import httpcore2
import httpx2

from ....domain.deadline import current_deadline
from ....domain.errors import ConfigurationError
from ...recording import hook
from ._httpx_private import TransportBuildingClient, client_transports, network_backend, set_network_backend
from .tls import shared_ssl_context

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "HttpClientSource",
    "RequestLimits",
    "ResponseTooLarge",
    "guard_user_client",
    "guarded_http_client",
    "limits_scope",
]

T = TypeVar("T")
#: What a user may give an adapter: an httpx client, or a callable that makes one (fork-friendly).
HttpClientSource = httpx2.Client | Callable[[], httpx2.Client]
_DEADLINE_PASSED = "the call's deadline passed"

# The largest legitimate reply: 2048 inputs of 3072-dimension embeddings as base64 float32 is
# 2048 * 3072 * 4 * 4/3 = 33.6 MB of JSON; twice that leaves room for servers that send floats
# for smaller models. An error body or a stream of that size is already absurd.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class ResponseTooLarge(Exception):
    """Raised inside httpx when a response passes its byte cap; translated into ResponseTooLargeError."""


class RequestLimits:
    """The time and bytes one request may still take (one per attempt, or per stream)."""

    __slots__ = ("deadline", "max_bytes", "read")

    def __init__(self, *, seconds: float | None, max_bytes: int) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.max_bytes = max_bytes
        self.read = 0

    @classmethod
    def for_attempt(cls, max_bytes: int) -> RequestLimits:
        """Limits for a request starting now, under the current call's deadline (if any)."""
        deadline = current_deadline()
        return cls(seconds=None if deadline is None else deadline.remaining(), max_bytes=max_bytes)

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def clamp(self, timeout: float | None, error: type[Exception]) -> float | None:
        """Return ``timeout`` shortened to the time left; raise ``error`` when none is left."""
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error(_DEADLINE_PASSED)
        return left if timeout is None else min(timeout, left)

    def count(self, size: int) -> None:
        """Add ``size`` bytes read; raise ResponseTooLarge past the cap."""
        self.read += size
        if self.read > self.max_bytes:
            raise ResponseTooLarge(f"the response passed {self.max_bytes} bytes")


_LIMITS: ContextVar[RequestLimits | None] = ContextVar("llmport_request_limits", default=None)


@contextmanager
def limits_scope(limits: RequestLimits) -> Iterator[None]:
    """Apply ``limits`` to every socket operation made in the block on this thread."""
    token = _LIMITS.set(limits)
    try:
        yield
    finally:
        _LIMITS.reset(token)


def _limited(operation: Callable[[float | None], T], timeout: float | None, error: type[Exception]) -> T:
    """Run a socket operation with its timeout clamped to the current limits' time left.

    A timeout that ends at the deadline says so, so that the caller's error can tell a slow
    operation (httpx's per-operation timeout) from a call that ran out of time.
    """
    limits = _LIMITS.get()
    if limits is None or limits.deadline is None:
        return operation(timeout)
    try:
        return operation(limits.clamp(timeout, error))
    except error:
        if not limits.expired:
            raise
    raise error(_DEADLINE_PASSED)


class _LimitedStream(httpcore2.NetworkStream):
    """A network stream whose every wait is clamped to the current limits, and whose reads are counted."""

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = _limited(partial(self._inner.read, max_bytes), timeout, httpcore2.ReadTimeout)
        limits = _LIMITS.get()
        if limits is not None:
            limits.count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _limited(partial(self._inner.write, buffer), timeout, httpcore2.WriteTimeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        start = partial(self._inner.start_tls, ssl_context, server_hostname)
        return _LimitedStream(_limited(start, timeout, httpcore2.ConnectTimeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _LimitedBackend(httpcore2.NetworkBackend):
    """httpcore's own socket backend, with its streams wrapped in _LimitedStream."""

    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        def connect(clamped: float | None) -> httpcore2.NetworkStream:
            return self._inner.connect_tcp(
                host, port, timeout=clamped, local_address=local_address, socket_options=socket_options
            )

        return _LimitedStream(_limited(connect, timeout, httpcore2.ConnectTimeout))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        def connect(clamped: float | None) -> httpcore2.NetworkStream:
            return self._inner.connect_unix_socket(path, clamped, socket_options)

        return _LimitedStream(_limited(connect, timeout, httpcore2.ConnectTimeout))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Recordable(httpx2.HTTPTransport):
    """httpx's transport, whose requests go through the installed recorders when there are any."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        stack = hook.STACK
        if not stack:
            return super().handle_request(request)
        return hook.dispatch(request, super().handle_request, stack)


class _RecordableInCalls(_Recordable):
    """A user's transport: its requests made inside an llmport call go through the recorders, no others."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if _LIMITS.get() is None:
            return super(_Recordable, self).handle_request(request)  # the user's class's own
        return super().handle_request(request)


_RECORDABLE: dict[type[httpx2.HTTPTransport], type[httpx2.HTTPTransport]] = {}
_recordable_lock = threading.Lock()


def _recordable(transport: httpx2.HTTPTransport) -> None:
    """Make a user's transport consult the recorders in llmport's calls: its class, with ours first."""
    kind = type(transport)
    if issubclass(kind, _Recordable):
        return
    with _recordable_lock:
        if kind not in _RECORDABLE:
            _RECORDABLE[kind] = type(f"Recordable{kind.__name__}", (_RecordableInCalls, kind), {})
    transport.__class__ = _RECORDABLE[kind]


class _LimitedTransport(_Recordable):
    """httpx's transport (pool, TLS, proxies) over the limited backend."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # httpx builds its connection pool (or proxy pool) without a way to pass a network backend.
        set_network_backend(self, _LimitedBackend(network_backend(self)))


class _LimitedClient(TransportBuildingClient):
    """The SDK's default httpx client (its timeouts, limits, redirects), on limited transports only."""

    make_transport = _LimitedTransport


def guarded_http_client(timeout: float) -> httpx2.Client:
    """A new httpx client for one SDK client: the SDK's defaults, every request under RequestLimits.

    Its connection pool is its own; its TLS context is the process's shared one (``tls.py``), the
    same trust store and verification httpx would have built for it.
    """
    return _LimitedClient(timeout=timeout, verify=shared_ssl_context())


def guard_user_client(client: object) -> httpx2.Client:
    """Put a user's httpx client (proxy, custom CA, mTLS) under RequestLimits, and return it.

    Each of its transports (the default one and every proxy mount) gets the limited network
    backend in its connection pool, as llmport's own client has it: so the call's deadline and
    ``max_response_bytes`` hold through it; and inside an llmport call, it consults a test's
    cassette as llmport's own transports do. Outside an llmport call neither changes anything,
    so the client stays usable for the application's own requests.

    Raises:
        ConfigurationError: it is not an ``httpx2.Client``, or a transport is not httpx's own
            ``HTTPTransport`` (through which alone the deadline and the byte cap can be kept), or
            the installed httpx2 is not one llmport was tested with (``_httpx_private.py``).
    """
    if not isinstance(client, httpx2.Client):
        raise ConfigurationError(
            f"http_client must be an httpx2.Client (or a callable returning one), got {type(client).__name__}"
        )
    for transport in client_transports(client):
        if not isinstance(transport, httpx2.HTTPTransport):
            raise ConfigurationError(
                f"http_client: its transport {type(transport).__name__} is not an httpx2.HTTPTransport; "
                "llmport bounds every call by its deadline and max_response_bytes only through httpx's own "
                "transport: configure proxy=, verify=, cert= on the httpx2.Client instead"
            )
        backend = network_backend(transport)
        if not isinstance(backend, _LimitedBackend):
            set_network_backend(transport, _LimitedBackend(backend))
        _recordable(transport)
    return client
