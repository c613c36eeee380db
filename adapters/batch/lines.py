"""Batch JSONL both ways: one request line per domain request, one reply or domain error per result line."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ...domain.batch import BatchKind
from ...domain.errors import (
    LLMPortError,
    ProviderError,
    RequestTimeoutError,
    ValidationError,
)
from ...domain.models import ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse
from ..llm.wire.chat import chat_body, parse_chat
from ..llm.wire.embeddings import embedding_body, parse_embeddings
from ..llm.wire.errors import Redactor, error_from_body
from ..llm.wire.responses import parse_response, responses_body

__all__ = ["request_body", "request_line", "result_of"]

# What a result line without a reply says about the request, by its error code: a request the
# batch never ran (expired, cancelled) may be sent again.
_NOT_RUN = {
    "batch_expired": "the batch expired (its 24 h window ended) before this request ran",
    "batch_cancelled": "the batch was cancelled before this request ran",
}


def request_body(
    request: ChatRequest | EmbeddingRequest, kind: BatchKind, model: str, max_tokens_field: str
) -> dict[str, Any]:
    """The request's body as the synchronous API takes it (the same JSON as ``client.chat``).

    Raises:
        ValidationError: the request does not fit ``kind`` (an option the API lacks, a stream).
    """
    if kind == "embeddings":
        if not isinstance(request, EmbeddingRequest):
            raise ValidationError("an embeddings batch takes texts, not chat requests")
        return embedding_body(request, model)
    if not isinstance(request, ChatRequest):
        raise ValidationError("a chat batch takes prompts or ChatRequest objects, not embedding requests")
    if kind == "responses":
        return responses_body(request, model, stream=False)
    return chat_body(request, model, stream=False, max_tokens_field=max_tokens_field)


def request_line(custom_id: str, url: str, body: Mapping[str, Any]) -> bytes:
    """One line of a batch input file, newline included."""
    line = {"custom_id": custom_id, "method": "POST", "url": url, "body": body}
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def result_of(
    record: Mapping[str, Any],
    kind: BatchKind,
    expected: int,
    provider: str,
    redactor: Redactor,
    *,
    parser: Callable[[str], Any] | None = None,
) -> ChatResponse | EmbeddingResponse | LLMPortError:
    """A result line (output or error file) read into the reply, or the domain error for the request.

    An HTTP status other than 200 is mapped as the synchronous call's would be (the same table,
    ``wire/errors.py``); a line with only an ``error`` object, by its code.
    """
    response = record.get("response")
    if isinstance(response, Mapping) and response.get("status_code") is not None:
        status = int(response["status_code"])
        request_id = redactor.request_id(response.get("request_id"))
        body = response.get("body")
        if status != 200:
            return error_from_body(body, status, provider, redactor, request_id)
        return _reply(body, (kind, expected, parser), request_id, provider)
    error = record.get("error")
    fields: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
    code = str(fields.get("code") or "")
    if code == "batch_expired":
        return RequestTimeoutError(_NOT_RUN[code], provider=provider, code=code, retryable=True, sent=False)
    if code == "batch_cancelled":
        return ProviderError(_NOT_RUN[code], provider=provider, code=code, retryable=True)
    return error_from_body({"error": dict(fields)}, None, provider, redactor, None)


def _reply(
    body: Any,
    asked: tuple[BatchKind, int, Callable[[str], Any] | None],
    request_id: str | None,
    provider: str,
) -> ChatResponse | EmbeddingResponse | LLMPortError:
    kind, expected, parser = asked
    try:
        if kind == "embeddings":
            return parse_embeddings(body, expected, request_id)
        if kind == "responses":
            return parse_response(body, request_id, parser=parser)
        return parse_chat(body, request_id, parser=parser)
    except LLMPortError as error:  # what the reply says went wrong (a content filter)
        error.provider = error.provider or provider
        return error
    except (LookupError, TypeError, ValueError, AttributeError):
        return ProviderError(
            "the batch's result line is not the JSON expected", provider=provider, request_id=request_id
        )
