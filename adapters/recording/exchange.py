"""One exchange as a cassette writes it, and back: scrubbed headers, JSON bodies as JSON, streams as events.

A request is written as its method, path (with its query, secrets replaced), the headers that say
something (credential ones replaced; user agents, ``x-stainless-*``, idempotency keys and client
request ids, which change every run, left out) and its body. A response as its status, its headers
but the ones that change every run or describe the transfer (date, length, encoding), and its body
decoded: JSON as JSON, a server-sent event stream as its events, other text as text, bytes as base64.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx2

from .scrub import Scrubber

__all__ = ["Entry", "error_entry", "raise_error", "read_request", "read_response", "replay_response"]

#: One exchange, or one side of it, as written in the file.
Entry = dict[str, Any]

# Request headers that change from run to run, or that the transfer decides: never written.
_VOLATILE_REQUEST = frozenset(
    {"user-agent", "idempotency-key", "x-client-request-id", "x-ms-client-request-id", "content-length",
     "host", "accept-encoding", "connection"}
)  # fmt: skip
# Response headers of the same kind; the body is written decoded, so its encoding goes too.
_VOLATILE_RESPONSE = frozenset(
    {"date", "content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)
#: Transport failures a recording keeps, replayed as the same exception.
_ERRORS: dict[str, type[httpx2.TransportError]] = {
    error.__name__: error
    for error in (
        httpx2.ConnectError,
        httpx2.ConnectTimeout,
        httpx2.ReadError,
        httpx2.ReadTimeout,
        httpx2.WriteTimeout,
        httpx2.RemoteProtocolError,
    )
}
_COMPACT = {"ensure_ascii": False, "separators": (",", ":")}
_BOUNDARY = re.compile(r"boundary=\"?([^\";,\s]+)")
_FIXED_BOUNDARY = "llmport-boundary"


def read_request(request: httpx2.Request, scrubber: Scrubber) -> Entry:
    """``request`` as written: its credential headers first taught to ``scrubber``, then replaced."""
    for name, value in request.headers.items():
        scrubber.learn_header(name, value)
    headers = {
        name: scrubber.header(name, value)
        for name, value in _joined(request.headers).items()
        if name not in _VOLATILE_REQUEST and not name.startswith("x-stainless-")
    }
    url = request.url
    query = scrubber.query(url.query.decode("ascii", "replace"))
    entry: Entry = {
        "method": request.method,
        "path": scrubber.text(url.path) + (f"?{query}" if query else ""),
        "headers": headers,
    }
    kind, content = request.headers.get("content-type", ""), request.read()
    boundary = _BOUNDARY.search(kind)
    if boundary:
        # A multipart upload's boundary is new every run: written as one fixed word, so it matches.
        content = content.replace(boundary[1].encode(), _FIXED_BOUNDARY.encode())
        headers["content-type"] = kind.replace(boundary[1], _FIXED_BOUNDARY)
    entry.update(_body(content, kind, scrubber))
    return entry


def read_response(response: httpx2.Response, scrubber: Scrubber) -> Entry:
    """``response``, read whole and closed, as written; a body cut short keeps what came and how it broke."""
    parts: list[bytes] = []
    cut = None
    try:
        for part in response.iter_bytes():
            parts.append(part)
    except httpx2.TransportError as error:
        cut = error_entry(error, scrubber)
        if cut is None:
            raise
    finally:
        response.close()
    content = b"".join(parts)
    headers = {
        name: scrubber.header(name, value)
        for name, value in _joined(response.headers).items()
        if name not in _VOLATILE_RESPONSE
    }
    entry: Entry = {"status": response.status_code, "headers": headers}
    kind = response.headers.get("content-type", "")
    if "text/event-stream" in kind:
        # A stream cut mid-event keeps its whole events only: the half one never reached a reader whole.
        entry["events"] = [
            _event(block, scrubber) for block in _blocks(content.decode("utf-8", "replace"), cut)
        ]
    else:
        entry.update(_body(content, "" if cut else kind, scrubber))
    if cut is not None:
        entry["cut"] = cut
    return entry


def error_entry(error: httpx2.TransportError, scrubber: Scrubber) -> Entry | None:
    """A transport failure as written (a refused connection, a timeout); None for one not kept."""
    name = type(error).__name__
    if name not in _ERRORS:
        return None
    return {"type": name, "message": scrubber.text(str(error))}


def raise_error(entry: Entry, request: httpx2.Request) -> None:
    """Raise the transport failure ``entry`` recorded."""
    raise _ERRORS[entry["type"]](entry["message"], request=request)


def replay_response(entry: Entry, request: httpx2.Request) -> httpx2.Response:
    """The response ``entry`` recorded; a stream comes event by event, one chunk each, and breaks
    where it broke."""
    headers = list(entry["headers"].items())
    if "events" in entry:
        chunks = [_event_bytes(event) for event in entry["events"]]
    elif "body" in entry:
        chunks = [json.dumps(entry["body"], **_COMPACT).encode()]  # type: ignore[arg-type]
    elif "text" in entry:
        chunks = [entry["text"].encode()]
    else:
        chunks = [base64.b64decode(entry.get("base64", ""))]
    if "events" not in entry and "cut" not in entry:
        return httpx2.Response(entry["status"], headers=headers, content=chunks[0])
    return httpx2.Response(
        entry["status"], headers=headers, stream=_Chunks(chunks, entry.get("cut"), request)
    )


class _Chunks(httpx2.SyncByteStream):
    """A recorded body, chunk by chunk, then the failure that cut it short, if one did."""

    def __init__(self, chunks: list[bytes], cut: Entry | None, request: httpx2.Request) -> None:
        self._chunks = chunks
        self._cut = cut
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._cut is not None:
            raise_error(self._cut, self._request)


def _joined(headers: httpx2.Headers) -> dict[str, str]:
    """Headers by lower-case name, sorted; repeated ones joined as HTTP allows."""
    joined: dict[str, str] = {}
    for name, value in headers.multi_items():
        lowered = name.lower()
        joined[lowered] = f"{joined[lowered]}, {value}" if lowered in joined else value
    return dict(sorted(joined.items()))


def _body(content: bytes, kind: str, scrubber: Scrubber) -> Entry:
    if not content:
        return {}
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}
    if "json" in kind:
        try:
            return {"body": scrubber.value(json.loads(text))}
        except ValueError:
            pass
    return {"text": scrubber.text(text)}


def _blocks(text: str, cut: Entry | None = None) -> list[str]:
    """The events of a server-sent event stream, each without its blank line (whole ones, if ``cut``)."""
    blocks = text.replace("\r\n", "\n").split("\n\n")
    if cut is not None:
        blocks = blocks[:-1]  # what follows the last blank line: an event cut in half, or nothing
    return [block for block in blocks if block.strip()]


def _event(block: str, scrubber: Scrubber) -> Entry:
    """One event: its ``event`` name and its ``data``, as JSON where it is; anything unusual raw."""
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        name, colon, value = line.partition(":")
        if not colon or name not in ("event", "data", "id") or name in fields:
            return {"raw": scrubber.text(block)}  # a comment, a bare line, a multi-line data
        fields[name] = value.removeprefix(" ")
    event: Entry = {name: scrubber.text(value) for name, value in fields.items() if name != "data"}
    if "data" in fields:
        try:
            data = json.loads(fields["data"])
        except ValueError:
            data = fields["data"]
        # A JSON string is kept as sent: written back, it would lose its quotes.
        event["data"] = scrubber.text(fields["data"]) if isinstance(data, str) else scrubber.value(data)
    return event


def _event_bytes(event: Mapping[str, Any]) -> bytes:
    if "raw" in event:
        return f"{event['raw']}\n\n".encode()
    lines = [f"{name}: {event[name]}" for name in ("event", "id") if name in event]
    if "data" in event:
        data = event["data"]
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data, **_COMPACT)}")  # type: ignore[arg-type]
    return ("\n".join(lines) + "\n\n").encode()
