"""Domain models validate themselves on construction; conversions keep what callers wrote."""

from __future__ import annotations

from typing import Any

import pytest

from llmport import (
    AccessToken,
    ChatChunk,
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
    ValidationError,
    fold_stream,
    to_messages,
)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: ChatRequest(()), "messages is empty"),
        (lambda: ChatRequest("hello"), "must be a sequence of Message"),  # type: ignore[arg-type]
        (lambda: Message("robot", "hi"), "role 'robot' is unknown"),  # type: ignore[arg-type]
        (lambda: Message("user", 42), "content must be a str or a list of parts"),  # type: ignore[arg-type]
        (lambda: Message("user", None), "a user message needs content"),
        (lambda: Message("tool", "42"), "needs tool_call_id"),
        (lambda: Message("user", ["text"]), "parts must be TextPart or ImagePart"),  # type: ignore[list-item]
        (lambda: ImagePart(url="ftp://x/cat.png"), "must start with https://"),
        (ImagePart, "exactly one of url= or data="),
        (lambda: ToolSpec("get weather"), "must be 1-64 characters"),
        (lambda: ResponseFormat("json_schema"), "needs a name and a schema"),
        (lambda: ChatRequest((Message.user("x"),), temperature=3), "temperature must be a number from 0"),
        (lambda: ChatRequest((Message.user("x"),), max_tokens=0), "max_tokens must be a positive int"),
        (lambda: ChatRequest((Message.user("x"),), tool_choice="lookup"), "tool_choice 'lookup'"),
        (lambda: EmbeddingRequest(()), "inputs is empty"),
        (lambda: EmbeddingRequest("abc"), "must be a list of str"),  # type: ignore[arg-type]
        (lambda: EmbeddingRequest(("a", 3)), "input 1 is a int"),  # type: ignore[arg-type]
        (lambda: EmbeddingRequest(("a", "")), "input 1 is an empty string"),
        (lambda: EmbeddingRequest(("a",), dimensions=0), "dimensions must be an int >= 1"),
    ],
)
def test_bad_input_is_rejected_with_a_message_that_says_what_to_fix(build: Any, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        build()


def test_lists_are_frozen_into_tuples() -> None:
    request = ChatRequest([Message.user("hi")], stop=["END"], tools=[ToolSpec("lookup")])  # type: ignore[arg-type]
    assert (
        isinstance(request.messages, tuple) and request.stop == ("END",) and isinstance(request.tools, tuple)
    )
    assert EmbeddingRequest(["a", "b"]).inputs == ("a", "b")  # type: ignore[arg-type]


def test_image_bytes_become_a_data_url() -> None:
    assert ImagePart(data=b"\x89PNG").as_url() == "data:image/png;base64,iVBORw=="


def test_openai_style_dicts_become_messages() -> None:
    messages = to_messages(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        system="be brief",
    )
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[1].content == (TextPart("what is this?"), ImagePart(url="https://x/cat.png"))
    assert messages[2].tool_calls == (ToolCall("c1", "f", "{}"),)


def test_a_dict_without_role_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="has no 'role'"):
        to_messages([{"content": "hi"}])


def test_fold_stream_joins_text_and_assembles_tool_calls() -> None:
    chunks = [
        ChatChunk(text="Hel", request_id="req-1", model="m"),
        ChatChunk(text="lo", tool_calls=(ToolCallDelta(0, id="c1", name="lookup", arguments='{"q":'),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='"x"}'),)),
        ChatChunk(finish_reason="tool_calls", usage=Usage(3, 4, 7)),
    ]
    response = fold_stream(chunks)
    assert response.text == "Hello"
    assert response.tool_calls == (ToolCall("c1", "lookup", '{"q":"x"}'),)
    assert (response.finish_reason, response.usage.total_tokens, response.request_id) == (
        "tool_calls",
        7,
        "req-1",
    )


def test_usage_adds_up() -> None:
    assert Usage(1, 2, 3, 1, 0) + Usage(10, 20, 30, 0, 5) == Usage(11, 22, 33, 1, 5)


def test_access_token_repr_hides_the_token() -> None:
    assert "secret-token" not in repr(AccessToken("secret-token", 1.0))


def test_empty_stop_and_no_tools_are_normalised_to_unset() -> None:
    request = ChatRequest((Message.user("hi"),), stop=[], tools=None)  # type: ignore[arg-type]
    assert (request.stop, request.tools) == (None, ())


def test_extra_is_copied_so_later_changes_to_the_callers_dict_are_not_sent() -> None:
    options: dict[str, Any] = {"logprobs": True}
    request = ChatRequest((Message.user("hi"),), extra=options)
    options["messages"] = []
    assert request.extra == {"logprobs": True}


def test_extra_text_is_allowed_when_response_format_does_not_need_it() -> None:
    request = ChatRequest((Message.user("hi"),), extra={"text": {"verbosity": "low"}})
    assert request.extra == {"text": {"verbosity": "low"}}


def test_a_bad_message_dict_is_named_by_its_position() -> None:
    with pytest.raises(ValidationError, match=r"^messages\[1\]: Message.content must be a str"):
        to_messages([{"role": "user", "content": "hi"}, {"role": "user", "content": 3}])


def test_a_huge_int_is_described_not_printed() -> None:
    # repr() of an int past 4,300 digits raises ValueError; the message must still be built.
    with pytest.raises(ValidationError, match=r"max_tokens must be a positive int.*an int of"):
        ChatRequest((Message.user("hi"),), max_tokens=10**5000)


def test_a_lone_surrogate_is_reported_by_position_without_echoing_the_text() -> None:
    with pytest.raises(ValidationError) as raised:
        Message.user("ok \ud800 secret")
    assert "index 3" in str(raised.value) and "secret" not in str(raised.value)


def test_replies_with_tool_calls_and_no_text_still_build() -> None:
    # Replies use the same models; a tool-call-only assistant turn must stay valid.
    message = Message.assistant(tool_calls=[ToolCall("c1", "f", "{}")])
    assert (message.content, message.tool_calls) == (None, (ToolCall("c1", "f", "{}"),))
