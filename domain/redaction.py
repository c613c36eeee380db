"""Keeping secrets out of errors: redaction, exceptions cut loose from their chain, bare entries.

The rule, for text from a provider, a gateway or a credential library:

- A secret this client knows (its key, the tokens it sent, credential headers) is replaced
  wherever it stands as a whole token, never inside a longer word: with the key ``x``,
  ``context_length_exceeded`` stays as it is.
- Whatever is shaped like a credential is replaced whether known or not: ``sk-`` keys (also
  masked ones), ``Bearer`` tokens, JWTs, and the value of a field named like a secret
  (``api-key=``, ``"access_token": "..."``, ``password: s3cr3t``; after a colon an unquoted value
  must hold a digit or a symbol, so that prose such as ``no token: failed to ...`` stays).
- A long run of key-like characters (32 or more, letters and digits) is where keys and ids look
  alike, and the words before it decide: after a word that names a secret (key, secret, token,
  password, signature, credential, authorization) it is hidden; after one that names an id
  (id, request, trace, correlation) it is kept. With neither, its shape decides: hex (Azure's
  classic keys, but also request ids, trace ids and ``uuid4().hex``), UUIDs and prefixed ids
  (``req_...``, ``chatcmpl-...``, ``resp_...``) are kept; any other run (Azure's 84-character
  keys, SAS signatures, opaque tokens) is hidden. So a 32-hex Azure key this client does not
  know is hidden when the message calls it a key, and kept when nothing does.
- A request id is never redacted unless it is exactly a secret this client knows.
"""

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

# What a token is made of, for "whole token": a secret next to one of these is part of a longer word.
_WORD = r"[\w\-]"

_SECRET_PATTERNS = re.compile(
    r"(?i)(?:\bsk[-_][\w*.\-]+"
    r"|\bbearer\s+[\w\-.~+/=*]+"
    r"|\beyJ[\w\-]+\.[\w\-]+\.[\w\-]*"
    r"|\b(?:api[-_]?key|subscription[-_]key|access[-_]token|token|secret|password|signature)"
    r"(?:[\"']?\s*=\s*[\"']?[^\s\"',;&]+"  # name=value, quoted or not
    r"|[\"']?\s*:\s*[\"'][^\s\"',;&]+"  # "name": "value", name: "value"
    r"|\s*:\s*(?=[^\s\"',;&]*[\d\-_.~+/=])[^\s\"',;&]+)"  # name: value, when the value is no word
    r"|(?<![\w\-])(?=[\w+/=.~-]*\d)(?=[\w+/=.~-]*[a-z])(?P<run>[\w+/=.~-]{31,}[\w+/=~-]))"  # no final "."
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX = re.compile(r"[0-9a-f\-]+", re.IGNORECASE)
# req_..., resp_..., chatcmpl-..., msg_..., file-..., batch_...: how providers name their ids.
_PREFIXED_ID = re.compile(r"(?P<prefix>[a-z]{2,16})[_\-][\w\-]+")
# Prefixes of well-known tokens that look like ids otherwise (GitHub, Slack, GitLab, session keys).
_SECRET_PREFIXES = frozenset(
    {"rk", "pk", "ghp", "gho", "ghu", "ghs", "ghr", "xoxa", "xoxb", "xoxp", "glpat", "sess"}
)
_SECRET_WORDS = frozenset(
    {"key", "keys", "secret", "token", "password", "passwd", "signature", "sig", "credential",
     "credentials", "authorization", "bearer", "apikey"}
)  # fmt: skip
_ID_WORDS = frozenset({"id", "ids", "request", "requestid", "trace", "traceparent", "correlation"})
_WORDS_BEFORE = re.compile(r"[A-Za-z][A-Za-z\-_]*")


def _named(before: str) -> str | None:
    """What the last three words before a run call it: ``secret``, ``id``, or None."""
    for word in reversed(_WORDS_BEFORE.findall(before[-60:])[-3:]):
        parts = set(re.split(r"[-_]", word.lower()))
        if parts & _SECRET_WORDS:
            return "secret"
        if parts & _ID_WORDS:
            return "id"
    return None


def _hide(match: re.Match[str]) -> str:
    run = match.group("run")
    if run is None:
        return "***"
    # Request ids are what a support case finds the request by: keep whatever reads as one.
    if _UUID.fullmatch(run):
        return run
    named = _named(match.string[: match.start()])
    if named is not None:
        return "***" if named == "secret" else run
    if _HEX.fullmatch(run):
        return run
    prefixed = _PREFIXED_ID.fullmatch(run)
    return run if prefixed and prefixed["prefix"] not in _SECRET_PREFIXES else "***"


def _replace_known(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in message:
            message = re.sub(rf"(?<!{_WORD}){re.escape(secret)}(?!{_WORD})", "***", message)
    return message


def redact(message: str, secrets: Iterable[str] = ()) -> str:
    """Return ``message`` with ``secrets`` and anything shaped like a key or token replaced by ``***``.

    Args:
        message: text from a provider, gateway or credential library.
        secrets: values this client knows to be secret; each is replaced as a whole token only.
    """
    return _SECRET_PATTERNS.sub(_hide, _replace_known(message, secrets))


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
        """A short value the provider chose (an error code), redacted like a message."""
        return None if text is None else redact(text, self._secrets)

    def request_id(self, text: str | None) -> str | None:
        """A request id, kept as it came: hidden only when it is exactly a secret this client knows."""
        if text is None:
            return None
        return "***" if text in self._secrets else text

    def scrub(self, error: LLMPortError) -> LLMPortError:
        """Redact what a provider put into ``error`` (message, code) and return it; its request id stays."""
        error.message = redact(error.message, self._secrets)
        error.args = (error.message,)
        error.code = self.value(error.code)
        error.request_id = self.request_id(error.request_id)
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
