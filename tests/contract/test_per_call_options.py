"""Per-call options and headers (issue 11) through the real container, SDK and HTTP, on every adapter case.

``client.with_options(...)`` and the keyword arguments ``max_retries``, ``timeout``, ``deadline``
and ``headers`` of ``chat``/``stream``/``embed`` change one call (or the calls of one view) only;
``default_headers`` go with every request; headers named like credentials are never shown and
are cut from error messages that echo them.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adapter_cases import CASES, AdapterCase
from dependency_injector import providers
from harness import client_sockets
from loopback import LoopbackServer, Reply
from wire_samples import openai_error

import llmport
from llmport import Client, Settings, build_client
from llmport.domain.call_options import CallOptions, current_call_options
from llmport.domain.errors import ConfigurationError, ServiceUnavailableError, ValidationError
from llmport.domain.models import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    Usage,
)
from llmport.testing import Container, container_of

APIM_KEY = "apim-s3cr3t-7q"  # short: no pattern would hide it, only the redactor knowing it
DEFAULTS = {"Ocp-Apim-Subscription-Key": APIM_KEY, "x-ms-client-request-id": "trace-default"}


def settings_for(server: LoopbackServer, case: AdapterCase, **values: Any) -> Settings:
    where: dict[str, Any] = {"provider": case.shape, "chat_model": "gpt-4o-mini", "embedding_model": "emb"}
    if case.shape == "openai":
        where["base_url"] = f"{server.url}/v1"
    else:
        where["endpoint"] = server.url if case.shape == "azure" else f"{server.url}/openai/v1"
    if case.shape == "azure":
        where["api_version"] = "2024-10-21"
    if case.auth == "key":
        where["api_key"] = server.api_key
    else:
        where["token"] = server.token
    return Settings(**{**where, **values})


@pytest.fixture
def client(server: LoopbackServer, case: AdapterCase) -> Iterator[Client]:
    """A real client on ``case``'s adapter with default headers; retries wait no real time."""
    settings = settings_for(server, case, default_headers=DEFAULTS, max_retries=2)
    container = Container(settings=settings)
    container.sleep.override(providers.Object(lambda seconds: None))
    with build_client(settings, container) as built:
        yield built


def sent(server: LoopbackServer, name: str) -> list[str | None]:
    return [request.headers.get(name.lower()) for request in server.requests]


def test_default_headers_go_with_every_request(client: Client, server: LoopbackServer) -> None:
    client.chat("hi")
    list(client.stream("hi"))
    client.embed(["a", "b"])

    assert sent(server, "Ocp-Apim-Subscription-Key") == [APIM_KEY] * 3
    assert sent(server, "x-ms-client-request-id") == ["trace-default"] * 3


def test_per_call_headers_go_with_that_call_only(client: Client, server: LoopbackServer) -> None:
    client.chat("hi", headers={"x-ms-client-request-id": "trace-1", "x-extra": "1"})
    list(client.stream("hi", headers={"x-ms-client-request-id": "trace-2"}))
    client.embed(["a"], headers={"x-ms-client-request-id": "trace-3"})
    client.chat("hi")

    assert sent(server, "x-ms-client-request-id") == ["trace-1", "trace-2", "trace-3", "trace-default"]
    assert sent(server, "x-extra") == ["1", None, None, None]
    # A call's headers are added to the defaults, not instead of them.
    assert sent(server, "Ocp-Apim-Subscription-Key") == [APIM_KEY] * 4


def test_a_view_sends_its_headers_and_the_client_keeps_its_own(
    client: Client, server: LoopbackServer
) -> None:
    traced = client.with_options(headers={"x-ms-client-request-id": "view"})
    deeper = traced.with_options(headers={"x-team": "search"})

    traced.chat("hi")
    deeper.chat("hi")
    deeper.chat("hi", headers={"x-team": "ads"})
    client.chat("hi")

    assert sent(server, "x-ms-client-request-id") == ["view", "view", "view", "trace-default"]
    assert sent(server, "x-team") == [None, "search", "ads", None]


def test_embedding_batches_on_the_pool_all_carry_the_call_headers(
    server: LoopbackServer, case: AdapterCase
) -> None:
    settings = settings_for(server, case, embedding_batch_size=1, embedding_max_workers=3)
    with build_client(settings) as client:
        reply = client.embed([f"text {i}" for i in range(6)], headers={"x-job": "nightly"})

    assert len(reply.vectors) == 6
    assert sent(server, "x-job") == ["nightly"] * 6


