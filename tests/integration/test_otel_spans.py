"""OpenTelemetry GenAI spans and metrics, through the real SDK, against the loopback server (issue 13)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from loopback import LoopbackServer, Reply  # the path is set above
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import SpanKind, StatusCode
from otel_helpers import CHAT_MODEL, EMBEDDING_MODEL, Otel, settings_for, traced_client
from structlog.testing import capture_logs
from wire_samples import chat_chunks, openai_error  # the path is set above

from llmport.adapters.telemetry.otel import NoTelemetry
from llmport.container.root import Container
from llmport.domain.errors import BadRequestError, StreamInterruptedError

SHAPES = ["openai", "azure", "azure_v1"]
PROVIDER_NAME = {"openai": "openai", "azure": "azure.ai.openai", "azure_v1": "azure.ai.openai"}
CONTENT_KEYS = {gen_ai.GEN_AI_INPUT_MESSAGES, gen_ai.GEN_AI_OUTPUT_MESSAGES}
PROMPT = "my private question"


@pytest.fixture
def otel() -> Otel:
    return Otel()


def _no_secret_in(otel: Otel, *secrets: str) -> None:
    for span in otel.finished():
        text = json.dumps({k: str(v) for k, v in (span.attributes or {}).items()})
        text += json.dumps([str(dict(e.attributes or {})) for e in span.events])
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize("shape", SHAPES)
def test_a_chat_call_that_succeeds_at_once_is_one_client_span_with_the_genai_attributes(
    shape: str, server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for(shape, server), otel) as client:
        reply = client.chat(PROMPT)

    [call] = otel.calls()
    assert call.name == f"chat {CHAT_MODEL}"
    assert call.kind is SpanKind.CLIENT
    assert call.status.status_code is StatusCode.UNSET
    attrs = dict(call.attributes or {})
    assert attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAME[shape],
        "gen_ai.request.model": CHAT_MODEL,
        "gen_ai.response.model": reply.model,
        "gen_ai.response.id": reply.id,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": reply.usage.cached_tokens,
        "gen_ai.usage.reasoning.output_tokens": reply.usage.reasoning_tokens,
        "server.address": "127.0.0.1",
        "server.port": int(server.url.rsplit(":", 1)[1]),
        "llmport.request_id": reply.request_id,
        "openai.response.system_fingerprint": reply.system_fingerprint,
    }
    # One attempt that succeeded: the call span is the attempt (a child would double the cost).
    assert otel.attempts_of(call) == []
    _no_secret_in(otel, server.api_key, PROMPT)


@pytest.mark.parametrize("shape", SHAPES)
def test_an_embeddings_call_is_one_span_with_its_usage(
    shape: str, server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for(shape, server), otel) as client:
        reply = client.embed(["a", "b", "c"])

    [call] = otel.calls()
    assert call.name == f"embeddings {EMBEDDING_MODEL}"
    attrs = dict(call.attributes or {})
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.provider.name"] == PROVIDER_NAME[shape]
    assert attrs["gen_ai.request.model"] == EMBEDDING_MODEL
    assert attrs["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens
    assert "gen_ai.usage.output_tokens" not in attrs
    assert attrs["gen_ai.embeddings.dimension.count"] == len(reply.vectors[0])
    assert otel.attempts_of(call) == []


def test_a_retried_call_has_one_child_per_attempt_and_a_retry_event(
    server: LoopbackServer, otel: Otel
) -> None:
    server.script(
        Reply(
            429, openai_error("slow down", code="rate_limit_exceeded"), headers={"x-request-id": "req-429"}
        ),
        Reply(503, openai_error("busy", code=None), headers={"x-request-id": "req-503"}),
    )
    with traced_client(settings_for("openai", server, max_retries=3), otel) as client:
        client.chat(PROMPT)

    [call] = otel.calls()
    assert call.status.status_code is StatusCode.UNSET and "error.type" not in (call.attributes or {})
    attempts = sorted(otel.attempts_of(call), key=lambda span: span.start_time or 0)
    assert [dict(a.attributes or {}) for a in attempts] == [
        {
            "llmport.attempt": 1,
            "error.type": "RateLimitedError",
            "llmport.request_id": "req-429",
            "http.response.status_code": 429,
        },
        {
            "llmport.attempt": 2,
            "error.type": "ServiceUnavailableError",
            "llmport.request_id": "req-503",
            "http.response.status_code": 503,
        },
        {"llmport.attempt": 3},
    ]
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    events = [dict(e.attributes or {}) for e in call.events if e.name == "llmport.retry"]
    assert [(e["llmport.attempt"], e["error.type"], e["llmport.retry.reason"]) for e in events] == [
        (1, "RateLimitedError", "retryable"),
        (2, "ServiceUnavailableError", "retryable"),
    ]


def test_a_failed_call_records_the_error_type_on_the_span_and_the_metrics(
    server: LoopbackServer, otel: Otel
) -> None:
    server.script(Reply(400, openai_error("bad", code=None), headers={"x-request-id": "req-400"}))
    with traced_client(settings_for("openai", server), otel) as client, pytest.raises(BadRequestError):
        client.chat(PROMPT)

    [call] = otel.calls()
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "BadRequestError"  # the class, never the provider's words
    assert call.attributes is not None and call.attributes["error.type"] == "BadRequestError"
    assert call.attributes["llmport.request_id"] == "req-400"
    [point] = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "BadRequestError"
    assert otel.points("gen_ai.client.token.usage") == []


def test_metrics_follow_the_conventions(server: LoopbackServer, otel: Otel) -> None:
    with traced_client(settings_for("azure", server), otel) as client:
        reply = client.chat(PROMPT)
        client.chat(PROMPT)

    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 2
    assert dict(duration.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "azure.ai.openai",
        "gen_ai.request.model": CHAT_MODEL,
        "gen_ai.response.model": reply.model,
        "server.address": "127.0.0.1",
        "server.port": int(server.url.rsplit(":", 1)[1]),
    }
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == 2 * reply.usage.prompt_tokens
    assert tokens["output"].sum == 2 * reply.usage.completion_tokens


def test_a_stream_span_ends_with_the_stream_and_records_time_to_first_chunk(
    server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for("openai", server), otel) as client:
        chunks = client.stream(PROMPT)
        first = next(iter(chunks))
        assert otel.calls() == []  # still open while the caller reads
        text = first.text + "".join(chunk.text for chunk in chunks)

    assert text
    [call] = otel.calls()
    attrs = dict(call.attributes or {})
    assert attrs["gen_ai.request.stream"] is True
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] < 5
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert otel.attempts_of(call) == []
    assert len(otel.points("gen_ai.client.operation.time_to_first_chunk")) == 1


def test_an_abandoned_stream_ends_its_span_as_cancelled(server: LoopbackServer, otel: Otel) -> None:
    with traced_client(settings_for("openai", server), otel) as client:
        chunks = client.stream(PROMPT)
        next(iter(chunks))
        chunks.close()  # type: ignore[attr-defined]

    [call] = otel.calls()
    assert call.attributes is not None and call.attributes["llmport.stream.cancelled"] is True
    assert call.status.status_code is StatusCode.UNSET


def test_a_stream_that_breaks_ends_its_span_with_the_error(server: LoopbackServer, otel: Otel) -> None:
    server.script(Reply(events=chat_chunks(model=CHAT_MODEL), cut_after=2))
    with traced_client(settings_for("openai", server), otel) as client, pytest.raises(StreamInterruptedError):
        for _ in client.stream(PROMPT):
            pass

    [call] = otel.calls()
    assert call.status.status_code is StatusCode.ERROR
    assert call.attributes is not None and call.attributes["error.type"] == "StreamInterruptedError"
    assert "gen_ai.response.time_to_first_chunk" in call.attributes


def test_content_is_left_out_by_default(server: LoopbackServer, otel: Otel) -> None:
    with traced_client(settings_for("openai", server), otel) as client:
        client.chat(PROMPT)
        list(client.stream(PROMPT))

    for span in otel.calls():
        assert CONTENT_KEYS.isdisjoint(span.attributes or {})
    _no_secret_in(otel, PROMPT)


@pytest.mark.parametrize("how", ["env", "log_content"])
def test_content_is_recorded_when_the_user_opts_in(
    how: str, server: LoopbackServer, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "env":
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        settings = settings_for("openai", server)
    else:
        settings = settings_for("openai", server, log_content=True)
    from llmport.adapters.telemetry.otel import capture_content_from_env

    opted_in = settings.log_content or capture_content_from_env()
    assert opted_in
    with traced_client(settings, otel, capture_content=opted_in) as client:
        reply = client.chat(PROMPT)
        streamed = "".join(chunk.text for chunk in client.stream(PROMPT))

    for call, text in zip(otel.calls(), [reply.text, streamed], strict=True):
        attrs = dict(call.attributes or {})
        assert json.loads(str(attrs["gen_ai.input.messages"])) == [
            {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
        ]
        assert json.loads(str(attrs["gen_ai.output.messages"])) == [
            {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
        ]


def test_log_events_and_spans_carry_the_same_request_id_and_the_logs_name_the_trace(
    server: LoopbackServer, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmport")
    server.script(Reply(503, openai_error("busy", code=None), headers={"x-request-id": "req-503"}))
    with traced_client(settings_for("openai", server), otel) as client, capture_logs() as logs:
        reply = client.chat(PROMPT)

    [call] = otel.calls()
    trace_id = f"{call.context.trace_id:032x}"
    retry, done = [e for e in logs if e["event"] in ("llmport.retry", "llmport.call")]
    assert retry["trace_id"] == done["trace_id"] == trace_id
    assert done["span_id"] == f"{call.context.span_id:016x}"
    assert call.attributes is not None and call.attributes["llmport.request_id"] == done["request_id"]
    assert done["request_id"] == reply.request_id
    [event] = call.events
    assert event.attributes is not None and event.attributes["llmport.request_id"] == retry["request_id"]


def test_without_a_configured_tracer_provider_the_container_picks_the_no_op_port() -> None:
    container = Container(settings=settings_for_fake())
    assert isinstance(container.telemetry(), NoTelemetry)
    assert container.chat_service()._telemetry is None


def settings_for_fake() -> Any:
    from llmport.settings.model import Settings

    return Settings.from_dict({"provider": "fake", "chat_model": "m", "embedding_model": "e"})


def test_a_tracer_provider_set_by_the_application_is_found_by_the_container(server: LoopbackServer) -> None:
    code = textwrap.dedent(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        import llmport
        with llmport.from_dict({{"provider": "openai", "base_url": "{server.url}/v1",
                "api_key": "{server.api_key}", "chat_model": "m"}}) as client:
            client.chat("hi")
        print(sorted(span.name for span in exporter.get_finished_spans()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "['chat m']"
