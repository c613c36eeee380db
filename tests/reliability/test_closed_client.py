"""A call on a closed client raises ClientClosedError, saying so and what to do, and sends nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import PROVIDERS, wire
from loopback import LoopbackServer

from llmport import Client, ClientClosedError

CALLS: list[tuple[str, Callable[[Client], object]]] = [
    ("chat", lambda c: c.chat("hi")),
    ("stream", lambda c: c.stream("hi")),  # at call time, not on the first next()
    ("embed", lambda c: c.embed(["hi"])),
    ("chat-bad-input", lambda c: c.chat(None)),  # type: ignore[arg-type]  # closed is said first
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_a_call_after_close_raises_client_closed_before_sending(
    server: LoopbackServer, provider: str, name: str, call: Callable[[Client], object]
) -> None:
    client = wire(server, provider).client
    client.chat("warm up")
    client.close()

    with pytest.raises(ClientClosedError) as raised:
        call(client)

    assert server.count == 1
    assert "closed" in str(raised.value) and "build a new one" in str(raised.value)
    assert "closed" in repr(client)


def test_close_twice_and_the_context_manager_leave_the_client_closed(server: LoopbackServer) -> None:
    with wire(server, "openai").client as client:
        client.close()
    client.close()

    with pytest.raises(ClientClosedError):
        client.embed("hi")
    assert server.count == 0
