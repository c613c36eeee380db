"""No key, token or client secret in any log line, exception text, repr, or `llmport config show`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fault_table import FAULTS, run
from harness import PROVIDERS, debug_log_lines, wire
from loopback import LoopbackServer
from structlog.testing import capture_logs

from llmport import LLMPortError, Secret, Settings
from llmport.adapters.fakes import FakeCredential
from llmport.adapters.identity.credentials import (
    ApiKeyCredential,
    AzureIdentityCredential,
    StaticTokenCredential,
)
from llmport.domain.models import AccessToken
from llmport.testing import container_of

API_KEY = "sk-reliabilityKEY0123456789abcdefSECRET"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWxpYWJpbGl0eSJ9.c2lnbmF0dXJlU0VDUkVU"
CLIENT_SECRET = "cs~reliability~CLIENT~SECRET~42"
SECRETS = (API_KEY, TOKEN, CLIENT_SECRET)
LOGGERS = ("", "llmport", "openai", "httpx2", "httpcore2")


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """The root logger and the SDK's loggers at DEBUG, every record kept as text."""
    with debug_log_lines(LOGGERS) as kept:
        yield kept


def _exception_texts(error: BaseException | None) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        texts += [str(error), repr(error), *map(repr, error.args)]
        error = error.__cause__ or error.__context__
    return texts


def _leaks(texts: list[str]) -> list[str]:
    return [text[:200] for text in texts if any(secret in text for secret in SECRETS)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_secret_in_logs_or_errors_across_every_fault(lines: list[str], provider: str) -> None:
    texts: list[str] = []
    with capture_logs() as events:
        for fault in FAULTS:
            if fault.id in ("slow", "429-retry-after-date"):
                continue  # real-time faults: covered by test_faults; they add nothing here
            with LoopbackServer(api_key=API_KEY, token=TOKEN) as server:
                measured = run(server, provider, fault)
            texts += _exception_texts(measured.error)
    texts += lines + [repr(event) for event in events]

    assert len(events) >= len(FAULTS)  # the scan saw the call and retry events
    assert any(line.startswith(("openai", "httpx2", "httpcore2")) for line in lines)
    assert any("llmport.retry" in repr(event) for event in events)
    assert _leaks(texts) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_secret_when_the_key_or_token_is_refused(lines: list[str], provider: str) -> None:
    # The loopback answers 401 and, like OpenAI, quotes a masked piece of the wrong key.
    texts: list[str] = []
    with capture_logs() as events, LoopbackServer(api_key="server-key", token="server-token") as server:
        key_client = wire(server, provider, api_key=API_KEY).client
        token_client = wire(
            server, provider, auth="entra", credential=FakeCredential(AccessToken(TOKEN, 2e9))
        ).client
        for client in (key_client, token_client):
            with client, pytest.raises(LLMPortError) as raised:
                client.chat("hello")
            texts += [*_exception_texts(raised.value), repr(client)]
        sent = [request.headers for request in server.requests]
    texts += lines + [repr(event) for event in events]

    assert len(sent) == 3  # the key once; the token twice (one refresh after the 401)
    assert any(API_KEY in str(headers) for headers in sent)  # it was really sent, and really refused
    assert _leaks(texts) == []


def test_no_secret_in_the_repr_of_settings_credentials_clients_and_adapters(server: LoopbackServer) -> None:
    settings = [
        Settings(provider="openai", api_key=Secret(API_KEY)),
        Settings(endpoint="https://r.openai.azure.com", api_version="2024-10-21", token=Secret(TOKEN)),
        Settings(
            endpoint="https://r.openai.azure.com/openai/v1",
            credential="client_secret",
            client_id="app",
            tenant_id="tenant",
            client_secret=Secret(CLIENT_SECRET),
        ),
    ]
    wiring = wire(server, "azure", api_key=API_KEY)
    container: Any = container_of(wiring.client)
    objects: list[object] = [
        *settings,
        *(s.redacted() for s in settings),
        ApiKeyCredential(API_KEY),
        StaticTokenCredential(TOKEN),
        AzureIdentityCredential("client_secret", client_id="a", tenant_id="t", client_secret=CLIENT_SECRET),
        AccessToken(TOKEN, 2e9),
        wiring.client,
        container.chat_adapter(),
        container.chat_service(),
        container.embedding_service(),
        container.retrier(),
    ]
    texts = [repr(obj) for obj in objects] + [str(obj) for obj in objects]
    wiring.client.close()

    assert any("**" in text for text in texts)  # the secrets were there, and shown masked
    assert _leaks(texts) == []


def test_config_show_prints_no_secret() -> None:
    env = {
        **os.environ,
        "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
        "OPENAI_API_VERSION": "2024-10-21",
        "AZURE_OPENAI_API_KEY": API_KEY,
    }
    env_entra = {
        **os.environ,
        "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/openai/v1",
        "LLMPORT_CREDENTIAL": "client_secret",
        "AZURE_CLIENT_ID": "app",
        "AZURE_TENANT_ID": "tenant",
        "AZURE_CLIENT_SECRET": CLIENT_SECRET,
    }
    env_token = {**env, "AZURE_OPENAI_API_KEY": "", "AZURE_OPENAI_AD_TOKEN": TOKEN}
    outputs = []
    for environ in (env, env_entra, env_token):
        for name in ("LLMPORT_CONFIG", "OPENAI_API_KEY"):
            environ.pop(name, None)
        done = subprocess.run(
            [sys.executable, "-m", "llmport", "config", "show"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]

    assert sum("**********" in out for out in outputs) == 3  # each run had a secret, masked
    assert _leaks(outputs) == []
