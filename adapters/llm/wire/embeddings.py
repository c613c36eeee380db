"""Domain <-> wire JSON for embeddings, and server-sent events parsing."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

from ....domain.errors import ProviderError
from ....domain.models import EmbeddingRequest, EmbeddingResponse, Usage

__all__ = ["embedding_body", "iter_sse", "parse_embeddings"]


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str | None, str]]:
    """Parse server-sent events from text lines into (event name, data) pairs."""
    event: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue  # an SSE comment (keep-alive)
        if line == "[DONE]":
            # Some OpenAI-compatible servers end with a bare [DONE] line, without "data: ".
            yield event, line
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        yield event, "\n".join(data)


def embedding_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    """Build the embeddings body; vectors travel as base64 float32 (a quarter of the JSON)."""
    body: dict[str, Any] = {"model": model, "input": list(request.inputs), "encoding_format": "base64"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def parse_embeddings(
    data: Mapping[str, Any], expected: int, request_id: str | None, apim_request_id: str | None = None
) -> EmbeddingResponse:
    """Read an embeddings body: vectors sorted by ``index`` and decoded to floats.

    Raises:
        ProviderError: the provider sent a different number of vectors than inputs.
    """
    items = sorted(data["data"], key=lambda item: item["index"])
    if len(items) != expected:
        raise ProviderError(
            f"the provider returned {len(items)} vectors for {expected} inputs", request_id=request_id
        )
    usage = data.get("usage") or {}
    return EmbeddingResponse(
        vectors=[_vector(item["embedding"]) for item in items],
        usage=Usage(
            prompt_tokens=usage.get("prompt_tokens") or 0, total_tokens=usage.get("total_tokens") or 0
        ),
        model=data.get("model") or "",
        request_id=request_id,
        apim_request_id=apim_request_id,
    )


def _vector(value: str | list[float]) -> list[float]:
    if not isinstance(value, str):
        # OpenAI-compatible servers may ignore encoding_format and send floats.
        return [float(x) for x in value]
    floats = array("f")
    floats.frombytes(base64.b64decode(value))
    if sys.byteorder == "big":
        floats.byteswap()  # the wire is little-endian float32
    return floats.tolist()
