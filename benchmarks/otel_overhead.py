"""Per-call cost of OpenTelemetry tracing: ``python benchmarks/otel_overhead.py [--calls N] [--rounds R]``.

Against the benchmark's loopback server (benchmarks/server.py), fresh processes each measure the
p50 of N chat calls (and N/5 streams) of one llmport client, in one of these modes:

- ``off``: OpenTelemetry importable but not configured (the container picks the no-op port);
- ``sdk``: the OpenTelemetry SDK configured by the application: a TracerProvider with an
  in-memory span exporter (behind a BatchSpanProcessor, as an application exports; ``--processor
  simple`` for a SimpleSpanProcessor) and a MeterProvider with an in-memory reader;
- ``floor``: the same SDK configuration, but the client's telemetry port replaced by one that only
  replays the SDK calls llmport makes for such a call (the same span, the same attributes in one
  ``set_attributes``, the same metric points, all built beforehand: no llmport logic at all).
  ``floor / off`` is what the SDK itself costs for these spans and points in the same calls;
  ``sdk / floor`` is what llmport adds to it;
- ``absent``: ``opentelemetry`` cannot be imported at all (as without the ``otel`` extra);
- ``raw`` and ``raw-v2``: the peer, the raw openai SDK without and with
  ``opentelemetry-instrumentation-openai-v2`` on the same SDK configuration, so that the cost of
  tracing itself is measured beside llmport's (the instrumentation makes one span per call).

Modes run in a rotated order every round; printed: each mode's median p50 and the ratios
``sdk / off`` (target <= 1.05) and ``absent / off`` (target: 1.00, today's figures unchanged),
the floor's, the SDK's work alone in a loop without HTTP (microseconds, and the ratio it implies
for a call as long as ``off``), and, as a separate labelled line, ``sdk / off`` against a loopback
server that answers after ``--latency-ms`` (default 20 ms; 0 leaves the line out).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODES = ("off", "sdk", "floor", "absent", "raw", "raw-v2")
LATENCY_MODES = ("off", "sdk")
CHAT_MODEL = "gpt-4o-mini"
PROMPT = "When was Microsoft founded?"


class _Sdk:
    """The SDK configuration of a traced mode: its providers, span exporter and metric reader."""

    def __init__(self, processor: str) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        span_processor = BatchSpanProcessor if processor == "batch" else SimpleSpanProcessor
        self.tracer_provider.add_span_processor(span_processor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def clear(self) -> None:
        self.exporter.clear()  # keep memory flat, as a real exporter would


def _configure(mode: str, processor: str) -> _Sdk | None:
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
    return _Sdk(processor)


def _timed(call: Callable[[], object], count: int, sdk: _Sdk | None) -> list[float]:
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
        if sdk is not None and len(times) % 500 == 0:
            sdk.clear()
    return times


def _report(traced: str, chat: list[float], stream: list[float], **extra: float) -> None:
    figures = {"telemetry": traced, "chat": statistics.median(chat), "stream": statistics.median(stream)}
    print(json.dumps({**figures, **extra}))


def raw_worker(mode: str, port: int, calls: int, processor: str) -> None:
    """The peer: the raw SDK, with ``opentelemetry-instrumentation-openai-v2`` in ``raw-v2``."""
    sdk = _configure("sdk" if mode == "raw-v2" else "off", processor)
    if mode == "raw-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]

    def chat() -> None:
        client.chat.completions.create(model=CHAT_MODEL, messages=messages)

    def stream() -> None:
        for _chunk in client.chat.completions.create(model=CHAT_MODEL, messages=messages, stream=True):
            pass

    _timed(chat, 200, sdk)
    chat_times = _timed(chat, calls, sdk)
    stream_times = _timed(stream, calls // 5, sdk)
    client.close()
    _report("openai-v2" if mode == "raw-v2" else "none", chat_times, stream_times)


class _Replay:
    """What llmport recorded for one call, split into what the floor port replays."""

    def __init__(self, span: Any, points: Mapping[str, list[Any]], stream: bool) -> None:
        attrs = dict(span.attributes)
        self.name: str = span.name
        self.start = {k: v for k, v in attrs.items() if _at_start(k)}
        self.reply = {k: v for k, v in attrs.items() if not _at_start(k)}
        self.input_tokens: int = attrs["gen_ai.usage.input_tokens"]
        self.output_tokens: int = attrs["gen_ai.usage.output_tokens"]
        self.stream = stream

        def point(name: str, **extra: str) -> dict[str, Any]:
            for found in points[name]:
                found_attrs = dict(found.attributes)
                if found_attrs.get("gen_ai.request.model") == attrs["gen_ai.request.model"] and all(
                    found_attrs.get(k) == v for k, v in extra.items()
                ):
                    return found_attrs
            raise LookupError(name)

        self.point = point("gen_ai.client.operation.duration")
        self.input_point = point("gen_ai.client.token.usage", **{"gen_ai.token.type": "input"})
        self.output_point = point("gen_ai.client.token.usage", **{"gen_ai.token.type": "output"})


def _at_start(key: str) -> bool:
    # What a span is given when it starts: the request's side (operation, provider, server, model).
    return key.startswith(("gen_ai.request.", "server.")) or key in (
        "gen_ai.operation.name",
        "gen_ai.provider.name",
    )


class _Floor:
    """A telemetry port that makes only the SDK calls llmport makes, with everything precomputed."""

    enabled = True

    def __init__(self, chat: _Replay, stream: _Replay) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
        from opentelemetry.trace import SpanKind

        from llmport.adapters.telemetry import names

        self.kind = SpanKind.CLIENT
        self.chat, self.stream = chat, stream
        self.tracer = trace.get_tracer("llmport-floor")
        meter = metrics.get_meter("llmport-floor")
        self.h_duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )
        self.h_tokens = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            explicit_bucket_boundaries_advisory=names.TOKEN_BUCKETS,
        )
        self.h_ttfc = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )

    def start_call(self, request: object, *, stream: bool = False, cache: str | None = None) -> _FloorCall:
        return _FloorCall(self, self.stream if stream else self.chat)

    def once(self, replay: _Replay) -> None:
        """One call's SDK work, with no call around it (the hot-loop floor)."""
        call = _FloorCall(self, replay)
        if replay.stream:
            call.first_chunk()
        call.chat_reply()
        call.end()


