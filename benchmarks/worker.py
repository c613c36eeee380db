"""One fresh benchmark process: one client kind, one measurement, JSON on stdout.

``python benchmarks/worker.py KIND MODE PORT [--quick]`` where KIND is raw-openai, raw-azure,
llmport-openai or llmport-azure and MODE is ``import``, ``cold``, ``calls`` or ``rss``. The raw
clients do what a user of the SDK would do: parse into the SDK's models and read the message
text, the streamed deltas and the embeddings as lists of floats.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

KINDS = ("raw-openai", "llmport-openai", "raw-azure", "llmport-azure")
API_VERSION = "2024-10-21"
CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
PROMPT = "When was Microsoft founded?"


@dataclass(frozen=True)
class Counts:
    """How many calls each figure takes; ``quick`` is a smoke run, not a measurement."""

    warmup: int = 200
    chat: int = 2000
    stream: int = 400
    embed_1: int = 400
    embed_2048: int = 12
    threads: int = 8
    per_thread: int = 400
    rss_first: int = 1000
    rss_last: int = 10000
    many: int = 2048  # inputs of the large embeddings call

    @property
    def texts(self) -> tuple[str, ...]:
        """The large embeddings call's inputs."""
        return tuple(f"document number {i}: a short paragraph about something" for i in range(self.many))

    @classmethod
    def quick(cls) -> Counts:
        return cls(20, 100, 20, 20, 2, 8, 10, 100, 300)


@dataclass
class Ops:
    """What a benchmark does with one client: chat, stream, embed, close."""

    chat: Callable[[], str]
    stream: Callable[[], Iterator[str]]
    embed: Callable[[tuple[str, ...]], list[Any]]
    close: Callable[[], None]


def raw_ops(kind: str, port: int) -> Ops:
    """The openai SDK used directly, retries off."""
    import openai

    client: openai.OpenAI
    if kind == "raw-openai":
        client = openai.OpenAI(api_key="sk-bench", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    else:
        client = openai.AzureOpenAI(
            azure_endpoint=f"http://127.0.0.1:{port}", api_version=API_VERSION, api_key="bench", max_retries=0
        )
    messages: Any = [{"role": "user", "content": PROMPT}]

    def chat() -> str:
        reply = client.chat.completions.create(model=CHAT_MODEL, messages=messages)
        return reply.choices[0].message.content or ""

    def stream() -> Iterator[str]:
        chunks = client.chat.completions.create(
            model=CHAT_MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        with chunks:
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def embed(texts: tuple[str, ...]) -> list[Any]:
        response = client.embeddings.create(model=EMBEDDING_MODEL, input=list(texts))
        return [item.embedding for item in response.data]

    return Ops(chat, stream, embed, client.close)


def llmport_ops(kind: str, port: int) -> Ops:
    """llmport with its defaults (retries on, logging guard on)."""
    import llmport

    base = {"chat_model": CHAT_MODEL, "embedding_model": EMBEDDING_MODEL}
    if kind == "llmport-openai":
        settings = {"provider": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "api_key": "sk-bench"}
    else:
        settings = {
            "provider": "azure",
            "endpoint": f"http://127.0.0.1:{port}",
            "api_version": API_VERSION,
            "api_key": "bench",
        }
    client = llmport.from_dict({**base, **settings})

    def chat() -> str:
        return client.chat(PROMPT).text

    def stream() -> Iterator[str]:
        for chunk in client.stream(PROMPT):
            if chunk.text:
                yield chunk.text

    def embed(texts: tuple[str, ...]) -> list[Any]:
        return list(client.embed(texts).vectors)

    return Ops(chat, stream, embed, client.close)


def ops_for(kind: str, port: int) -> Ops:
    """Build the client of ``kind`` against the server on ``port``."""
    if kind not in KINDS:
        raise SystemExit(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return raw_ops(kind, port) if kind.startswith("raw-") else llmport_ops(kind, port)


def rss_mib() -> float:
    """This process's resident set size now, in MiB."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, in KiB on Linux


def _timed(call: Callable[[], object], n: int) -> list[float]:
    out = []
    clock = time.perf_counter
    for _ in range(n):
        started = clock()
        call()
        out.append(clock() - started)
    return out


def _stream_times(ops: Ops, n: int) -> tuple[list[float], list[float]]:
    first, total = [], []
    clock = time.perf_counter
    for _ in range(n):
        started = clock()
        seen = None
        pieces = 0
        for _text in ops.stream():
            if seen is None:
                seen = clock()
            pieces += 1
        ended = clock()
        assert seen is not None and pieces == 20, pieces
        first.append(seen - started)
        total.append(ended - started)
    return first, total


def _throughput(ops: Ops, threads: int, per_thread: int) -> float:
    barrier = threading.Barrier(threads + 1)
    failures: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                ops.chat()
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return threads * per_thread / elapsed


def calls(kind: str, port: int, counts: Counts) -> dict[str, Any]:
    """Chat, stream, embeddings and 8-thread throughput on one warmed-up client."""
    ops = ops_for(kind, port)
    texts_1 = (PROMPT,)
    texts_2048 = counts.texts
    for _ in range(counts.warmup):
        ops.chat()
    for _ in range(max(2, counts.warmup // 10)):
        list(ops.stream())
        ops.embed(texts_1)
    vectors = ops.embed(texts_2048)
    assert len(vectors) == counts.many and len(vectors[0]) == 1536 and isinstance(vectors[0][0], float)
    chat = _timed(ops.chat, counts.chat)
    first, total = _stream_times(ops, counts.stream)
    embed_1 = _timed(lambda: ops.embed(texts_1), counts.embed_1)
    embed_2048 = _timed(lambda: ops.embed(texts_2048), counts.embed_2048)
    throughput = _throughput(ops, counts.threads, counts.per_thread)
    ops.close()
    return {
        "chat": chat,
        "stream_first": first,
        "stream_total": total,
        "embed_1": embed_1,
        "embed_2048": embed_2048,
        "throughput": throughput,
    }


def rss(kind: str, port: int, counts: Counts) -> dict[str, Any]:
    """Resident memory after ``rss_first`` and after ``rss_last`` chat calls."""
    ops = ops_for(kind, port)
    for _ in range(counts.rss_first):
        ops.chat()
    first = rss_mib()
    for _ in range(counts.rss_last - counts.rss_first):
        ops.chat()
    last = rss_mib()
    ops.close()
    return {"rss_first": first, "rss_last": last}


def cold(kind: str, port: int) -> dict[str, Any]:
    """Import, build and the first chat call, from a process that has imported neither package."""
    started = time.perf_counter()
    ops = ops_for(kind, port)
    built = time.perf_counter()
    ops.chat()
    ended = time.perf_counter()
    ops.close()
    return {"cold": ended - started, "build": built - started}


def main(argv: list[str]) -> None:
    kind, mode, port = argv[0], argv[1], int(argv[2])
    counts = Counts.quick() if "--quick" in argv else Counts()
    if mode == "import":
        # kind names the package: "openai" or "llmport"
        started = time.perf_counter()
        __import__(kind)
        result: dict[str, Any] = {"import": time.perf_counter() - started}
    elif mode == "cold":
        result = cold(kind, port)
    elif mode == "calls":
        result = calls(kind, port, counts)
    elif mode == "rss":
        result = rss(kind, port, counts)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
