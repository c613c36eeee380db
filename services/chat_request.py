"""What ``Client.chat`` and ``Client.stream`` are given, shaped into a ChatRequest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..domain.conversations import MessagesLike, to_messages
from ..domain.models import Api, ChatRequest, Reasoning, ResponseFormat, Tool
from .structured import response_format_for

__all__ = ["chat_request"]


def chat_request(  # one parameter per keyword of Client.chat
    prompt: MessagesLike,
    *,
    system: str | None,
    model: str | None,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    stop: str | Sequence[str] | None,
    seed: int | None,
    tools: Sequence[Tool | Mapping[str, Any]] | None,
    tool_choice: str | None,
    response_format: ResponseFormat | type[Any] | None,
    user: str | None,
    extra: Mapping[str, Any] | None,
    api: Api | None,
    n: int | None,
    logprobs: bool | None,
    top_logprobs: int | None,
    parallel_tool_calls: bool | None,
    reasoning: Reasoning | None,
    instructions: str | None,
    previous_response_id: str | None,
    store: bool | None,
) -> ChatRequest:
    """Build the request; a class as ``response_format`` becomes its strict JSON-schema format.

    Raises:
        ValidationError: an argument is malformed (ChatRequest names it).
    """
    # ChatRequest validates every argument and turns lists into tuples; nothing is converted
    # here, so that a wrong type (stop=5, extra="abc") reaches its check, not a raw tuple() or dict().
    return ChatRequest(
        to_messages(prompt, system=system),
        model=model,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=_as_given(stop),
        seed=seed,
        tools=_as_given(tools),
        tool_choice=tool_choice,
        response_format=response_format_for(response_format)
        if isinstance(response_format, type)
        else response_format,
        user=user,
        extra=_as_given(extra),
        api=api,
        n=n,
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        parallel_tool_calls=parallel_tool_calls,
        reasoning=reasoning,
        instructions=instructions,
        previous_response_id=previous_response_id,
        store=store,
    )


def _as_given(value: object) -> Any:
    """Pass an argument to a domain model as the caller gave it: the model checks and normalises it."""
    return value