class _FloorCall:
    capture_content = False
    log_fields: Mapping[str, str] = {}

    def __init__(self, floor: _Floor, replay: _Replay) -> None:
        self._floor = floor
        self._replay = replay
        self._span = floor.tracer.start_span(replay.name, kind=floor.kind, attributes=replay.start)
        self._started = time.perf_counter()
        self._ttfc = 0.0

    def attempt(self, number: int) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    def retry(self, *args: object) -> None:
        pass

    def first_chunk(self) -> None:
        self._ttfc = time.perf_counter() - self._started

    def chat_reply(self, **reply: object) -> None:
        self._span.set_attributes(self._replay.reply)

    def end(self, error: BaseException | None = None, *, cancelled: bool = False) -> None:
        duration = time.perf_counter() - self._started
        self._span.end()
        floor, replay = self._floor, self._replay
        floor.h_duration.record(duration, replay.point)
        if replay.stream:
            floor.h_ttfc.record(self._ttfc, replay.point)
        floor.h_tokens.record(replay.input_tokens, replay.input_point)
        floor.h_tokens.record(replay.output_tokens, replay.output_point)


def _floor_port(client: Any, sdk: _Sdk) -> _Floor:
    """Make one chat call and one stream with llmport's own telemetry, and replay what they recorded."""
    client.chat(PROMPT)
    for _chunk in client.stream(PROMPT):
        pass
    sdk.tracer_provider.force_flush()
    spans = sdk.exporter.get_finished_spans()
    data = sdk.reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    [span] = [span for span in spans if "gen_ai.request.stream" not in (span.attributes or {})]
    [streamed] = [span for span in spans if "gen_ai.request.stream" in (span.attributes or {})]
    return _Floor(_Replay(span, points, stream=False), _Replay(streamed, points, stream=True))


