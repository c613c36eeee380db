"""Client.count_tokens and count_embedding_tokens: what chat takes, the client's defaults, the rules
that are only guesses marked as estimates, truncation, and the tokenizer loaded once."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator

import pytest
from dependency_injector import providers
from loopback import LoopbackServer

import llmport
from llmport import Client, ConfigurationError, Message, ToolCall, ToolSpec, ValidationError
from llmport.adapters.fakes import FakeTokenCounter
from llmport.adapters.tokens import TiktokenCounter
from llmport.domain.errors import ClientClosedError
from llmport.domain.models import ChatRequest
from llmport.settings import Settings
from llmport.testing import Container, container_of


def settings_for(server: LoopbackServer, provider: str = "openai", **values: object) -> Settings:
    """The loopback server (never called by a count) with gpt-4o and text-embedding-3-small."""
    given: dict[str, object] = {
        "provider": provider,
        "base_url": f"{server.url}/v1",
        "api_key": server.api_key,
        "chat_model": "gpt-4o",
        "embedding_model": "text-embedding-3-small",
    }
    return Settings(**{**given, **values})  # type: ignore[arg-type]


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[Client]:
    with llmport.build_client(settings_for(server)) as built:
        yield built


def test_count_tokens_takes_exactly_what_chat_takes(client: Client) -> None:
    chat = list(inspect.signature(client.chat).parameters.values())
    count = list(inspect.signature(client.count_tokens).parameters.values())
    assert count == chat


def test_a_misspelt_keyword_is_named_as_python_names_it(client: Client) -> None:
    with pytest.raises(TypeError, match=r"Client.count_tokens\(\) got an unexpected keyword argument 'tool'"):
        client.count_tokens("hi", tool=[])  # type: ignore[call-arg]


def test_counting_sends_nothing_and_ignores_the_calls_own_options(
    client: Client, server: LoopbackServer
) -> None:
    count = client.count_tokens("hello", max_retries=0, timeout=1.0, cache=False)
    assert (count.tokens, count.exact, count.encoding, count.model) == (8, True, "o200k_base", "gpt-4o")
    assert server.count == 0


def test_the_configured_model_and_a_given_one(client: Client) -> None:
    assert client.count_tokens("hello").model == "gpt-4o"
    assert client.count_tokens("hello", model="gpt-4").encoding == "cl100k_base"
    assert client.with_options(timeout=3).count_tokens("hello").tokens == 8


def test_no_model_at_all_is_a_configuration_error(server: LoopbackServer) -> None:
    settings = settings_for(server, "openai", chat_model=None, embedding_model=None)
    with llmport.build_client(settings) as bare:
        with pytest.raises(ConfigurationError, match="count_tokens needs a model"):
            bare.count_tokens("hello")
        with pytest.raises(ConfigurationError, match="count_embedding_tokens needs a model"):
            bare.count_embedding_tokens("hello")
        assert bare.count_tokens("hello", model="whatever-llm").exact is False


def test_malformed_input_is_refused_as_chat_refuses_it(client: Client) -> None:
    with pytest.raises(ValidationError):
        client.count_tokens([])
    with pytest.raises(ValidationError, match="empty string"):
        client.count_embedding_tokens(["fine", ""])


def test_instructions_count_as_a_leading_system_message(client: Client) -> None:
    given = client.count_tokens("hello", instructions="Answer in French.")
    spelled = client.count_tokens([Message.system("Answer in French."), Message.user("hello")])
    assert given.tokens == spelled.tokens and given.exact


def test_the_responses_api_is_counted_as_chat_but_called_an_estimate(
    server: LoopbackServer, client: Client
) -> None:
    with llmport.build_client(settings_for(server, api="responses")) as responses:
        count = responses.count_tokens("hello")
    assert (count.tokens, count.exact) == (8, False)
    assert client.count_tokens("hello", api="responses").exact is False


def test_tool_calls_and_tool_results_are_counted_but_called_an_estimate(client: Client) -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    turns = [
        Message.user("Weather in Paris?"),
        Message.assistant(tool_calls=[call]),
        Message.tool("call_1", "21 C"),
    ]
    count = client.count_tokens(turns)
    plain = client.count_tokens([Message.user("Weather in Paris?")]).tokens
    name, arguments, result = client.count_embedding_tokens(
        ["get_weather", '{"city": "Paris"}', "21 C"], model="gpt-4o"
    ).counts
    assert count.tokens == plain + (3 + 1) + (name + arguments + 3) + (3 + 1 + result)
    assert count.exact is False


def test_tool_choice_none_costs_one_and_a_named_tool_its_name_and_four(client: Client) -> None:
    tool = ToolSpec("lookup", "Look it up", {"type": "object", "properties": {"q": {"type": "string"}}})
    auto = client.count_tokens("hi", tools=[tool]).tokens
    assert client.count_tokens("hi", tools=[tool], tool_choice="none").tokens == auto + 1
    assert client.count_tokens("hi", tools=[tool], tool_choice="lookup").tokens == auto + 1 + 4
    assert client.count_tokens("hi", tools=[tool], tool_choice="required").exact is False


def test_a_schema_beyond_the_checked_layout_is_an_estimate(client: Client) -> None:
    plain = ToolSpec("f", "", {"type": "object", "properties": {"a": {"type": "string"}}})
    guessed = ToolSpec(
        "f", "", {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    )
    assert client.count_tokens("hi", tools=[plain]).exact is True
    assert client.count_tokens("hi", tools=[guessed]).exact is False


def test_a_class_as_response_format_is_counted_from_its_schema(client: Client) -> None:
    from dataclasses import dataclass

    @dataclass
    class City:
        name: str
        population: int

    count = client.count_tokens("Biggest city?", response_format=City)
    assert count.exact is False
    assert count.tokens > client.count_tokens("Biggest city?").tokens + 10


def test_embedding_counts_per_text_with_the_embedding_model(client: Client) -> None:
    counts = client.count_embedding_tokens(["hello world", "お誕生日おめでとう"])
    assert (counts.counts, counts.total, counts.exact) == ((2, 9), 11, True)
    assert (counts.encoding, counts.model) == ("cl100k_base", "text-embedding-3-small")
    assert client.count_embedding_tokens("hello", model="gpt-4o").encoding == "o200k_base"


def test_a_closed_client_counts_nothing(client: Client) -> None:
    client.close()
    with pytest.raises(ClientClosedError):
        client.count_tokens("hello")
    with pytest.raises(ClientClosedError):
        client.count_embedding_tokens("hello")


def test_the_container_hands_the_client_its_counter_and_tests_can_swap_it(server: LoopbackServer) -> None:
    container = Container(settings=settings_for(server, "openai"))
    fake = FakeTokenCounter(tokens=7)
    container.token_counter.override(providers.Object(fake))
    with llmport.build_client(settings_for(server, "openai"), container) as swapped:
        assert container_of(swapped) is container
        assert swapped.count_tokens("one two three").tokens == 7
        assert swapped.count_embedding_tokens(["one two", "three"]).counts == (2, 1)
    assert [request.messages[0].text for request in fake.requests] == ["one two three"]


def test_a_client_built_by_hand_without_a_counter_says_so(server: LoopbackServer) -> None:
    container = Container(settings=settings_for(server))
    hand = Client(container.chat_calls(), container.embedding_calls())
    with pytest.raises(ConfigurationError, match="no token counter"):
        hand.count_tokens("hello", model="gpt-4o")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello world, how are you?", 100, "hello world, how are you?"),
        ("hello world, how are you?", 2, "hello world"),
        ("お誕生日おめでとう", 3, "お誕"),  # 3 tokens: お, 誕 split in two; 生日 would be the 4th
        ("お誕生日おめでとう", 2, "お"),  # a token that ends mid-character is dropped
    ],
)
def test_truncate_cuts_at_a_token_boundary_and_never_inside_a_character(
    text: str, limit: int, expected: str
) -> None:
    assert TiktokenCounter().truncate(text, "gpt-4o", limit) == expected


def test_truncate_on_an_unknown_model_cuts_by_the_estimate() -> None:
    counter = TiktokenCounter()
    cut = counter.truncate("abcd" * 10, "my-embedder", 3)
    assert cut == "abcd" * 3
    assert counter.truncate("短い", "my-embedder", 5) == "短い"


def test_the_tokenizer_is_built_once_when_eight_threads_count_first() -> None:
    script = """
