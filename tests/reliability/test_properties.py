"""Property tests: domain models validate every input with ValidationError; retry delays stay in bounds."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmport import (
    EmbeddingRequest,
    LLMPortError,
    Message,
    RateLimitedError,
    ServiceUnavailableError,
    ValidationError,
)
from llmport.adapters._errors import retry_after_seconds
from llmport.domain.conversations import to_messages
from llmport.domain.models import ROLES, ChatRequest
from llmport.services.retry import Retrier, RetryPolicy

ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
TEXT = st.text(min_size=1, max_size=40)


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
