"""Every adapter against @copilotkit/aimock: an implementation of the wire protocol none of us wrote.

aimock's ``llmock`` serves OpenAI (``/v1``), Azure classic (``/openai/deployments/...``) and
Azure v1 (``/openai/v1``) on 127.0.0.1 from a fixture file, and checks inbound keys when
AIMOCK_API_KEYS is set. CI installs it with
``bash .ci/servers`` (pinned); without the binary these tests skip and say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aimock_server import running_aimock

from llmport.domain.conversations import fold_stream
from llmport.domain.errors import AuthenticationError, RateLimitedError
from llmport.domain.models import ChatRequest, EmbeddingRequest, Message, ToolSpec

KEY, TOKEN = "aimock-key", "aimock-token"
DEPLOYMENT = "gpt-4o-mini"
FIXTURES = {
    "fixtures": [
        {"match": {"userMessage": "say hello"}, "response": {"content": "Hello from aimock"}},
        {
            "match": {"userMessage": "overloaded"},
            "response": {
                "status": 429,
                "error": {
                    "message": "Rate limit exceeded.",
                    "type": "rate_limit_error",
                    "code": "rate_limit_exceeded",
                },
            },
        },
        {
            "match": {"toolName": "get_weather"},
            "response": {"toolCalls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        },
        {"match": {"inputText": "alpha"}, "response": {"embedding": [0.25, -0.5, 0.75]}},
    ]
}


@pytest.fixture(scope="module")
def aimock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_aimock(FIXTURES["fixtures"], tmp_path_factory.mktemp("aimock"), (KEY, TOKEN)) as url:
        yield url


def _openai(url: str, key: str, **options: Any) -> Any:
    from llmport.adapters.llm.openai import OpenAIAdapter

    return OpenAIAdapter(api_key=key, base_url=f"{url}/v1", **options)


def _azure(url: str, key: str, **options: Any) -> Any:
    from llmport.adapters.llm.azure import AzureClassicAdapter

    return AzureClassicAdapter(endpoint=url, api_version="2024-10-21", api_key=key, **options)


def _azure_token(url: str, key: str, **options: Any) -> Any:
    from llmport.adapters.llm.azure import AzureClassicAdapter

    return AzureClassicAdapter(endpoint=url, api_version="2024-10-21", token_provider=lambda: key, **options)


def _azure_v1(url: str, key: str, **options: Any) -> Any:
    from llmport.adapters.llm.azure import AzureV1Adapter

    return AzureV1Adapter(endpoint=url, api_key=key, **options)


def _azure_v1_token(url: str, key: str, **options: Any) -> Any:
    from llmport.adapters.llm.azure import AzureV1Adapter

    return AzureV1Adapter(endpoint=url, token_provider=lambda: key, **options)


BUILDERS: dict[str, tuple[Callable[..., Any], str]] = {
    "openai": (_openai, KEY),
    "azure-key": (_azure, KEY),
    "azure-token": (_azure_token, TOKEN),
    "azure_v1-key": (_azure_v1, KEY),
    "azure_v1-token": (_azure_v1_token, TOKEN),
}


@pytest.fixture(params=sorted(BUILDERS))
def make(request: pytest.FixtureRequest, aimock: str) -> Iterator[Callable[..., Any]]:
    build, credential = BUILDERS[request.param]
    built: list[Any] = []

    def make_adapter(**options: Any) -> Any:
        adapter = build(aimock, options.pop("credential", credential), **options)
        built.append(adapter)
        return adapter

    yield make_adapter
    for adapter in built:
        adapter.close()


def ask(text: str, **options: Any) -> ChatRequest:
    return ChatRequest((Message.user(text),), model=DEPLOYMENT, **options)


def test_complete_reads_aimocks_reply_and_usage(make: Callable[..., Any]) -> None:
    reply = make().complete(ask("please say hello"))

    assert reply.text == "Hello from aimock"
    assert reply.finish_reason == "stop"
    assert reply.usage.total_tokens > 0


def test_stream_folds_to_aimocks_reply_with_usage_last(make: Callable[..., Any]) -> None:
    chunks = list(make().stream(ask("please say hello")))

    assert fold_stream(chunks).text == "Hello from aimock"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_tool_calls_come_back_whole_from_complete_and_from_a_stream(make: Callable[..., Any]) -> None:
    adapter = make()
    request = ask("weather in Oslo?", tools=(ToolSpec("get_weather"),))

    whole = adapter.complete(request).tool_calls
    streamed = fold_stream(adapter.stream(request)).tool_calls

    for calls in (whole, streamed):
        assert [c.name for c in calls] == ["get_weather"]
        assert json.loads(calls[0].arguments) == {"city": "Oslo"}
        assert calls[0].id


def test_embeddings_come_back_as_floats(make: Callable[..., Any]) -> None:
    reply = make().embed(EmbeddingRequest(("alpha",), model="text-embedding-3-small"))

    assert [list(v) for v in reply.vectors] == [[0.25, -0.5, 0.75]]


def test_an_error_fixture_becomes_rate_limited(make: Callable[..., Any]) -> None:
    with pytest.raises(RateLimitedError) as caught:
        make().complete(ask("we are overloaded"))

    assert caught.value.status_code == 429 and caught.value.retryable


def test_aimock_refuses_a_wrong_key_as_authentication_error(make: Callable[..., Any]) -> None:
    with pytest.raises(AuthenticationError) as caught:
        make(credential="not-the-key").complete(ask("please say hello"))

    assert caught.value.status_code == 401
    assert "not-the-key" not in str(caught.value)


def test_the_responses_api_reads_aimocks_reply(make: Callable[..., Any]) -> None:
    adapter = make(api="responses")

    assert adapter.complete(ask("please say hello")).text == "Hello from aimock"
    assert fold_stream(adapter.stream(ask("please say hello"))).text == "Hello from aimock"
