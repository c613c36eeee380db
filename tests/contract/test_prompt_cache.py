"""The provider's own prompt cache (issue 21): ``prompt_cache_key`` reaches the request body on every
provider shape and API, chat and stream alike, and is absent from the body when unset; the cached
prompt tokens a reply reports reach ``client.usage`` (with their share) and the call's span.

Through the real container, openai SDK and HTTP, against the loopback server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from adapter_cases import CASES, AdapterCase
from dependency_injector import providers
from loopback import LoopbackServer
from otel_helpers import Otel, settings_for, traced_client

from llmport import Client, Settings, ValidationError, build_client
from llmport.testing import Container

KEY_CASES = [case for case in CASES if case.auth == "key"]  # one per shape: openai, azure, azure_v1


def _settings(server: LoopbackServer, case: AdapterCase) -> Settings:
    where: dict[str, Any] = {"provider": case.shape, "chat_model": "gpt-4o-mini", "api_key": server.api_key}
    if case.shape == "openai":
        where["base_url"] = f"{server.url}/v1"
    elif case.shape == "azure":
        where.update(endpoint=server.url, api_version="2025-04-01-preview")
    else:
        where["endpoint"] = f"{server.url}/openai/v1"
    return Settings(max_retries=0, **where)


@pytest.fixture(params=KEY_CASES, ids=lambda case: case.shape)
def client(request: pytest.FixtureRequest, server: LoopbackServer) -> Iterator[Client]:
    settings = _settings(server, request.param)
    container = Container(settings=settings)
    container.sleep.override(providers.Object(lambda _seconds: None))
    with build_client(settings, container) as built:
        yield built


def _call(client: Client, entry: str, api: str, **options: Any) -> None:
    if entry == "chat":
        client.chat("Summarise the handbook.", api=api, **options)  # type: ignore[arg-type]
    else:
        chunks = list(client.stream("Summarise the handbook.", api=api, **options))  # type: ignore[arg-type]
        assert chunks[-1].usage is not None


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("entry", ["chat", "stream"])
def test_prompt_cache_key_reaches_the_body_and_unset_is_absent(
    client: Client, server: LoopbackServer, entry: str, api: str
) -> None:
    _call(client, entry, api, prompt_cache_key="handbook-v3")
    _call(client, entry, api)

    with_key, without = (request.body for request in server.requests)
    assert [request.op for request in server.requests] == [
        "chat/completions" if api == "chat" else "responses"
    ] * 2
    assert with_key["prompt_cache_key"] == "handbook-v3"
    assert "prompt_cache_key" not in without
    assert with_key.get("stream", False) is (entry == "stream")


@pytest.mark.parametrize("bad", ["", "   ", "tenant\n7", "a\x00b", "x\x7f", "nel\x85", 42, b"key"])
def test_a_malformed_prompt_cache_key_is_refused_before_sending(
    client: Client, server: LoopbackServer, bad: object
) -> None:
    with pytest.raises(ValidationError, match="prompt_cache_key"):
        client.chat("hi", prompt_cache_key=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="prompt_cache_key"):
        client.stream("hi", prompt_cache_key=bad)  # type: ignore[arg-type]
    assert server.requests == []


def test_a_prompt_cache_key_in_any_script_is_sent_as_given(client: Client, server: LoopbackServer) -> None:
    client.chat("hi", prompt_cache_key="mandant-ä/faq v2 · 東京")
    assert server.last.body["prompt_cache_key"] == "mandant-ä/faq v2 · 東京"


def test_prompt_cache_key_in_extra_beside_the_typed_keyword_is_refused(client: Client) -> None:
    with pytest.raises(ValidationError, match="keep prompt_cache_key= only"):
        client.chat("hi", prompt_cache_key="a", extra={"prompt_cache_key": "b"})


def test_a_with_options_view_takes_prompt_cache_key_on_its_calls(
    client: Client, server: LoopbackServer
) -> None:
    view = client.with_options(timeout=30)
    view.chat("hi", prompt_cache_key="view-key")
    list(view.stream("hi", prompt_cache_key="view-key"))
    assert [request.body["prompt_cache_key"] for request in server.requests] == ["view-key"] * 2


def test_a_routed_client_sends_prompt_cache_key_to_the_deployment_it_picks(server: LoopbackServer) -> None:
    entries = [
        {
            "name": "v1",
            "provider": "azure_v1",
            "endpoint": f"{server.url}/openai/v1",
            "api_key": server.api_key,
        },
        {
            "name": "classic",
            "provider": "azure",
            "endpoint": server.url,
            "api_version": "2025-04-01-preview",
            "api_key": server.api_key,
            "priority": 1,
        },
    ]
    settings = Settings.from_dict({"chat_model": "gpt-4o-mini", "max_retries": 0, "deployments": entries})
    with build_client(settings) as client:
        client.chat("hi", prompt_cache_key="routed", api="responses")
        list(client.stream("hi", prompt_cache_key="routed"))
    assert [(request.shape, request.body["prompt_cache_key"]) for request in server.requests] == [
        ("azure_v1", "routed"),
        ("azure_v1", "routed"),
    ]


# -- the cached prompt tokens a reply reports: in client.usage (count and share) and in the span ----

SHAPES = ["openai", "azure", "azure_v1"]


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("shape", SHAPES)
def test_cached_prompt_tokens_reach_usage_its_share_and_the_spans(
    shape: str, api: str, server: LoopbackServer
) -> None:
    # The loopback's replies report 12 prompt tokens of which 4 were read from the prompt cache
    # (prompt_tokens_details.cached_tokens on chat.completions, input_tokens_details on Responses).
    otel = Otel()
    with traced_client(settings_for(shape, server, api=api), otel) as client:
        reply = client.chat("hi", prompt_cache_key="k")
        folded = list(client.stream("hi", prompt_cache_key="k"))[-1]
        usage = client.usage

    assert reply.usage.cached_tokens == 4 and folded.usage is not None and folded.usage.cached_tokens == 4
    assert (usage.calls, usage.prompt_tokens, usage.cached_tokens) == (2, 24, 8)
    assert usage.cached_share == pytest.approx(8 / 24)
    shown = usage.as_dict()
    assert shown["cached_share"] == pytest.approx(1 / 3)
    assert [totals["cached_share"] for totals in shown["by_deployment"].values()] == [pytest.approx(1 / 3)]
    assert [totals["cached_share"] for totals in shown["by_model"].values()] == [pytest.approx(1 / 3)]
    spans = otel.calls()
    assert len(spans) == 2
    for span in spans:
        attributes = dict(span.attributes or {})
        assert attributes["gen_ai.usage.input_tokens"] == 12
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == 4
