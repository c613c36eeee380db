"""The usage ledger, the price rule and a reply's cost, on the fakes."""

from __future__ import annotations

import math

import pytest

from llmport.adapters.fakes import FakeChat, FakeEmbeddings, FakeStreamBreak
from llmport.domain.errors import ServiceUnavailableError, StreamInterruptedError, ValidationError
from llmport.domain.models import ChatResponse, EmbeddingResponse, Message, Usage
from llmport.domain.usage import ModelPrice
from llmport.services.usage import Pricing, UsageLedger
from llmport.testing import fake_client

GPT4O = {"input": 2.5, "cached_input": 1.25, "output": 10.0}
MINI = {"input": 0.15, "output": 0.6}


def _reply(model: str, usage: Usage) -> ChatResponse:
    return ChatResponse(Message.assistant("ok"), "stop", usage, model=model)


def test_a_cost_splits_cached_from_uncached_prompt_tokens_and_bills_reasoning_as_output() -> None:
    cost = ModelPrice(**GPT4O).cost(Usage(1000, 200, 1200, cached_tokens=400, reasoning_tokens=50), "gpt-4o")

    assert cost.input == pytest.approx(600 * 2.5 / 1e6)
    assert cost.cached_input == pytest.approx(400 * 1.25 / 1e6)
    assert cost.output == pytest.approx(200 * 10.0 / 1e6)  # completion tokens include the reasoning ones
    assert cost.total == pytest.approx(cost.input + cost.cached_input + cost.output)
    assert cost.model == "gpt-4o"


def test_without_a_cached_price_cached_tokens_cost_the_input_price() -> None:
    cost = ModelPrice(input=1.0).cost(Usage(100, 0, 100, cached_tokens=40), "m")
    assert (cost.input, cost.cached_input, cost.output) == pytest.approx((60e-6, 40e-6, 0.0))


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, True, "2.5", None])
def test_a_price_must_be_a_finite_number_of_zero_or_more(bad: object) -> None:
    with pytest.raises(ValidationError, match="input"):
        ModelPrice(input=bad)  # type: ignore[arg-type]


def test_the_price_rule_mapping_first_then_the_reply_model_then_the_request_model() -> None:
    pricing = Pricing(
        {"gpt-4o": ModelPrice(**GPT4O), "gpt-4o-mini": ModelPrice(**MINI)},
        {"prod-chat": "gpt-4o", "cheap": "gpt-4o-mini"},
    )
    # Azure names the base model in the reply whatever the deployment: the mapping wins over it.
    assert pricing.model_for("cheap", "gpt-4o-2024-08-06")[0] == "gpt-4o-mini"
    assert pricing.model_for("prod-chat", "gpt-4o-mini")[0] == "gpt-4o"
    # Unmapped: the reply's model when it has a price, else the request's, else no price.
    assert pricing.model_for("gpt-4o", "gpt-4o-mini")[0] == "gpt-4o-mini"
    assert pricing.model_for("gpt-4o", "gpt-4o-2024-08-06")[0] == "gpt-4o"
    assert pricing.model_for("other", "other-2024") == ("other-2024", None)


def test_a_reply_carries_its_cost_and_the_client_its_running_total() -> None:
    chat = FakeChat(
        _reply("gpt-4o-2024-08-06", Usage(1000, 100, 1100, cached_tokens=200)),
        _reply("gpt-4o-2024-08-06", Usage(10, 5, 15)),
    )
    client = fake_client(
        chat,
        chat_model="prod-chat",
        prices={"gpt-4o": GPT4O, "gpt-4o-mini": MINI},
        deployment_models={"prod-chat": "gpt-4o", "cheap": "gpt-4o-mini"},
    )
    first = client.chat("hi")
    second = client.chat("hi", model="cheap")

    assert first.cost is not None and first.cost.model == "gpt-4o"
    assert first.cost.total == pytest.approx((800 * 2.5 + 200 * 1.25 + 100 * 10) / 1e6)
    assert second.cost is not None and second.cost.model == "gpt-4o-mini"
    usage = client.usage
    assert usage.calls == 2 and usage.prompt_tokens == 1010 and usage.cached_tokens == 200
    assert usage.cost == pytest.approx(first.cost.total + second.cost.total)
    assert set(usage.by_deployment) == {"prod-chat", "cheap"}
    assert set(usage.by_model) == {"gpt-4o", "gpt-4o-mini"}
    assert usage.by_model["gpt-4o"].usage == Usage(1000, 100, 1100, cached_tokens=200)


def test_without_prices_nothing_is_priced_and_models_are_the_replies() -> None:
    client = fake_client(FakeChat(_reply("gpt-4o-2024-08-06", Usage(3, 2, 5))), chat_model="prod-chat")
    reply = client.chat("hi")
    assert reply.cost is None
    usage = client.usage
    assert (usage.cost, usage.unpriced_calls) == (None, 1)
    assert list(usage.by_model) == ["gpt-4o-2024-08-06"] and list(usage.by_deployment) == ["prod-chat"]


def test_a_model_without_a_price_is_counted_as_unpriced() -> None:
    client = fake_client(prices={"gpt-4o": GPT4O})
    assert client.chat("hi").cost is None
    assert client.usage.unpriced_calls == 1 and client.usage.cost is None


