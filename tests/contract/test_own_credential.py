"""Your own credential: a token-provider callable, an azure-core TokenCredential object, a nested table.

Each goes through Settings, ``llmport.from_dict``, TOML or the container, and gets llmport's token
cache, refresh margin and 401 rule (a retry only with a different token). The end-to-end cases use
azure-identity's real classes (``get_bearer_token_provider(ManagedIdentityCredential(), scope)`` and
``ManagedIdentityCredential()`` itself) against a local App Service managed-identity endpoint, and
the loopback server as Azure classic and Azure v1.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from loopback import LoopbackServer, RecordedRequest, Reply
from token_endpoint import TokenEndpoint, point_managed_identity_at, refuse_off_machine
from wire_samples import azure_error, openai_error

import llmport
from llmport import AuthenticationError, ConfigurationError, Settings, build_client
from llmport.adapters.fakes import FakeCredential
from llmport.adapters.identity.credentials import AzureCoreCredential, TokenProviderCredential
from llmport.domain.models import AccessToken
from llmport.services.token_cache import TokenCache
from llmport.settings.model import OwnCredential
from llmport.testing import Container

SCOPE = "https://cognitiveservices.azure.com/.default"
AZURE = ("azure", "azure_v1")
CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
CHALLENGE = f'Bearer error="insufficient_claims", claims="{base64.b64encode(CLAIMS.encode()).decode()}"'


def jwt(exp: float) -> str:
    """A token shaped like Entra's (header.payload.signature), expiring at ``exp``."""
    part = base64.urlsafe_b64encode(json.dumps({"exp": int(exp)}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{part}.c2ln"


def azure_values(server: LoopbackServer, provider: str, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider": provider,
        "endpoint": server.url if provider == "azure" else f"{server.url}/openai/v1",
        "chat_model": "gpt-4o-mini",
        "embedding_model": "text-embedding-3-small",
        "max_retries": 0,
    }
    if provider == "azure":
        base["api_version"] = "2024-10-21"
    return {**base, **values}


def bearers(server: LoopbackServer) -> list[str]:
    return [r.headers.get("authorization", "").removeprefix("Bearer ") for r in server.requests]


def revoking(provider: str, revoked: set[str], *, challenge: bool = False) -> Callable[..., Reply | None]:
    def respond(_index: int, request: RecordedRequest) -> Reply | None:
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in revoked:
            return None
        body = azure_error("401", "revoked") if provider == "azure" else openai_error("revoked", code="401")
        return Reply(401, body, headers={"WWW-Authenticate": CHALLENGE} if challenge else {})

    return respond


@pytest.fixture
def model_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(accept_token=lambda _token: True) as running:
        yield running


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TokenEndpoint]]:
    """Start a local managed-identity endpoint and point azure-identity at it; nothing leaves the machine."""
    refused = refuse_off_machine(monkeypatch)
    started: list[TokenEndpoint] = []

    def start(**options: Any) -> TokenEndpoint:
        endpoint = TokenEndpoint(**options).start()
        started.append(endpoint)
        point_managed_identity_at(endpoint, monkeypatch)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()
    assert refused == []


# -- the wrappers -------------------------------------------------------------------------------


def test_a_providers_jwt_expires_when_its_exp_claim_says() -> None:
    token = jwt(2_000_000_000)
    credential = TokenProviderCredential(lambda: token, clock=lambda: 1000.0)

    assert credential.get_token(SCOPE) == AccessToken(token, 2_000_000_000.0)


def test_an_opaque_token_from_a_provider_is_taken_as_valid_for_the_assumed_lifetime() -> None:
    credential = TokenProviderCredential(lambda: "opaque", assumed_lifetime=360.0, clock=lambda: 1000.0)

    assert credential.get_token(SCOPE, claims=CLAIMS) == AccessToken("opaque", 1360.0)


def test_a_failing_or_wrong_provider_is_an_authentication_error_without_a_chain() -> None:
    def broken() -> str:
        raise RuntimeError("no identity here; secret=sk-abcdefghijklmnopqrstuvwxyz0123")

    for provider, expected in ((broken, "RuntimeError: no identity here"), (lambda: 42, "returned int")):
        with pytest.raises(AuthenticationError, match=expected) as raised:
            TokenProviderCredential(provider).get_token()  # type: ignore[arg-type]
        assert raised.value.__cause__ is None and raised.value.__context__ is None
        assert "sk-abcdefghijklmnopqrstuvwxyz0123" not in str(raised.value)


