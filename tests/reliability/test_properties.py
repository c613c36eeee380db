"""Property tests: domain models validate every input with ValidationError; retry delays stay in bounds."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import (
    ConfigurationError,
    EmbeddingRequest,
    ImagePart,
    LLMPortError,
    Message,
    RateLimitedError,
    ResponseFormat,
    ServiceUnavailableError,
    Settings,
    TextPart,
    ToolCall,
    ToolSpec,
    ValidationError,
    build_client,
    fold_stream,
)
from llmport.adapters.llm.wire.chat import chat_body
from llmport.adapters.llm.wire.embeddings import embedding_body
from llmport.adapters.llm.wire.errors import retry_after_seconds
from llmport.adapters.llm.wire.responses import responses_body
from llmport.domain.conversations import to_messages
from llmport.domain.models import ROLES, ChatRequest
from llmport.services.retry import Retrier, RetryPolicy

ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
TEXT = st.text(min_size=1, max_size=40)
# One offline client for the whole module: the fake adapters get the same validated requests.
FAKE_CLIENT = build_client(Settings(provider="fake"))


@given(role=st.sampled_from(sorted(ROLES - {"tool"})), text=TEXT)
def test_valid_messages_construct_and_round_trip_through_openai_style_dicts(role: str, text: str) -> None:
    message = Message(role, text)  # type: ignore[arg-type]

    again = to_messages([{"role": message.role, "content": message.content}])

    assert again == (message,)
    assert again[0].text == text


@given(role=ANYTHING, content=ANYTHING)
def test_any_message_dict_either_constructs_or_raises_validation_error(role: Any, content: Any) -> None:
    try:
        messages = to_messages([{"role": role, "content": content}])
    except ValidationError:
        return
    assert messages[0].role in ROLES


@given(messages=ANYTHING, temperature=ANYTHING, max_tokens=ANYTHING, tool_choice=ANYTHING)
def test_any_chat_request_either_constructs_or_raises_validation_error(
    messages: Any, temperature: Any, max_tokens: Any, tool_choice: Any
) -> None:
    try:
        ChatRequest(messages, temperature=temperature, max_tokens=max_tokens, tool_choice=tool_choice)
    except ValidationError:
        return


@given(
    inputs=st.lists(TEXT.filter(bool), min_size=1, max_size=5), dimensions=st.none() | st.integers(1, 4096)
)
def test_valid_embedding_requests_construct_and_keep_their_inputs_in_order(
    inputs: list[str], dimensions: int | None
) -> None:
    request = EmbeddingRequest(inputs, dimensions=dimensions)  # type: ignore[arg-type]

    assert request.inputs == tuple(inputs)
    assert EmbeddingRequest(request.inputs, dimensions=request.dimensions) == request


@given(inputs=ANYTHING, dimensions=ANYTHING)
def test_any_embedding_request_either_constructs_or_raises_validation_error(
    inputs: Any, dimensions: Any
) -> None:
    try:
        request = EmbeddingRequest(inputs, dimensions=dimensions)
    except ValidationError:
        return
    assert all(isinstance(text, str) and text for text in request.inputs)


POLICIES = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 50),
    initial_backoff=st.floats(0, 10),
    max_backoff=st.floats(0, 60),
    max_retry_after=st.floats(0, 120),
    deadline=st.none() | st.floats(0.001, 1e6),
)
RAND = st.floats(0, 1, exclude_max=True)
HINTS = st.none() | st.floats(allow_nan=True, allow_infinity=True)


@given(policy=POLICIES, retries=st.integers(0, 10_000), rand=RAND, hint=HINTS)
def test_a_delay_is_always_between_zero_and_its_cap(
    policy: RetryPolicy, retries: int, rand: float, hint: float | None
) -> None:
    delay = policy.delay(retries, RateLimitedError("busy", retry_after=hint), rand)

    assert math.isfinite(delay)
    assert 0 <= delay <= max(policy.max_backoff, policy.max_retry_after)
    if hint is None or not hint > 0:
        assert delay <= policy.max_backoff


@given(policy=POLICIES, retries=st.integers(0, 60), rand=RAND, hint=st.floats(0.001, 1e6))
def test_a_retry_after_hint_is_honoured_up_to_the_cap(
    policy: RetryPolicy, retries: int, rand: float, hint: float
) -> None:
    delay = policy.delay(retries, RateLimitedError("busy", retry_after=hint), rand)

    assert delay >= min(hint, policy.max_retry_after)
    assert delay <= max(hint, policy.max_backoff) or delay == policy.max_retry_after


@given(policy=POLICIES, retries=st.integers(0, 200), rand=RAND)
def test_backoff_ceilings_never_shrink_from_one_retry_to_the_next(
    policy: RetryPolicy, retries: int, rand: float
) -> None:
    error = ServiceUnavailableError("down")

    assert policy.delay(retries, error, rand) <= policy.delay(retries + 1, error, rand)


@given(policy=POLICIES, failures=st.integers(0, 60))
@settings(max_examples=60)
def test_a_call_never_makes_more_than_max_retries_plus_one_attempts_nor_waits_past_the_deadline(
    policy: RetryPolicy, failures: int
) -> None:
    now = [0.0]
    attempts = [0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def operation() -> str:
        attempts[0] += 1
        if attempts[0] <= failures:
            raise ServiceUnavailableError("down")
        return "ok"

    retrier = Retrier(policy, sleep=sleep, clock=lambda: now[0], rand=lambda: 0.999)
    try:
        assert retrier.call(operation) == "ok"
    except LLMPortError:
        assert attempts[0] <= failures
    assert attempts[0] <= policy.max_retries + 1
    if policy.deadline is not None:
        assert now[0] < policy.deadline


@given(ms=st.none() | st.text(max_size=12), seconds=st.none() | st.text(max_size=40))
def test_any_retry_after_header_gives_a_non_negative_number_or_none(
    ms: str | None, seconds: str | None
) -> None:
    headers = {
        name: value for name, value in (("retry-after-ms", ms), ("retry-after", seconds)) if value is not None
    }

    hint = retry_after_seconds(headers, clock=lambda: 1_700_000_000.0)

    assert hint is None or hint >= 0


# -- every field of every request model, and the public functions ------------------------------
# Text with lone surrogates, control characters and spaces, which st.text() leaves out by default.
NASTY_TEXT = st.text(st.characters(categories=["Cs", "Cc", "Zs", "Ll", "Lu", "Nd", "Lo"]), max_size=8)
WILD = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**31, 2**63, 10**30, -(2**63) - 1])
    | st.floats()
    | NASTY_TEXT
    | st.text(max_size=8)
    | st.binary(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.text(max_size=4) | st.integers() | NASTY_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
TOOL = ToolSpec("lookup", "find things", {"type": "object", "properties": {"q": {"type": "string"}}})
# A valid value for each ChatRequest field, so that one wild field at a time reaches its check.
CHAT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "messages": st.just((Message.system("be brief"), Message.user("hi"))),
    "model": st.none() | st.just("gpt-4o-mini"),
    "temperature": st.none() | st.floats(0, 2),
    "top_p": st.none() | st.floats(0, 1),
    "max_tokens": st.none() | st.integers(1, 2**31 - 1),
    "stop": st.none() | st.lists(st.text(min_size=1, max_size=5), max_size=4),
    "seed": st.none() | st.integers(-(2**63), 2**63 - 1),
    "tools": st.just(()) | st.just((TOOL,)),
    "tool_choice": st.none(),
    "response_format": st.none() | st.just(ResponseFormat.json()),
    "user": st.none() | st.just("user-1"),
    "extra": st.just({}) | st.dictionaries(st.sampled_from(["logprobs", "n", "metadata"]), st.booleans()),
}
EMBEDDING_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "inputs": st.lists(TEXT, min_size=1, max_size=3),
    "model": st.none() | st.just("text-embedding-3-small"),
    "dimensions": st.none() | st.integers(1, 65536),
    "user": st.none() | st.just("user-1"),
}
MESSAGE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "role": st.just("assistant"),
    "content": st.none() | TEXT | st.just((TextPart("a"), ImagePart(url="https://x/a.png"))),
    "name": st.none() | st.just("ada"),
    "tool_calls": st.just(()) | st.just((ToolCall("c1", "lookup", "{}"),)),
    "tool_call_id": st.none(),
}


def strict_json(body: Any) -> None:
    """What a provider can read: JSON with no NaN or infinity, in UTF-8."""
    json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")


def one_field_wild(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid values for every field but one, which gets anything at all."""
    return st.sampled_from(sorted(fields)).flatmap(
        lambda wild: st.fixed_dictionaries({name: WILD if name == wild else fields[name] for name in fields})
    )


