"""Fidelity: structured outputs from a class, as the SDK's ``.parse()`` gives them (issue 11).

``response_format=`` takes a pydantic model, a dataclass or a TypedDict; the strict schema goes
out, ``parsed`` comes back (None with ``refusal`` set), on chat.completions and the Responses API,
whole and streamed. Through a real Client, the real SDK and real HTTP to the loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import pydantic
import pytest
from adapter_cases import MODEL
from loopback import LoopbackServer, Reply
from wire_samples import chat_chunks, chat_completion, chat_refusal, response_events, response_object

import llmport
from llmport import Client
from llmport.domain.conversations import fold_stream

EVENT = {"name": "Science fair", "date": "Friday", "participants": ["Alice", "Bob"]}


class CalendarEvent(pydantic.BaseModel):
    name: str
    date: str
    participants: list[str]


@dataclass
class CalendarEventDC:
    name: str
    date: str
    participants: list[str]


class CalendarEventTD(TypedDict):
    name: str
    date: str
    participants: list[str]


@dataclass
class Step:
    explanation: str
    output: str


@dataclass
class MathReasoning:
    steps: list[Step]
    final_answer: str
    confidence: Literal["low", "high"] | None


@pytest.fixture(params=["openai", "azure", "azure_v1"])
def shape(request: pytest.FixtureRequest) -> str:
    """The URL shape: structured outputs change the request body, not the authentication."""
    return str(request.param)


@pytest.fixture
def client(server: LoopbackServer, shape: str) -> Iterator[Client]:
    config: dict[str, Any] = {"chat_model": MODEL, "max_retries": 0}
    if shape == "openai":
        config.update(provider="openai", base_url=f"{server.url}/v1", api_key=server.api_key)
    elif shape == "azure":
        config.update(provider="azure", endpoint=server.url, api_version="2024-10-21", api_key=server.api_key)
    else:
        config.update(provider="azure_v1", endpoint=server.url, api_key=server.api_key)
    with llmport.from_dict(config) as built:
        yield built


@pytest.mark.parametrize("output_type", [CalendarEvent, CalendarEventDC, CalendarEventTD])
def test_a_class_becomes_a_strict_schema_and_parsed_an_instance(
    client: Client, server: LoopbackServer, output_type: type[Any]
) -> None:
    server.script(Reply(body=chat_completion(json.dumps(EVENT))))

    reply = client.chat("Alice and Bob are going to a science fair on Friday.", response_format=output_type)

    sent = server.last.body["response_format"]
    assert sent["type"] == "json_schema"
    assert (sent["json_schema"]["name"], sent["json_schema"]["strict"]) == (output_type.__name__, True)
    schema = sent["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["date", "name", "participants"]
    expected = EVENT if output_type is CalendarEventTD else output_type(**EVENT)
    assert reply.parsed == expected and reply.refusal is None


def test_a_refusal_gives_parsed_none_and_the_refusal(client: Client, server: LoopbackServer) -> None:
    server.script(Reply(body=chat_refusal()))

    reply = client.chat("something refused", response_format=CalendarEvent)

    assert reply.parsed is None
    assert reply.refusal == "I'm sorry, I cannot assist with that request."


def test_nested_dataclasses_parse_into_nested_instances(client: Client, server: LoopbackServer) -> None:
    answer = {
        "steps": [{"explanation": "8x = -30", "output": "x = -3.75"}],
        "final_answer": "-3.75",
        "confidence": None,
    }
    server.script(Reply(body=chat_completion(json.dumps(answer))))

    reply = client.chat("solve 8x + 7 = -23", response_format=MathReasoning)

    assert reply.parsed == MathReasoning([Step("8x = -30", "x = -3.75")], "-3.75", None)
    schema = server.last.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["steps"]["items"] == {"$ref": "#/$defs/Step"}
    assert schema["$defs"]["Step"]["additionalProperties"] is False


def test_a_stream_is_parsed_by_fold_stream_at_the_end(client: Client, server: LoopbackServer) -> None:
    text = json.dumps(EVENT)
    server.script(Reply(events=chat_chunks((text[:20], text[20:]))))

    chunks = list(client.stream("science fair", response_format=CalendarEvent))

    assert all(chunk.parse is None for chunk in chunks[:-2])
    assert fold_stream(chunks).parsed == CalendarEvent(**EVENT)


def test_the_responses_api_gets_text_format_and_parses_whole_and_streamed(
    client: Client, server: LoopbackServer
) -> None:
    text = json.dumps(EVENT)
    server.script(
        Reply(body=response_object(text)), Reply(events=response_events((text[:15], text[15:])), done=False)
    )

    reply = client.chat("science fair", response_format=CalendarEventDC, api="responses")
    folded = fold_stream(client.stream("science fair", response_format=CalendarEventDC, api="responses"))

    fmt = server.requests[0].body["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "CalendarEventDC", True)
    assert reply.parsed == folded.parsed == CalendarEventDC(**EVENT)


def test_a_reply_that_does_not_match_the_schema_is_a_provider_error(
    client: Client, server: LoopbackServer
) -> None:
    server.script(Reply(body=chat_completion('{"name": 3}')))

    with pytest.raises(llmport.ProviderError, match="CalendarEvent schema"):
        client.chat("science fair", response_format=CalendarEvent)
