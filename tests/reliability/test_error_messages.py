"""What the provider said reaches the caller, whatever its error body looks like; a closed client says so."""

from __future__ import annotations

import threading
import time

import pytest
from fault_table import FAULTS, run
from harness import PROVIDERS, wire
from loopback import LoopbackServer, Reply

from llmport import ClientClosedError
from llmport.domain.redaction import redact

SAID = {
    "200-error-body": "The engine is overloaded",
    "401-detail-body": "Invalid subscription key",
    "400-error-string": "Unknown deployment: gpt-x",
    "text-400": "Bad Request",
}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault_id", sorted(SAID))
def test_the_providers_own_words_are_in_the_error(
    server: LoopbackServer, provider: str, fault_id: str
) -> None:
    fault = next(f for f in FAULTS if f.id == fault_id)
    measured = run(server, provider, fault)
    assert measured.error is not None
    assert SAID[fault_id] in str(measured.error)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_closing_the_client_during_a_call_fails_that_call_with_client_closed(
    server: LoopbackServer, provider: str
) -> None:
    server.script(Reply(delay=0.5), Reply(delay=0.5))
    wiring = wire(server, provider, max_retries=0)
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            wiring.client.chat("slow")
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    wiring.client.close()
    worker.join(timeout=5)
    # The reply may still come back on the connection it went out on (closing a socket does not
    # wake a thread blocked reading it); if it does not, the call says the client was closed.
    assert len(outcome) == 1
    assert outcome[0] is None or isinstance(outcome[0], ClientClosedError), repr(outcome[0])
    with pytest.raises(ClientClosedError, match="closed"):
        wiring.client.chat("after close")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "Access denied due to invalid subscription key 0123456789abcdef0123456789abcdef.",
            "0123456789abcdef0123456789abcdef",
        ),
        (
            "bad key: 7Fq2x9LmN4pR8sT1vW3yZ6bC5dE0gH2jK4mN6pQ8rS0tU2vW4xY6zA8bC0dE2fG4hJ6kL8mN0p",
            "7Fq2x9LmN4pR8sT1vW3yZ6bC5dE0gH2jK4mN6pQ8rS0tU2vW4xY6zA8bC0dE2fG4hJ6kL8mN0p",
        ),
        ("upstream rejected Authorization: Bearer opaque.tok-123", "opaque.tok-123"),
        ("header api-key=abc123 was refused", "abc123"),
        ("subscription-key: s3cr3t-v4lue; retry later", "s3cr3t-v4lue"),
        ('{"access_token": "zz9-yy8"}', "zz9-yy8"),
        ("token=hunter2&x=1", "hunter2"),
    ],
)
def test_redaction_catches_secrets_that_look_like_no_known_prefix(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redaction_keeps_request_ids_and_ordinary_words() -> None:
    text = "Request 3f2a9c1e-0b4d-4e6f-8a7b-1c2d3e4f5a6b failed: max_tokens is too large (4096 tokens)"
    assert redact(text) == text
    # A secret the adapter knows (its key, a token it sent) goes, whatever it looks like.
    assert redact("echo of short1 in the body", ["short1"]) == "echo of *** in the body"
