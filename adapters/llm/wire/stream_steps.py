"""Reading a stream one step at a time: the next chunk, the end of the body, a malformed event."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from ....domain.errors import StreamInterruptedError
from ....domain.models import ChatChunk
from .chat_stream import ChatStreamReader
from .responses_stream import ResponsesStreamReader
from .transport import RequestLimits, limits_scope

__all__ = ["drain", "next_chunk"]

# What an event that is not the JSON we expect raises while we read it.
_MALFORMED = (LookupError, TypeError, ValueError, AttributeError)


def next_chunk(
    events: Iterator[tuple[str | None, str]],
    reader: ChatStreamReader | ResponsesStreamReader,
    request_id: str | None,
    limits: RequestLimits,
) -> tuple[ChatChunk | None, bool]:
    """Read events until one gives a chunk or the stream ends; True once it is finished."""
    with limits_scope(limits):
        return _read_chunk(events, reader, request_id)


def drain(events: Iterator[tuple[str | None, str]], limits: RequestLimits) -> None:
    """Read what follows the end of a stream (the chunked body's terminator), so that httpx keeps
    the connection for the next request; anything odd there only costs the connection."""
    with limits_scope(limits), contextlib.suppress(Exception):
        for _event in events:
            pass


def _read_chunk(
    events: Iterator[tuple[str | None, str]],
    reader: ChatStreamReader | ResponsesStreamReader,
    request_id: str | None,
) -> tuple[ChatChunk | None, bool]:
    for _event, data in events:
        if data == "[DONE]":
            return None, True
        chunk = _parsed_event(reader, data, request_id)
        if chunk is not None or reader.finished:
            return chunk, reader.finished
    # chat.completions ends with [DONE], Responses with a terminal event: without it the
    # reply may be cut short, and a short reply must not pass for a whole one.
    raise StreamInterruptedError("the stream ended before the provider finished", request_id=request_id)


def _parsed_event(
    reader: ChatStreamReader | ResponsesStreamReader, data: str, request_id: str | None
) -> ChatChunk | None:
    try:
        return reader.feed(json.loads(data))
    except _MALFORMED:
        pass
    raise StreamInterruptedError("the provider sent a malformed stream event", request_id=request_id)