def test_a_token_credential_gets_the_claims_only_when_its_get_token_takes_them() -> None:
    class WithClaims:
        def __init__(self) -> None:
            self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []

        def get_token(self, *scopes: str, claims: str | None = None, **kwargs: Any) -> AccessToken:
            self.calls.append((scopes, {"claims": claims, **kwargs}))
            return AccessToken("t", 2e9)

    class Plain:
        def get_token(self, *scopes: str) -> AccessToken:
            return AccessToken("p", 2e9)

    taking = WithClaims()
    AzureCoreCredential(taking).get_token()  # type: ignore[arg-type]
    AzureCoreCredential(taking).get_token(SCOPE, claims=CLAIMS)  # type: ignore[arg-type]

    assert taking.calls == [((SCOPE,), {"claims": None}), ((SCOPE,), {"claims": CLAIMS})]
    assert AzureCoreCredential(Plain()).get_token(SCOPE, claims=CLAIMS).token == "p"  # type: ignore[arg-type]


def test_a_token_credential_returning_no_token_is_an_authentication_error() -> None:
    class Odd:
        def get_token(self, *scopes: str) -> str:
            return "just a string"

    with pytest.raises(AuthenticationError, match=r"Odd.get_token returned str"):
        AzureCoreCredential(Odd()).get_token()  # type: ignore[arg-type]


# -- settings: every form, printable, never showing a secret --------------------------------------


def test_settings_take_a_provider_or_an_object_and_print_neither_its_repr_nor_a_token() -> None:
    class Leaky:
        def __repr__(self) -> str:
            return "Leaky(secret='hunter2')"

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("hunter2", 2e9)

    def my_provider() -> str:
        return "hunter2"

    for credential, shown in ((my_provider, "<token provider "), (Leaky(), "<TokenCredential Leaky>")):
        settings = Settings(endpoint="https://r.openai.azure.com/openai/v1", credential=credential)
        assert isinstance(settings.credential, OwnCredential)
        assert settings.auth == "entra"
        text = repr(settings) + str(settings.redacted())
        assert shown in text and "hunter2" not in text
        assert settings == settings.replace(chat_model=None)  # same object, equal settings


def test_the_nested_form_sets_a_kind_and_its_parameters_from_a_dict() -> None:
    settings = Settings.from_dict(
        {
            "endpoint": "https://r.openai.azure.com/openai/v1",
            "credential": {
                "kind": "client_secret",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s3",
            },
        }
    )

    assert (settings.credential, settings.tenant_id, settings.client_id) == ("client_secret", "t", "c")
    assert settings.client_secret is not None and settings.client_secret.reveal() == "s3"
    assert "s3" not in repr(settings) and settings.source("client_id") == "dict"


def test_the_nested_form_reads_from_a_toml_table(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[clients.default]\nendpoint = "https://r.openai.azure.com/openai/v1"\n'
        '[clients.default.credential]\nkind = "managed_identity"\nclient_id = "identity-1"\n'
    )

    settings = Settings.from_toml(path)

    assert (settings.credential, settings.client_id, settings.auth) == (
        "managed_identity",
        "identity-1",
        "entra",
    )


def test_the_nested_form_can_carry_an_api_key() -> None:
    settings = Settings.from_dict(
        {"endpoint": "https://r.openai.azure.com/openai/v1", "credential": {"kind": "api_key", "key": "k-1"}}
    )

    assert settings.auth == "api_key" and settings.api_key is not None and settings.api_key.reveal() == "k-1"


