"""max_tokens reaches every server as the raw SDK sends it; a refusal switches once (issue 19, 6)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import openai
import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer, RecordedRequest, Reply
from wire_samples import chat_chunks, chat_completion, openai_error

from llmport import BadRequestError, Settings, build_client
from llmport.domain.models import ChatRequest, Message

UNBOUNDED = 4085  # what Microsoft's simulator returned when it ignored max_completion_tokens
# OpenAI's (and Azure's) 400 for max_tokens on a reasoning model.
REFUSAL = openai_error(
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead.",
    code="unsupported_parameter",
    param="max_tokens",
)


def ask(max_tokens: int | None = 10, model: str = MODEL) -> ChatRequest:
    return ChatRequest((Message.user("hi"),), model=model, max_tokens=max_tokens)


def _simulator(index: int, request: RecordedRequest) -> Reply:
    """Like the Azure OpenAI API simulator: honours max_tokens, ignores max_completion_tokens."""
    body = request.body
    limit = body.get("max_tokens") or UNBOUNDED
    reply = chat_completion("x " * 3, model=str(body["model"]), azure=request.shape != "openai")
    reply["usage"] = {"prompt_tokens": 5, "completion_tokens": limit, "total_tokens": 5 + limit}
    return Reply(body=reply)


def _reasoning_model(index: int, request: RecordedRequest) -> Reply | None:
    """Like o1/o3/gpt-5 on OpenAI and Azure: refuses max_tokens, takes max_completion_tokens."""
    if "max_tokens" in request.body:
        return Reply(400, REFUSAL, headers={"x-request-id": f"req_refused{index}"})
    return None


def _raw_sdk(server: LoopbackServer, shape: str) -> openai.OpenAI:
    if shape == "openai":
        return openai.OpenAI(api_key=server.api_key, base_url=f"{server.url}/v1", max_retries=0)
    if shape == "azure":
        return openai.AzureOpenAI(
            api_key=server.api_key, azure_endpoint=server.url, api_version="2024-10-21", max_retries=0
        )
    return openai.OpenAI(api_key=server.api_key, base_url=f"{server.url}/openai/v1/", max_retries=0)


def test_the_field_and_value_are_the_raw_sdks_on_every_shape(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    with _raw_sdk(server, case.shape) as raw:
        raw.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=10)
    make_adapter().complete(ask(10))
    list(make_adapter().stream(ask(10)))

    sdk, ours, streamed = (request.body for request in server.requests)
    fields = {"max_tokens", "max_completion_tokens"}
    assert {k: sdk[k] for k in fields & set(sdk)} == {"max_tokens": 10}
    assert {k: ours[k] for k in fields & set(ours)} == {"max_tokens": 10}
    assert {k: streamed[k] for k in fields & set(streamed)} == {"max_tokens": 10}


def test_azure_classic_at_2024_10_21_gets_a_limit_a_simulator_honours(server: LoopbackServer) -> None:
    server.respond_with(_simulator)
    settings = Settings(
        provider="azure",
        endpoint=server.url,
        api_version="2024-10-21",
        api_key=server.api_key,
        chat_model=MODEL,
    )
    with build_client(settings) as client:
        reply = client.chat("hi", max_tokens=10)
    assert reply.usage.completion_tokens == 10


def test_a_refused_max_tokens_switches_once_is_remembered_and_logged_once(
    make_adapter: Any, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.respond_with(_reasoning_model)
    adapter = make_adapter()
    with caplog.at_level(logging.INFO, logger="llmport.adapters"):
        first = adapter.complete(ask(10))
        adapter.complete(ask(20))
        chunks = list(adapter.stream(ask(30)))

    sent = [request.body for request in server.requests]
    assert [("max_tokens" in body, body.get("max_completion_tokens")) for body in sent] == [
        (True, None),  # refused
        (False, 10),  # once more, switched
        (False, 20),  # remembered
        (False, 30),  # remembered by the stream too
    ]
    assert first.text and chunks
    switches = [r for r in caplog.records if "refused max_tokens" in r.getMessage()]
    assert len(switches) == 1
    assert MODEL in switches[0].getMessage() and "max_tokens_field" in switches[0].getMessage()


def test_the_memory_is_per_deployment(make_adapter: Any, server: LoopbackServer) -> None:
    server.respond_with(lambda i, req: _reasoning_model(i, req) if req.body["model"] == "o3" else None)
    adapter, other = make_adapter(), make_adapter()
    adapter.complete(ask(10, model="o3"))
    adapter.complete(ask(10, model="gpt-4o"))  # another deployment of the same resource
    other.complete(ask(10, model="o3"))  # another adapter: learns for itself

    sent = [(request.body["model"], "max_tokens" in request.body) for request in server.requests]
    assert sent == [("o3", True), ("o3", False), ("gpt-4o", True), ("o3", True), ("o3", False)]


def test_a_refused_stream_switches_too(make_adapter: Any, server: LoopbackServer) -> None:
    server.respond_with(
        lambda index, request: (
            _reasoning_model(index, request)
            or Reply(events=chat_chunks(model=MODEL, azure=request.shape != "openai"))
        )
    )
    chunks = list(make_adapter().stream(ask(10)))
    assert chunks
    assert [request.body.get("max_completion_tokens") for request in server.requests] == [None, 10]


def test_threads_meeting_the_refusal_together_all_succeed_and_it_is_logged_once(
    make_adapter: Any, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.respond_with(_reasoning_model)
    adapter = make_adapter()
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def call() -> None:
        start.wait(timeout=10)
        try:
            adapter.complete(ask(10))
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    with caplog.at_level(logging.INFO, logger="llmport.adapters"):
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        adapter.complete(ask(10))

    assert failures == []
    assert 9 <= server.count <= 17  # each thread refused at most once; the last call never
    assert "max_tokens" not in server.last.body
    assert sum("refused max_tokens" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_field_the_deployment_sets_is_sent_as_set_and_a_refusal_is_the_callers(
    make_adapter: Any, server: LoopbackServer, field: str
) -> None:
    server.respond_with(lambda index, request: Reply(400, REFUSAL) if "max_tokens" in request.body else None)
    adapter = make_adapter(max_tokens_field=field)
    if field == "max_tokens":
        with pytest.raises(BadRequestError, match="max_completion_tokens"):
            adapter.complete(ask(10))
        assert server.count == 1
    else:
        adapter.complete(ask(10))
        assert server.last.body["max_completion_tokens"] == 10


def test_another_400_naming_max_tokens_is_not_a_refusal_of_the_field(
    make_adapter: Any, server: LoopbackServer
) -> None:
    too_large = openai_error(
        "max_tokens is too large: 100000. This model supports at most 16384 completion tokens.",
        code=None,
        param="max_tokens",
    )
    server.script(Reply(400, too_large))
    with pytest.raises(BadRequestError, match="too large"):
        make_adapter().complete(ask(100_000))
    assert server.count == 1


def test_the_responses_api_keeps_max_output_tokens(make_adapter: Any, server: LoopbackServer) -> None:
    make_adapter(api="responses").complete(ask(10))
    body = server.last.body
    assert body["max_output_tokens"] == 10
    assert not {"max_tokens", "max_completion_tokens"} & set(body)
