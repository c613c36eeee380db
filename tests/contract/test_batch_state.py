"""Both batch state stores keep one contract; the file store survives kill -9 mid-write; a job on Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_server import BatchServer
from batch_wiring import batch_client
from redis_server import BINARY, SKIP_REASON, RedisServer

from llmport import ChatResponse, ServiceUnavailableError
from llmport.adapters.batch.file_state import FileStateStore
from llmport.adapters.batch.redis_state import RedisStateStore
from llmport.domain.ports import BatchStateStore


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    if BINARY is None:
        pytest.skip(SKIP_REASON)
    with RedisServer() as running:
        yield running


@pytest.fixture(params=["file", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BatchStateStore:
    if request.param == "file":
        return FileStateStore(tmp_path)
    server: RedisServer = request.getfixturevalue("redis")
    return RedisStateStore(server.url, prefix=f"test:{tmp_path.name}:")


def test_a_state_and_kept_files_round_trip_and_a_missing_one_is_none(store: BatchStateStore) -> None:
    assert store.load("job-1") is None and store.get("job-1", "part-0000.out.jsonl") is None
    store.save("job-1", {"format": 1, "parts": [{"step": "planned"}]})
    store.save("job-1", {"format": 1, "parts": [{"step": "done"}]})
    store.put("job-1", "part-0000.out.jsonl", b'{"custom_id":"0"}\n\xff')
    assert store.load("job-1") == {"format": 1, "parts": [{"step": "done"}]}
    assert store.get("job-1", "part-0000.out.jsonl") == b'{"custom_id":"0"}\n\xff'
    assert store.load("job-2") is None
    assert "job-1" in store.where("job-1")


def test_the_file_store_refuses_a_job_id_that_would_leave_its_folder(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a batch job id"):
        FileStateStore(tmp_path).save("../elsewhere", {})


_WRITER = """
import sys
from llmport.adapters.batch.file_state import FileStateStore
store = FileStateStore(sys.argv[1])
n = 0
while True:
    n += 1
    store.save("job", {"n": n, "pad": "x" * 200_000})
    if n == 3:
        print("writing", flush=True)
"""


def test_the_file_store_keeps_a_whole_state_when_killed_in_the_middle_of_saves(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"writing\n"
        time.sleep(0.2)  # many saves under way
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(30)
    finally:
        writer.kill()
        writer.wait()
    state = FileStateStore(tmp_path).load("job")
    assert state is not None and state["n"] >= 3 and len(str(state["pad"])) == 200_000
    assert json.loads((tmp_path / "job" / "state.json").read_bytes())["n"] == state["n"]


def test_a_job_kept_in_redis_is_resumed_by_another_client(redis: RedisServer, tmp_path: Path) -> None:
    with BatchServer(auto=False) as server:
        first = batch_client(server, "openai", None, cache=redis.url)
        job = first.batch.chat(["a", "b"], job_id=f"redis-{tmp_path.name}")
        assert job.where == f"llmport:batch:redis-{tmp_path.name}"
        first.close()
        server.finish()
        second = batch_client(server, "openai", None, cache=redis.url)
        resumed = second.batch.resume(f"redis-{tmp_path.name}")
        results = resumed.results(poll_interval=1.0)
    assert [r.text for r in results if isinstance(r, ChatResponse)] == ["echo: a", "echo: b"]
    assert server.creates == 1
    assert not (Path.home() / ".cache" / "llmport" / "batches" / f"redis-{tmp_path.name}").exists()


def test_a_redis_that_is_gone_is_a_service_error_not_a_lost_job(tmp_path: Path) -> None:
    store = RedisStateStore("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(ServiceUnavailableError, match="state store"):
        store.save("job", {})
