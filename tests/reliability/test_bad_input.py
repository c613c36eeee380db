"""Bad input and bad configuration fail before any network call, naming the field and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness import PROVIDERS, settings_for, wire
from loopback import LoopbackServer

from llmport import Client, ConfigurationError, LLMPortError, ValidationError

# (id, the call, the error class, words the message must hold: the field, then the fix)
BAD_CALLS: list[tuple[str, Callable[[Client], object], type[LLMPortError], tuple[str, ...]]] = [
    ("empty-messages", lambda c: c.chat([]), ValidationError, ("messages", "at least one message")),
    (
        "unknown-role",
        lambda c: c.chat([{"role": "wizard", "content": "hi"}]),
        ValidationError,
        ("role", "system, user, assistant, tool"),
    ),
    (
        "non-string-content",
        lambda c: c.chat([{"role": "user", "content": 42}]),
        ValidationError,
        ("content", "str or a list of parts"),
    ),
    (
        "image-bad-url",
        lambda c: c.chat(
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/cat.png"}}]}]
        ),
        ValidationError,
        ("ImagePart.url", "https://"),
    ),
    (
        "non-string-embedding-input",
        lambda c: c.embed(["ok", 7]),  # type: ignore[list-item]
        ValidationError,
        ("input 1", "must be a str"),
    ),
    ("empty-embedding-input", lambda c: c.embed(["ok", ""]), ValidationError, ("input 1", "empty string")),
    ("empty-string-embed", lambda c: c.embed(""), ValidationError, ("input 0", "empty string")),
    ("no-embedding-inputs", lambda c: c.embed([]), ValidationError, ("inputs", "at least one text")),
    ("dimensions-zero", lambda c: c.embed(["ok"], dimensions=0), ValidationError, ("dimensions", ">= 1")),
    (
        "dimensions-negative",
        lambda c: c.embed(["ok"], dimensions=-3),
        ValidationError,
        ("dimensions", ">= 1"),
    ),
    (
        "temperature-out-of-range",
        lambda c: c.chat("hi", temperature=3),
        ValidationError,
        ("temperature", "0.0 to 2.0"),
    ),
    ("empty-model", lambda c: c.chat("hi", model=""), ConfigurationError, ("chat_model", "set")),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("row", BAD_CALLS, ids=[row[0] for row in BAD_CALLS])
def test_bad_input_is_refused_before_any_request_with_the_field_and_the_fix(
    server: LoopbackServer,
    provider: str,
    row: tuple[str, Callable[[Client], object], type[LLMPortError], tuple[str, ...]],
) -> None:
    case, call, error, words = row
    with wire(server, provider).client as client, pytest.raises(error) as raised:
        call(client)

    assert server.count == 0
    for word in words:
        assert word in str(raised.value), (case, str(raised.value))


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("inputs", "requests"), [(2049, 2), (4097, 3)])
def test_more_than_2048_embedding_inputs_are_batched_not_refused(
    server: LoopbackServer, provider: str, inputs: int, requests: int
) -> None:
    texts = [f"text {n}" for n in range(inputs)]
    with wire(server, provider).client as client:
        response = client.embed(texts)

    assert len(response.vectors) == inputs
    assert server.count == requests
    assert [len(request.body["input"]) for request in server.requests] == [2048] * (requests - 1) + [
        inputs - 2048 * (requests - 1)
    ]


# (id, settings, words the message must hold: the field, then the fix)
BAD_SETTINGS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "unknown-provider",
        {"provider": "anthropic", "api_key": "k"},
        ("provider", "openai, azure, azure_v1, fake"),
    ),
    (
        "azure-without-endpoint",
        {"provider": "azure", "api_key": "k", "api_version": "2024-10-21"},
        ("endpoint", "AZURE_OPENAI_ENDPOINT"),
    ),
    (
        "azure-without-api-version",
        {"endpoint": "https://r.openai.azure.com", "api_key": "k"},
        ("api_version", "OPENAI_API_VERSION"),
    ),
    (
        "azure-v1-with-api-version",
        {
            "provider": "azure_v1",
            "endpoint": "https://r.openai.azure.com",
            "api_key": "k",
            "api_version": "2024-10-21",
        },
        ("api_version", "remove it"),
    ),
    (
        "key-and-entra",
        {
            "endpoint": "https://r.openai.azure.com",
            "api_version": "2024-10-21",
            "api_key": "k",
            "auth": "entra",
        },
        ("auth", "remove the key"),
    ),
    (
        "key-and-token",
        {"endpoint": "https://r.openai.azure.com", "api_version": "2024-10-21", "api_key": "k", "token": "t"},
        ("auth", "remove one"),
    ),
    ("timeout-zero", {"provider": "openai", "api_key": "k", "timeout": 0}, ("timeout", "greater than 0")),
    (
        "timeout-negative",
        {"provider": "openai", "api_key": "k", "timeout": -1.5},
        ("timeout", "greater than 0"),
    ),
    (
        "timeout-not-a-number",
        {"provider": "openai", "api_key": "k", "timeout": "soon"},
        ("timeout", "(from dict)"),
    ),
    ("deadline-zero", {"provider": "openai", "api_key": "k", "deadline": 0}, ("deadline", "greater than 0")),
    ("openai-without-key", {"provider": "openai"}, ("api_key", "OPENAI_API_KEY")),
    (
        "key-with-trailing-newline",
        {"provider": "openai", "api_key": "sk-abc\n"},
        ("api_key", "(from dict)", "ends with a newline or spaces: strip it"),
    ),
    ("key-whitespace-only", {"provider": "openai", "api_key": "   "}, ("api_key", "only whitespace")),
    ("key-non-ascii", {"provider": "openai", "api_key": "sk-äbc"}, ("api_key", "non-ASCII")),
    (
        "endpoint-trailing-newline",
        {"endpoint": "https://r.openai.azure.com/openai/v1\n", "api_key": "k"},
        ("endpoint", "newline", "remove it"),
    ),
    (
        "api-version-padded",
        {"endpoint": "https://r.openai.azure.com", "api_version": " 2024-10-21", "api_key": "k"},
        ("api_version", "strip it"),
    ),
    ("chat-model-blank", {"provider": "openai", "api_key": "k", "chat_model": "  "}, ("chat_model", "blank")),
    (
        "azure-over-http",
        {"endpoint": "http://r.openai.azure.com/openai/v1", "api_key": "k"},
        ("endpoint", "https://", "allow_insecure_http"),
    ),
]


@pytest.mark.parametrize(("case", "values", "words"), BAD_SETTINGS, ids=[row[0] for row in BAD_SETTINGS])
def test_bad_configuration_is_refused_at_build_time_with_the_field_and_the_fix(
    case: str, values: dict[str, Any], words: tuple[str, ...]
) -> None:
    import llmport

    with pytest.raises(ConfigurationError) as raised:
        llmport.from_dict(values)

    for word in words:
        assert word in str(raised.value), (case, str(raised.value))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_client_without_a_chat_model_refuses_before_sending(server: LoopbackServer, provider: str) -> None:
    settings = settings_for(server, provider).replace(chat_model=None)
    import llmport

    with llmport.build_client(settings) as client, pytest.raises(ConfigurationError) as raised:
        client.chat("hi")

    assert server.count == 0
    assert "chat_model" in str(raised.value)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("padding", ["\n", " ", "\r\n"])
def test_a_padded_key_fails_at_build_time_not_as_a_connection_failure(
    server: LoopbackServer, provider: str, padding: str
) -> None:
    # It used to build, then fail each call with a retryable ConnectionFailedError after every
    # attempt and its backoff, with no request ever sent.
    with pytest.raises(ConfigurationError) as raised:
        settings_for(server, provider, api_key=server.api_key + padding)

    assert "api_key" in str(raised.value) and "strip it" in str(raised.value)
    assert server.api_key not in str(raised.value)
    assert server.count == 0
