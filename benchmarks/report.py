"""Turning benchmark rounds into ratios, a markdown table, results.md and the latency chart."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import Load


@dataclass(frozen=True)
class Figure:
    """One row of the table: how to read it from a round, its unit, and its target ratio."""

    key: str
    label: str
    unit: str
    scale: float
    target: float
    higher_is_better: bool = False


FIGURES = (
    Figure("chat_p50", "chat p50", "µs", 1e6, 1.00),
    Figure("chat_p99", "chat p99", "µs", 1e6, 1.00),
    Figure("stream_first", "stream, time to first chunk (p50)", "µs", 1e6, 1.00),
    Figure("stream_total", "stream, total (p50)", "µs", 1e6, 1.00),
    Figure("embed_1", "embeddings, 1 input (p50)", "µs", 1e6, 1.00),
    Figure("embed_2048", "embeddings, 2048 inputs (p50)", "ms", 1e3, 1.00),
    Figure("throughput", "8 threads, one client", "calls/s", 1.0, 1.00, higher_is_better=True),
    Figure("cold", "cold start: import + build + first call", "ms", 1e3, 1.05),
    Figure("rss_first", "RSS after 1,000 calls", "MiB", 1.0, 1.05),
)
IMPORT = Figure("import", "`import llmport` / `import openai`", "ms", 1e3, 0.25)


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _machine() -> dict[str, str]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
            model = next(names, "")
    except OSError:
        pass
    memory = ""
    if hasattr(os, "sysconf"):
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    from importlib.metadata import version
    from importlib.util import find_spec

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  # git from PATH, a fixed command
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": f"{model or platform.processor()} ({os.cpu_count()} logical CPUs)",
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{name} {version(name)}" for name in ("openai", "httpx2", "llmport")),
        "llmport commit": commit,
        # dependency_injector imports these when they are installed; they weigh on cold start and RSS.
        "optional extras present": ", ".join(
            name for name in ("werkzeug", "pydantic_settings", "yaml") if find_spec(name) is not None
        )
        or "none (a clean environment: llmport's runtime dependencies only)",
    }


def build(
    rounds: list[dict[str, Any]],
    loads: list[Load],
    *,
    pairs: Sequence[tuple[str, str]],
    quick: bool,
    pinned: bool,
    server_workers: int,
    seconds: float,
) -> dict[str, Any]:
    """Summarise the rounds: per figure and provider, the ratio (median, min, max) and the absolutes."""
    rows = []
    for figure in FIGURES:
        row: dict[str, Any] = {"figure": figure.__dict__, "pairs": {}}
        met = True
        for raw, ours in pairs:
            ratios = [r["figures"][ours][figure.key] / r["figures"][raw][figure.key] for r in rounds]
            spread = _spread(ratios)
            row["pairs"][raw.removeprefix("raw-")] = {
                "ratio": spread,
                "raw": statistics.median(r["figures"][raw][figure.key] for r in rounds),
                "llmport": statistics.median(r["figures"][ours][figure.key] for r in rounds),
            }
            median = spread["median"]
            met = met and (median >= figure.target if figure.higher_is_better else median <= figure.target)
        row["met"] = met
        rows.append(row)
    imports = [r["imports"]["llmport"] / r["imports"]["openai"] for r in rounds]
    import_row = {
        "figure": IMPORT.__dict__,
        "ratio": _spread(imports),
        "openai": statistics.median(r["imports"]["openai"] for r in rounds),
        "llmport": statistics.median(r["imports"]["llmport"] for r in rounds),
        "met": statistics.median(imports) <= IMPORT.target,
    }
    growth = {
        kind: statistics.median(
            r["figures"][kind]["rss_last"] - r["figures"][kind]["rss_first"] for r in rounds
        )
        for pair in pairs
        for kind in pair
    }
    fastest = max(
        max(1 / r["figures"][kind]["chat_p50"], r["figures"][kind]["throughput"])
        for r in rounds
        for pair in pairs
        for kind in pair
    )
    return {
        "machine": _machine(),
        "quick": quick,
        "rounds": len(rounds),
        "seconds": seconds,
        "pinned": pinned,
        "server_workers": server_workers,
        "server": [{"depth": load.depth, "rate": load.rate} for load in loads],
        "fastest_client": fastest,
        "rows": rows,
        "import": import_row,
        "rss_growth": growth,
    }


def _ratio(spread: dict[str, float]) -> str:
    return f"{spread['median']:.2f} ({spread['min']:.2f}-{spread['max']:.2f})"


def _abs(value: float, figure: dict[str, Any]) -> str:
    scaled = value * figure["scale"]
    return f"{scaled:,.0f}" if scaled >= 100 else f"{scaled:.1f}"


def table(summary: dict[str, Any]) -> str:
    """The results as a markdown table: ratios llmport / raw (median of rounds, min-max) and absolutes."""
    lines = [
        "| figure | target | OpenAI: llmport / raw | raw openai | llmport | "
        "Azure: llmport / raw | raw AzureOpenAI | llmport | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        figure = row["figure"]
        sign = ">=" if figure["higher_is_better"] else "<="
        cells = [f"{figure['label']} ({figure['unit']})", f"{sign} {figure['target']:.2f}"]
        for provider in ("openai", "azure"):
            pair = row["pairs"][provider]
            cells += [_ratio(pair["ratio"]), _abs(pair["raw"], figure), _abs(pair["llmport"], figure)]
        cells.append("yes" if row["met"] else "**no**")
        lines.append("| " + " | ".join(cells) + " |")
    imp = summary["import"]
    figure = imp["figure"]
    lines.append(
        f"| {figure['label']} (ms) | <= {figure['target']:.2f} | {_ratio(imp['ratio'])} | "
        f"{_abs(imp['openai'], figure)} | {_abs(imp['llmport'], figure)} | (same) | | | "
        f"{'yes' if imp['met'] else '**no**'} |"
    )
    growth = summary["rss_growth"]
    lines.append(
        "| RSS growth from 1,000 to 10,000 calls (MiB) | flat | "
        f"| {growth['raw-openai']:+.1f} | {growth['llmport-openai']:+.1f} | "
        f"| {growth['raw-azure']:+.1f} | {growth['llmport-azure']:+.1f} | "
        f"{'yes' if max(growth['llmport-openai'], growth['llmport-azure']) <= 1.0 else '**no**'} |"
    )
    server = ", ".join(f"{s['rate']:,.0f} req/s at pipeline depth {s['depth']}" for s in summary["server"])
    headroom = summary["server"][0]["rate"] / summary["fastest_client"]
    lines += [
        "",
        f"Server: {server}; the fastest client did {summary['fastest_client']:,.0f} calls/s, so the server "
        f"has {headroom:.0f}x headroom without pipelining (target >= 10x).",
    ]
    return "\n".join(lines)


def markdown(summary: dict[str, Any]) -> str:
    """results.md: how it was run, on what, and the table."""
    machine = "\n".join(f"- {name}: {value}" for name, value in summary["machine"].items())
    mode = "QUICK SMOKE RUN (few calls; not a measurement)" if summary["quick"] else "full run"
    pinning = (
        f"server ({summary['server_workers']} worker process) pinned to CPU 0, clients to the other CPUs"
        if summary["pinned"]
        else "not pinned"
    )
    return f"""# llmport vs the raw openai SDK

