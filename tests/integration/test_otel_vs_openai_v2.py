"""llmport's spans and metrics agree with opentelemetry-instrumentation-openai-v2 on the raw SDK.

The same calls (chat, a streamed chat, embeddings) go to the same loopback server twice: once
through ``openai`` with ``OpenAIInstrumentor`` (latest experimental GenAI conventions), once through
llmport. Every attribute the instrumentation records, llmport records with the same value; what
llmport adds is listed here with its reason, and so is the one deliberate difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from loopback import LoopbackServer  # the path is set above
from otel_helpers import CHAT_MODEL, EMBEDDING_MODEL, Otel, settings_for, traced_client

pytest.importorskip("opentelemetry.instrumentation.openai_v2")

PROMPT = "When was Microsoft founded?"

#: What llmport records and the instrumentation does not, and why.
LLMPORT_ADDS = {
    # openai 3 keeps base_url as an httpx2.URL, which the instrumentation (it checks for httpx.URL)
    # does not read: it leaves both out. The conventions want them.
    "server.address",
    "server.port",
    "llmport.request_id",  # the provider's x-request-id: the key that joins spans to log events
    "gen_ai.request.stream",  # streams only
    "gen_ai.response.time_to_first_chunk",  # streams only
    "gen_ai.usage.cache_read.input_tokens",  # the loopback reports cached and reasoning tokens
    "gen_ai.usage.reasoning.output_tokens",
    # The instrumentation leaves a stream's finish reasons out; a complete() call records them.
    "gen_ai.response.finish_reasons",
}
#: Attributes the instrumentation puts on metric points that llmport keeps to spans (cardinality).
METRIC_SPAN_ONLY = {"openai.response.system_fingerprint"}


def _raw_sdk(shape: str, server: LoopbackServer) -> Any:
    import openai

    if shape == "openai":
        return openai.OpenAI(api_key=server.api_key, base_url=f"{server.url}/v1", max_retries=0)
    return openai.AzureOpenAI(
        api_key=server.api_key, azure_endpoint=server.url, api_version="2024-10-21", max_retries=0
    )


def _instrumented(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    return instrumentor.uninstrument  # type: ignore[no-any-return]


def _raw_calls(shape: str, server: LoopbackServer) -> None:
    sdk = _raw_sdk(shape, server)
    messages: Any = [{"role": "user", "content": PROMPT}]
    sdk.chat.completions.create(model=CHAT_MODEL, messages=messages)
    list(
        sdk.chat.completions.create(
            model=CHAT_MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    sdk.embeddings.create(model=EMBEDDING_MODEL, input=["a", "b"])
    sdk.close()


def _llmport_calls(shape: str, server: LoopbackServer, otel: Otel) -> None:
    with traced_client(settings_for(shape, server), otel) as client:
        client.chat(PROMPT)
        list(client.stream(PROMPT))
        client.embed(["a", "b"])


@pytest.mark.parametrize("shape", ["openai", "azure"])
def test_llmport_records_every_attribute_the_instrumentation_records_with_the_same_values(
    shape: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs, ours = Otel(), Otel()
    undo = _instrumented(theirs, monkeypatch)
    try:
        _raw_calls(shape, server)
    finally:
        undo()
    _llmport_calls(shape, server, ours)

    their_spans, our_spans = theirs.finished(), ours.calls()
    assert (
        [s.name for s in their_spans]
        == [s.name for s in our_spans]
        == [
            f"chat {CHAT_MODEL}",
            f"chat {CHAT_MODEL}",
            f"embeddings {EMBEDDING_MODEL}",
        ]
    )
    for their, our in zip(their_spans, our_spans, strict=True):
        assert their.kind == our.kind
        their_attrs, our_attrs = dict(their.attributes or {}), dict(our.attributes or {})
        if shape == "azure":
            # The one deliberate difference: the conventions name Azure OpenAI "azure.ai.openai";
            # the instrumentation says "openai" whatever the endpoint.
            assert their_attrs.pop("gen_ai.provider.name") == "openai"
            assert our_attrs.pop("gen_ai.provider.name") == "azure.ai.openai"
        shared = {k: v for k, v in our_attrs.items() if k in their_attrs}
        assert shared == their_attrs, f"{our.name}: llmport differs from the instrumentation"
        assert set(our_attrs) - set(their_attrs) <= LLMPORT_ADDS

    for name in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage"):
        their_points = {_metric_key(p.attributes, shape) for p in theirs.points(name)}
        our_points = {_metric_key(p.attributes, shape) for p in ours.points(name)}
        assert their_points and their_points == our_points, name


def _metric_key(attributes: Any, shape: str) -> frozenset[tuple[str, Any]]:
    attrs = dict(attributes)
    # The instrumentation's embeddings metrics still say gen_ai.system (its chat ones moved on).
    if "gen_ai.system" in attrs:
        attrs["gen_ai.provider.name"] = attrs.pop("gen_ai.system")
    for key in (*METRIC_SPAN_ONLY, "server.address", "server.port"):
        attrs.pop(key, None)
    if shape == "azure":  # the one deliberate difference, as on the spans
        attrs.pop("gen_ai.provider.name")
    return frozenset(attrs.items())