def test_a_view_adds_to_its_clients_totals_and_reset_returns_what_it_cleared() -> None:
    client = fake_client(prices={"fake-chat": MINI})
    view = client.with_options(max_retries=0)
    client.chat("one two")
    view.chat("three")

    assert view.usage == client.usage and client.usage.calls == 2
    cleared = view.reset_usage()
    assert cleared.calls == 2 and cleared.cost is not None
    assert client.usage.calls == 0 and client.usage.cost is None and not client.usage.by_model


def test_stream_is_recorded_when_it_ends_with_the_cost_on_the_usage_chunk() -> None:
    client = fake_client(prices={"fake-chat": MINI})
    chunks = list(client.stream("tell me a story"))
    last = chunks[-1]

    assert last.usage is not None and last.cost is not None
    assert all(chunk.cost is None for chunk in chunks[:-1])
    assert client.usage.usage == last.usage and client.usage.cost == pytest.approx(last.cost.total)


def test_stream_stopped_early_counts_only_when_its_usage_arrived() -> None:
    client = fake_client()
    stream = client.stream("tell me a long story")
    next(stream)
    stream.close()  # stopped before the last chunk: no usage, nothing counted
    assert client.usage.calls == 0

    chunks = client.stream("tell me a long story")
    for chunk in chunks:
        if chunk.usage is not None:
            break  # the consumer leaves right after the usage chunk
    chunks.close()  # type: ignore[attr-defined]
    assert client.usage.calls == 1 and client.usage.prompt_tokens > 0


def test_a_failed_call_is_not_counted() -> None:
    chat = FakeChat(ServiceUnavailableError("down"), FakeStreamBreak(after=1))
    client = fake_client(chat, max_retries=0)
    with pytest.raises(ServiceUnavailableError):
        client.chat("hi")
    with pytest.raises(StreamInterruptedError):
        list(client.stream("hi"))
    assert client.usage.calls == 0


def test_embeddings_in_several_batches_count_as_one_call_with_the_summed_usage() -> None:
    embeddings = FakeEmbeddings()
    client = fake_client(
        embeddings=embeddings, embedding_batch_size=2, prices={"fake-embedding": {"input": 0.02}}
    )
    response = client.embed(["a", "b c", "d", "e f g", "h"])

    assert len(embeddings.requests) == 3
    assert response.usage.prompt_tokens == 1 + 2 + 1 + 3 + 1
    assert response.cost is not None and response.cost.total == pytest.approx(8 * 0.02 / 1e6)
    assert client.usage.calls == 1 and client.usage.prompt_tokens == 8


def test_the_ledger_reports_per_model_and_per_deployment() -> None:
    ledger = UsageLedger()
    ledger.record("d1", "m", Usage(1, 2, 3, 0, 1), None)
    ledger.record("d2", "m", Usage(4, 5, 9, 2, 0), ModelPrice(1.0).cost(Usage(4, 5, 9, 2), "m"))
    ledger.record("d2", "n", None, None)

    report = ledger.report()
    assert (report.calls, report.prompt_tokens, report.total_tokens, report.unpriced_calls) == (3, 5, 12, 2)
    assert report.by_model["m"].calls == 2 and report.by_model["n"].usage == Usage()
    assert report.by_deployment["d2"].calls == 2 and report.by_deployment["d2"].cost == pytest.approx(4e-6)
    assert report.as_dict()["by_deployment"]["d1"]["reasoning_tokens"] == 1


def test_the_cached_share_is_cached_over_prompt_tokens_per_model_and_deployment() -> None:
    ledger = UsageLedger()
    assert ledger.report().cached_share == 0.0  # no prompt tokens yet: no share, not a ZeroDivisionError
    ledger.record("d1", "m", Usage(1000, 10, 1010, cached_tokens=768), None)
    ledger.record("d2", "m", Usage(1000, 10, 1010, cached_tokens=0), None)
    ledger.record("d3", "e", Usage(0, 0, 0), None)

    report = ledger.report()
    assert report.cached_share == pytest.approx(768 / 2000)
    assert report.by_deployment["d1"].cached_share == pytest.approx(0.768)
    assert report.by_deployment["d2"].cached_share == 0.0
    assert report.by_deployment["d3"].cached_share == 0.0
    assert report.by_model["m"].cached_share == pytest.approx(0.384)
    shown = report.as_dict()
    assert shown["cached_share"] == pytest.approx(0.384)
    assert shown["by_deployment"]["d1"]["cached_share"] == pytest.approx(0.768)
    assert shown["by_model"]["e"]["cached_share"] == 0.0


def test_an_embedding_reply_keeps_its_fields_when_priced() -> None:
    scripted = EmbeddingResponse([[1.0]], Usage(3, 0, 3), model="text-embedding-3-small", request_id="r1")
    client = fake_client(
        embeddings=FakeEmbeddings(scripted), prices={"text-embedding-3-small": {"input": 0.02}}
    )
    response = client.embed("x")
    assert response.request_id == "r1" and response.vectors == [[1.0]]
    assert response.cost is not None and response.cost.model == "text-embedding-3-small"
