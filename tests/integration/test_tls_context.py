"""Every SDK client llmport builds shares one TLS context, and it still verifies as httpx would.

Real adapters, real httpx clients, and a real HTTPS server on 127.0.0.1 (the loopback server on a
socket wrapped with a throwaway self-signed certificate): trusted through ``SSL_CERT_FILE``,
which httpx honours and so does the shared context, or through a user's own ``httpx2.Client``;
refused when nothing trusts it.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from loopback import LoopbackServer  # the paths are set above
from token_endpoint import _self_signed

import llmport
from llmport.adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.domain.errors import ConnectionFailedError


def tls_context_of(adapter: Any) -> ssl.SSLContext:
    """The SSLContext the adapter's SDK client connects with (httpx's transport keeps it in its pool)."""
    http_client = adapter._sdk()._client
    context = http_client._transport._pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    return context


def adapters() -> list[Any]:
    return [
        OpenAIAdapter(api_key="sk-a", base_url="https://one.example.invalid/v1"),
        OpenAIAdapter(api_key="sk-b", base_url="https://two.example.invalid/v1"),
        AzureClassicAdapter(endpoint="https://r.openai.azure.com", api_version="2024-10-21", api_key="k"),
        AzureV1Adapter(endpoint="https://r.openai.azure.com", api_key="k"),
    ]


def test_every_adapter_connects_with_the_same_verifying_tls_context_but_its_own_pool() -> None:
    built = adapters()
    contexts = [tls_context_of(adapter) for adapter in built]
    assert all(context is contexts[0] for context in contexts)
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname
    pools = {id(adapter._sdk()._client._transport._pool) for adapter in built}
    assert len(pools) == len(built)  # connection pools stay one per SDK client
    # After a fork an adapter builds a new SDK client and pool; the context, plain memory, is kept.
    first = built[0]
    old_pool = first._sdk()._client._transport._pool
    first.after_fork()
    assert first._sdk()._client._transport._pool is not old_pool
    assert tls_context_of(first) is contexts[0]
    for adapter in built:
        adapter.close()


def test_a_users_http_client_keeps_its_own_tls_context() -> None:
    mine_context = ssl.create_default_context()
    with httpx2.Client(verify=mine_context) as mine:
        adapter = OpenAIAdapter(api_key="sk-a", base_url="https://one.example.invalid/v1", http_client=mine)
        assert tls_context_of(adapter) is mine_context
        shared = OpenAIAdapter(api_key="sk-b", base_url="https://two.example.invalid/v1")
        assert tls_context_of(shared) is not mine_context
        shared.close()


@pytest.fixture
def https_server() -> Iterator[tuple[LoopbackServer, str]]:
    """The loopback server over TLS with a self-signed certificate for 127.0.0.1, and the cert's path."""
    with tempfile.TemporaryDirectory(prefix="llmport-tls-") as directory:
        cert, key = _self_signed(Path(directory))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        with LoopbackServer(tls=context) as server:
            yield server, str(cert)


def https_settings(server: LoopbackServer) -> llmport.Settings:
    url = server.url.replace("http://", "https://")
    return llmport.Settings(
        provider="openai", base_url=f"{url}/v1", api_key=server.api_key, chat_model="m", max_retries=0
    )


def test_a_certificate_trusted_through_ssl_cert_file_is_accepted_and_refused_without_it(
    https_server: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cafile = https_server
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", cafile)
    with llmport.build_client(https_settings(server)) as client:
        assert client.chat("hi").text
    monkeypatch.delenv("SSL_CERT_FILE")  # the system store, which knows nothing of this certificate
    with llmport.build_client(https_settings(server)) as client, pytest.raises(ConnectionFailedError):
        client.chat("hi")
    assert server.count == 1  # the refused handshake never reached the handler


def test_a_certificate_trusted_through_a_users_http_client_is_accepted(
    https_server: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cafile = https_server
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with (
        httpx2.Client(verify=ssl.create_default_context(cafile=cafile)) as mine,
        llmport.build_client(https_settings(server), http_client=mine) as client,
    ):
        assert client.chat("hi").text
    with llmport.build_client(https_settings(server)) as client, pytest.raises(ConnectionFailedError):
        client.chat("hi")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_verifies_with_the_shared_context_over_its_own_connections(
    https_server: tuple[LoopbackServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cafile = https_server
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", cafile)
    with llmport.build_client(https_settings(server)) as client:
        assert client.chat("hi").text  # the parent's pool now holds a TLS connection
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one call over a new connection, the outcome through the pipe
            try:
                outcome = client.chat("hi").text
            except BaseException as error:
                outcome = f"failed: {type(error).__name__}"
            os.write(write_end, outcome.encode()[:200])
            os._exit(0)
        os.close(write_end)
        outcome = os.read(read_end, 256).decode()
        os.close(read_end)
        os.waitpid(pid, 0)
        assert outcome and not outcome.startswith("failed"), outcome
        assert client.chat("hi").text  # the parent's own connection is still good
    assert server.count == 3