import threading
from llmport.adapters.tokens import encodings, TiktokenCounter
from llmport.domain.models import ChatRequest, Message
builds = []
real = encodings._build
def counted(name):
    builds.append(name)
    return real(name)
encodings._build = counted
counter = TiktokenCounter()
start = threading.Barrier(8)
results = []
def count():
    start.wait()
    results.append(counter.count_chat(ChatRequest((Message.user("hello"),), model="gpt-4o")).tokens)
threads = [threading.Thread(target=count) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(builds, results)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['o200k_base'] [8, 8, 8, 8, 8, 8, 8, 8]"


def test_the_port_keeps_its_shape() -> None:
    from llmport.domain.ports import TokenCounter

    assert isinstance(TiktokenCounter(), TokenCounter)
    assert isinstance(FakeTokenCounter(), TokenCounter)
    request = ChatRequest((Message.user("a b c"),), model="m")
    assert FakeTokenCounter().count_chat(request).tokens == 3


def test_counts_stay_right_when_the_remembered_texts_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmport.adapters.tokens import tiktoken_counter

    few = [f"turn {n}: héllo wörld {n * 7}" for n in range(5)]  # ~23 characters each
    many = [f"other {n}: ça coûte {n * 3} €" for n in range(40)]
    monkeypatch.setattr(tiktoken_counter, "CACHED_CHARACTERS", 0)  # nothing remembered
    expected_few = TiktokenCounter().count_texts(few, "gpt-4o").counts
    expected_many = TiktokenCounter().count_texts(many, "gpt-4o").counts
    monkeypatch.setattr(tiktoken_counter, "CACHED_CHARACTERS", 480)  # ~20 texts, then all forgotten
    counter = TiktokenCounter()
    for texts, expected in (
        (few, expected_few),
        (few, expected_few),
        (many, expected_many),
        (few, expected_few),
    ):
        assert counter.count_texts(texts, "gpt-4o").counts == expected
    assert counter.count_texts(few, "gpt-4").counts != expected_few  # per encoding, not shared


FORK_WHILE_LOCKED = """
import os, signal, llmport
from llmport.adapters.tokens import encodings
client = llmport.from_dict({"provider": "fake", "chat_model": "gpt-4o"})
client.count_tokens("warm", model="gpt-4")  # cl100k_base built, its count cache made
cache = client._counting.counter._counts["cl100k_base"]
encodings._lock.acquire()  # as if a parent thread were building o200k_base at the fork
cache._lock.acquire()  # as if a parent thread were remembering a count at the fork
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # a child that hangs on a lock dies instead of outliving the test
    counts = (client.count_tokens("hello").tokens, client.count_tokens("new text", model="gpt-4").tokens)
    os._exit(0 if counts == (8, 9) else 3)
encodings._lock.release()
cache._lock.release()
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_counters_locks_were_held_still_counts() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK_WHILE_LOCKED], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"


def test_a_built_in_tool_is_an_estimate_and_its_headers_are_neither_counted_nor_kept(client: Client) -> None:
    from llmport import McpTool

    secret = "Bearer sk-mcp-" + "s" * 40
    mcp = McpTool("docs", "https://mcp.example.com", headers={"Authorization": secret})
    bare = McpTool("docs", "https://mcp.example.com")
    count = client.count_tokens("hi", tools=[mcp], api="responses")
    assert count.exact is False
    assert count.tokens == client.count_tokens("hi", tools=[bare], api="responses").tokens
    assert count.tokens > client.count_tokens("hi", api="responses").tokens
    remembered = client._counting.counter._counts["o200k_base"]._counts  # type: ignore[union-attr]
    assert not [text for text in remembered if "sk-mcp-" in text]
