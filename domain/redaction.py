"""Keeping secrets out of errors: redaction, exceptions cut loose from their chain, bare entries."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import ParamSpec, TypeVar

from .errors import LLMPortError

__all__ = ["Redactor", "bare", "bare_failures", "entry", "redact", "unchained"]

E = TypeVar("E", bound=BaseException)
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

# What a provider or gateway may echo back that is, or looks like, a credential: OpenAI keys
# (also masked, "sk-ab***yz"), a bearer token, a JWT, a header or parameter named like a secret,
# and long runs of key-like characters (Azure keys are 32 or 84 characters of hex or base62).
_SECRET_PATTERNS = re.compile(
    r"(?i)(?:\bsk-[\w*.\-]+"
    r"|\bbearer\s+[\w\-.~+/=*]+"
    r"|\beyJ[\w\-]+\.[\w\-]+\.[\w\-]*"
    r"|\b(?:api[-_]?key|subscription[-_]key|access[-_]token|token|secret|password|signature)"
    r"[\"']?\s*[:=]\s*[\"']?[^\s\"',;&]+"
    r"|(?<![\w\-])(?=[\w+/=.~-]*\d)(?=[\w+/=.~-]*[a-z])[\w+/=.~-]{32,})"
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _hide(match: re.Match[str]) -> str:
    # Request ids are UUIDs and worth keeping: they are how a support case finds the request.
    return match.group(0) if _UUID.fullmatch(match.group(0)) else "***"


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """Return ``message`` with ``secrets`` and anything shaped like a key or token replaced by ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _SECRET_PATTERNS.sub(_hide, message)


class Redactor:
    """The secrets one adapter sends (its key, the tokens it was handed), to cut out of messages.

    Its repr never shows them, so it is safe as a local in any frame an error tracker records.
    """

    __slots__ = ("_secrets",)

    # Tokens rotate; the last few are enough to recognise an echo of the one just sent.
    _KEEP = 4

    def __init__(self, *secrets: str | None) -> None:
        self._secrets: list[str] = [secret for secret in secrets if secret]

    def add(self, secret: str) -> None:
        """Remember a secret handed to the SDK (e.g. a fresh token); keeps the last few."""
        if secret not in self._secrets:
            self._secrets = [*self._secrets[-(self._KEEP - 1) :], secret]

    def __call__(self, message: str) -> str:
        return redact(message, self._secrets)

    def value(self, text: str | None) -> str | None:
        """A short value the provider chose (an error code, a request id), redacted like a message."""
        return None if text is None else redact(text, self._secrets)

    def scrub(self, error: LLMPortError) -> LLMPortError:
        """Redact what a provider put into ``error`` (message, code, request id) and return it."""
        error.message = redact(error.message, self._secrets)
        error.args = (error.message,)
        error.code = self.value(error.code)
        error.request_id = self.value(error.request_id)
        return error

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


def unchained(error: E) -> E:
    """Cut ``error`` loose from whatever it was raised during, and return it."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def bare(error: E) -> E:
    """Return ``error`` without its traceback and its chain, to be raised again from the caller's frame."""
    return unchained(error.with_traceback(None))


def entry(function: Callable[P, R]) -> Callable[P, R]:
    """Make ``function`` an entry that llmport's errors leave bare: only its own frame, emptied.

    The frames below a public entry hold what the caller passed as locals: settings with their
    keys, a Redis URL with its password, a prompt. An error tracker (Sentry at its defaults)
    records every frame's locals along a traceback, and the chained exceptions' frames too. So
    an LLMPortError, whose message says all a caller needs, leaves an entry with a traceback
    that starts at the entry and with no ``__cause__`` or ``__context__``; the entry's own frame
    drops the arguments first. Any other exception is a bug and keeps its traceback for the
    report; its arguments are dropped all the same.
    """

    @functools.wraps(function)
    def entry_point(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except LLMPortError as caught:
            error = caught
        except BaseException:
            del args, kwargs
            raise
        del args, kwargs
        # Raised after the except block, so that Python links no __context__ to it.
        raise bare(error)  # llmport's frames below held your settings or prompt: cut (docs/design.md)

    return entry_point


def bare_failures(items: Iterator[T]) -> Iterator[T]:
    """``items``, passed through; an LLMPortError while reading them leaves bare, as from an :func:`entry`.

    For what an entry returns to be read later (a stream): the generators below it hold the
    request, the prompt with it, as locals.
    """
    try:
        yield from items
        return
    except LLMPortError as caught:
        error = caught
    raise bare(error)  # llmport's frames below held your prompt: cut (docs/design.md)
