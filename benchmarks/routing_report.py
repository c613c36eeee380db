"""The routing benchmark's figures, from what the quota servers saw and what the callers got."""

from __future__ import annotations

import bisect
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing_run import Load

WINDOW = 60.0


@dataclass(frozen=True)
class Quota:
    """One deployment of a run: its limits, the tokens a request costs, when it went down (or None)."""

    name: str
    rpm: int
    tpm: int
    cost: int
    down_at: float | None = None


def server_cost(prompt: str, max_tokens: int) -> int:
    """What tests/support/quota_server.py charges one chat request of one user message."""
    return 3 + math.ceil(len(json.dumps(prompt)) / 4) + max_tokens


def _has_room(quota: Quota, accepted: list[float], t: float) -> bool:
    """Whether the server would accept one more request at ``t`` (its exact sliding minute)."""
    if quota.down_at is not None and t >= quota.down_at:
        return False
    in_window = bisect.bisect_right(accepted, t) - bisect.bisect_right(accepted, t - WINDOW)
    return in_window + 1 <= quota.rpm and (in_window + 1) * quota.cost <= quota.tpm


def analyse(
    quotas: list[Quota],
    events: dict[str, list[tuple[float, int]]],
    workers: list[dict[str, Any]],
    start: float,
    end: float,
) -> dict[str, Any]:
    """Every figure of one run; ``events`` are each server's (time, HTTP status) in arrival order."""
    seconds = end - start
    capacity = sum(q.tpm for q in quotas) * max(seconds / WINDOW, 1.0)
    per: dict[str, dict[str, Any]] = {}
    accepted_at: dict[str, list[float]] = {}
    for quota in quotas:
        seen = [(t, status) for t, status in events[quota.name] if start <= t <= end]
        ok = sorted(t for t, status in seen if status == 200)
        accepted_at[quota.name] = ok
        per[quota.name] = {
            "requests": len(seen),
            "accepted": len(ok),
            "tokens": len(ok) * quota.cost,
            "throttled": sum(1 for _, status in seen if status == 429),
            "first": seen[0][0] - start if seen else None,
            "full_at": _full_at(quota, ok, start),
        }
    requests = sum(p["requests"] for p in per.values())
    throttled = sum(p["throttled"] for p in per.values())
    tokens = sum(p["tokens"] for p in per.values())
    errors = [tuple(e) for w in workers for e in w["errors"]]
    with_room = [e for e in errors if any(_has_room(q, accepted_at[q.name], e[0]) for q in quotas)]
    first, second = quotas[0], quotas[1]
    second_first = per[second.name]["first"]
    before = [t for t in accepted_at[first.name] if second_first is None or t - start < second_first]
    messages: dict[str, str] = {}
    for worker in workers:
        for name, text in worker.get("messages", {}).items():
            messages.setdefault(name, text)
    return {
        "seconds": seconds,
        "per": per,
        "goodput": tokens / capacity if capacity else 0.0,
        "tokens": tokens,
        "capacity": capacity,
        "requests": requests,
        "request_rate": requests / seconds,
        "throttled": throttled,
        "throttled_share": throttled / requests if requests else 0.0,
        "q1_before_q2": len(before) * first.cost / first.tpm,
        "second_first": second_first,
        "caller_ok": sum(sum(w["served"].values()) for w in workers),
        # Accepted (and charged) by a server, but no caller got the reply in the run: cut off by a
        # shutdown, or still on its way at the end.
        "unanswered": sum(p["accepted"] for p in per.values())
        - sum(sum(w["served"].values()) for w in workers),
        "caller_errors": len(errors),
        "errors_with_room": len(with_room),
        "first_error": min(e[0] for e in errors) - start if errors else None,
        "first_error_with_room": min(e[0] for e in with_room) - start if with_room else None,
        "error_kinds": dict(Counter(f"{e[1]}({e[2]})" if e[2] else e[1] for e in errors)),
        "error_kinds_with_room": dict(Counter(f"{e[1]}({e[2]})" if e[2] else e[1] for e in with_room)),
        "error_messages": messages,
        "in_flight": sum(w["in_flight"] for w in workers),
        "latency_p50": _median([w["latency_p50"] for w in workers if w["latency_p50"] is not None]),
        "series": _series(quotas, events, start, end),
        "paths": sorted({str(w.get("path")) for w in workers}),
    }


def _full_at(quota: Quota, accepted: list[float], start: float) -> float | None:
    """Seconds into the run when the deployment's minute first had no room for one more request."""
    for index, t in enumerate(accepted):
        if not _has_room(quota, accepted[: index + 1], t):
            return t - start
    return None


def _median(values: list[float]) -> float | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def _series(
    quotas: list[Quota],
    events: dict[str, list[tuple[float, int]]],
    start: float,
    end: float,
    step: float = 10.0,
) -> list[dict[str, Any]]:
    """Per ``step`` seconds: each deployment's accepted tokens and 429s."""
    rows = []
    buckets = max(1, math.ceil((end - start) / step))
    for index in range(buckets):
        low, high = start + index * step, min(start + (index + 1) * step, end)
        row: dict[str, Any] = {"from": index * step, "to": high - start}
        for quota in quotas:
            seen = [status for t, status in events[quota.name] if low <= t < high or (t == end == high)]
            row[quota.name] = (seen.count(200) * quota.cost, seen.count(429))
        rows.append(row)
    return rows


