"""A fast loopback server for the benchmark: precomputed bytes, HTTP/1.1 keep-alive, forked workers.

It answers the OpenAI shape (``/v1/chat/completions``, ``/v1/embeddings``) and the Azure classic
shape (``/openai/deployments/NAME/...?api-version=``): chat, a streamed chat (chunked SSE, one HTTP
chunk per event), and embeddings in base64 or float form as the request's ``encoding_format`` asks.
Every reply is built once; a request costs a header scan and one ``transport.write``. Workers are
forked after the listening socket is bound and share it. Run alone: ``python benchmarks/server.py``
prints the port, and the server stops when its stdin closes (so it never outlives its parent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import payloads  # a sibling module of a script, not an installed package

_CHAT = b"/chat/completions"
_EMBEDDINGS = b"/embeddings"
_AZURE = b"/openai/deployments/"
_STREAM = b'"stream":true'
_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


class Replies:
    """Every response the server can send, built before the workers fork (shared copy-on-write)."""

    def __init__(self) -> None:
        self.chat = {azure: payloads.chat_completion(azure=azure) for azure in (False, True)}
        self.stream = {azure: payloads.chat_stream(azure=azure) for azure in (False, True)}
        self.not_found = {azure: payloads.not_found(azure=azure) for azure in (False, True)}
        self._embeddings: dict[tuple[int, bool, bool, int], bytes] = {}
        for count in (1, 2048):
            for azure in (False, True):
                self.embeddings(count, True, azure, payloads.DIMENSIONS)

    def embeddings(self, count: int, base64_form: bool, azure: bool, dimensions: int) -> bytes:
        key = (count, base64_form, azure, dimensions)
        reply = self._embeddings.get(key)
        if reply is None:
            # Other sizes and the float form are built on first use, then kept.
            reply = payloads.embeddings(count, base64_form=base64_form, azure=azure, dimensions=dimensions)
            self._embeddings[key] = reply
        return reply

    def answer(self, path: bytes, body: bytes) -> bytes:
        azure = path.startswith(_AZURE)
        if _CHAT in path:
            return self.stream[azure] if _STREAM in body else self.chat[azure]
        if _EMBEDDINGS in path:
            request: dict[str, Any] = json.loads(body)
            inputs = request.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            base64_form = request.get("encoding_format") == "base64"
            return self.embeddings(count, base64_form, azure, int(request.get("dimensions") or 1536))
        return self.not_found[azure]


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; requests must carry a Content-Length (httpx does)."""

    def __init__(self, replies: Replies) -> None:
        self._replies = replies
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        while True:
            end = buffer.find(_HEADER_END)
            if end < 0:
                break
            head = bytes(buffer[:end]).lower()
            at = head.find(_CONTENT_LENGTH)
            length = 0
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + len(_CONTENT_LENGTH) : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                break
            path = head[head.find(b" ") + 1 : head.find(b" http/")]
            out.append(self._replies.answer(path, bytes(buffer[end + 4 : total])))
            del buffer[:total]
        if out and self._transport is not None:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))


def _serve(sock: socket.socket, replies: Replies) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(replies), sock=sock, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Server:
    """The listening socket and its forked workers; ``with Server() as server: server.url(...)``."""

    def __init__(self, workers: int = 2, port: int = 0) -> None:
        self.replies = Replies()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(1024)
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        context = multiprocessing.get_context("fork")
        self._workers = [
            context.Process(target=_serve, args=(self._sock, self.replies), daemon=True)
            for _ in range(workers)
        ]

    def start(self) -> Server:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
        for worker in self._workers:
            worker.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with Server(workers=args.workers, port=args.port) as server:
        print(server.port, flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        # Stop when the parent closes our stdin (or on SIGTERM/SIGINT).
        threading.Thread(target=lambda: (sys.stdin.read(), stopped.set()), daemon=True).start()
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    os._exit(0)


if __name__ == "__main__":
    main()
