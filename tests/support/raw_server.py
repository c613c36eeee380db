"""A raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose: it drips, stalls, streams slowly, or
sends bodies far larger than any reply should be.

Unlike the loopback server it writes bytes by hand, so that it can do what no well-behaved HTTP
library would: one byte of the headers a second, nothing at all, an endless body. Every loop checks
the stop event and a time bound, so a test that forgets to close it still ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["Behaviour", "RawServer", "drip", "huge", "slow_stream", "stall"]

#: Writes a response on an accepted connection whose request has been read; stops when ``stop`` is set.
Behaviour = Callable[[socket.socket, threading.Event], None]

# No behaviour runs longer than this, whatever happens to the test.
_LIFETIME = 30.0


class RawServer:
    """Accepts connections on 127.0.0.1 and answers each with ``behaviour``; counts requests.

    Use it as a context manager; ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.requests = 0
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> RawServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        deadline = time.monotonic() + _LIFETIME
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            if not _read_request(conn):
                return
            with self._lock:
                self.requests += 1
            with contextlib.suppress(OSError):  # the client hung up: that is the point
                self._behaviour(conn, self._stop)


def _read_request(conn: socket.socket) -> bool:
    """Read one request (headers and a Content-Length body); False if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return False
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


def _until(stop: threading.Event, seconds: float) -> Iterator[int]:
    """Count up while neither ``stop`` is set nor ``seconds`` have passed."""
    end = time.monotonic() + seconds
    index = 0
    while not stop.is_set() and time.monotonic() < end:
        yield index
        index += 1


def drip(*, interval: float, headers_too: bool = False, seconds: float = 20.0) -> Behaviour:
    """A 200 whose body (and, with ``headers_too``, its headers) comes one byte per ``interval``."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        body = b'{"id": "x", "choices": [], "data": []' + b" " * 100_000 + b"}"
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "x-request-id: req-drip\r\n\r\n"
        ).encode()
        payload = head + body if headers_too else body
        if not headers_too:
            conn.sendall(head)
        for index in _until(stop, seconds):
            conn.sendall(payload[index : index + 1])
            stop.wait(interval)

    return behave


def stall(*, seconds: float = 20.0) -> Behaviour:
    """Read the request, then say nothing at all until the test ends."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(seconds)

    return behave


def slow_stream(*, interval: float, seconds: float = 20.0) -> Behaviour:
    """A chat.completions stream that sends one text chunk every ``interval`` and never finishes."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
            b"x-request-id: req-slow\r\n\r\n"
        )
        for index in _until(stop, seconds):
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": f"word{index} "}, "finish_reason": None}],
            }
            frame = f"data: {json.dumps(chunk)}\n\n".encode()
            conn.sendall(b"%x\r\n%s\r\n" % (len(frame), frame))
            stop.wait(interval)

    return behave


def huge(*, status: int = 200, size: int = 200 * 1024 * 1024, seconds: float = 20.0) -> Behaviour:
    """A reply of ``size`` bytes (JSON for a 200, an error body otherwise), written as fast as it goes."""

    def behave(conn: socket.socket, stop: threading.Event) -> None:
        opening = b'{"error": {"message": "' if status >= 400 else b'{"id": "x", "object": "list", "data": ["'
        closing = b'"}}' if status >= 400 else b'"]}'
        filler = size - len(opening) - len(closing)
        conn.sendall(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n"
            f"x-request-id: req-huge\r\nretry-after-ms: 10\r\n\r\n".encode()
            + opening
        )
        block = b"a" * (1024 * 1024)
        written = 0
        for _ in _until(stop, seconds):
            if written >= filler:
                break
            part = block[: min(len(block), filler - written)]
            conn.sendall(part)
            written += len(part)
        conn.sendall(closing)

    return behave