def test_a_view_shares_the_connection_pool_and_services(client: Client, server: LoopbackServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    client.chat("hi")
    adapter = container_of(client).chat_adapter()
    sdk = adapter._sdk()
    before = client_sockets(port)

    view = client.with_options(max_retries=5, timeout=30, deadline=60, headers={"x-view": "1"})
    for _ in range(5):
        view.chat("hi")
        client.chat("hi", timeout=20)

    # The same SDK client and pool carried every call: still one keep-alive connection.
    assert (before, client_sockets(port)) == (1, 1)
    assert adapter._sdk() is sdk
    assert container_of(client).chat_service() is client._chat
    assert view._root is client


def test_closing_a_view_leaves_the_client_open_and_closing_the_client_closes_its_views(
    client: Client,
) -> None:
    with client.with_options(max_retries=0) as view:
        view.chat("hi")
    client.chat("hi")  # still open

    client.close()
    with pytest.raises(llmport.ClientClosedError):
        view.chat("hi")


@pytest.mark.parametrize("case", [CASES[0], CASES[2]], ids=lambda case: case.id)
def test_max_retries_per_call_and_per_view_change_only_those_calls(
    client: Client, server: LoopbackServer
) -> None:
    busy = Reply(503, openai_error("busy", code="server_error", type="server_error"))

    def attempts(call: Any) -> int:
        before = server.count
        server.respond_with(lambda index, request: busy)
        with pytest.raises(ServiceUnavailableError):
            call()
        server.respond_with(None)
        return server.count - before

    assert attempts(lambda: client.chat("hi")) == 3  # the client's max_retries=2
    assert attempts(lambda: client.chat("hi", max_retries=0)) == 1
    assert attempts(lambda: client.with_options(max_retries=5).chat("hi")) == 6
    assert attempts(lambda: list(client.stream("hi", max_retries=1))) == 2
    assert attempts(lambda: client.embed(["a"], max_retries=4)) == 5
    assert attempts(lambda: client.with_options(max_retries=5).chat("hi", max_retries=0)) == 1
    assert attempts(lambda: client.chat("hi")) == 3  # nothing stuck


@pytest.mark.parametrize("case", [CASES[1]], ids=lambda case: case.id)
def test_an_error_echoing_a_credential_header_is_redacted(client: Client, server: LoopbackServer) -> None:
    echo = f"subscription {APIM_KEY} has no access; gateway token {'gw-tok-42'}"
    server.script(Reply(403, openai_error(echo, code="forbidden", type="invalid_request_error")))
    server.script(Reply(403, openai_error(echo, code="forbidden", type="invalid_request_error")))

    with pytest.raises(llmport.PermissionDeniedError) as default_caught:
        client.chat("hi")
    with pytest.raises(llmport.PermissionDeniedError) as call_caught:
        client.chat("hi", headers={"x-gateway-token": "gw-tok-42"})

    for caught in (default_caught, call_caught):
        assert APIM_KEY not in str(caught.value)
        assert "has no access" in str(caught.value)
    assert "gw-tok-42" not in str(call_caught.value)


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"x-trace": "a\r\nInjected: 1"}, "x-trace"),
        ({"x-trace": "caf\u00e9"}, "x-trace"),
        ({"bad name": "1"}, "bad name"),
        ({"x-trace": 1}, "x-trace"),
        ({"x-trace": " padded\n"}, "x-trace"),
    ],
)
def test_a_header_that_cannot_be_sent_is_refused_before_any_request(
    server: LoopbackServer, headers: dict[str, Any], named: str
) -> None:
    with build_client(settings_for(server, CASES[0])) as client:
        for call in (
            lambda: client.chat("hi", headers=headers),
            lambda: client.stream("hi", headers=headers),
            lambda: client.embed(["a"], headers=headers),
            lambda: client.with_options(headers=headers),
        ):
            with pytest.raises(ValidationError, match=repr(named)):
                call()
        with pytest.raises(ConfigurationError, match=rf"default_headers: header {named!r}.*\(from dict\)"):
            Settings.from_dict({"provider": "fake", "default_headers": headers})
    assert server.count == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"deadline": -5}, "deadline"),
        ({"headers": "x-a: 1"}, "mapping"),
    ],
)
def test_bad_per_call_options_are_a_validation_error(options: dict[str, Any], message: str) -> None:
    with llmport.from_dict({"provider": "fake"}) as client:
        with pytest.raises(ValidationError, match=message):
            client.chat("hi", **options)
        with pytest.raises(ValidationError, match=message):
            client.with_options(**options)


# -- what reaches the port: the options of that call, and nothing when none is given ----------


