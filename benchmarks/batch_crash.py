"""A 120,000-request batch job killed twice and resumed, timed.

Run: ``PYTHONPATH=tests/support python benchmarks/batch_crash.py``.

The loopback Files + Batches server (tests/support/batch_server.py) runs here, with OpenAI's
real limits (50,000 requests, 200 MB per file): the job splits into three batches. The client
runs in its own process (tests/support/batch_worker.py, real time, real HTTP):

1. ``start`` is killed with SIGKILL just after the provider created the first batch (the server
   carried out the create and holds its answer: the client never saw the batch id);
2. ``resume`` is killed with SIGKILL while the first batch's output file is downloaded;
3. ``resume`` runs to the end and writes every result, in order.

Then it checks: 0 duplicate submissions (every line the server accepted, counted by custom_id
and body), one upload and one create per batch, 0 lost rows, the order of every row (row i says
``echo: p{i}``), no file left at the provider; and prints each phase's time and the total.
Options: ``--rows N`` (default 120000).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch_server import BatchServer

WORKER = Path(__file__).resolve().parents[1] / "tests" / "support" / "batch_worker.py"
JOB = "bench-120k"


def _killed(server: BatchServer, argv: list[str], method: str, path: str, label: str) -> float:
    reached = server.hang_after(method, path)
    started = time.perf_counter()
    worker = subprocess.Popen(argv)  # noqa: S603 - our worker, this interpreter
    try:
        if not reached.wait(600):
            raise SystemExit(f"{label}: the worker never reached {method} {path}")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(60)
    finally:
        server.release()
        worker.kill()
        worker.wait()
    seconds = time.perf_counter() - started
    print(f"{label}: killed with SIGKILL at {method} {path} after {seconds:.2f} s (exit {worker.returncode})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=120_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder, BatchServer() as server:
        state, out = Path(folder) / "state", Path(folder) / "out.jsonl"
        base = [sys.executable, str(WORKER), server.url, server.api_key, str(state), JOB, str(out)]
        total = _killed(server, [*base, "start", str(rows), "50000"], "POST", "/batches", "run 1 (start)")
        total += _killed(server, [*base, "resume"], "GET", "/content", "run 2 (resume)")
        started = time.perf_counter()
        finished = subprocess.run(  # noqa: S603 - our worker, this interpreter
            [*base, "resume"], check=True, capture_output=True, text=True
        )
        last = time.perf_counter() - started
        total += last
        print(f"run 3 (resume): finished in {last:.2f} s; worker says {finished.stdout.strip()}")
        lines = out.read_text().splitlines()
        wrong = [i for i, line in enumerate(lines) if json.loads(line) != {"row": i, "text": f"echo: p{i}"}]
        batches = list(server.batches.values())
        print(
            f"batches: {len(batches)} ({', '.join(str(len(b.lines)) for b in batches)} requests), "
            f"uploads {server.uploads}, creates {server.creates}"
        )
        print(f"duplicate submissions: {server.duplicates()}")
        print(f"rows: {len(lines)} of {rows}; lost: {rows - len(lines)}; out of order or wrong: {len(wrong)}")
        print(f"files left at the provider: {len(server.live_files())}")
        print(f"total: {total:.2f} s for {rows} requests over three processes, two of them killed")
        ok = (
            server.duplicates() == 0
            and len(lines) == rows
            and not wrong
            and server.creates == len(batches)
            and not server.live_files()
        )
        raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