def refused(error: LLMPortError, values: dict[str, Any]) -> bool:
    """ValidationError, or ConfigurationError for a blank model (leave it unset to use the setting)."""
    if isinstance(error, ConfigurationError):
        return isinstance(values.get("model"), str) and not values["model"].strip()
    return type(error) is ValidationError


@given(values=one_field_wild(CHAT_FIELDS) | st.fixed_dictionaries(CHAT_FIELDS))
@settings(max_examples=400)
def test_any_chat_request_field_constructs_a_request_a_provider_can_read_or_raises_validation_error(
    values: dict[str, Any],
) -> None:
    try:
        request = ChatRequest(**values)
    except LLMPortError as error:
        assert refused(error, values), repr(error)
        return
    strict_json(chat_body(request, "m", stream=True, max_tokens_field="max_completion_tokens"))
    if request.stop is None and request.seed is None:
        strict_json(responses_body(request, "m", stream=False))
    assert set(request.extra).isdisjoint({"messages", "model", "stream", "input", "temperature"})


@given(values=one_field_wild(EMBEDDING_FIELDS) | st.fixed_dictionaries(EMBEDDING_FIELDS))
@settings(max_examples=200)
def test_any_embedding_request_field_constructs_a_request_a_provider_can_read_or_raises_validation_error(
    values: dict[str, Any],
) -> None:
    try:
        request = EmbeddingRequest(**values)
    except LLMPortError as error:
        assert refused(error, values), repr(error)
        return
    strict_json(embedding_body(request, "m"))
    assert request.dimensions is None or 1 <= request.dimensions <= 65536