def test_azure_cores_key_credential_is_an_api_key() -> None:
    from azure.core.credentials import AzureKeyCredential

    settings = Settings(endpoint="https://r.openai.azure.com/openai/v1", credential=AzureKeyCredential("k-2"))

    assert settings.auth == "api_key" and settings.api_key is not None and settings.api_key.reveal() == "k-2"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"credential": {"client_id": "c"}}, "needs kind = one of"),
        ({"credential": {"kind": "azure_cli", "secret": "x"}}, "secret is not a parameter of kind azure_cli"),
        ({"credential": {"kind": "managed_identity", "client_id": "a"}, "client_id": "b"}, "set it once"),
        ({"credential": lambda: "t", "api_key": "k"}, "remove one"),
        ({"credential": {"kind": "api_key"}}, "needs key"),
        ({"credential": 42}, "int is not a credential"),
    ],
)
def test_a_contradictory_or_unknown_credential_is_refused_naming_the_fix(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_dict({"endpoint": "https://r.openai.azure.com/openai/v1", **values})


def test_the_container_wraps_each_form_as_a_credential_port_behind_the_token_cache() -> None:
    endpoint = "https://r.openai.azure.com/openai/v1"
    provided = Container(settings=Settings(endpoint=endpoint, credential=lambda: "t"))
    objected = Container(settings=Settings(endpoint=endpoint, credential=FakeCredential()))

    assert isinstance(provided.credential(), TokenProviderCredential)
    assert isinstance(objected.credential(), AzureCoreCredential)
    assert isinstance(objected.token_cache(), TokenCache)


# -- end to end: azure-identity's real classes, the loopback as Azure --------------------------------


@pytest.mark.parametrize("provider", AZURE)
def test_a_bearer_token_provider_signs_chat_stream_and_embed_and_is_cached(
    identity: Callable[..., TokenEndpoint], model_server: LoopbackServer, provider: str
) -> None:
    from azure.identity import ManagedIdentityCredential, get_bearer_token_provider

    endpoint = identity()
    token_provider = get_bearer_token_provider(ManagedIdentityCredential(), SCOPE)
    with build_client(Settings(**azure_values(model_server, provider, credential=token_provider))) as client:
        assert client.chat("hello").text
        assert "".join(chunk.text or "" for chunk in client.stream("hello"))
        assert client.embed(["hello"]).vectors

    assert bearers(model_server) == ["token-1"] * 3
    assert endpoint.count == 1


@pytest.mark.parametrize("provider", AZURE)
def test_a_token_credential_object_from_a_dict_passes_a_claims_challenge_and_retries_once(
    identity: Callable[..., TokenEndpoint], model_server: LoopbackServer, provider: str
) -> None:
    from azure.identity import ManagedIdentityCredential

    endpoint = identity()
    model_server.respond_with(revoking(provider, {"token-1"}, challenge=True))
    values = azure_values(model_server, provider, credential=ManagedIdentityCredential())
    with llmport.from_dict(values) as client:
        assert client.chat("hello").text

    # The claims made msal skip its cache: a new token, and exactly one retry with it.
    assert bearers(model_server) == ["token-1", "token-2"]
    assert endpoint.issued == ["token-1", "token-2"]


@pytest.mark.parametrize("lifetime", [3600, 240], ids=["provider-cache-fresh", "provider-cache-due"])
@pytest.mark.parametrize("provider", AZURE)
def test_after_a_401_a_provider_is_asked_again_and_a_retry_happens_only_with_a_new_token(
    identity: Callable[..., TokenEndpoint], model_server: LoopbackServer, provider: str, lifetime: int
) -> None:
    from azure.identity import ManagedIdentityCredential, get_bearer_token_provider

    endpoint = identity(lifetime=lifetime)
    model_server.respond_with(revoking(provider, {"token-1"}))
    token_provider = get_bearer_token_provider(ManagedIdentityCredential(), SCOPE)
    with build_client(Settings(**azure_values(model_server, provider, credential=token_provider))) as client:
        if lifetime == 3600:
            # azure-identity's provider still holds token-1: the same token, so no pointless retry.
            with pytest.raises(AuthenticationError) as raised:
                client.chat("hello")
            assert raised.value.status_code == 401
            assert bearers(model_server) == ["token-1"]
        else:
            # Inside its own 5-minute window it fetches anew: token-2, one retry, success.
            assert client.chat("hello").text
            assert bearers(model_server) == ["token-1", "token-2"]
    assert endpoint.issued == bearers(model_server)


@pytest.mark.parametrize("provider", AZURE)
def test_the_nested_form_builds_azure_identitys_credential_from_a_dict_and_from_toml(
    identity: Callable[..., TokenEndpoint], model_server: LoopbackServer, provider: str, tmp_path: Path
) -> None:
    identity()
    values = azure_values(model_server, provider, credential={"kind": "managed_identity"})
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items() if key != "credential"]
    path = tmp_path / "llmport.toml"
    path.write_text("\n".join([*lines, "[credential]", 'kind = "managed_identity"', ""]))

    with llmport.from_dict(values) as from_dict, llmport.from_file(path) as from_file:
        assert from_dict.chat("hello").text and from_file.chat("hello").text

    assert bearers(model_server) == ["token-1", "token-2"]  # one credential each


def test_the_refresh_margin_applies_to_a_providers_jwt(model_server: LoopbackServer) -> None:
    now = [time.time()]
    expiry = now[0] + 3600
    asked: list[str] = []

    def provider() -> str:
        asked.append(jwt(expiry + 3600 * len(asked)))
        return asked[-1]

    settings = Settings(
        **azure_values(model_server, "azure_v1", credential=provider, token_refresh_margin=300)
    )
    container = Container(settings=settings)
    container.wall_clock.override(providers.Object(lambda: now[0]))
    with build_client(settings, container) as client:
        client.chat("one")
        now[0] = expiry - 301  # still outside the margin: the cached token
        client.chat("two")
        now[0] = expiry - 299  # inside it: the provider is asked again
        client.chat("three")

    assert bearers(model_server) == [asked[0], asked[0], asked[1]]
