"""What the three adapters share: chat, streaming and embeddings over an openai SDK client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx2
import openai

from ..domain.errors import (
    AuthenticationError,
    ConfigurationError,
    LLMPortError,
    ProviderError,
    StreamInterruptedError,
)
from ..domain.models import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)
from ._embeddings_wire import embedding_body, iter_sse, parse_embeddings
from ._errors import request_id_of, translate_errors
from ._responses_wire import ResponsesStreamReader, parse_response, responses_body
from ._wire import ChatStreamReader, chat_body, parse_chat

__all__ = ["Api", "WireAdapter", "checked_token_provider"]

Api = Literal["chat", "responses"]

# What a body that is not the JSON we expect raises while we read it.
_MALFORMED = (LookupError, TypeError, ValueError, AttributeError)


def checked_token_provider(provider: str, get_token: Callable[[], str]) -> Callable[[], str]:
    """Wrap a token callable so that failures surface as AuthenticationError, not SDK crashes.

    The SDK calls it before every request, outside its own error handling, so what it raises
    reaches ``translate_errors`` untouched.
    """

    def token() -> str:
        try:
            value = get_token()
        except LLMPortError:
            raise
        except Exception as exc:
            raise AuthenticationError(
                f"the token provider failed ({type(exc).__name__})", provider=provider
            ) from exc
        if not isinstance(value, str) or not value:
            raise AuthenticationError("the token provider returned an empty token", provider=provider)
        return value

    return token


class WireAdapter:
    """Chat and embeddings on any OpenAI-shaped endpoint, through one long-lived SDK client.

    Requests are posted as JSON built by llmport (``client.post(..., cast_to=httpx2.Response)``)
    and the replies are read as JSON into the domain models: the SDK still owns auth, URLs,
    api-version, timeouts and HTTP status errors, but neither its per-call request transform nor
    its pydantic models sit on the hot path.
    """

    provider: str

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        provider: str,
        api: Api,
        max_tokens_field: str = "max_completion_tokens",
    ) -> None:
        if api not in ("chat", "responses"):
            raise ConfigurationError(f"api must be 'chat' or 'responses', got {api!r}")
        self.provider = provider
        self._client = client
        self._api = api
        self._max_tokens_field = max_tokens_field

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the whole reply.

        Raises:
            ConfigurationError: the request has no model (set chat_model).
            ContentFilteredError: the provider's filter refused the prompt or withheld the reply.
            LLMPortError: the domain error for any other failure.
        """
        path, body = self._chat_request(request, stream=False)
        with translate_errors(self.provider):
            response = self._client.post(path, cast_to=httpx2.Response, body=body)
            request_id = request_id_of(response.headers)
            data = _json(response, request_id)
            try:
                if self._api == "responses":
                    return parse_response(data, request_id)
                return parse_chat(data, request_id)
            except _MALFORMED as exc:
                raise _malformed(request_id) from exc

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the reply as it comes; nothing is sent until the first ``next()``.

        The HTTP response is released when the stream ends, fails, or the caller stops early.

        Raises:
            StreamInterruptedError: the stream broke, sent a malformed event, or ended early.
            ContentFilteredError: the filter withheld the rest of the reply.
            LLMPortError: the domain error for a failure before the first event.
        """
        path, body = self._chat_request(request, stream=True)
        with translate_errors(self.provider):
            response = self._client.post(path, cast_to=httpx2.Response, body=body, stream=True)
        request_id = request_id_of(response.headers)
        reader: ChatStreamReader | ResponsesStreamReader = (
            ResponsesStreamReader(request_id) if self._api == "responses" else ChatStreamReader(request_id)
        )
        # Until a chunk is handed out, a broken connection is like one under complete(): the
        # retry policy may try again; after it, a retry would repeat text, so it is final.
        started = False
        try:
            events = iter_sse(response.iter_lines())
            while True:
                # Each step is translated on its own so that the yield stays outside the
                # context manager: what the consumer does is not a provider failure.
                with translate_errors(
                    self.provider, request_id=request_id, streaming=True, chunks_sent=started
                ):
                    chunk, finished = _next_chunk(events, reader, request_id)
                if chunk is not None:
                    started = True
                    yield chunk
                if finished:
                    return
        finally:
            response.close()

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the inputs in one request; vectors come back in input order.

        Raises:
            ConfigurationError: the request has no model (set embedding_model).
            LLMPortError: the domain error for any failure.
        """
        model = _model(request.model, "embedding_model")
        with translate_errors(self.provider):
            response = self._client.post(
                "/embeddings", cast_to=httpx2.Response, body=embedding_body(request, model)
            )
            request_id = request_id_of(response.headers)
            data = _json(response, request_id)
            try:
                return parse_embeddings(data, len(request.inputs), request_id)
            except _MALFORMED as exc:
                raise _malformed(request_id) from exc

    def close(self) -> None:
        """Close the SDK client and its connection pool; calling it twice is harmless."""
        self._client.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, base_url={str(self._client.base_url)!r})"

    def _chat_request(self, request: ChatRequest, *, stream: bool) -> tuple[str, dict[str, Any]]:
        model = _model(request.model, "chat_model")
        if self._api == "responses":
            return "/responses", responses_body(request, model, stream=stream)
        return "/chat/completions", chat_body(
            request, model, stream=stream, max_tokens_field=self._max_tokens_field
        )


def _next_chunk(
    events: Iterator[tuple[str | None, str]],
    reader: ChatStreamReader | ResponsesStreamReader,
    request_id: str | None,
) -> tuple[ChatChunk | None, bool]:
    """Read events until one gives a chunk or the stream ends; True once it is finished."""
    for _event, data in events:
        if data == "[DONE]":
            return None, True
        try:
            chunk = reader.feed(json.loads(data))
        except _MALFORMED as exc:
            raise StreamInterruptedError(
                "the provider sent a malformed stream event", request_id=request_id
            ) from exc
        finished = isinstance(reader, ResponsesStreamReader) and reader.finished
        if chunk is not None or finished:
            return chunk, finished
    # chat.completions ends with [DONE], Responses with a terminal event: without it the
    # reply may be cut short, and a short reply must not pass for a whole one.
    raise StreamInterruptedError("the stream ended before the provider finished", request_id=request_id)


def _model(model: str | None, setting: str) -> str:
    if not model:
        raise ConfigurationError(
            f"no model given: set {setting} (the model, or the deployment name on Azure)"
        )
    return model


def _json(response: httpx2.Response, request_id: str | None) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise _malformed(request_id) from exc


def _malformed(request_id: str | None) -> ProviderError:
    return ProviderError("the provider's reply is not the JSON expected", request_id=request_id)
