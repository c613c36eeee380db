"""`llmport embed --input FILE` with the Redis reply cache, run twice as a user runs it: the second
run sends nothing and writes the same vectors (issue 21)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loopback import LoopbackServer, RecordedRequest, Reply
from redis_server import RedisServer
from wire_samples import embedding_list, vector_for


def numbered_vectors(index: int, request: RecordedRequest) -> Reply:
    """Vectors that say which request they came from: a second request never repeats the first's."""
    inputs = request.body.get("input") if isinstance(request.body, dict) else None
    return Reply(
        body=embedding_list([vector_for(1000 * (index + 1) + i, 3) for i in range(len(inputs or []))])
    )


def embed_file(
    server: LoopbackServer, cache: str, source: Path, target: Path | None
) -> subprocess.CompletedProcess[str]:
    """``python -m llmport embed --input SOURCE [--output TARGET]``, set up through the environment only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    env |= {
        "LLMPORT_PROVIDER": "openai",
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "OPENAI_API_KEY": server.api_key,
        "LLMPORT_EMBEDDING_MODEL": "text-embedding-3-small",
        "LLMPORT_CACHE": cache,
    }
    args = [sys.executable, "-m", "llmport", "embed", "--input", str(source)]
    args += [] if target is None else ["--output", str(target)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_embedding_a_file_twice_sends_nothing_the_second_time(
    server: LoopbackServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    server.respond_with(numbered_vectors)
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"document {i}\n" for i in range(600)))  # 3 calls of <= 256 lines
    first = embed_file(server, redis_server.url, source, tmp_path / "first.jsonl")
    assert first.returncode == 0, first.stderr
    sent = len(server.requests)
    assert sent == 3 and sum(len(r.body["input"]) for r in server.requests) == 600
    again = embed_file(server, redis_server.url, source, tmp_path / "again.jsonl")
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == sent  # every vector came from Redis
    assert "embedded 600 lines" in again.stderr
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "first.jsonl").read_text()


def test_embedding_a_file_onto_stdout_twice_sends_nothing_the_second_time(
    server: LoopbackServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    server.respond_with(numbered_vectors)
    source = tmp_path / "texts.txt"
    source.write_text("".join(f"line {i}\n" for i in range(300)))  # 2 calls of <= 256 lines
    first = embed_file(server, redis_server.url, source, None)
    assert first.returncode == 0, first.stderr
    assert len(server.requests) == 2 and len(first.stdout.splitlines()) == 300
    again = embed_file(server, redis_server.url, source, None)
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == 2 and again.stdout == first.stdout
    assert "into standard output" in again.stderr
