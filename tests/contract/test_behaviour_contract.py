"""Contract: what any ChatPort / EmbeddingPort must do, checked on the real adapters and the fakes.

The real adapters run against the loopback server; FakeChat / FakeEmbeddings run in memory.
Each subject says how to script a reply in its own terms; the assertions are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from adapter_cases import CASES, MODEL
from loopback import LoopbackServer, Reply
from wire_samples import azure_error, chat_chunks, chat_completion, vector_for

from llmport.domain.conversations import fold_stream
from llmport.domain.errors import RateLimitedError, StreamInterruptedError
from llmport.domain.models import ChatRequest, EmbeddingRequest, Message, ToolCall, ToolSpec
from llmport.domain.ports import ChatPort, EmbeddingPort

REQUEST = ChatRequest((Message.user("ping"),), model=MODEL)
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')


@dataclass
class Subject:
    """An implementation under test and how to script it."""

    chat: Any
    embeddings: Any
    sent: Callable[[], int]  # how many requests it has seen
    script_tool_call: Callable[[ToolCall], None]
    script_rate_limit: Callable[[float], None]  # the next call fails with this retry hint
    script_broken_stream: Callable[[], None]  # the next stream sends "first " and breaks
    expected_vectors: Callable[[tuple[str, ...], int], list[list[float]]]


def _loopback_subject(server: LoopbackServer, adapter: Any) -> Subject:
    return Subject(
        chat=adapter,
        embeddings=adapter,
        sent=lambda: len(server.requests),
        script_tool_call=lambda call: server.script(
            Reply(
                body=chat_completion(
                    None, tool_calls=[(call.id, call.name, call.arguments)], finish_reason="tool_calls"
                )
            ),
            Reply(
                events=chat_chunks(
                    (), tool_calls=[(call.id, call.name, [call.arguments[:5], call.arguments[5:]])]
                )
            ),
        ),
        script_rate_limit=lambda hint: server.script(
            Reply(429, azure_error("429", "slow down"), headers={"retry-after": str(hint)})
        ),
        script_broken_stream=lambda: server.script(
            Reply(events=chat_chunks(("first ", "second")), cut_after=2)
        ),
        expected_vectors=lambda inputs, dims: [vector_for(i, dims) for i in range(len(inputs))],
    )


def _fake_subject() -> Subject:
    from llmport.adapters.fakes import FakeChat, FakeEmbeddings, FakeStreamBreak
    from llmport.domain.models import ChatResponse

    chat, embeddings = FakeChat(), FakeEmbeddings()
    return Subject(
        chat=chat,
        embeddings=embeddings,
        sent=lambda: len(chat.requests) + len(embeddings.requests),
        script_tool_call=lambda call: chat.push(
            *[ChatResponse(Message.assistant(tool_calls=[call]), finish_reason="tool_calls")] * 2
        ),
        script_rate_limit=lambda hint: chat.push(
            RateLimitedError("slow down", retry_after=hint, provider="fake")
        ),
        script_broken_stream=lambda: chat.push(FakeStreamBreak(after=1, reply="first second")),
        expected_vectors=lambda inputs, dims: [FakeEmbeddings.vector(text, dims) for text in inputs],
    )


@pytest.fixture(params=[*CASES, "fakes"], ids=lambda p: p if isinstance(p, str) else p.id)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fakes":
        subject = _fake_subject()
        yield subject
        subject.chat.close()
        subject.embeddings.close()
        return
    with LoopbackServer() as server:
        adapter = request.param.build(server)
        try:
            yield _loopback_subject(server, adapter)
        finally:
            adapter.close()


def test_it_is_a_chat_port_and_an_embedding_port(subject: Subject) -> None:
    assert isinstance(subject.chat, ChatPort)
    assert isinstance(subject.embeddings, EmbeddingPort)


def test_complete_gives_an_assistant_reply_with_usage_model_and_request_id(subject: Subject) -> None:
    reply = subject.chat.complete(REQUEST)

    assert reply.message.role == "assistant" and reply.text
    assert reply.finish_reason == "stop"
    assert reply.model == MODEL
    assert reply.request_id
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0


def test_a_stream_sends_nothing_before_next_and_folds_to_the_complete_reply(subject: Subject) -> None:
    stream = subject.chat.stream(REQUEST)
    assert subject.sent() == 0

    chunks = list(stream)
    whole = subject.chat.complete(REQUEST)

    folded = fold_stream(chunks)
    assert (folded.text, folded.finish_reason, folded.usage) == (whole.text, whole.finish_reason, whole.usage)
    assert chunks[-1].usage is not None and all(c.usage is None for c in chunks[:-1])


def test_tool_calls_arrive_whole_from_complete_and_from_a_folded_stream(subject: Subject) -> None:
    subject.script_tool_call(CALL)
    request = ChatRequest((Message.user("weather?"),), model=MODEL, tools=(ToolSpec("get_weather"),))

    assert subject.chat.complete(request).tool_calls == (CALL,)
    assert fold_stream(subject.chat.stream(request)).tool_calls == (CALL,)


def test_a_scripted_failure_raises_the_domain_error_from_complete_and_stream(subject: Subject) -> None:
    subject.script_rate_limit(2.0)
    with pytest.raises(RateLimitedError) as caught:
        subject.chat.complete(REQUEST)
    assert caught.value.retry_after == 2.0 and caught.value.retryable

    subject.script_rate_limit(2.0)
    with pytest.raises(RateLimitedError):
        next(subject.chat.stream(REQUEST))


def test_a_broken_stream_yields_what_arrived_then_raises_stream_interrupted(subject: Subject) -> None:
    subject.script_broken_stream()
    received: list[str] = []

    with pytest.raises(StreamInterruptedError):
        for chunk in subject.chat.stream(REQUEST):
            received.append(chunk.text)

    assert received == ["first "]


def test_embeddings_give_one_vector_per_input_in_input_order(subject: Subject) -> None:
    inputs = ("the first text", "a second one", "third")

    reply = subject.embeddings.embed(EmbeddingRequest(inputs, model="emb", dimensions=4))

    expected = subject.expected_vectors(inputs, 4)
    assert [list(v) for v in reply.vectors] == expected
    assert reply.usage.prompt_tokens > 0 and reply.request_id
