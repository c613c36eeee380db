"""Fidelity: every chat.completions field the raw SDK gives comes through llmport (issue 11).

Each test names the field it guards; all go through the real SDK over real HTTP to the loopback,
on the five adapter cases (OpenAI, Azure classic with key and token, Azure v1 with key and token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import (
    chat_chunks,
    chat_chunks_full,
    chat_completion,
    chat_completion_full,
    chat_reasoning,
    chat_refusal,
    simulator_chunks,
)

from llmport.domain.conversations import fold_stream, to_messages
from llmport.domain.errors import StreamInterruptedError, ValidationError
from llmport.domain.models import (
    ChatRequest,
    ImagePart,
    Message,
    Reasoning,
    TextPart,
    TokenLogprob,
    ToolSpec,
    TopLogprob,
)


def ask(*messages: Message, **options: Any) -> ChatRequest:
    return ChatRequest(messages or (Message.user("ping"),), model=MODEL, **options)


def test_id_created_fingerprint_and_service_tier_are_kept(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_completion_full()), Reply(events=chat_chunks_full()))

    reply = adapter.complete(ask())
    folded = fold_stream(adapter.stream(ask()))

    for result in (reply, folded):
        assert result.id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
        assert (result.created, result.system_fingerprint) == (1_741_570_283, "fp_44709d6fcb")
        assert result.service_tier == "default"


def test_n_is_sent_and_every_choice_comes_back(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_completion_full()))

    reply = adapter.complete(ask(n=2))

    assert server.last.body["n"] == 2
    assert [(c.index, c.text, c.finish_reason) for c in reply.choices] == [
        (0, "Hello!", "stop"),
        (1, "Hi there!", "length"),
    ]
    assert reply.text == "Hello!" and reply.choices[0].message == reply.message


def test_logprobs_and_top_logprobs_are_sent_and_come_back_typed(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_completion_full()), Reply(events=chat_chunks_full()))

    reply = adapter.complete(ask(logprobs=True, top_logprobs=2))
    folded = fold_stream(adapter.stream(ask(logprobs=True, top_logprobs=2)))

    assert (server.requests[0].body["logprobs"], server.requests[0].body["top_logprobs"]) == (True, 2)
    hello = TokenLogprob(
        "Hello",
        -0.31725305,
        (72, 101, 108, 108, 111),
        (TopLogprob("Hello", -0.31725305, (72, 101, 108, 108, 111)), TopLogprob("Hi", -1.3190403, (72, 105))),
    )
    assert reply.logprobs is not None and reply.logprobs[0] == hello
    assert [t.token for t in reply.logprobs] == ["Hello", "!"]
    assert folded.logprobs is not None and [t.token for t in folded.logprobs] == ["Hello", "!"]


def test_a_refusal_is_kept_apart_from_the_text(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_refusal()), Reply(events=chat_chunks_full()))

    reply = adapter.complete(ask())
    folded = fold_stream(adapter.stream(ask()))

    assert (reply.text, reply.refusal) == ("", "I'm sorry, I cannot assist with that request.")
    assert reply.finish_reason == "stop"  # as the API says
    assert (folded.text, folded.refusal) == ("Hello!", "But no more.")


def test_reasoning_content_is_kept(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_reasoning()), Reply(events=chat_chunks_full()))

    reply = adapter.complete(ask())
    chunks = list(adapter.stream(ask()))

    assert (reply.text, reply.reasoning_content) == ("The answer is 4.", "The user asks 2+2. Adding gives 4.")
    assert [c.reasoning for c in chunks if c.reasoning] == ["Thinking", " hard."]
    assert fold_stream(chunks).reasoning_content == "Thinking hard."


def test_the_developer_role_is_sent(adapter: Any, server: LoopbackServer) -> None:
    messages = to_messages(
        [{"role": "developer", "content": "answer in French"}, {"role": "user", "content": "hi"}]
    )

    adapter.complete(ask(*messages))

    assert server.last.body["messages"][0] == {"role": "developer", "content": "answer in French"}


def test_tools_written_as_openai_dicts_are_accepted(adapter: Any, server: LoopbackServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tool = {"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": schema}}

    request = ask(tools=[tool, ToolSpec("get_time")], tool_choice="get_weather", parallel_tool_calls=False)
    adapter.complete(request)

    body = server.last.body
    assert body["tools"][0] == {
        "type": "function",
        "function": {"name": "get_weather", "parameters": schema, "description": "w"},
    }
    assert body["tools"][1]["function"]["name"] == "get_time"
    assert body["parallel_tool_calls"] is False


def test_reasoning_effort_and_instructions_have_typed_options(adapter: Any, server: LoopbackServer) -> None:
    adapter.complete(ask(reasoning=Reasoning(effort="low"), instructions="be brief", store=True))

    body = server.last.body
    assert (body["reasoning_effort"], body["store"]) == ("low", True)
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_both_request_ids_are_kept(adapter: Any, server: LoopbackServer) -> None:
    ids = {"x-request-id": "req-openai-1", "apim-request-id": "5f3a1d0e-apim"}
    server.script(
        Reply(body=chat_completion(azure=True), headers=ids),
        Reply(events=chat_chunks(azure=True), headers=ids),
    )

    reply = adapter.complete(ask())
    folded = fold_stream(adapter.stream(ask()))

    for result in (reply, folded):
        assert (result.request_id, result.apim_request_id) == ("req-openai-1", "5f3a1d0e-apim")


def test_the_raw_json_of_the_reply_is_kept(adapter: Any, server: LoopbackServer) -> None:
    body = chat_completion_full()
    body["choices"][0]["message"]["annotations"] = [{"type": "url_citation", "url": "https://x.test"}]
    server.script(Reply(body=body), Reply(events=chat_chunks_full()))

    reply = adapter.complete(ask())
    chunks = list(adapter.stream(ask()))

    assert reply.raw == body
    assert (
        reply.raw is not None
        and reply.raw["choices"][0]["message"]["annotations"][0]["url"] == "https://x.test"
    )
    assert all(c.raw is not None and c.raw["object"] == "chat.completion.chunk" for c in chunks)


def test_every_shape_gets_max_tokens_as_the_sdk_sends_it_unless_the_field_is_set(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    make_adapter().complete(ask(max_tokens=16))
    make_adapter(max_tokens_field="max_completion_tokens").complete(ask(max_tokens=16))
    make_adapter(max_tokens_field="max_tokens").complete(ask(max_tokens=16))

    auto, forced_new, forced_old = (request.body for request in server.requests)
    assert auto["max_tokens"] == 16 and "max_completion_tokens" not in auto
    assert forced_new["max_completion_tokens"] == 16 and "max_tokens" not in forced_new
    assert forced_old["max_tokens"] == 16 and "max_completion_tokens" not in forced_old


def test_a_simulator_stream_with_a_bare_done_and_finish_reason_in_delta_is_read(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(events=simulator_chunks(), bare_done=True))

    folded = fold_stream(adapter.stream(ask()))

    assert (folded.text, folded.finish_reason) == ("pong", "stop")


def test_a_stream_really_cut_still_raises(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(events=simulator_chunks(), done=False), Reply(events=simulator_chunks(), cut_after=2))

    for _ in range(2):
        with pytest.raises(StreamInterruptedError):
            list(adapter.stream(ask()))


def test_an_image_from_a_file_is_sent_as_a_data_url(
    adapter: Any, server: LoopbackServer, tmp_path: Path
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n-fake-")

    adapter.complete(ask(Message.user([TextPart("what is it?"), ImagePart.from_file(path, detail="low")])))

    part = server.last.body["messages"][0]["content"][1]
    assert part == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgotZmFrZS0=", "detail": "low"},
    }


def test_an_image_in_a_system_message_is_refused_not_dropped(server: LoopbackServer) -> None:
    image = ImagePart(url="https://example.test/cat.png")

    with pytest.raises(ValidationError, match="system message cannot carry an image"):
        Message("system", (TextPart("look"), image))
    with pytest.raises(ValidationError, match="cannot carry an image"):
        to_messages([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": image.url}}]}])
    assert server.requests == []
