"""llmport against the raw openai SDK, same loopback server, same run: ``python benchmarks/run.py``.

Starts the precomputed-bytes server (benchmarks/server.py) and measures how fast it answers, then,
for each of ``--rounds`` rounds, runs every client kind (raw OpenAI, llmport on OpenAI, raw
AzureOpenAI, llmport on Azure) in fresh processes, in an order that rotates each round. Writes
results.md and results.png next to this file, and the raw samples to samples.json (not tracked:
they change on every run) (``--quick``: a smoke run into a
temporary folder unless ``--out`` says otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402  # sibling modules of a script
import report  # noqa: E402
from server import Server  # noqa: E402
from worker import KINDS  # noqa: E402

PAIRS = (("raw-openai", "llmport-openai"), ("raw-azure", "llmport-azure"))


def _pin(cpus: set[int] | None) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


def _env() -> dict[str, str]:
    # Neither client may pick up the developer's provider settings.
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}


def _worker(args: list[str], quick: bool) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "worker.py"), *args, *(["--quick"] if quick else [])]
    # Our own worker script under this interpreter: no untrusted input reaches the command.
    done = subprocess.run(  # noqa: S603  # see above
        command, capture_output=True, text=True, env=_env(), timeout=900, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summarise(calls: dict[str, Any]) -> dict[str, float]:
    return {
        "chat_p50": _percentile(calls["chat"], 0.50),
        "chat_p99": _percentile(calls["chat"], 0.99),
        "stream_first": statistics.median(calls["stream_first"]),
        "stream_total": statistics.median(calls["stream_total"]),
        "embed_1": statistics.median(calls["embed_1"]),
        "embed_2048": statistics.median(calls["embed_2048"]),
        "throughput": calls["throughput"],
    }


def run_round(number: int, port: int, *, quick: bool, repeats: int, log: Any) -> dict[str, Any]:
    """One round: every kind, in fresh processes, in an order rotated by ``number``."""
    order = KINDS[number % len(KINDS) :] + KINDS[: number % len(KINDS)]
    figures: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    latencies: dict[str, dict[str, list[float]]] = {}
    for kind in order:
        log(f"  round {number + 1}: {kind} calls")
        calls = _worker([kind, "calls", str(port)], quick)
        figures[kind].update(_summarise(calls))
        latencies[kind] = {key: calls[key] for key in ("chat", "stream_first", "stream_total", "embed_1")}
    for kind in order:
        log(f"  round {number + 1}: {kind} rss")
        figures[kind].update(_worker([kind, "rss", str(port)], quick))
    colds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    imports: dict[str, list[float]] = {"openai": [], "llmport": []}
    log(f"  round {number + 1}: cold starts and imports")
    for _ in range(repeats):
        for kind in order:
            colds[kind].append(_worker([kind, "cold", str(port)], quick)["cold"])
        for package in ("openai", "llmport") if number % 2 == 0 else ("llmport", "openai"):
            imports[package].append(_worker([package, "import", "0"], quick)["import"])
    for kind in KINDS:
        figures[kind]["cold"] = statistics.median(colds[kind])
    return {
        "figures": figures,
        "imports": {package: statistics.median(times) for package, times in imports.items()},
        "latencies": latencies,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few calls, one round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument("--out", type=Path, default=None, help="where results go (default: benchmarks/)")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and clients to cores")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    # Cold starts and imports are single ~0.5 s samples, noisier than per-call figures: take more.
    repeats = 1 if args.quick else 7
    out: Path = args.out or (Path(tempfile.mkdtemp(prefix="llmport-bench-")) if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    # The server gets core 0, the clients and the load generator the others (on a 2-core machine,
    # one each), so a client never waits for the scheduler to run the server.
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpus = {cpus[0]} if len(cpus) > 1 and not args.no_pin else None
    client_cpus = set(cpus[1:]) if server_cpus else None
    started = time.perf_counter()
    _pin(server_cpus)
    with Server(workers=args.server_workers) as server:
        _pin(client_cpus)
        log(f"server on 127.0.0.1:{server.port}; measuring its rate")
        seconds = 0.5 if args.quick else 3.0
        loads = [loadgen.measure(server.port, processes=1, depth=d, seconds=seconds) for d in (1, 16)]
        results = []
        for number in range(rounds):
            results.append(run_round(number, server.port, quick=args.quick, repeats=repeats, log=log))
    summary = report.build(
        results,
        loads,
        pairs=PAIRS,
        quick=args.quick,
        pinned=server_cpus is not None,
        server_workers=args.server_workers,
        seconds=time.perf_counter() - started,
    )
    (out / "samples.json").write_text(json.dumps({"rounds": results, "summary": summary}, indent=1))
    text = report.markdown(summary)
    (out / "results.md").write_text(text)
    chart = report.chart(results, out / "results.png")
    print(report.table(summary))
    print(f"\nwrote {out / 'results.md'}" + (f" and {chart}" if chart else " (no chart: matplotlib missing)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
