"""Contract: streaming through every adapter, including Azure's quirks and broken streams."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import AZURE_PROMPT_FILTERS, USAGE, chat_chunks, openai_error

from llmport.domain.conversations import fold_stream
from llmport.domain.errors import ContentFilteredError, RateLimitedError, StreamInterruptedError
from llmport.domain.models import ChatRequest, Message, ToolCall, ToolSpec, Usage

REQUEST = ChatRequest((Message.user("ping"),), model=MODEL)


def test_stream_yields_the_text_in_pieces_and_usage_on_the_last_chunk(adapter: Any) -> None:
    chunks = list(adapter.stream(REQUEST))

    assert [c.text for c in chunks if c.text] == ["po", "ng"]
    assert chunks[-1].usage == Usage(12, 5, 17, cached_tokens=4, reasoning_tokens=2)
    assert all(c.usage is None for c in chunks[:-1])
    assert all(c.request_id == "req-loopback" for c in chunks)


def test_a_folded_stream_is_the_same_reply_as_complete(adapter: Any) -> None:
    folded = fold_stream(adapter.stream(REQUEST))
    whole = adapter.complete(REQUEST)

    assert (folded.text, folded.finish_reason, folded.usage, folded.model, folded.request_id) == (
        whole.text,
        whole.finish_reason,
        whole.usage,
        whole.model,
        whole.request_id,
    )


def test_stream_asks_for_usage_and_sends_nothing_before_the_first_next(
    adapter: Any, server: LoopbackServer
) -> None:
    stream = adapter.stream(REQUEST)
    assert server.requests == []

    next(stream)
    stream.close()

    assert server.last.body["stream"] is True
    assert server.last.body["stream_options"] == {"include_usage": True}


def test_tool_call_fragments_fold_into_whole_tool_calls(adapter: Any, server: LoopbackServer) -> None:
    server.script(
        Reply(
            events=chat_chunks(
                (),
                tool_calls=[
                    ("call_1", "get_weather", ['{"ci', 'ty": "Oslo"}']),
                    ("call_2", "get_time", ["{}"]),
                ],
            )
        )
    )

    chunks = list(
        adapter.stream(
            ChatRequest(
                (Message.user("?"),), model=MODEL, tools=(ToolSpec("get_weather"), ToolSpec("get_time"))
            )
        )
    )

    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].index == 0 and deltas[0].id == "call_1" and deltas[0].name == "get_weather"
    assert fold_stream(chunks).tool_calls == (
        ToolCall("call_1", "get_weather", '{"city": "Oslo"}'),
        ToolCall("call_2", "get_time", "{}"),
    )
    assert fold_stream(chunks).finish_reason == "tool_calls"


def test_azures_opening_chunk_is_not_yielded_but_its_prompt_filter_results_are_kept(
    adapter: Any, case: AdapterCase
) -> None:
    chunks = list(adapter.stream(REQUEST))

    assert all(c.text or c.tool_calls or c.finish_reason or c.usage or c.content_filter for c in chunks)
    if case.shape == "openai":
        assert all(c.content_filter is None for c in chunks)
        return
    first = chunks[0]
    assert first.text == "po"  # the opening chunk had no choices: its results ride on this one
    assert first.content_filter is not None
    assert first.content_filter["prompt_filter_results"] == AZURE_PROMPT_FILTERS
    folded = fold_stream(chunks).content_filter
    assert folded is not None
    assert set(folded) == {"prompt_filter_results", "content_filter_results"}


def test_a_connection_cut_mid_stream_raises_stream_interrupted_after_what_arrived(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    server.script(Reply(events=chat_chunks(("one ", "two ", "three")), cut_after=3))
    received: list[str] = []

    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in adapter.stream(REQUEST):
            received.append(chunk.text)

    assert received == ["one ", "two "]
    assert (caught.value.provider, caught.value.request_id) == (case.provider, "req-loopback")


def test_a_malformed_event_raises_stream_interrupted(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(events=[*chat_chunks()[:2], '{"choices": [{"delta": {"content": "x"'], done=True))

    with pytest.raises(StreamInterruptedError, match="malformed"):
        list(adapter.stream(REQUEST))


def test_a_stream_that_ends_without_done_raises_stream_interrupted(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(events=chat_chunks(("par", "tial"), usage=False)[:-1], done=False))

    with pytest.raises(StreamInterruptedError, match="ended before"):
        list(adapter.stream(REQUEST))


def test_an_error_event_mid_stream_raises_stream_interrupted_with_its_code(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(
        Reply(
            events=[
                *chat_chunks()[:2],
                openai_error("The server had an error", code="server_error", type="server_error"),
            ]
        )
    )

    with pytest.raises(StreamInterruptedError) as caught:
        list(adapter.stream(REQUEST))

    assert caught.value.code == "server_error"


def test_a_stream_stalled_past_the_timeout_raises_stream_interrupted(
    make_adapter: Any, server: LoopbackServer
) -> None:
    adapter = make_adapter(timeout=0.3)
    server.script(Reply(events=chat_chunks(("a", "b", "c")), event_delay=0.6))

    with pytest.raises(StreamInterruptedError, match="timed out"):
        list(adapter.stream(REQUEST))


def test_an_http_error_before_the_stream_starts_is_mapped_like_any_call(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(
        Reply(
            429, openai_error("Rate limit reached", code="rate_limit_exceeded"), headers={"retry-after": "3"}
        )
    )
    stream = adapter.stream(REQUEST)

    with pytest.raises(RateLimitedError) as caught:
        next(stream)

    assert caught.value.retry_after == 3.0


def test_the_content_filter_cutting_a_stream_raises_content_filtered(
    adapter: Any, server: LoopbackServer
) -> None:
    events = chat_chunks(("fine so far",), finish_reason="content_filter", azure=True)
    events[-2]["choices"][0]["content_filter_results"] = {"violence": {"filtered": True, "severity": "high"}}
    server.script(Reply(events=events))
    received: list[str] = []

    with pytest.raises(ContentFilteredError) as caught:
        for chunk in adapter.stream(REQUEST):
            received.append(chunk.text)

    assert received == ["fine so far"]
    assert caught.value.filter_results == {"violence": {"filtered": True, "severity": "high"}}


def test_stopping_early_releases_the_connection(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(events=chat_chunks([f"w{i} " for i in range(200)]), event_delay=0.01))
    stream = adapter.stream(REQUEST)

    assert next(stream).text == "w0 "
    stream.close()

    assert server.client_hung_up.wait(timeout=5), "the response was not closed when the consumer stopped"
    # The adapter is still usable afterwards.
    assert adapter.complete(REQUEST).text == "pong"


def test_usage_chunk_without_choices_is_the_last_chunk(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(events=chat_chunks(("x",))))

    last = list(adapter.stream(REQUEST))[-1]

    assert last.usage is not None and last.usage.total_tokens == USAGE["total_tokens"]
    assert last.text == "" and last.finish_reason is None
