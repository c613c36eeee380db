"""The public fakes: scripted answers and errors, recording, streams that fold back, stable vectors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from llmport.adapters.fakes import FakeChat, FakeCredential, FakeEmbeddings, FakeStreamBreak
from llmport.domain.conversations import fold_stream
from llmport.domain.errors import BadRequestError, RateLimitedError, StreamInterruptedError
from llmport.domain.models import (
    AccessToken,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    ToolCall,
    Usage,
)
from llmport.domain.ports import ChatPort, Closeable, CredentialPort, EmbeddingPort

if TYPE_CHECKING:
    from clock import FakeClock


def ask(text: str = "what time is it") -> ChatRequest:
    return ChatRequest((Message.system("be nice"), Message.user(text)), model="m")


def test_the_fakes_satisfy_their_ports() -> None:
    assert isinstance(FakeChat(), ChatPort)
    assert isinstance(FakeEmbeddings(), EmbeddingPort)
    assert isinstance(FakeCredential(), CredentialPort)
    assert all(isinstance(fake, Closeable) for fake in (FakeChat(), FakeEmbeddings(), FakeCredential()))


def test_fake_chat_replays_text_responses_and_errors_in_order_then_answers_by_default() -> None:
    scripted = ChatResponse(Message.assistant("scripted"), finish_reason="length")
    chat = FakeChat("first", scripted, RateLimitedError("busy"))
    assert chat.complete(ask()).text == "first"
    assert chat.complete(ask()) is scripted
    with pytest.raises(RateLimitedError):
        chat.complete(ask())
    default = chat.complete(ask("how are you"))
    assert default.text == "fake reply to: how are you"
    assert (default.finish_reason, default.model, default.request_id) == ("stop", "m", "fake-request-4")
    assert default.usage == Usage(prompt_tokens=5, completion_tokens=6, total_tokens=11)
    assert [request.messages[-1].text for request in chat.requests] == ["what time is it"] * 3 + [
        "how are you"
    ]


def test_push_appends_to_the_script() -> None:
    chat = FakeChat("one")
    chat.push("two", BadRequestError("three"))
    assert chat.pending == 3
    assert [chat.complete(ask()).text, chat.complete(ask()).text] == ["one", "two"]
    with pytest.raises(BadRequestError):
        chat.complete(ask())
    assert chat.pending == 0


def test_the_default_reply_names_the_fakes_model_when_the_request_names_none() -> None:
    chat = FakeChat(model="fake-4")
    assert chat.complete(ChatRequest((Message.user("hi"),))).model == "fake-4"


def test_a_stream_records_nothing_until_the_first_next_and_folds_back_to_the_reply() -> None:
    chat = FakeChat()
    chunks = chat.stream(ask("tell me a story"))
    assert chat.requests == []
    received = list(chunks)
    assert len(chat.requests) == 1
    assert len(received) > 3
    assert [chunk.finish_reason for chunk in received[:-1]] == [None] * (len(received) - 1)
    assert received[-1].finish_reason == "stop"
    assert received[-1].usage == chat.complete(ask("tell me a story")).usage
    assert fold_stream(received).text == "fake reply to: tell me a story"


def test_a_streamed_scripted_response_with_tool_calls_folds_back_to_the_same_response() -> None:
    calls = (ToolCall("call_1", "weather", '{"city": "Oslo"}'), ToolCall("call_2", "time", '{"tz": "CET"}'))
    scripted = ChatResponse(
        Message.assistant("  checking two things ", tool_calls=calls),
        finish_reason="tool_calls",
        usage=Usage(10, 5, 15),
        model="m-1",
        request_id="req-7",
        content_filter={"hate": {"filtered": False}},
    )
    chunks = list(FakeChat(scripted).stream(ask()))
    assert any(delta.arguments and delta.name is None for chunk in chunks for delta in chunk.tool_calls)
    assert fold_stream(chunks) == scripted


def test_a_scripted_exception_is_raised_by_a_stream_before_any_chunk() -> None:
    chat = FakeChat(BadRequestError("nope"))
    chunks = chat.stream(ask())
    with pytest.raises(BadRequestError):
        next(chunks)
    assert len(chat.requests) == 1


def test_a_stream_break_yields_n_chunks_then_raises() -> None:
    chat = FakeChat(FakeStreamBreak(after=2, reply="one two three four"))
    received: list[str] = []
    with pytest.raises(StreamInterruptedError):
        for chunk in chat.stream(ask()):
            received.append(chunk.text)
    assert received == ["one ", "two "]


def test_a_stream_break_given_to_complete_raises_its_error() -> None:
    error = RateLimitedError("busy")
    with pytest.raises(RateLimitedError) as raised:
        FakeChat(FakeStreamBreak(error=error)).complete(ask())
    assert raised.value is error


def test_fake_chat_is_safe_to_share_between_threads() -> None:
    chat = FakeChat(*(f"reply {index}" for index in range(200)))
    replies: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            text = chat.complete(ask()).text
            with lock:
                replies.append(text)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(replies) == sorted(f"reply {index}" for index in range(200))
    assert len(chat.requests) == 200


def test_fake_embeddings_give_stable_unit_vectors_of_the_asked_dimension() -> None:
    fake = FakeEmbeddings()
    response = fake.embed(EmbeddingRequest(("hello world", "other", "hello world"), model="e"))
    first, second, third = response.vectors
    assert first == third != second
    assert len(first) == 8
    assert math.isclose(sum(value * value for value in first), 1.0)
    assert response.usage == Usage(prompt_tokens=5, total_tokens=5)  # one token per word
    assert (response.model, response.request_id) == ("e", "fake-request-1")
    assert [len(v) for v in fake.embed(EmbeddingRequest(("x",), dimensions=40)).vectors] == [40]
    assert [len(v) for v in FakeEmbeddings(dimensions=3).embed(EmbeddingRequest(("x",))).vectors] == [3]


def test_fake_vectors_are_the_same_in_another_process_and_across_releases() -> None:
    code = (
        "import json; from llmport.adapters.fakes import FakeEmbeddings; "
        "print(json.dumps(FakeEmbeddings.vector('x', 12)))"
    )
    # Our own interpreter running fixed code: nothing untrusted reaches the command line.
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout) == FakeEmbeddings.vector("x", 12)
    # Users snapshot these vectors: the derivation must not change silently.
    assert [round(value, 6) for value in FakeEmbeddings.vector("hello", 4)] == [
        -0.339927,
        0.571005,
        0.710879,
        0.230334,
    ]


def test_fake_embeddings_replay_scripted_responses_and_errors_and_record_requests() -> None:
    scripted = EmbeddingResponse(vectors=[[0.0, 1.0]])
    fake = FakeEmbeddings(scripted)
    fake.push(BadRequestError("too long"))
    first = EmbeddingRequest(("a",))
    assert fake.embed(first) is scripted
    with pytest.raises(BadRequestError):
        fake.embed(EmbeddingRequest(("b",)))
    assert fake.requests[0] is first
    assert len(fake.requests) == 2


def test_fake_credential_numbers_its_tokens_and_records_calls(clock: FakeClock) -> None:
    credential = FakeCredential(lifetime=60.0, clock=clock)
    first = credential.get_token("scope-a")
    second = credential.get_token()
    assert (first.token, first.expires_on) == ("fake-token-1", clock() + 60.0)
    assert second.token == "fake-token-2"
    assert credential.calls == 2
    assert credential.scopes == [("scope-a",), ()]


def test_fake_credential_replays_scripted_tokens_and_errors() -> None:
    token = AccessToken("scripted", 123.0)
    credential = FakeCredential(token, OSError("imds down"))
    assert credential.get_token() is token
    with pytest.raises(OSError, match="imds down"):
        credential.get_token()
    assert credential.get_token().token == "fake-token-1"
    assert credential.calls == 3


def test_fakes_record_close_and_never_show_tokens() -> None:
    credential = FakeCredential(AccessToken("sk-hidden", 1.0))
    credential.get_token()
    fakes = (FakeChat(), FakeEmbeddings(), credential)
    for fake in fakes:
        assert fake.closed is False
        fake.close()
        fake.close()
        assert fake.closed is True
    assert "sk-hidden" not in repr(credential)
    assert "fake-token" not in repr(FakeCredential())
