"""What the context-window check costs per call (``PYTHONPATH=tests/support``, then run this file).

One run, one loopback server (tests/support/loopback.py), the real openai SDK over HTTP: a chat call
with the check off (no counter: the chat service holds no check, so it costs nothing) and on (the
tiktoken counter), alternated, best of several repeats; then the check alone, timed in the same run,
as a share of the loopback call: a short prompt (settled by its bytes, no tokenizer), a
4,000-token conversation on gpt-4o-mini (128,000 tokens: settled by its bytes too) and on gpt-4
(8,192 tokens: its bytes could exceed the window, so it is counted). The tokenizer's first load
is paid before timing. Figures vary with the machine; the ratios are what to read.
"""

from __future__ import annotations

import statistics
import timeit

from dependency_injector import providers
from loopback import LoopbackServer

import llmport
from llmport.domain.messages import Message
from llmport.domain.models import ChatRequest
from llmport.services.context_check import ContextCheck
from llmport.testing import Container

CALLS = 200
REPEATS = 5
SHORT = "What is the capital of France? Answer in one word."


def conversation(turns: int = 45) -> tuple[Message, ...]:
    """About 4,000 tokens: ``turns`` user and assistant turns of about 50 tokens each."""
    text = (
        "The quarterly report shows revenue up 12% on last year, driven by the new subscription "
        "tier; costs rose 4% as we hired two engineers. Next steps: review pricing in March."
    )
    return tuple(Message("user" if i % 2 == 0 else "assistant", f"{i}: {text}") for i in range(turns * 2))


def _client(server: LoopbackServer, checked: bool) -> llmport.Client:
    settings = llmport.Settings(
        provider="openai", base_url=f"{server.url}/v1", api_key=server.api_key, chat_model="gpt-4o-mini"
    )
    container = Container(settings=settings)
    if not checked:
        container.token_counter.override(providers.Object(None))
    return llmport.build_client(settings, container)


def _per_call(function: object, number: int) -> float:
    timer = timeit.Timer(function)  # type: ignore[arg-type]
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def main() -> None:
    with LoopbackServer() as server:
        clients = {"off": _client(server, False), "on": _client(server, True)}
        for client in clients.values():
            client.chat(SHORT)  # connections open, the tokenizer loaded
        calls: dict[str, list[float]] = {label: [] for label in clients}
        for _round in range(REPEATS):
            for label, client in clients.items():
                calls[label].append(_per_call(lambda c=client: c.chat(SHORT), CALLS))
        counter = llmport.testing.container_of(clients["on"]).token_counter()  # type: ignore[union-attr]
        for client in clients.values():
            client.close()
    loopback = statistics.median(calls["off"])
    print(f"loopback chat call, check off: {loopback * 1e6:8.1f} us (median of {REPEATS} bests of {CALLS})")
    print(f"loopback chat call, check on:  {statistics.median(calls['on']) * 1e6:8.1f} us")
    print("check off: the chat service holds no check: 0 us, 0.00%")
    check = ContextCheck(counter)
    long = conversation()
    cases = {
        "short prompt, gpt-4o-mini": ChatRequest((Message("user", SHORT),), model="gpt-4o-mini"),
        "4,000-token conversation, gpt-4o-mini": ChatRequest(long, model="gpt-4o-mini", max_tokens=500),
        "4,000-token conversation, gpt-4 (counted)": ChatRequest(long, model="gpt-4", max_tokens=500),
        "unknown model (no window)": ChatRequest((Message("user", SHORT),), model="my-model"),
    }
    tokens = counter.count_chat(cases["4,000-token conversation, gpt-4o-mini"]).tokens
    print(f"(the conversation counts {tokens} prompt tokens on gpt-4o-mini)")
    for label, request in cases.items():
        check.check(request)
        seconds = _per_call(lambda r=request: check.check(r), 2_000)
        print(f"check on, {label}: {seconds * 1e6:8.2f} us = {seconds / loopback:6.2%} of a loopback call")
    short = cases["short prompt, gpt-4o-mini"]
    counted = _per_call(lambda: counter.count_chat(short), 2_000)
    print(
        f"counting the short prompt (a routed call's budget counts every call): {counted * 1e6:.2f} us "
        f"= {counted / loopback:.2%}"
    )


if __name__ == "__main__":
    main()
