"""Issue 12's routing benchmark: ``python benchmarks/routing.py`` (``--quick``, ``--seconds N``).

Two deployments on two quota-enforcing loopback servers (tests/support/quota_server.py, real
time): ``ptu`` (priority 0, quota Q1) and ``paygo`` (priority 1, Q2), and a real redis-server on
a free port. Each run starts fresh servers (an empty minute) and 4 processes x 8 threads sending
chat calls for ``--seconds`` (at most one minute: a run is one window, so it can use at most
Q1 + Q2, and goodput is tokens accepted / (Q1 + Q2)). First each client's offered load is
measured with no limits anywhere. Runs: llmport with budgets shared in Redis; llmport with each
process on its own memory store; LiteLLM's Router on the same servers and Redis (its own venv:
``--litellm-python``); llmport and LiteLLM with ptu shut down (connections refused) once it has
accepted half its quota. Then the routing overhead (benchmarks/routing_overhead.py). Prints
markdown and writes benchmarks/routing_results.md (``--quick``: printed only, unless ``--out``).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "support")]

import routing_run  # noqa: E402  # sibling modules of a script, and the tests' helpers, by path
from redis_server import RedisServer  # noqa: E402
from routing_report import Quota, document, server_cost  # noqa: E402
from wire_samples import USAGE  # noqa: E402

LITELLM_PYTHON = "/work/litellm-venv/bin/python"
#: The shutdown run again with ``move_after_timeout``: calls in flight when ptu fell move to paygo.
MOVED = "llmport, Redis, ptu shut down at half its quota, move_after_timeout = true"
PARTS = ("calibrate", "shared", "memory", "litellm", "down", "overhead")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--seconds", type=float, default=60.0, help="length of each load run, at most 60")
    add("--quick", action="store_true", help="15 s runs and a short overhead measure")
    add("--processes", type=int, default=4)
    add("--threads", type=int, default=8)
    add("--q1", type=int, default=460_000, help="ptu tokens per minute")
    add("--q2", type=int, default=230_000, help="paygo tokens per minute")
    add("--rpm1", type=int, default=2760, help="ptu requests per minute (Azure's 6 per 1000 tpm)")
    add("--rpm2", type=int, default=1380, help="paygo requests per minute")
    add("--max-tokens", type=int, default=200)
    add("--latency", type=float, default=0.2, help="seconds a server takes to answer an accepted call")
    add("--charge", choices=("estimate", "usage"), default="estimate",
        help="what a server charges: prompt estimate + max_tokens (Azure) or the reply's usage")  # fmt: skip
    add("--path", choices=("auto", "router"), default="auto",
        help="auto: llmport.from_dict with deployments when it has them; router: wire a Router")  # fmt: skip
    add("--litellm-python", default=LITELLM_PYTHON, help="python of a venv with litellm and redis")
    add("--llmport", type=Path, default=None,
        help="an llmport source tree (a `git archive` export) to measure, not the installed one")  # fmt: skip
    add("--skip", default="", help=f"comma-separated parts to skip: {','.join(PARTS)}")
    add("--out", type=Path, default=None, help="markdown file (default benchmarks/routing_results.md)")
    add("--json", type=Path, default=None, help="also write every run's figures here")
    return parser


def _describe(source: Path) -> str:
    """Which llmport was measured: its commit, and whether its working tree had changes."""
    git = ["git", "-C", str(source)]
    try:
        run = subprocess.run  # git, with our own arguments
        commit = run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        status = run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return f"the llmport source tree {source}"
    dirty = " plus uncommitted changes to tracked files" if status.stdout.strip() else ""
    return f"llmport at commit {commit.stdout.strip()}{dirty}"


def _use_llmport(source: Path) -> None:
    """Have every llmport process import the package rooted at ``source``."""
    folder = Path(tempfile.mkdtemp(prefix="routing-bench-"))
    (folder / "llmport").symlink_to(source.resolve(), target_is_directory=True)
    routing_run.IMPORT_FROM[:] = [str(folder)]


def _flush(redis: RedisServer) -> None:
    """Empty Redis between runs (LiteLLM's keys are named by deployment and minute, not by run)."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as conn:
        conn.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
        if not conn.recv(16).startswith(b"+OK"):
            raise RuntimeError("redis-server refused FLUSHALL")


def _quotas(args: argparse.Namespace) -> list[Quota]:
    """The two deployments; their minute is scaled to the run (a 15 s run gets a quarter of it)."""
    scale = args.seconds / 60
    cost = (
        int(USAGE["total_tokens"])
        if args.charge == "usage"
        else server_cost(routing_run.PROMPT, args.max_tokens)
    )
    return [
        Quota("ptu", max(1, round(args.rpm1 * scale)), max(1, round(args.q1 * scale)), cost),
        Quota("paygo", max(1, round(args.rpm2 * scale)), max(1, round(args.q2 * scale)), cost),
    ]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _load_runs(
    args: argparse.Namespace, load: routing_run.Load, quotas: list[Quota], skip: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The offered loads, then the runs, by name."""
    calibration: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    kinds = ("llmport",) if "litellm" in skip else ("llmport", "litellm")
    with RedisServer() as redis:
        for kind in () if "calibrate" in skip else kinds:
            _say(f"offered load of {kind}, no limits anywhere ...")
            seconds = min(args.seconds, 10.0)
            calibration[kind] = routing_run.load_run(
                kind, load, quotas, seconds, store="memory", redis_port=None, unlimited=True
            )
        runs = [
            ("shared", "llmport, budgets shared in Redis", "llmport", redis.url, None),
            ("memory", "llmport, each process on its own memory store", "llmport", "memory", None),
            ("litellm", "LiteLLM Router, usage-based-routing-v2 + Redis + order", "litellm", "redis", None),
            ("down", "llmport, Redis, ptu shut down at half its quota", "llmport", redis.url, "ptu"),
            ("down", MOVED, "llmport", redis.url, "ptu"),
            ("down", "LiteLLM Router, Redis, ptu shut down at half its quota", "litellm", "redis", "ptu"),
        ]
        for part, name, kind, store, down in runs:
            if part in skip or kind in skip:
                continue
            _say(f"run: {name} ({args.seconds:.0f} s) ...")
            _flush(redis)
            result = routing_run.load_run(
                kind, load, quotas, args.seconds, store=store, redis_port=redis.port, down=down,
                move_after_timeout=name == MOVED,
            )  # fmt: skip
            results[name] = result
            figures = f"goodput {result['goodput']:.1%}, 429s {result['throttled']}"
            _say(f"  {figures}, caller errors {result['caller_errors']}")
    return calibration, results


def _overhead(quick: bool) -> str:
    _say("routing overhead ...")
    command = [sys.executable, str(HERE / "routing_overhead.py"), *(["--quick"] if quick else [])]
    # Our own script under this interpreter: no untrusted input reaches the command.
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=1800, env=routing_run.env(), check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"routing_overhead.py failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    if args.quick and args.seconds == 60.0:
        args.seconds = 15.0
    if not 0 < args.seconds <= 60:
        parser.error("--seconds must be in (0, 60]: a run is one quota window")
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(PARTS):
        parser.error(f"--skip takes {', '.join(PARTS)}")
    if args.llmport is not None:
        _use_llmport(args.llmport)
    measured = _describe(args.llmport or HERE.parent)
    load = routing_run.Load(
        args.processes,
        args.threads,
        args.max_tokens,
        args.latency,
        args.charge,
        args.path,
        args.litellm_python,
    )
    quotas = _quotas(args)
    calibration, results = _load_runs(args, load, quotas, skip)
    overhead = None if "overhead" in skip else _overhead(args.quick)
    if args.json is not None:
        args.json.write_text(json.dumps({"calibration": calibration, "runs": results}, indent=1))
    command = " ".join(["python benchmarks/routing.py", *sys.argv[1:]])
    text = document(
        command,
        measured=measured,
        load=load,
        quotas=quotas,
        seconds=args.seconds,
        calibration=calibration,
        results=results,
        overhead=overhead,
    )
    print(text)
    out = args.out or (None if args.quick else HERE / "routing_results.md")
    if out is not None:
        out.write_text(text + "\n")
        _say(f"wrote {out}")


if __name__ == "__main__":
    main()
