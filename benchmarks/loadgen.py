"""How many chat requests per second the benchmark server answers: raw keep-alive sockets, no HTTP client.

Each load process holds one keep-alive connection and sends ``depth`` requests back to back
(HTTP/1.1 pipelining), then reads exactly ``depth`` precomputed replies; with ``depth=1`` it is a
plain request/response loop. The generator shares the machine's cores with the server, so the rate
it reports is a floor on what the server can do for a client that uses one core.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from dataclasses import dataclass

import payloads


def chat_request(path: str = "/v1/chat/completions") -> bytes:
    """The request bytes a client would send for one small chat completion."""
    body = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"When was Microsoft founded?"}]}'
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-bench\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


def _load(port: int, depth: int, seconds: float, queue: multiprocessing.Queue[int]) -> None:
    request = chat_request() * depth
    expected = len(payloads.chat_completion(azure=False)) * depth
    buffer = bytearray(expected)
    view = memoryview(buffer)
    done = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            sock.sendall(request)
            got = 0
            while got < expected:
                n = sock.recv_into(view[got:])
                if n == 0:
                    raise ConnectionError("the server closed the connection")
                got += n
            done += depth
    queue.put(done)


@dataclass(frozen=True)
class Load:
    """One measured load: how many processes, how deep the pipeline, the rate."""

    processes: int
    depth: int
    seconds: float
    requests: int

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


def measure(port: int, *, processes: int = 2, depth: int = 16, seconds: float = 2.0) -> Load:
    """Load the server at ``port`` for ``seconds`` and return what it answered.

    Args:
        port: the benchmark server's port on 127.0.0.1.
        processes: load processes, one connection each.
        depth: requests in flight per connection (1: no pipelining).
        seconds: how long to load it.
    """
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[int] = context.Queue()
    workers = [context.Process(target=_load, args=(port, depth, seconds, queue)) for _ in range(processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    total = sum(queue.get(timeout=seconds + 30) for _ in workers)
    for worker in workers:
        worker.join(timeout=10)
    return Load(processes, depth, time.perf_counter() - started, total)
