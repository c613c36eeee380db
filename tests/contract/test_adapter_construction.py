"""Contract: how adapters are built, what they refuse, and that they fit the ports."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer

from llmport.domain.errors import ClientClosedError, ConfigurationError
from llmport.domain.models import ChatRequest, EmbeddingRequest, Message
from llmport.domain.ports import ChatPort, Closeable, EmbeddingPort


def test_every_adapter_fits_the_chat_embedding_and_closeable_ports(adapter: Any, case: AdapterCase) -> None:
    assert isinstance(adapter, ChatPort)
    assert isinstance(adapter, EmbeddingPort)
    assert isinstance(adapter, Closeable)
    assert adapter.provider == case.provider


def test_one_adapter_serves_many_threads_on_its_one_client(adapter: Any, server: LoopbackServer) -> None:
    client = adapter._client
    request = ChatRequest((Message.user("ping"),), model=MODEL)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: adapter.complete(request).text, range(40)))
        vectors = list(pool.map(lambda _: adapter.embed(EmbeddingRequest(("a",), model="e")), range(8)))

    assert replies == ["pong"] * 40 and len(vectors) == 8
    assert adapter._client is client
    assert len(server.requests) == 48


def test_closing_twice_is_harmless(make_adapter: Any, server: LoopbackServer) -> None:
    adapter = make_adapter()
    request = ChatRequest((Message.user("ping"),), model=MODEL)
    assert adapter.complete(request).text == "pong"  # a pooled keep-alive connection to close

    adapter.close()
    adapter.close()  # raises nothing

    # Still closed, and saying so: the second close neither reopened the client nor broke it.
    with pytest.raises(ClientClosedError):
        adapter.complete(request)
    with pytest.raises(ClientClosedError):
        adapter.embed(EmbeddingRequest(("a",), model="e"))
    assert server.count == 1  # nothing was sent after the first close


def test_the_repr_never_shows_the_key(make_adapter: Any) -> None:
    adapter = make_adapter(api_key="sk-secret-value-123", token_provider=lambda: "tok-secret")

    assert "secret" not in repr(adapter)


def azure_classic(**overrides: Any) -> Any:
    from llmport.adapters.llm.azure import AzureClassicAdapter

    options: dict[str, Any] = {
        "endpoint": "https://r.openai.azure.com",
        "api_version": "2024-10-21",
        "api_key": "k",
        **overrides,
    }
    return AzureClassicAdapter(**options)


def azure_v1(**overrides: Any) -> Any:
    from llmport.adapters.llm.azure import AzureV1Adapter

    options: dict[str, Any] = {"endpoint": "https://r.openai.azure.com", "api_key": "k", **overrides}
    return AzureV1Adapter(**options)


@pytest.mark.parametrize("build", [azure_classic, azure_v1], ids=["azure", "azure_v1"])
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"token_provider": lambda: "t"}, "exactly one"),
        ({"api_key": None}, "exactly one"),
        ({"api_key": ""}, "api_key is empty"),
        ({"endpoint": "r.openai.azure.com"}, "must be a URL"),
        ({"api": "completions"}, "api must be"),
    ],
)
def test_azure_adapters_refuse_contradictory_settings(
    build: Any, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build(**overrides)


def test_azure_classic_needs_an_api_version() -> None:
    with pytest.raises(ConfigurationError, match="api_version"):
        azure_classic(api_version="")


def test_openai_adapter_refuses_an_empty_key() -> None:
    from llmport.adapters.llm.openai import OpenAIAdapter

    with pytest.raises(ConfigurationError, match="api_key"):
        OpenAIAdapter(api_key="")


def test_azure_v1_builds_the_v1_base_url_from_the_resource_endpoint() -> None:
    for endpoint in ("https://r.openai.azure.com/", "https://r.openai.azure.com/openai/v1"):
        adapter = azure_v1(endpoint=endpoint)
        try:
            assert str(adapter._client.base_url) == "https://r.openai.azure.com/openai/v1/"
        finally:
            adapter.close()


def test_openai_adapter_ignores_openai_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmport.adapters.llm.openai import OpenAIAdapter

    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere.invalid/v1")
    adapter = OpenAIAdapter(api_key="k")
    try:
        assert str(adapter._client.base_url) == "https://api.openai.com/v1/"
    finally:
        adapter.close()


def test_importing_llmport_and_its_adapters_package_loads_no_vendor_sdk() -> None:
    code = (
        "import sys, llmport, llmport.adapters, llmport.adapters.identity.credentials\n"
        "import llmport.adapters.telemetry.otel\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx2', 'opentelemetry')"
        " or m.startswith('azure.identity'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("key", ["k-123\n", " k-123", "k-\u00e9\u00e8", "   "])
def test_an_adapter_refuses_a_key_that_cannot_travel_in_a_header(key: str) -> None:
    # A key file's trailing newline used to surface as a retried ConnectionFailedError.
    from llmport.adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
    from llmport.adapters.llm.openai import OpenAIAdapter

    builds = (
        lambda: OpenAIAdapter(api_key=key),
        lambda: AzureClassicAdapter(
            endpoint="https://r.openai.azure.com", api_version="2024-10-21", api_key=key
        ),
        lambda: AzureV1Adapter(endpoint="https://r.openai.azure.com", api_key=key),
    )
    for build in builds:
        with pytest.raises(ConfigurationError, match="api_key") as caught:
            build()
        assert key.strip() == "" or key.strip() not in str(caught.value)