def _at(value: float | None) -> str:
    return "" if value is None else f" ({value:.1f} s)"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def markdown(results: dict[str, dict[str, Any]], quotas: list[Quota]) -> str:
    """The load runs as markdown: one table of the figures, then each run's 10-second series."""
    first, second = quotas[0].name, quotas[1].name
    lines = [
        f"| run | goodput (tokens accepted / ({first}+{second} tpm)) | {first} used before first "
        f"{second} request | {first} full at | first {second} request at | 429s at servers | "
        "requests/s at servers (whole run) | caller errors (all; first at) | caller errors while a "
        "deployment had room (first at) | calls waiting at the end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {_pct(r['goodput'])} ({r['tokens']:,} / {r['capacity']:,.0f}) | "
            f"{_pct(r['q1_before_q2'])} | {_seconds(r['per'][first]['full_at'])} | "
            f"{_seconds(r['second_first'])} | {r['throttled']} of {r['requests']} "
            f"({_pct(r['throttled_share'])}) | {r['request_rate']:.1f} | {r['caller_errors']}"
            f"{_at(r['first_error'])} | {r['errors_with_room']}{_at(r['first_error_with_room'])} | "
            f"{r['in_flight']} |"
        )
    lines.append("")
    for name, r in results.items():
        lines += ["", f"**{name}**: per 10 s, tokens accepted (429s) at each server", ""]
        lines.append(f"| seconds | {first} | {second} |")
        lines.append("|---|---|---|")
        for row in r["series"]:
            cells = [f"{row[q.name][0]:,} ({row[q.name][1]})" for q in quotas]
            lines.append(f"| {row['from']:.0f}-{row['to']:.0f} | {' | '.join(cells)} |")
        if r.get("down_at") is not None:
            lost = r["per"][first]["tokens"]
            reachable = lost + quotas[1].tpm
            lines.append("")
            lines.append(
                f"{first} was shut down at {r['down_at']:.1f} s, having accepted {lost:,} tokens; goodput of "
                f"what stayed reachable ({first}'s {lost:,} + {second}'s {quotas[1].tpm:,}): "
                f"{_pct(r['tokens'] / reachable)}. Requests the servers accepted (and charged) whose reply "
                f"reached no caller in the run: {r['unanswered']}."
            )
        if r["error_kinds"]:
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(r["error_kinds"].items()))
            lines.append("")
            lines.append(f"Caller errors by kind: {kinds}.")
            if r["error_kinds_with_room"]:
                room = ", ".join(f"{k}: {v}" for k, v in sorted(r["error_kinds_with_room"].items()))
                lines.append(f"Of those, while a deployment had room: {room}.")
            for kind, text in sorted(r["error_messages"].items()):
                lines.append(f"- `{kind}`: {text.splitlines()[0][:200] if text else ''}")
    return "\n".join(lines)


def document(
    command: str,
    *,
    measured: str,
    load: Load,
    quotas: list[Quota],
    seconds: float,
    calibration: dict[str, dict[str, Any]],
    results: dict[str, dict[str, Any]],
    overhead: str | None,
) -> str:
    """The whole results file: how it was run, the offered loads, the runs, the overhead."""
    import os
    import time

    q1, q2 = quotas
    charge = (
        "the usage its reply reports"
        if load.charge == "usage"
        else "prompt estimate + max_tokens, as Azure does; the reply reports 17 tokens of usage"
    )
    lines = [
        "# Routing benchmark (issue 12)",
        "",
        f"`{command}` on {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{measured}.",
        "",
        f"Each run: fresh quota servers (tests/support/quota_server.py: exact sliding minute, real time), "
        f"{load.processes} processes x {load.threads} threads calling `chat(prompt, max_tokens="
        f"{load.max_tokens})` for {seconds:.0f} s. A server answers an accepted call after "
        f"{load.latency:g} s and charges it {q1.cost} tokens ({charge}); a 429 at once. "
        f"ptu (priority 0): {q1.tpm:,} tpm / {q1.rpm:,} rpm; paygo (priority 1): {q2.tpm:,} tpm / "
        f"{q2.rpm:,} rpm" + (" (the minute's quotas scaled to the run)." if seconds < WINDOW else "."),
    ]
    for kind, measured_load in calibration.items():
        offered = measured_load["tokens"] / measured_load["seconds"] * seconds
        lines += [
            "",
            f"Offered load of {kind}'s workers, measured first for {measured_load['seconds']:.0f} s with no "
            f"limits at the servers or in the clients: {measured_load['request_rate']:.0f} requests/s, "
            f"{offered:,.0f} tokens per {seconds:.0f} s = {offered / (q1.tpm + q2.tpm):.2f} x (Q1 + Q2).",
        ]
    paths = sorted({p for r in results.values() for p in r["paths"]})
    lines += ["", f"Clients built by: {'; '.join(paths)}.", "", markdown(results, quotas)]
    if overhead:
        lines += ["", overhead.strip()]
    return "\n".join(lines)
