"""The real OpenTelemetry SDK with in-memory exporters, and llmport clients traced into them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dependency_injector import providers
from loopback import LoopbackServer
from opentelemetry.sdk.metrics import ExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmport.adapters.telemetry.otel import OpenTelemetry
from llmport.container.factories import server
from llmport.container.root import Container, build_client
from llmport.services.client import Client
from llmport.settings.model import Settings

CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"


class Otel:
    """A tracer provider and a meter provider of the SDK, each with an in-memory reader.

    Args:
        processors: more span processors, after the in-memory one (which sees every span first).
        readers: more metric readers, besides the in-memory one.
        exemplar_filter: the meter provider's (the SDK asks it on every ``record``).
    """

    def __init__(
        self,
        *,
        processors: Sequence[SpanProcessor] = (),
        readers: Sequence[MetricReader] = (),
        exemplar_filter: ExemplarFilter | None = None,
    ) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        for processor in processors:
            self.tracer_provider.add_span_processor(processor)
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(
            metric_readers=[self.reader, *readers], exemplar_filter=exemplar_filter
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name != "llmport.attempt"]

    def attempts_of(self, call: ReadableSpan) -> list[ReadableSpan]:
        return [
            span
            for span in self.finished()
            if span.parent is not None and span.parent.span_id == call.context.span_id
        ]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


def settings_for(shape: str, server: LoopbackServer, **extra: Any) -> Settings:
    base: dict[str, Any] = {"chat_model": CHAT_MODEL, "embedding_model": EMBEDDING_MODEL, **extra}
    if shape == "openai":
        return Settings.from_dict(
            {**base, "provider": "openai", "base_url": f"{server.url}/v1", "api_key": server.api_key}
        )
    if shape == "azure":
        return Settings.from_dict(
            {
                **base,
                "provider": "azure",
                "endpoint": server.url,
                "api_version": "2024-10-21",
                "api_key": server.api_key,
            }
        )
    return Settings.from_dict(
        {**base, "provider": "azure_v1", "endpoint": f"{server.url}/openai/v1", "api_key": server.api_key}
    )


def traced_client(settings: Settings, otel: Otel, *, capture_content: bool | None = None) -> Client:
    """A client wired as the container wires it, with telemetry sent to ``otel`` and no sleeping."""
    container = Container(settings=settings)
    address, port = server(settings)
    telemetry = OpenTelemetry(
        provider=settings.provider or "unknown",
        server_address=address,
        server_port=port,
        capture_content=settings.log_content if capture_content is None else capture_content,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    )
    container.telemetry.override(providers.Object(telemetry))
    container.sleep.override(providers.Object(lambda _seconds: None))
    return build_client(settings, container)
