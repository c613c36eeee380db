"""`llmport batch embed|chat --input FILE --output FILE.jsonl` on the loopback batch server; a rerun after
kill -9 picks up the job where it stopped."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import BatchServer

from llmport.entrypoints.cli import main


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as running:
        yield running


def environment(server: BatchServer, provider: str = "openai") -> dict[str, str]:
    models = {"LLMPORT_CHAT_MODEL": "gpt-4o-mini", "LLMPORT_EMBEDDING_MODEL": "text-embedding-3-small"}
    if provider == "openai":
        return models | {"OPENAI_API_KEY": server.api_key, "OPENAI_BASE_URL": f"{server.url}/v1"}
    return models | {
        "AZURE_OPENAI_ENDPOINT": server.url,
        "OPENAI_API_VERSION": "2024-10-21",
        "AZURE_OPENAI_API_KEY": server.api_key,
    }


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    status = main(argv, stdout=io.StringIO(), stderr=err)
    return status, err.getvalue()


@pytest.fixture
def env(server: BatchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "AZURE_OPENAI_", "LLMPORT_"))]:
        monkeypatch.delenv(name)
    for name, value in environment(server).items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("env")
def test_batch_embed_writes_one_vector_per_line_in_order_and_skips_empty_lines(
    server: BatchServer, tmp_path: Path
) -> None:
    source, target = tmp_path / "texts.txt", tmp_path / "vectors.jsonl"
    source.write_text("alpha\n\nbe\ngamma\n")
    status, said = run(["batch", "embed", "--input", str(source), "--output", str(target), "--poll", "0.01"])
    assert status == 0, said
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(row["line"], row["embedding"][0]) for row in rows] == [(1, 5.0), (3, 2.0), (4, 5.0)]
    assert "3 lines into" in said and server.live_files() == []
    assert (tmp_path / "vectors.jsonl.batch" / "job" / "state.json").is_file()


@pytest.mark.usefixtures("env")
def test_batch_chat_writes_each_reply_and_a_rerun_reuses_the_finished_job(
    server: BatchServer, tmp_path: Path
) -> None:
    source, target = tmp_path / "prompts.txt", tmp_path / "replies.jsonl"
    source.write_text("one\ntwo\n")
    argv = [
        "batch",
        "chat",
        "--input",
        str(source),
        "--output",
        str(target),
        "--poll",
        "0.01",
        "--max-tokens",
        "5",
    ]
    assert run(argv)[0] == 0
    assert [json.loads(line)["text"] for line in target.read_text().splitlines()] == [
        "echo: one",
        "echo: two",
    ]
    assert run(argv)[0] == 0 and server.creates == 1  # nothing submitted again
    source.write_text("three\n")
    status, said = run(argv)
    assert status == 2 and "another input file" in said


def test_batch_embed_on_azure_is_refused_before_any_upload(
    server: BatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "AZURE_OPENAI_", "LLMPORT_"))]:
        monkeypatch.delenv(name)
    for name, value in environment(server, "azure").items():
        monkeypatch.setenv(name, value)
    source = tmp_path / "texts.txt"
    source.write_text("a\n")
    status, said = run(["batch", "embed", "--input", str(source), "--output", str(tmp_path / "v.jsonl")])
    assert status == 2 and "no Batch API for embeddings" in said
    assert server.requests == []


@pytest.mark.usefixtures("env")
def test_a_batch_command_killed_after_creating_its_batch_is_rerun_and_picks_up(
    server: BatchServer, tmp_path: Path
) -> None:
    source, target = tmp_path / "texts.txt", tmp_path / "vectors.jsonl"
    source.write_text("".join(f"text {i}\n" for i in range(6)))
    argv = ["batch", "embed", "--input", str(source), "--output", str(target), "--poll", "0.01"]
    reached = server.hang_after("POST", "/batches")
    command = [sys.executable, "-m", "llmport", *argv]
    child = subprocess.Popen(command, env=os.environ.copy(), stderr=subprocess.PIPE)
    try:
        assert reached.wait(60), child.communicate()[1].decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        server.release()
        child.kill()
        child.wait()
    assert not target.exists()
    status, said = run(argv)
    assert status == 0, said
    assert "resuming" in said and server.creates == 1 and server.duplicates() == 0
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["embedding"][0] for row in rows] == [6.0] * 6 and [row["line"] for row in rows] == list(
        range(1, 7)
    )
