"""Options for one call (retries, deadline, timeout, headers) and HTTP headers that hide their secrets."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import ConfigurationError, ValidationError
from .frozen import FrozenMap

__all__ = ["CallOptions", "Headers", "call_options_scope", "current_call_options", "is_credential_header"]

_HIDDEN = "**********"
# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Names that carry a credential (api-key, authorization, ocp-apim-subscription-key, x-api-key,
# cookie) or look like one: their values are never shown and are redacted from error messages.
_CREDENTIAL_NAMES = frozenset({"api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})
_CREDENTIAL_PARTS = ("key", "token", "secret", "auth", "password", "signature", "credential", "cookie")


def is_credential_header(name: str) -> bool:
    """True when a header named ``name`` carries, or may carry, a credential."""
    lowered = name.lower()
    return lowered in _CREDENTIAL_NAMES or any(part in lowered for part in _CREDENTIAL_PARTS)


class Headers(FrozenMap[str]):
    """Validated, immutable HTTP headers whose repr hides the values of credential headers.

    Args:
        headers: names to values; both ASCII, no CR/LF, names made of token characters.
        where: the setting or argument, put into an error message (``default_headers``).
        origin: where the value came from, appended to an error message.
        error: the error to raise: ConfigurationError for settings, ValidationError for a call.

    Raises:
        ConfigurationError, ValidationError: not a mapping of strings, or a name or value that
            cannot travel in an HTTP header; the message names the header.
    """

    __slots__ = ()

    def __init__(
        self,
        headers: Mapping[str, str] = {},
        *,
        where: str = "headers",
        origin: str = "",
        error: type[ConfigurationError] | type[ValidationError] = ValidationError,
    ) -> None:
        if not isinstance(headers, Mapping):
            raise error(
                f"{where}: must be a mapping of header names to values, got {type(headers).__name__}{origin}"
            )
        items: dict[str, str] = {}
        for name, value in headers.items():
            problem = _problem(name, value)
            if problem:
                raise error(f"{where}: header {str(name)!r:.60} {problem}{origin}")
            items[name] = value
        super().__init__(items)

    def redacted(self) -> dict[str, str]:
        """The headers for display: credential headers' values shown as ``**********``."""
        return {name: _HIDDEN if is_credential_header(name) else value for name, value in self._items.items()}

    def secrets(self) -> tuple[str, ...]:
        """The values of the credential headers, for a redactor."""
        return tuple(value for name, value in self._items.items() if is_credential_header(name))

    def __repr__(self) -> str:
        return f"Headers({self.redacted()!r})"


def _problem(name: object, value: object) -> str | None:
    """What makes a header unsendable, or None."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return "is not a valid HTTP header name (ASCII letters, digits and !#$%&'*+-.^_`|~)"
    if not isinstance(value, str):
        return f"must have a string value, got {type(value).__name__}"
    if not value.isascii() or "\r" in value or "\n" in value or "\0" in value:
        return "has a value with non-ASCII characters, a CR, LF or NUL"
    if value != value.strip():
        return "has a value with spaces around it (a trailing newline?)"
    return None


def _seconds(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValidationError(f"{name} must be a number of seconds > 0, got {value!r:.40}")
    return float(value)


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What one call (or every call of a ``with_options`` view) changes; None keeps the client's.

    Args:
        max_retries: retries after the first attempt.
        deadline: total seconds for the call, all attempts and waits.
        timeout: seconds for each socket operation of the call (connect, each read, each write).
        headers: sent with each request of the call, over the client's default headers.
        cache: False skips the reply cache for the call (neither read nor written).
        cache_namespace: the reply cache's namespace for the call, over the client's.

    Raises:
        ValidationError: a value out of range, or a header that cannot be sent.
    """

    max_retries: int | None = None
    deadline: float | None = None
    timeout: float | None = None
    headers: Headers | None = None
    cache: bool | None = None
    cache_namespace: str | None = None

    def __post_init__(self) -> None:
        retries = self.max_retries
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ValidationError(f"max_retries must be an int >= 0, got {retries!r:.40}")
        object.__setattr__(self, "deadline", _seconds("deadline", self.deadline))
        object.__setattr__(self, "timeout", _seconds("timeout", self.timeout))
        if self.cache is not None and not isinstance(self.cache, bool):
            raise ValidationError(f"cache must be True or False, got {self.cache!r:.40}")
        if self.cache_namespace is not None and not isinstance(self.cache_namespace, str):
            raise ValidationError(f"cache_namespace must be a string, got {self.cache_namespace!r:.40}")
        if self.headers is not None and not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))

    @property
    def changes_requests(self) -> bool:
        """True when the requests themselves change (a timeout or headers), not only the retry policy."""
        return self.timeout is not None or bool(self.headers)

    def over(self, base: CallOptions | None) -> CallOptions:
        """These options over ``base``: each value given here wins, headers are merged."""
        if base is None:
            return self
        headers = self.headers
        if base.headers and headers:
            headers = Headers({**base.headers, **headers})
        return CallOptions(
            max_retries=base.max_retries if self.max_retries is None else self.max_retries,
            deadline=base.deadline if self.deadline is None else self.deadline,
            timeout=base.timeout if self.timeout is None else self.timeout,
            headers=headers or base.headers,
            cache=base.cache if self.cache is None else self.cache,
            cache_namespace=base.cache_namespace if self.cache_namespace is None else self.cache_namespace,
        )


_CURRENT: ContextVar[CallOptions | None] = ContextVar("llmport_call_options", default=None)


def current_call_options() -> CallOptions | None:
    """The options of the call running on this thread (or context), if it has any."""
    return _CURRENT.get()


@contextmanager
def call_options_scope(options: CallOptions | None) -> Iterator[None]:
    """Make ``options`` the current call's options for the block."""
    token = _CURRENT.set(options)
    try:
        yield
    finally:
        _CURRENT.reset(token)
