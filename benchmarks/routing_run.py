"""One load run of the routing benchmark: fresh quota servers, worker processes, their results.

The servers are tests/support/quota_server.py's (real time), each also keeping the time and
status of every request it answered; the workers are routing_worker.py (llmport) or
routing_litellm_worker.py (LiteLLM, under its own venv's python), started together on a
wall-clock start line. Everything a run starts is stopped when it ends, whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "support")]

import loopback  # noqa: E402  # the tests' helpers, by path
from quota_server import QuotaServer  # noqa: E402
from routing_report import Quota, analyse  # noqa: E402

#: 41 characters: the client's estimate (characters / 4) and the quota server's (the JSON string's)
#: agree on it, so that a difference of estimators does not pass for a routing error.
PROMPT = "Summarise our quarterly report in a line."

# socketserver listens with a backlog of 5: 32 callers connecting at once overflow it, and the
# refused connections fail over to paygo at the start. A provider's endpoint takes them all.
loopback._Server.request_queue_size = 256

#: Folders put first on the workers' PYTHONPATH (an ``llmport`` to measure instead of the installed one).
IMPORT_FROM: list[str] = []


class TracedQuotaServer(QuotaServer):
    """A QuotaServer that keeps (wall-clock time, status) of every chat request it answers, and
    answers an accepted one after ``latency`` seconds (a model's time to reply; a 429 at once)."""

    def __init__(self, *args: Any, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latency = latency
        self.events: list[tuple[float, int]] = []

    def _admit(self, req: Any) -> Any:
        reply = super()._admit(req)
        self.events.append((time.time(), reply.status))  # list.append: atomic under the GIL
        if reply.status == 200 and self.latency:
            reply = replace(reply, delay=self.latency)  # slept by the handler's thread, unlocked
        return reply


@dataclass(frozen=True)
class Load:
    """What every run shares: the callers, the request, the servers' latency and charge."""

    processes: int
    threads: int
    max_tokens: int
    latency: float
    charge: str
    path: str
    litellm_python: str


def env() -> dict[str, str]:
    """The workers' environment: none of the developer's provider settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    if IMPORT_FROM:
        clean["PYTHONPATH"] = os.pathsep.join([*IMPORT_FROM, *filter(None, [clean.get("PYTHONPATH")])])
    return clean


def _spawn(python: str, script: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    # stderr to a file: a chatty worker must never block on a full pipe.
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  # read and closed with the process
    # Our own worker scripts and JSON: no untrusted input reaches the command.
    process = subprocess.Popen(  # noqa: S603
        [python, str(HERE / script), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env=env(),
    )
    process.error_log = errors  # type: ignore[attr-defined]
    return process


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    """One line of a worker's stdout within ``timeout`` seconds (else the worker is killed)."""
    box: list[str] = []
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        process.kill()
        process.wait()
        log = process.error_log  # type: ignore[attr-defined]
        log.seek(0)
        raise RuntimeError(f"a worker gave no answer in {timeout:.0f} s:\n{log.read()[-3000:]}")
    return box[0]


def _shut_down_at(server: QuotaServer, tokens: float, end: float, downed: list[float]) -> None:
    """Shut ``server`` down (connections refused) once it has accepted ``tokens``; note when."""
    while time.time() < end:
        if server.stats.accepted_tokens >= tokens:
            server.go_down()
            downed.append(time.time())
            return
        time.sleep(0.005)


def load_run(
    kind: str,
    load: Load,
    quotas: list[Quota],
    seconds: float,
    *,
    store: str,
    redis_port: int | None,
    down: str | None = None,
    unlimited: bool = False,
    move_after_timeout: bool = False,
) -> dict[str, Any]:
    """One run of ``kind`` (llmport or litellm) on fresh servers; ``down`` is shut down at half its quota.

    ``unlimited``: no limits at the servers nor in the clients (to measure the offered load).
    ``move_after_timeout``: llmport's setting (move a sent request whose connection was lost).
    """
    servers = {
        q.name: TracedQuotaServer(
            q.name,
            rpm=None if unlimited else q.rpm,
            tpm=None if unlimited else q.tpm,
            api_key="sk-test",
            charge=load.charge,
            latency=load.latency,
        ).start()
        for q in quotas
    }
    config = {
        "store": store,
        "prefix": f"bench:{uuid.uuid4().hex[:8]}",
        "deployments": [
            {
                "name": q.name,
                "url": servers[q.name].url,
                "priority": priority,
                "rpm": None if unlimited else q.rpm,
                "tpm": None if unlimited else q.tpm,
            }
            for priority, q in enumerate(quotas)
        ],
        "threads": load.threads,
        "prompt": PROMPT,
        "max_tokens": load.max_tokens,
        "redis": None if redis_port is None else ["127.0.0.1", redis_port],
        "path": load.path,
        "move_after_timeout": move_after_timeout,
    }
    python, script = (
        (load.litellm_python, "routing_litellm_worker.py")
        if kind == "litellm"
        else (sys.executable, "routing_worker.py")
    )
    processes: list[subprocess.Popen[str]] = []
    downed: list[float] = []
    try:
        processes = [_spawn(python, script, config) for _ in range(load.processes)]
        for process in processes:
            if _readline(process, 120).strip() != "ready":
                raise RuntimeError("a worker did not say ready")
        start = time.time() + 0.5
        end = start + seconds
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(f"{start!r} {end!r}\n")
            process.stdin.flush()
        watcher = None
        if down is not None:
            half = next(q.tpm for q in quotas if q.name == down) / 2
            watcher = threading.Thread(target=_shut_down_at, args=(servers[down], half, end, downed))
            watcher.start()
        workers = [json.loads(_readline(process, seconds + 60)) for process in processes]
        for process in processes:
            process.wait(timeout=10)
        if watcher is not None:
            watcher.join(timeout=5)
        events = {name: list(server.events) for name, server in servers.items()}
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.error_log.close()  # type: ignore[attr-defined]
        for server in servers.values():
            server.close()
    if downed:
        quotas = [replace(q, down_at=downed[0]) if q.name == down else q for q in quotas]
    result = analyse(quotas, events, workers, start, end)
    result["down_at"] = downed[0] - start if downed else None
    return result
