"""The process-wide slot the HTTP transport and the token provider consult: empty unless a cassette is on.

A cassette must see the requests of clients built before it was entered, and of threads it did
not start (a thread pool embedding batches, a Flask app served in a thread): so the slot is a
module global, not a context variable, and what is installed there is seen by every llmport
client of the process. With nothing installed, the transport pays one module attribute read per
request (``benchmarks/cassette_hook.py`` measures it). Installing and removing take a lock; the
slot itself is a tuple, replaced whole, so a reader never sees it half-changed.

Recorders stack: the newest one is asked first and is handed a ``send`` that asks the next one
down, the last ``send`` being the network. A network guard installed under a cassette thus sees
only what the cassette lets through.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from ...domain.call_options import Headers
from ...settings import Secret, Settings

if TYPE_CHECKING:  # building a client (container/root.py) reads this module: it must not load httpx
    import httpx2

__all__ = [
    "CassetteMissError",
    "NetworkBlockedError",
    "NetworkGuard",
    "Recorder",
    "RecordingError",
    "dispatch",
    "install",
    "recorders",
    "remember",
    "remembered",
    "token",
    "uninstall",
]

#: One request to the network (or to the next recorder down).
Send = Callable[["httpx2.Request"], "httpx2.Response"]


class RecordingError(BaseException):
    """A request a test's cassette or network guard refuses.

    A BaseException, as pytest's own ``fail()`` is: the SDK turns any Exception raised in its
    transport into a connection error, which llmport would retry and report without this
    message; this one reaches the test as raised, and no ``except Exception`` hides it.
    """


class CassetteMissError(RecordingError):
    """A request the cassette holds no recording for, in replay; the message names the nearest one."""


class NetworkBlockedError(RecordingError):
    """A request that would have gone to the network under the network guard."""


class Recorder(Protocol):
    """What the slot holds: a cassette or a network guard."""

    def handle(self, request: httpx2.Request, send: Send) -> httpx2.Response:
        """Answer ``request``: from a recording, or through ``send`` (recording what comes back)."""

    def token(self, fetch: Callable[[], str]) -> str:
        """The bearer token to send: ``fetch()``'s (remembered as a secret), or a stand-in in replay."""


class NetworkGuard:
    """A recorder that lets nothing through: every request reaching it fails, saying how to record it."""

    def __init__(self, hint: str) -> None:
        self._hint = hint

    def handle(self, request: httpx2.Request, send: Send) -> httpx2.Response:
        """Refuse ``request``: it was neither faked nor replayed."""
        raise NetworkBlockedError(
            f"llmport sent {request.method} {request.url.path} to the network, which this run blocks: "
            f"it is neither faked nor replayed. {self._hint}"
        )

    def token(self, fetch: Callable[[], str]) -> str:
        """Refuse to ask an identity platform for a token."""
        raise NetworkBlockedError(f"llmport asked for an Entra ID token, which this run blocks. {self._hint}")


#: The installed recorders, oldest first. Read without a lock: a tuple, swapped whole.
STACK: tuple[Recorder, ...] = ()
_lock = threading.Lock()


def install(recorder: Recorder) -> None:
    """Put ``recorder`` on top of the stack: every llmport request of the process goes to it first."""
    global STACK  # noqa: PLW0603 - one slot per process, read without a lock (see above)
    with _lock:
        STACK = (*STACK, recorder)


def uninstall(recorder: Recorder) -> None:
    """Take ``recorder`` off the stack (wherever it stands; absent: nothing happens)."""
    global STACK  # noqa: PLW0603 - one slot per process, read without a lock (see above)
    with _lock:
        STACK = tuple(installed for installed in STACK if installed is not recorder)


def recorders() -> tuple[Recorder, ...]:
    """The installed recorders, oldest first."""
    return STACK


def dispatch(request: httpx2.Request, send: Send, stack: tuple[Recorder, ...]) -> httpx2.Response:
    """Send ``request`` through ``stack``, newest recorder first, ``send`` last."""
    if not stack:
        return send(request)
    *below, top = stack
    return top.handle(request, lambda forwarded: dispatch(forwarded, send, tuple(below)))


def token(fetch: Callable[[], str]) -> str:
    """The token a request carries: ``fetch()`` as the installed recorders allow, newest first."""
    stack = STACK
    if not stack:
        return fetch()
    return _token(fetch, stack)


def _token(fetch: Callable[[], str], stack: tuple[Recorder, ...]) -> str:
    if not stack:
        return fetch()
    *below, top = stack
    return top.token(lambda: _token(fetch, tuple(below)))


# The secrets each live client was configured with (keys, client secrets, tokens, credential
# headers), so that a cassette scrubs them wherever they appear, even ones never sent over HTTP.
# Held only as long as the client lives; never shown (no repr prints them).
_configured: weakref.WeakKeyDictionary[object, tuple[str, ...]] = weakref.WeakKeyDictionary()


def remember(owner: object, settings: Settings) -> None:
    """Remember the secrets of ``settings`` (its deployments' too) for as long as ``owner`` lives."""
    values = tuple(sorted(set(_secrets_of(settings))))
    with _lock:
        _configured[owner] = values


def remembered() -> frozenset[str]:
    """The secrets of every live client's settings."""
    with _lock:
        return frozenset(value for values in _configured.values() for value in values)


def _secrets_of(settings: Settings) -> Iterator[str]:
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, Secret):
            yield value.reveal()
        elif isinstance(value, Headers):
            yield from value.secrets()
    for route in settings.routes:
        yield from _secrets_of(route.settings)
