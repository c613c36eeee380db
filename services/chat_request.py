"""The one place a chat option is declared: what ``Client.chat`` and ``Client.stream`` take, shaped."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..domain.call_options import CallOptions
from ..domain.conversations import MessagesLike, to_messages
from ..domain.models import Api, ChatRequest, Reasoning, ResponseFormat, Tool
from .structured import response_format_for

__all__ = ["chat_call", "check_keywords", "takes_arguments_of"]

P = ParamSpec("P")
S = TypeVar("S")
R = TypeVar("R")


def chat_call(
    prompt: MessagesLike,
    *,
    system: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
    seed: int | None = None,
    tools: Sequence[Tool | Mapping[str, Any]] | None = (),
    tool_choice: str | None = None,
    response_format: ResponseFormat | type[Any] | None = None,
    user: str | None = None,
    extra: Mapping[str, Any] | None = None,
    api: Api | None = None,
    n: int | None = None,
    logprobs: bool | None = None,
    top_logprobs: int | None = None,
    parallel_tool_calls: bool | None = None,
    reasoning: Reasoning | None = None,
    instructions: str | None = None,
    previous_response_id: str | None = None,
    store: bool | None = None,
    prompt_cache_key: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
    headers: Mapping[str, str] | None = None,
    cache: bool | None = None,
    cache_namespace: str | None = None,
) -> tuple[ChatRequest, CallOptions | None]:
    """The request of a chat or stream call, and its own options (None when it sets none).

    Its keywords are ``Client.chat``'s and ``Client.stream``'s (:func:`takes_arguments_of` shows
    them there): a new chat option is a keyword here, passed on to its ChatRequest field below,
    and a line in ``Client.chat``'s docstring (tests/unit/test_chat_options.py checks all three).
    A class as ``response_format`` becomes its strict JSON-schema format.

    Raises:
        ValidationError: an argument is malformed (CallOptions or ChatRequest names it).
    """
    # The call's options are checked first, as the client always did.
    options = None
    given = (max_retries, timeout, deadline, headers, cache, cache_namespace)
    if given.count(None) < len(given):  # a C loop: this runs on every call
        options = CallOptions(max_retries, deadline, timeout, _as_given(headers), cache, cache_namespace)
    # ChatRequest validates every argument and turns lists into tuples; nothing is converted
    # here, so that a wrong type (stop=5, extra="abc") reaches its check, not a raw tuple() or dict().
    request = ChatRequest(
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
        prompt_cache_key=prompt_cache_key,
    )
    return request, options


def takes_arguments_of(
    spec: Callable[P, object],
) -> Callable[[Callable[Concatenate[S, ...], R]], Callable[Concatenate[S, P], R]]:
    """Declare that a method ``def m(self, first, **rest)`` takes exactly ``spec``'s arguments.

    Type checkers (mypy, pyright) and IDEs then check and complete the method's calls against
    ``spec``'s parameters, and ``help()`` and ``inspect.signature`` show them (``__signature__``).
    Nothing wraps the method: a call costs what it did. An unknown keyword reaches ``spec`` and
    raises its TypeError there (see :func:`check_keywords`).
    """
    parameters = tuple(inspect.signature(spec).parameters.values())

    def decorate(method: Callable[Concatenate[S, ...], R]) -> Callable[Concatenate[S, P], R]:
        own = inspect.signature(method)
        this = next(iter(own.parameters.values()))
        method.__signature__ = own.replace(parameters=(this, *parameters))  # type: ignore[attr-defined]
        return method

    return decorate


def check_keywords(method: str, given: Mapping[str, object], spec: Callable[..., object] = chat_call) -> None:
    """Raise the TypeError Python raises for an unknown keyword, naming ``method``, if one was ``given``.

    For the rare path only (a TypeError came out of ``spec``): it reads ``spec``'s signature.
    """
    known = inspect.signature(spec).parameters
    for name in given:
        if name not in known:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}") from None


def _as_given(value: object) -> Any:
    """Pass an argument to a domain model as the caller gave it: the model checks and normalises it."""
    return value