def _hot_loop(floor: _Floor, replay: _Replay, count: int, sdk: _Sdk) -> float:
    """The p50, in seconds, of the floor's SDK work alone: no HTTP, no llmport, back to back."""
    batch = 50
    means: list[float] = []
    for _ in range(count // batch):
        started = time.perf_counter()
        for _ in range(batch):
            floor.once(replay)
        means.append((time.perf_counter() - started) / batch)
        sdk.clear()
    return statistics.median(means)


def worker(mode: str, port: int, calls: int, processor: str) -> None:
    """One fresh process: configure ``mode``, build a client, time calls; JSON on stdout."""
    if mode.startswith("raw"):
        raw_worker(mode, port, calls, processor)
        return
    sdk = _configure("sdk" if mode == "floor" else mode, processor)
    import llmport

    client = llmport.from_dict(
        {
            "provider": "openai",
            "base_url": f"http://127.0.0.1:{port}/v1",
            "api_key": "sk-bench",
            "chat_model": CHAT_MODEL,
        }
    )
    floor = None
    if mode == "floor":
        assert sdk is not None
        floor = _floor_port(client, sdk)
        client._chat._telemetry = floor  # type: ignore[attr-defined]
    telemetry = client._chat._telemetry  # type: ignore[attr-defined]
    traced = type(telemetry).__name__.strip("_") if telemetry is not None else "none"

    def stream() -> None:
        for _chunk in client.stream(PROMPT):
            pass

    _timed(lambda: client.chat(PROMPT), min(200, calls), sdk)
    chat_times = _timed(lambda: client.chat(PROMPT), calls, sdk)
    stream_times = _timed(stream, max(1, calls // 5), sdk)
    client.close()
    extra: dict[str, float] = {}
    if floor is not None and sdk is not None:
        extra["loop_chat"] = _hot_loop(floor, floor.chat, calls, sdk)
        extra["loop_stream"] = _hot_loop(floor, floor.stream, calls, sdk)
    _report(traced, chat_times, stream_times, **extra)


class _LateTransport:
    """Writes what it is given ``delay`` seconds later: a server that takes its time to answer."""

    def __init__(self, transport: asyncio.Transport, delay: float) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._delay = delay

    def write(self, data: bytes) -> None:
        self._loop.call_later(self._delay, self._write, data)

    def _write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)


def _serve_late(sock: socket.socket, delay: float) -> None:
    from server import Replies, _Http  # the benchmark's server: the same precomputed replies

    class Late(_Http):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._transport = _LateTransport(self._transport, delay)  # type: ignore[arg-type,assignment]

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = Replies()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Late(replies), sock=sock, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class LateServer:
    """The loopback server, answering every request ``delay`` seconds after it arrives."""

    def __init__(self, delay: float) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1024)
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        context = multiprocessing.get_context("fork")
        self._process = context.Process(target=_serve_late, args=(self._sock, delay), daemon=True)

    def __enter__(self) -> LateServer:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=5)
        self._sock.close()


def _run(mode: str, port: int, calls: int, processor: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, str(port)]
    command += ["--calls", str(calls), "--processor", processor]
    # Our own script under this interpreter: no untrusted input reaches the command.
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "PORT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.calls, args.processor)
        return
    sys.path.insert(0, str(HERE))
    from server import Server

    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with Server(workers=1) as server:
        for number in range(args.rounds):
            order = MODES[number % len(MODES) :] + MODES[: number % len(MODES)]
            for mode in order:
                results[mode].append(_run(mode, server.port, args.calls, args.processor))
    late: dict[str, list[dict[str, Any]]] = {mode: [] for mode in LATENCY_MODES}
    late_calls = max(50, args.calls // 5)
    if args.latency_ms > 0:
        with LateServer(args.latency_ms / 1000) as server:
            for number in range(args.rounds):
                order = LATENCY_MODES[number % 2 :] + LATENCY_MODES[: number % 2]
                for mode in order:
                    late[mode].append(_run(mode, server.port, late_calls, args.processor))

    streams = args.calls // 5
    print(
        f"{args.rounds} rounds x {args.calls} chat calls (+{streams} streams) per mode, fresh processes; "
        f"SDK: {args.processor} span processor, in-memory exporter and metric reader"
    )
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
    for figure in ("chat", "stream"):
        floor = _ratio(results["floor"], results["off"], figure)
        above = _ratio(results["sdk"], results["floor"], figure)
        loop = statistics.median(run[f"loop_{figure}"] for run in results["floor"])
        implied = 1 + loop / statistics.median(run[figure] for run in results["off"])
        print(
            f"  {figure} floor: the SDK's own work for the same span and points, replayed in the same calls, "
            f"floor/off {floor:.3f}; llmport above it, sdk/floor {above:.3f}; that work alone in a loop "
            f"without HTTP {loop * 1e6:.1f} µs, i.e. {implied:.3f} on a call as long as off's"
        )
    if args.latency_ms > 0:
        for figure in ("chat", "stream"):
            ratio = _ratio(late["sdk"], late["off"], figure)
            off_ms, sdk_ms = _us(late["off"], figure) / 1000, _us(late["sdk"], figure) / 1000
            print(
                f"  {figure} against a server that answers after {args.latency_ms:g} ms "
                f"({late_calls} calls per mode): sdk/off {ratio:.4f}   "
                f"(p50 off {off_ms:.2f} ms, sdk {sdk_ms:.2f} ms)"
            )


def _us(runs: list[dict[str, Any]], figure: str) -> float:
    return float(statistics.median(run[figure] for run in runs)) * 1e6


def _ratio(runs: list[dict[str, Any]], base: list[dict[str, Any]], figure: str) -> float:
    # The median of the per-round ratios: each round's modes ran back to back.
    return float(statistics.median(a[figure] / b[figure] for a, b in zip(runs, base, strict=True)))


if __name__ == "__main__":
    main()