@given(values=one_field_wild(MESSAGE_FIELDS) | st.fixed_dictionaries(MESSAGE_FIELDS))
@settings(max_examples=300)
def test_any_message_field_constructs_a_sendable_message_or_raises_validation_error(
    values: dict[str, Any],
) -> None:
    try:
        message = Message(**values)
    except ValidationError:
        return
    try:
        request = ChatRequest((message,))
    except ValidationError:
        return  # e.g. a tool call with a blank id: refused where a request is built
    strict_json(chat_body(request, "m", stream=False, max_tokens_field="max_tokens"))


@given(
    name=WILD | st.just("lookup"),
    description=WILD | st.just(""),
    parameters=WILD | st.just({"type": "object"}),
    strict=WILD | st.booleans(),
)
def test_any_tool_spec_constructs_or_raises_validation_error(
    name: Any, description: Any, parameters: Any, strict: Any
) -> None:
    try:
        tool = ToolSpec(name, description, parameters, strict)
    except ValidationError:
        return
    strict_json(
        chat_body(ChatRequest((Message.user("hi"),), tools=(tool,)), "m", stream=False, max_tokens_field="x")
    )


@given(
    kind=WILD | st.sampled_from(["text", "json_object", "json_schema"]), name=WILD, schema=WILD, strict=WILD
)
def test_any_response_format_constructs_or_raises_validation_error(
    kind: Any, name: Any, schema: Any, strict: Any
) -> None:
    try:
        ResponseFormat(kind, name, schema, strict)
    except ValidationError:
        return


@given(url=WILD | st.just("https://x/a.png"), data=WILD | st.just(b"x"), media_type=WILD, detail=WILD)
def test_any_image_part_constructs_or_raises_validation_error(
    url: Any, data: Any, media_type: Any, detail: Any
) -> None:
    try:
        part = ImagePart(url, data, media_type, detail)
    except ValidationError:
        return
    assert part.as_url().startswith(("https://", "http://", "data:image/"))


@given(prompt=WILD, system=st.none() | WILD)
def test_any_prompt_becomes_messages_or_raises_validation_error(prompt: Any, system: Any) -> None:
    try:
        messages = to_messages(prompt, system=system)
    except ValidationError:
        return
    assert all(isinstance(message, Message) for message in messages)


@given(chunks=WILD)
def test_fold_stream_of_anything_folds_or_raises_validation_error(chunks: Any) -> None:
    try:
        fold_stream(chunks)
    except ValidationError:
        return


@given(
    call=st.sampled_from(["chat", "stream", "embed"]),
    values=WILD,
    option=st.sampled_from(
        [
            "model",
            "temperature",
            "max_tokens",
            "stop",
            "seed",
            "tools",
            "tool_choice",
            "user",
            "extra",
            "dimensions",
        ]
    ),
)
@settings(max_examples=300)
def test_the_client_raises_only_llmport_errors_for_any_argument(call: str, values: Any, option: str) -> None:
    client = FAKE_CLIENT
    try:
        if call == "embed":
            if option in ("model", "dimensions", "user"):
                client.embed(["hi"], **{option: values})
            else:
                client.embed(values)
        elif call == "stream":
            list(client.stream("hi", **{option: values}) if option != "dimensions" else client.stream(values))
        else:
            client.chat("hi", **{option: values}) if option != "dimensions" else client.chat(values)
    except (ValidationError, ConfigurationError):
        return
