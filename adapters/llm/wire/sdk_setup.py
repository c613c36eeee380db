"""What an adapter checks and builds before its first request: key, headers, token provider, SDK client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import httpx2
import openai

from ....domain.call_options import Headers
from ....domain.errors import AuthenticationError, ConfigurationError, LLMPortError
from ...recording import hook
from .errors import Redactor, unchained

__all__ = [
    "Api",
    "MakeClient",
    "MaxTokensField",
    "checked_api_key",
    "checked_headers",
    "checked_max_tokens_field",
    "checked_token_provider",
    "openai_client",
]

Api = Literal["chat", "responses"]
#: The chat.completions field max_tokens goes in; ``auto``: ``max_tokens``, as the SDK sends it,
#: switched once to ``max_completion_tokens`` for a deployment that refuses it (``max_tokens.py``).
MaxTokensField = Literal["auto", "max_tokens", "max_completion_tokens"]
_MAX_TOKENS_FIELDS = ("auto", "max_tokens", "max_completion_tokens")
#: Builds the adapter's SDK client around the httpx client it is given.
MakeClient = Callable[[httpx2.Client], openai.OpenAI]


def checked_api_key(key: str, setting: str) -> str:
    """Return ``key`` if it can travel in an HTTP header; a padded or non-ASCII key is a settings mistake.

    Raises:
        ConfigurationError: the key is blank, has spaces or a newline around it, or non-ASCII characters.
    """
    if not key.strip():
        raise ConfigurationError(f"api_key is empty: set {setting}")
    if key.strip() != key or not key.isascii():
        raise ConfigurationError(
            f"api_key ({setting}) has spaces, a newline or non-ASCII characters: strip it (a key file's "
            "trailing newline?)"
        )
    return key


def checked_headers(headers: Mapping[str, str] | None, redactor: Redactor) -> dict[str, str] | None:
    """The default headers as the SDK takes them, checked; credential headers' values go to ``redactor``.

    Raises:
        ConfigurationError: a header name or value that cannot be sent; the message names it.
    """
    if not headers:
        return None
    checked = (
        headers
        if isinstance(headers, Headers)
        else Headers(headers, where="default_headers", error=ConfigurationError)
    )
    for secret in checked.secrets():
        redactor.add(secret)
    return dict(checked)


def checked_token_provider(
    provider: str, get_token: Callable[[], str], redactor: Redactor
) -> Callable[[], str]:
    """Wrap a token callable so that failures surface as AuthenticationError, not SDK crashes.

    The SDK calls it before every request, outside its own error handling, so what it raises
    reaches ``translated`` untouched. Each token handed out is remembered by ``redactor``, so
    that a gateway echoing it back in an error message is redacted. Under a test's cassette in
    replay, ``get_token`` is not called: the identity platform is not asked (``hook.token``).
    """

    def token() -> str:
        try:
            # A test's cassette replays without asking the identity platform; it learns the tokens it records.
            value = hook.token(get_token)
        except LLMPortError as error:
            failure = error
        except Exception as exc:
            failure = AuthenticationError(
                f"the token provider failed: {type(exc).__name__}: {redactor(str(exc))[:300]}",
                provider=provider,
            )
        else:
            if isinstance(value, str) and value.strip() == value and value.isascii() and value:
                redactor.add(value)
                return value
            failure = AuthenticationError(
                "the token provider returned an empty token, or one with spaces or non-ASCII characters",
                provider=provider,
            )
        raise unchained(failure)

    return token


def checked_max_tokens_field(value: str) -> MaxTokensField:
    """``value``, checked: ``auto`` (``max_tokens``, switched once if a deployment refuses it) or a field.

    Raises:
        ConfigurationError: ``value`` is none of auto, max_tokens, max_completion_tokens.
    """
    if value not in _MAX_TOKENS_FIELDS:
        raise ConfigurationError(
            f"max_tokens_field must be auto, max_tokens or max_completion_tokens, got {value!r:.40} "
            f"(setting max_tokens_field, environment LLMPORT_MAX_TOKENS_FIELD)"
        )
    return value  # type: ignore[return-value]  # checked just above


def openai_client(
    base_url: str, key: str | Callable[[], str], timeout: float, headers: Mapping[str, str] | None = None
) -> MakeClient:
    """How to build an ``openai.OpenAI`` client (OpenAI, compatible servers, Azure's v1 API).

    The base URL is passed explicitly so that the SDK never falls back to OPENAI_BASE_URL:
    settings are read in one place, not inside adapters. ``headers`` go with every request.
    """

    def make_client(http_client: httpx2.Client) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=base_url,
            api_key=key,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
            default_headers=headers,
        )

    return make_client
