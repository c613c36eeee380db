"""Rerun the fault table and the load scenario and print the figures as Markdown (for docs/reliability.md).

Run from the repository root (the helpers are in tests/support):
``PYTHONPATH=tests/support python tests/reliability/report.py [--calls 5000] [--threads 32]``;
``--deadlines`` prints only the deadline table (drip, stall and slow-stream servers, real time).
"""

from __future__ import annotations

import argparse

import deadline_run
from fault_table import FAULTS, run
from harness import PROVIDERS
from load_run import run_load
from loopback import LoopbackServer


def faults() -> None:
    print("| fault | requests (openai / azure / azure_v1) | waits, s | error (status, code, request_id) |")
    print("|---|---|---|---|")
    for fault in FAULTS:
        counts, waits, raised = [], "", "none: the call succeeds"
        for provider in PROVIDERS:
            with LoopbackServer() as server:
                measured = run(server, provider, fault)
            counts.append(str(measured.requests))
            waits = ", ".join(f"{wait:g}" for wait in measured.waits) or "-"
            if measured.error is not None:
                error = measured.error
                raised = f"{type(error).__name__} ({error.status_code}, {error.code}, {error.request_id})"
        print(f"| {fault.description} | {' / '.join(counts)} | {waits} | {raised} |")


def deadlines() -> None:
    limit = f"deadline {deadline_run.DEADLINE:g} s"
    print(f"| server | call | seconds: openai / azure / azure_v1 ({limit}) | error |")
    print("|---|---|---|---|")
    for fault in sorted(deadline_run.FAULTS):
        rows = deadline_run.measure(fault)
        for operation in dict.fromkeys(name for _provider, name, _elapsed, _error in rows):
            mine = [row for row in rows if row[1] == operation]
            seconds = " / ".join(f"{elapsed:.2f}" for _p, _n, elapsed, _e in mine)
            error = mine[0][3]
            print(f"| {fault} | {operation} | {seconds} | {type(error).__name__}: {error} |")


def load(calls: int, threads: int) -> None:
    figures = run_load(calls=calls, threads=threads)
    print(f"- calls: {figures.calls} on {figures.threads} threads sharing one Client")
    print(f"- wall time: {figures.wall_seconds:.1f} s")
    print(f"- outcomes: {dict(figures.outcomes)}")
    print(f"- requests at the server: {figures.requests_at_server}")
    print(f"- replies by status: {dict(figures.replies)}")
    print(f"- requests per call: {dict(sorted(figures.attempts_by_call.items()))}")
    print(f"- retries (injected waits): {figures.waits}; by error: {dict(figures.retries_by_error)}")
    print(
        f"- token fetches: {figures.token_fetches} (expected {figures.expected_token_fetches}); "
        f"tokens seen {figures.tokens_seen}; refused {figures.rejected_tokens}; "
        f"least lifetime left at the server {figures.least_token_remaining:g} s"
    )
    print(
        f"- client sockets to the server: before {figures.sockets_before}, peak {figures.sockets_peak}, "
        f"after close {figures.sockets_after_close}; threads stuck: {figures.stuck_threads}"
    )
    print(f"- problems: {figures.problems or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--deadlines", action="store_true", help="only the deadline table (real time)")
    args = parser.parse_args()
    if args.deadlines:
        deadlines()
        return
    if not args.skip_faults:
        faults()
        print()
    load(args.calls, args.threads)


if __name__ == "__main__":
    main()
