"""Per-call cost of OpenTelemetry tracing: ``python benchmarks/otel_overhead.py [--calls N] [--rounds R]``.

Against the benchmark's loopback server (benchmarks/server.py), fresh processes each measure the
p50 of N chat calls (and N streams) of one llmport client, in one of three modes:

- ``off``: OpenTelemetry importable but not configured (the container picks the no-op port);
- ``sdk``: the OpenTelemetry SDK configured by the application: a TracerProvider with an
  in-memory span exporter (SimpleSpanProcessor) and a MeterProvider with an in-memory reader;
- ``absent``: ``opentelemetry`` cannot be imported at all (as without the ``otel`` extra);
- ``raw`` and ``raw-v2``: the peer, the raw openai SDK without and with
  ``opentelemetry-instrumentation-openai-v2`` on the same SDK configuration, so that the cost of
  tracing itself is measured beside llmport's (the instrumentation makes one span per call).

Modes run in a rotated order every round; printed: each mode's median p50 and the ratios
``sdk / off`` (target <= 1.05) and ``absent / off`` (target: 1.00, today's figures unchanged).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODES = ("off", "sdk", "absent", "raw", "raw-v2")
CHAT_MODEL = "gpt-4o-mini"


def _configure(mode: str) -> object:
    if mode == "absent":
        # Anything importing opentelemetry from here on fails, as if it were not installed.
        for name in [m for m in sys.modules if m.split(".")[0] == "opentelemetry"]:
            del sys.modules[name]
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
        return None
    if mode == "off":
        from opentelemetry import trace  # imported, as an application with it installed may

        trace.get_tracer_provider()
        return None
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return exporter


def raw_worker(mode: str, port: int, calls: int) -> None:
    """The peer: the raw SDK, with ``opentelemetry-instrumentation-openai-v2`` in ``raw-v2``."""
    exporter = _configure("sdk" if mode == "raw-v2" else "off")
    if mode == "raw-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "When was Microsoft founded?"}]
    for _ in range(200):
        client.chat.completions.create(model=CHAT_MODEL, messages=messages)
    chat: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        client.chat.completions.create(model=CHAT_MODEL, messages=messages)
        chat.append(time.perf_counter() - started)
        if exporter is not None and len(chat) % 500 == 0:
            exporter.clear()  # type: ignore[attr-defined]
    stream: list[float] = []
    for _ in range(calls // 5):
        started = time.perf_counter()
        for _chunk in client.chat.completions.create(model=CHAT_MODEL, messages=messages, stream=True):
            pass
        stream.append(time.perf_counter() - started)
    client.close()
    traced = "openai-v2" if mode == "raw-v2" else "none"
    print(
        json.dumps(
            {"telemetry": traced, "chat": statistics.median(chat), "stream": statistics.median(stream)}
        )
    )


def worker(mode: str, port: int, calls: int) -> None:
    """One fresh process: configure ``mode``, build a client, time calls; JSON on stdout."""
    if mode.startswith("raw"):
        raw_worker(mode, port, calls)
        return
    exporter = _configure(mode)
    import llmport

    client = llmport.from_dict(
        {
            "provider": "openai",
            "base_url": f"http://127.0.0.1:{port}/v1",
            "api_key": "sk-bench",
            "chat_model": CHAT_MODEL,
        }
    )
    telemetry = client._chat._telemetry  # type: ignore[attr-defined]
    traced = type(telemetry).__name__ if telemetry is not None else "none"
    for _ in range(200):
        client.chat("When was Microsoft founded?")
    chat: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        client.chat("When was Microsoft founded?")
        chat.append(time.perf_counter() - started)
        if exporter is not None and len(chat) % 500 == 0:
            exporter.clear()  # type: ignore[attr-defined]  # keep memory flat, as a real exporter would
    stream: list[float] = []
    for _ in range(calls // 5):
        started = time.perf_counter()
        for _chunk in client.stream("When was Microsoft founded?"):
            pass
        stream.append(time.perf_counter() - started)
    client.close()
    print(
        json.dumps(
            {"telemetry": traced, "chat": statistics.median(chat), "stream": statistics.median(stream)}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PORT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.calls)
        return
    sys.path.insert(0, str(HERE))
    from server import Server

    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with Server(workers=1) as server:
        for number in range(args.rounds):
            order = MODES[number % len(MODES) :] + MODES[: number % len(MODES)]
            for mode in order:
                command = [sys.executable, __file__, "--worker", mode, str(server.port)]
                command += ["--calls", str(args.calls)]
                # Our own script under this interpreter: no untrusted input reaches the command.
                done = subprocess.run(  # noqa: S603  # see above
                    command, capture_output=True, text=True, check=True, timeout=900
                )
                results[mode].append(json.loads(done.stdout))
    streams = args.calls // 5
    print(f"{args.rounds} rounds x {args.calls} chat calls (+{streams} streams) per mode, fresh processes")
    for mode in MODES:
        runs = results[mode]
        print(
            f"  {mode:7} telemetry={runs[0]['telemetry']:13} chat p50 {_us(runs, 'chat'):7.1f} µs   "
            f"stream p50 {_us(runs, 'stream'):7.1f} µs"
        )
    for figure in ("chat", "stream"):
        sdk = _ratio(results["sdk"], results["off"], figure)
        absent = _ratio(results["absent"], results["off"], figure)
        peer = _ratio(results["raw-v2"], results["raw"], figure)
        print(
            f"  {figure}: sdk/off {sdk:.3f} (target <= 1.05)   absent/off {absent:.3f} (target 1.00)   "
            f"peer: raw SDK with instrumentation-openai-v2 / without {peer:.3f}"
        )


def _us(runs: list[dict[str, float]], figure: str) -> float:
    return statistics.median(run[figure] for run in runs) * 1e6


def _ratio(runs: list[dict[str, float]], base: list[dict[str, float]], figure: str) -> float:
    # The median of the per-round ratios: each round's modes ran back to back.
    return statistics.median(a[figure] / b[figure] for a, b in zip(runs, base, strict=True))


if __name__ == "__main__":
    main()
