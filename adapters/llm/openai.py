"""OpenAIAdapter: chat and embeddings on api.openai.com or any OpenAI-compatible base URL."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...domain.defaults import DEFAULT_TIMEOUT
from ...domain.errors import ConfigurationError
from .wire.adapter import DEFAULT_MAX_RESPONSE_BYTES, HttpClientSource, WireAdapter
from .wire.errors import Redactor
from .wire.sdk_setup import (
    Api,
    MaxTokensField,
    checked_api_key,
    checked_headers,
    checked_max_tokens_field,
    checked_token_provider,
    openai_client,
)

__all__ = ["OpenAIAdapter"]

_DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIAdapter(WireAdapter):
    """The OpenAI API (or a compatible server) through one ``openai.OpenAI`` client.

    The client is built once, with ``max_retries=0`` (llmport's services own retries), and is
    shared by every thread. A callable key is called before each request, so a rotating key or
    token needs no new client.

    Args:
        api_key: the API key, or a callable returning the current key or bearer token.
        base_url: the API root, e.g. ``http://localhost:8000/v1``; default api.openai.com.
        timeout: seconds for each HTTP request.
        api: ``chat`` (chat.completions) or ``responses`` (the Responses API).
        max_response_bytes: the most bytes one reply (or error body, or stream) may take.
        max_tokens_field: where chat.completions gets ``max_tokens``: ``auto`` sends ``max_tokens``,
            as the SDK does, and ``max_completion_tokens`` to a model that refused it once.
        default_headers: sent with every request; credential headers' values are redacted from errors.
        http_client: your ``httpx2.Client`` (proxy, custom CA, mTLS), or a callable that makes one;
            see :class:`~llmport.adapters.llm.wire.adapter.WireAdapter` for what llmport does with it.

    Raises:
        ConfigurationError: the key is empty, or ``api`` or ``max_tokens_field`` is unknown, or a
            header or the http_client is unusable.
    """

    def __init__(
        self,
        *,
        api_key: str | Callable[[], str],
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        api: Api = "chat",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_tokens_field: MaxTokensField = "auto",
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpClientSource | None = None,
    ) -> None:
        if not api_key:
            raise ConfigurationError("api_key is empty: set OPENAI_API_KEY or pass api_key")
        if isinstance(api_key, str):
            checked_api_key(api_key, "OPENAI_API_KEY")
        redactor = Redactor(api_key if isinstance(api_key, str) else None)
        key = api_key if isinstance(api_key, str) else checked_token_provider("openai", api_key, redactor)
        super().__init__(
            openai_client(
                base_url or _DEFAULT_BASE_URL, key, timeout, checked_headers(default_headers, redactor)
            ),
            provider="openai",
            api=api,
            timeout=timeout,
            redactor=redactor,
            max_tokens_field=checked_max_tokens_field(max_tokens_field),
            max_response_bytes=max_response_bytes,
            http_client=http_client,
        )


if TYPE_CHECKING:
    from ...domain.ports import ChatPort, Closeable, EmbeddingPort

    # mypy proves the adapter fits the ports without inheriting from them.
    _chat: type[ChatPort] = OpenAIAdapter
    _embed: type[EmbeddingPort] = OpenAIAdapter
    _close: type[Closeable] = OpenAIAdapter
