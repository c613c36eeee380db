"""Request ids, error codes and messages come back whole; only secrets are cut out (issue 19, 6)."""

from __future__ import annotations

import pytest
from harness import PROVIDERS, wire
from loopback import LoopbackServer, Reply
from wire_samples import chat_completion, openai_error

from llmport import BadRequestError, ContextLengthExceededError, LLMPortError
from llmport.domain.redaction import Redactor, redact

# llama-cpp-python's server sends x-request-id as uuid4().hex: 32 hex characters.
HEX_ID = "0123456789abcdef0123456789abcdef"
CONTEXT_MESSAGE = (
    "This model's maximum context length is 8192 tokens. However, your messages resulted in "
    "9000 tokens. Please reduce the length of the messages."
)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_32_hex_request_id_comes_back_on_replies_streams_and_errors(
    server: LoopbackServer, provider: str
) -> None:
    headers = {"x-request-id": HEX_ID}
    server.script(
        Reply(body=chat_completion(model="m", azure=provider != "openai"), headers=headers),
        Reply(400, openai_error("bad request", code="invalid_value"), headers=headers),
    )
    with wire(server, provider, max_retries=0).client as client:
        reply = client.chat("hi")
        with pytest.raises(BadRequestError) as raised:
            client.chat("hi")
        server.respond_with(lambda index, request: Reply(400, openai_error("no", code=None), headers=headers))
        with pytest.raises(LLMPortError) as streamed:
            list(client.stream("hi"))

    assert reply.request_id == HEX_ID
    assert raised.value.request_id == HEX_ID
    assert streamed.value.request_id == HEX_ID


def test_an_apim_request_id_comes_back_whole(server: LoopbackServer) -> None:
    server.script(Reply(body=chat_completion(model="m", azure=True), headers={"apim-request-id": HEX_ID}))
    with wire(server, "azure").client as client:
        reply = client.chat("hi")
    assert reply.apim_request_id == HEX_ID


@pytest.mark.parametrize(
    "request_id",
    [
        "req_0123456789abcdef0123456789abcdef",  # OpenAI's x-request-id
        HEX_ID,  # llama-cpp-python, trace ids
        "3f2a9c1e-0b4d-4e6f-8a7b-1c2d3e4f5a6b",  # Azure's apim-request-id
        "chatcmpl-AbCdEf0123456789GhIjKl0123456789",  # the id of a reply
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",  # a Responses API id
    ],
)
def test_redaction_keeps_request_ids_in_messages(request_id: str) -> None:
    assert redact(request_id) == request_id
    text = f"The server had an error processing your request. Request id {request_id}. Retry."
    assert redact(text) == text
    assert redact(f"failed ({request_id})") == f"failed ({request_id})"
    assert redact(f"failed: {request_id}.") == f"failed: {request_id}."


@pytest.mark.parametrize(
    "text",
    [
        f"Access denied due to invalid subscription key {HEX_ID}.",
        f"api-key: {HEX_ID}",
        f"Bearer {HEX_ID}",
        f"the secret {HEX_ID} was refused",
    ],
)
def test_a_32_hex_key_is_hidden_when_the_message_calls_it_a_key(text: str) -> None:
    # Not configured on this client, so only the words before it can tell a key from an id.
    assert HEX_ID not in redact(text)


def test_a_configured_32_hex_key_is_hidden_wherever_it_stands_and_an_id_equal_to_it_too() -> None:
    redactor = Redactor(HEX_ID)
    assert HEX_ID not in redactor(f"request {HEX_ID} failed")
    assert redactor.request_id(HEX_ID) == "***"
    assert redactor.request_id("req_" + HEX_ID) == "req_" + HEX_ID


def test_a_one_letter_key_is_replaced_only_as_a_whole_token() -> None:
    redactor = Redactor("x")
    assert redactor.value("context_length_exceeded") == "context_length_exceeded"
    assert redactor("max tokens exceeded; x-request-id kept; key x refused") == (
        "max tokens exceeded; x-request-id kept; key *** refused"
    )
    assert redact("conte(x)t", ["x"]) == "conte(***)t"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_with_api_key_x_the_providers_code_message_and_id_stay_whole(provider: str) -> None:
    with LoopbackServer(api_key="x") as server:
        server.script(
            Reply(
                400,
                openai_error(CONTEXT_MESSAGE + " (sent with key x)", code="context_length_exceeded"),
                headers={"x-request-id": "req_x0x"},
            )
        )
        with wire(server, provider, max_retries=0).client as client, pytest.raises(BadRequestError) as raised:
            client.chat("hi")

    error = raised.value
    assert isinstance(error, ContextLengthExceededError)
    assert error.code == "context_length_exceeded"
    assert error.request_id == "req_x0x"
    assert error.message == CONTEXT_MESSAGE + " (sent with key ***)"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Entra ID (default) gave no token: DefaultAzureCredential failed to retrieve a token",
            "Entra ID (default) gave no token: DefaultAzureCredential failed to retrieve a token",
        ),
        ("gave no token: failed to retrieve a token", "gave no token: failed to retrieve a token"),
        ("token: s3cr3t", "***"),
        ("password: hunter2", "***"),
        ('"token": "opaque"', '"***"'),
        ('token: "opaque"', '***"'),
        ("token=opaque", "***"),
    ],
)
def test_a_word_after_token_colon_is_prose_a_value_is_a_secret(text: str, kept: str) -> None:
    assert redact(text) == kept


def test_unnamed_long_runs_that_are_no_id_are_still_hidden() -> None:
    # Azure's 84-character keys, SAS signatures: mixed-case base62, no id prefix, no id word before.
    key = "7Fq2x9LmN4pR8sT1vW3yZ6bC5dE0gH2jK4mN6pQ8rS0tU2vW4xY6zA8bC0dE2fG4hJ6kL8mN0pQ2rS4tU6vW8xY0z"
    assert redact(f"echo {key} end") == "echo *** end"


@pytest.mark.parametrize(
    "token",
    ["ghp_0123456789abcdefABCDEF0123456789abcd", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMn"],
)
def test_well_known_tokens_shaped_like_prefixed_ids_are_still_hidden(token: str) -> None:
    assert redact(f"upstream said {token}") == "upstream said ***"
