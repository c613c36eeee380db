"""The reply cache on the call spans: ``llmport.cache`` says hit or miss; a hit spends no tokens."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import LoopbackServer  # the path is set above
from opentelemetry.sdk.trace import ReadableSpan
from otel_helpers import Otel, settings_for, traced_client

PROMPT = "Which colour is the sky?"
USAGE_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


@pytest.fixture
def otel() -> Otel:
    return Otel()


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _input_token_points(otel: Otel) -> list[Any]:
    return [
        p for p in otel.points("gen_ai.client.token.usage") if p.attributes["gen_ai.token.type"] == "input"
    ]


@pytest.mark.parametrize("shape", ["openai", "azure", "azure_v1"])
def test_a_chat_miss_then_hit_are_two_spans_marked_miss_and_hit(
    shape: str, server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for(shape, server, cache="memory"), otel) as client:
        sent = client.chat(PROMPT)
        again = client.chat(PROMPT)

    assert server.count == 1 and again.cache_hit and not sent.cache_hit
    miss, hit = otel.calls()
    assert _attrs(miss)["llmport.cache"] == "miss"
    assert _attrs(miss)["gen_ai.usage.input_tokens"] == sent.usage.prompt_tokens
    assert _attrs(hit)["llmport.cache"] == "hit"
    assert _attrs(hit)["gen_ai.response.id"] == sent.id
    assert _attrs(hit)["gen_ai.response.finish_reasons"] == ("stop",)
    assert not any(key in _attrs(hit) for key in USAGE_KEYS)  # a hit spent no tokens
    assert otel.attempts_of(hit) == []
    # The token histogram counts what was spent: the miss's prompt only.
    [point] = _input_token_points(otel)
    assert point.count == 1 and point.sum == sent.usage.prompt_tokens


def test_a_stream_hit_replays_under_a_hit_span_and_an_abandoned_replay_is_cancelled(
    server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for("openai", server, cache="memory"), otel) as client:
        first = "".join(chunk.text for chunk in client.stream(PROMPT))
        again = "".join(chunk.text for chunk in client.stream(PROMPT))
        replay = client.stream(PROMPT)
        next(iter(replay))
        replay.close()  # type: ignore[attr-defined]

    assert server.count == 1 and again == first
    miss, hit, left = otel.calls()
    assert _attrs(miss)["llmport.cache"] == "miss" and _attrs(miss)["gen_ai.request.stream"] is True
    assert _attrs(hit)["llmport.cache"] == "hit" and _attrs(hit)["gen_ai.request.stream"] is True
    assert _attrs(hit)["gen_ai.response.finish_reasons"] == ("stop",)
    assert "llmport.stream.cancelled" not in _attrs(hit)
    assert not any(key in _attrs(hit) for key in USAGE_KEYS)
    assert _attrs(left)["llmport.cache"] == "hit" and _attrs(left)["llmport.stream.cancelled"] is True


def test_embeddings_all_from_the_cache_are_a_hit_span_and_a_partial_one_a_miss(
    server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for("openai", server, cache="memory"), otel) as client:
        client.embed(["green", "blue"])
        whole = client.embed(["green", "blue"])
        client.embed(["green", "red"])

    assert whole.cache_hits == 2 and server.count == 2
    first, hit, partial = otel.calls()
    assert _attrs(first)["llmport.cache"] == "miss"
    assert _attrs(hit)["llmport.cache"] == "hit"
    assert "gen_ai.usage.input_tokens" not in _attrs(hit)
    assert _attrs(partial)["llmport.cache"] == "miss"


def test_with_the_cache_off_or_skipped_a_span_has_no_cache_attribute(
    server: LoopbackServer, otel: Otel
) -> None:
    with traced_client(settings_for("openai", server), otel) as client:
        client.chat(PROMPT)
    with traced_client(settings_for("openai", server, cache="memory"), otel) as client:
        client.chat(PROMPT, cache=False)
        list(client.stream(PROMPT, cache=False))

    assert len(otel.calls()) == 3
    assert all("llmport.cache" not in _attrs(span) for span in otel.calls())