Written by `python benchmarks/run.py` ({mode}: {summary["rounds"]} round(s), {summary["seconds"]:.0f} s).
Each figure is llmport / raw SDK on the same provider shape, the median of the rounds' ratios with
their min-max, then the absolute medians. Every round runs every client in fresh processes, in a
rotated order, against the same loopback server
(precomputed replies; {pinning}).

Per round and client: 200 warm-up calls, then 2,000 chat calls (p50, p99), 400 streams (a role
chunk, 20 text chunks, a finish chunk and a usage chunk, plus Azure's opening filter-results chunk
on Azure; p50 of the time to the first text chunk and of the whole stream), 400
embeddings of 1 input and 12 of 2,048 inputs (1,536 dimensions, base64 on the wire, floats to the
caller; p50), and 8 threads x 400 chat calls on one shared client. Separate fresh processes measure
RSS after 1,000 and 10,000 chat calls, cold start (import, build, first chat call; median of 7 per round) and
`import` alone (median of 7 per round). The raw clients run with `max_retries=0` and do what a user does: the
SDK parses into its models, the benchmark reads the message text, the deltas and the vectors.

## Machine

{machine}

## Results

{table(summary)}
"""


def chart(rounds: list[dict[str, Any]], path: Path) -> Path | None:
    """Per-call latency distributions, llmport beside raw openai; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = (("chat", "chat call"), ("stream_total", "whole stream"), ("embed_1", "embeddings, 1 input"))
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    for row, (provider, raw, ours) in enumerate(
        (("OpenAI", "raw-openai", "llmport-openai"), ("Azure classic", "raw-azure", "llmport-azure"))
    ):
        for col, (key, title) in enumerate(panels):
            ax = axes[row][col]
            series = {
                label: [v * 1e6 for r in rounds for v in r["latencies"][kind][key]]
                for label, kind in ((f"raw {raw.removeprefix('raw-')} SDK", raw), ("llmport", ours))
            }
            everything = sorted(v for values in series.values() for v in values)
            high = everything[min(len(everything) - 1, int(0.995 * len(everything)))]
            low = everything[0]
            for (label, values), color in zip(series.items(), ("tab:gray", "tab:blue"), strict=True):
                ax.hist(
                    [v for v in values if v <= high],
                    bins=80,
                    range=(low, high),
                    histtype="step",
                    linewidth=1.5,
                    color=color,
                    label=f"{label} (p50 {statistics.median(values):,.0f} µs)",
                )
            ax.set_title(f"{provider}: {title}")
            ax.set_xlabel("µs per call (up to p99.5)")
            ax.set_ylabel("calls")
            ax.legend(fontsize=8)
    fig.suptitle("Per-call latency, llmport beside the raw openai SDK (all rounds)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
