"""kill -9 at each stage of a batch job, then resume: nothing submitted twice, no result lost, order kept.

The client runs in its own process (tests/support/batch_worker.py). The loopback server carries
out the request of the chosen stage and holds its answer; the process is killed with SIGKILL
while it waits, so it never learns what the provider did (the worst moment to die).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from batch_server import BatchServer
from batch_wiring import batch_client

from llmport import ChatResponse
from llmport.domain.batch import BatchLimits

WORKER = Path(__file__).parents[1] / "support" / "batch_worker.py"
ROWS = 10
PER_BATCH = 4  # three batches: 4 + 4 + 2
LIMITS = BatchLimits(max_requests=PER_BATCH, max_bytes=200 * 1024 * 1024)

STAGES = {
    "upload": ("POST", "/files"),
    "create": ("POST", "/batches"),
    "poll": ("GET", "/batches/"),
    "download": ("GET", "/content"),
    "clean-up": ("DELETE", "/files/"),
}


def start_and_kill(server: BatchServer, state: Path, stage: str) -> None:
    reached = server.hang_after(*STAGES[stage])
    argv = [sys.executable, str(WORKER), server.url, server.api_key, str(state), "job-1", os.devnull]
    worker = subprocess.Popen([*argv, "start", str(ROWS), str(PER_BATCH)], stderr=subprocess.PIPE)
    try:
        if not reached.wait(60):
            worker.kill()
            pytest.fail(f"the worker never reached {stage}: {worker.communicate()[1].decode()[-2000:]}")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(30) == -signal.SIGKILL
    finally:
        server.release()
        worker.kill()
        worker.wait()


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_job_killed_at_any_stage_resumes_with_no_duplicate_and_no_lost_row(
    stage: str, tmp_path: Path
) -> None:
    with BatchServer() as server:
        start_and_kill(server, tmp_path, stage)
        client = batch_client(server, "openai", tmp_path, limits=LIMITS)
        job = client.batch.resume("job-1")
        results = job.results(poll_interval=1.0)
        assert [r.text if isinstance(r, ChatResponse) else r for r in results] == [
            f"echo: p{i}" for i in range(ROWS)
        ]
        assert server.duplicates() == 0
        assert server.uploads == 3 and server.creates == 3  # each part's file and batch made once
        assert server.live_files() == []  # nothing left at the provider
        assert len(server.accepted) == ROWS


def test_a_job_resumed_from_its_directory_in_a_new_process_finishes_there(tmp_path: Path) -> None:
    with BatchServer() as server:
        start_and_kill(server, tmp_path, "poll")
        out = tmp_path / "out.jsonl"
        argv = [sys.executable, str(WORKER), server.url, server.api_key, str(tmp_path), "job-1", str(out)]
        subprocess.run([*argv, "resume"], check=True, timeout=60, capture_output=True)
        rows = out.read_text().splitlines()
        assert rows == [f'{{"row": {i}, "text": "echo: p{i}"}}' for i in range(ROWS)]
        assert server.duplicates() == 0 and server.creates == 3
