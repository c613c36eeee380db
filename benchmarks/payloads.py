"""Precomputed HTTP responses shaped like OpenAI's and Azure OpenAI's, for the benchmark server."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

DIMENSIONS = 1536
STREAM_PIECES = tuple(f"word{i} " for i in range(20))  # about 20 content chunks, then finish and usage
REPLY = "Microsoft was founded on April 4, 1975, by Bill Gates and Paul Allen in Albuquerque."
MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"

_SAFE = {"filtered": False, "severity": "safe"}
_PROMPT_FILTERS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": _SAFE,
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": _SAFE,
            "sexual": _SAFE,
            "violence": _SAFE,
        },
    }
]
_COMPLETION_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_USAGE = {
    "prompt_tokens": 14,
    "completion_tokens": 21,
    "total_tokens": 35,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _headers(status: str, content_type: bytes, azure: bool, extra: bytes) -> bytes:
    request_id = b"apim-request-id: 0f6a8e1c-bench\r\n" if azure else b"x-request-id: req_bench\r\n"
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\ncontent-type: "
        + content_type
        + b"\r\n"
        + request_id
        + b"openai-processing-ms: 1\r\n"
        + extra
        + b"\r\n"
    )


def json_response(body: bytes, *, azure: bool, status: str = "200 OK") -> bytes:
    """A complete HTTP/1.1 response with a JSON body and a Content-Length."""
    extra = b"content-length: " + str(len(body)).encode() + b"\r\n"
    return _headers(status, b"application/json", azure, extra) + body


def sse_response(events: list[bytes]) -> bytes:
    """The part of an SSE response after its headers: one HTTP chunk per event, then [DONE]."""
    out = bytearray()
    for event in [*events, b"[DONE]"]:
        piece = b"data: " + event + b"\n\n"
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


def chat_completion(*, azure: bool) -> bytes:
    """A whole chat.completion response."""
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": REPLY, "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    body: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [choice],
        "usage": _USAGE,
        "service_tier": "default",
        "system_fingerprint": "fp_bench",
    }
    if azure:
        choice["content_filter_results"] = _COMPLETION_FILTERS
        body["prompt_filter_results"] = _PROMPT_FILTERS
    return json_response(_dumps(body), azure=azure)


def chat_stream(*, azure: bool) -> bytes:
    """A streamed chat.completion: (Azure's filter chunk), role, 20 pieces, finish, usage, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if azure and (delta.get("content") or finish):
            choice["content_filter_results"] = _COMPLETION_FILTERS if delta.get("content") else {}
        return _dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": MODEL,
                "system_fingerprint": "fp_bench",
                "choices": [choice],
                "usage": None,
            }
        )

    events: list[bytes] = []
    if azure:
        opening = {"id": "", "object": "", "created": 0, "model": "", "choices": []}
        events.append(_dumps({**opening, "prompt_filter_results": _PROMPT_FILTERS}))
    events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
    events.extend(chunk({"content": piece}) for piece in STREAM_PIECES)
    events.append(chunk({}, "stop"))
    events.append(
        _dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": MODEL,
                "system_fingerprint": "fp_bench",
                "choices": [],
                "usage": _USAGE,
            }
        )
    )
    extra = b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
    return _headers("200 OK", b"text/event-stream; charset=utf-8", azure, extra) + sse_response(events)


def vector(index: int, dimensions: int = DIMENSIONS) -> list[float]:
    """Input ``index``'s vector: multiples of 1/1024, exactly representable in float32, rotated by index."""
    base = [((d * 13) % 2048 - 1024) / 1024 for d in range(dimensions)]
    shift = index % dimensions
    return base[shift:] + base[:shift]


def embeddings(count: int, *, base64_form: bool, azure: bool, dimensions: int = DIMENSIONS) -> bytes:
    """An embeddings response for ``count`` inputs, as base64 float32 or as JSON floats."""
    packed = struct.pack(f"<{dimensions}f", *vector(0, dimensions))
    items = []
    for i in range(count):
        shift = 4 * (i % dimensions)
        embedding: Any = (
            base64.b64encode(packed[shift:] + packed[:shift]).decode()
            if base64_form
            else vector(i, dimensions)
        )
        items.append({"object": "embedding", "index": i, "embedding": embedding})
    body = {
        "object": "list",
        "data": items,
        "model": EMBEDDING_MODEL,
        "usage": {"prompt_tokens": 4 * count, "total_tokens": 4 * count},
    }
    return json_response(_dumps(body), azure=azure)


def not_found(*, azure: bool) -> bytes:
    """A 404 with OpenAI's error body."""
    body = _dumps({"error": {"message": "unknown route", "type": "invalid_request_error", "code": None}})
    return json_response(body, azure=azure, status="404 Not Found")