class _SeenOptions:
    """A chat and embedding port that records the call options current at each request."""

    def __init__(self) -> None:
        self.seen: list[CallOptions | None] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.seen.append(current_call_options())
        return ChatResponse(message=Message(role="assistant", content="ok"), model=request.model or "")

    def stream(self, request: ChatRequest) -> Iterator[Any]:
        raise NotImplementedError

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        self.seen.append(current_call_options())
        return EmbeddingResponse(vectors=[[0.0]] * len(request.inputs), usage=Usage(), model=request.model)


def test_without_options_the_port_sees_none_and_a_views_options_never_leak() -> None:
    port = _SeenOptions()
    settings = Settings(provider="fake")
    container = Container(settings=settings)
    container.chat_adapter.override(providers.Object(port))
    container.embedding_adapter.override(providers.Object(port))
    with build_client(settings, container) as client:
        client.chat("hi")
        client.chat("hi", max_retries=1)  # retries only: nothing for the port to apply
        client.with_options(timeout=5, headers={"x-a": "1"}).chat("hi")
        client.chat("hi")
        client.embed(["a"], timeout=7)

    assert port.seen[:2] == [None, None]
    assert port.seen[2] == CallOptions(timeout=5.0, headers={"x-a": "1"})  # type: ignore[arg-type]
    assert port.seen[3] is None
    assert port.seen[4] is not None and port.seen[4].timeout == 7.0


def test_per_call_timeout_reaches_the_sdk_request(server: LoopbackServer) -> None:
    # The SDK tells the server the read timeout it applies: the call's, not the client's.
    with build_client(settings_for(server, CASES[0], timeout=60)) as client:
        client.chat("hi")
        client.chat("hi", timeout=2.5)
        client.with_options(timeout=4).embed(["a"])

    assert sent(server, "x-stainless-read-timeout") == ["60", "2.5", "4.0"]


# -- default_headers as a setting: dict, TOML, environment; never shown --------------------------


def test_default_headers_from_toml_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "llmport.toml"
    config.write_text(
        'provider = "fake"\n[default_headers]\n"Ocp-Apim-Subscription-Key" = "k1"\n"x-team" = "search"\n'
    )
    from_file = Settings.from_toml(config)
    from_env = Settings.from_env(
        {"LLMPORT_PROVIDER": "fake", "LLMPORT_DEFAULT_HEADERS": json.dumps({"x-team": "search"})}
    )

    assert dict(from_file.default_headers) == {"Ocp-Apim-Subscription-Key": "k1", "x-team": "search"}
    assert dict(from_env.default_headers) == {"x-team": "search"}
    assert from_env.source("default_headers") == "environment LLMPORT_DEFAULT_HEADERS"
    assert Settings(provider="fake").source("default_headers") == "default"
    with pytest.raises(ConfigurationError, match=r"JSON object.*LLMPORT_DEFAULT_HEADERS") as caught:
        Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_DEFAULT_HEADERS": "api-key=k9"})
    assert "k9" not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    ["api-key", "Authorization", "Ocp-Apim-Subscription-Key", "x-api-key", "Cookie", "x-my-secret", "x-auth"],
)
def test_credential_headers_are_hidden_wherever_settings_are_shown(name: str) -> None:
    settings = Settings(provider="fake", default_headers={name: "hush-9", "x-team": "search"})

    assert settings.redacted()["default_headers"] == {name: "**********", "x-team": "search"}
    assert "hush-9" not in repr(settings)
    assert "hush-9" not in str(settings)
    assert settings.default_headers[name] == "hush-9"  # still sent as it is


def test_config_show_hides_credential_headers_valid_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmport.entrypoints.cli.config import config_show

    for name in list(os.environ):
        if name.startswith(("LLMPORT_", "OPENAI_", "AZURE_OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LLMPORT_PROVIDER", "fake")
    monkeypatch.setenv("LLMPORT_DEFAULT_HEADERS", json.dumps({"api-key": "hush-9", "x-team": "search"}))
    shown, errors = io.StringIO(), io.StringIO()
    assert config_show(None, None, shown, errors) == 0
    assert "hush-9" not in shown.getvalue() and "search" in shown.getvalue()

    # A configuration that does not validate is shown unchecked: still without the secret.
    monkeypatch.setenv("LLMPORT_DEFAULT_HEADERS", json.dumps({"api-key": "hush-9", "x-bad": "a\nb"}))
    shown, errors = io.StringIO(), io.StringIO()
    assert config_show(None, None, shown, errors) == 2
    assert "hush-9" not in shown.getvalue() + errors.getvalue()
    assert "'x-bad'" in errors.getvalue()
