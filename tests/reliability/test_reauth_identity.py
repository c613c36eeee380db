"""Re-authentication on 401 with azure-identity's real credentials, against a local identity endpoint.

llmport retries a 401 at most once, and only with a token different from the rejected one (or
one asked for with the claims of a CAE challenge). azure-identity keeps its own token cache, so
what a real credential gives after a 401 is the question these tests put to it:

* ``ManagedIdentityCredential`` (App Service flavour: ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``)
  against :class:`token_endpoint.TokenEndpoint` on 127.0.0.1. msal answers from its cache until
  5 minutes before expiry; a claims challenge makes it skip the cache and ask the endpoint again,
  but App Service's protocol has no claims parameter, so the endpoint never sees the claims.
* ``ClientSecretCredential`` against the same endpoint's Entra side, over TLS (azure-identity
  refuses an ``http://`` authority): here the claims do travel, in the token request's form.
* ``FakeCredential`` to see exactly which claims llmport passes.

The model side is the loopback: every token is accepted except the revoked ones, which get the
provider's 401, with or without a ``WWW-Authenticate`` claims challenge.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import API_VERSION, CHAT_MODEL, EMBEDDING_MODEL, WallClock, wire
from loopback import LoopbackServer, RecordedRequest, Reply
from token_endpoint import TokenEndpoint, point_managed_identity_at, refuse_off_machine
from wire_samples import azure_error, openai_error

from llmport import AuthenticationError, Client, Settings, build_client
from llmport.adapters.fakes import FakeCredential
from llmport.adapters.identity.credentials import AzureIdentityCredential
from llmport.domain.models import AccessToken
from llmport.testing import Container

AZURE = ("azure", "azure_v1")
CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    f'error="insufficient_claims", claims="{base64.b64encode(CLAIMS.encode()).decode()}"'
)
OPERATIONS: dict[str, Callable[[Client], object]] = {
    "chat": lambda client: client.chat("hello").text,
    "stream": lambda client: "".join(chunk.text or "" for chunk in client.stream("hello")),
    "embed": lambda client: client.embed(["hello"]).vectors,
}


@pytest.fixture(autouse=True)
def on_this_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    refused = refuse_off_machine(monkeypatch)
    yield
    assert refused == []


def bearers(server: LoopbackServer) -> list[str]:
    """The token each request to the model carried."""
    return [request.headers.get("authorization", "").removeprefix("Bearer ") for request in server.requests]


def revoking(
    provider: str, revoked: set[str] | None = None, *, challenge: bool = False
) -> Callable[[int, RecordedRequest], Reply | None]:
    """The provider's 401 for the ``revoked`` tokens (every token when None), else the default reply."""

    def respond(_index: int, request: RecordedRequest) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if revoked is not None and token not in revoked:
            return None
        message = "The access token is revoked or does not meet the conditional access policy."
        body = azure_error("401", message) if provider == "azure" else openai_error(message, code="401")
        return Reply(401, body, headers={"WWW-Authenticate": CHALLENGE} if challenge else {})

    return respond


def entra_settings(server: LoopbackServer, provider: str, **options: Any) -> Settings:
    values: dict[str, Any] = {
        "provider": provider,
        "endpoint": server.url if provider == "azure" else f"{server.url}/openai/v1",
        "auth": "entra",
        "chat_model": CHAT_MODEL,
        "embedding_model": EMBEDDING_MODEL,
    }
    if provider == "azure":
        values["api_version"] = API_VERSION
    return Settings(**values, **options)


def managed_identity_client(
    server: LoopbackServer, provider: str, endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> Client:
    """A client as a user builds it: auth=entra, credential=managed_identity, nothing injected."""
    point_managed_identity_at(endpoint, monkeypatch)
    return build_client(entra_settings(server, provider, credential="managed_identity"))


def model_server() -> LoopbackServer:
    # Every bearer token passes the loopback's own check; `revoking` decides which get a 401.
    return LoopbackServer(accept_token=lambda _token: True)


# -- (a) the identity platform hands out the revoked token again ------------------------------


@pytest.mark.parametrize("challenge", [False, True], ids=["plain-401", "claims-challenge"])
@pytest.mark.parametrize("provider", AZURE)
def test_the_same_token_again_makes_the_401_final_without_a_retry(
    monkeypatch: pytest.MonkeyPatch, provider: str, challenge: bool
) -> None:
    with TokenEndpoint(same_token=True) as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}, challenge=challenge))
        with (
            managed_identity_client(server, provider, endpoint, monkeypatch) as client,
            pytest.raises(AuthenticationError) as raised,
        ):
            client.chat("hello")

        assert raised.value.status_code == 401
        assert bearers(server) == ["token-1"]  # one request to the model: no pointless retry
        # Without claims azure-identity answers the renewal from its own cache (1 token request);
        # a claims challenge makes it ask the endpoint again, which hands out token-1 once more.
        assert endpoint.count == (2 if challenge else 1)
        assert endpoint.issued == ["token-1"] * endpoint.count
        assert raised.value.claims == (CLAIMS if challenge else None)


# -- (b) the identity platform issues a new token ---------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("provider", AZURE)
def test_a_new_token_for_a_claims_challenge_gets_exactly_one_retry_and_succeeds(
    monkeypatch: pytest.MonkeyPatch, provider: str, operation: str
) -> None:
    with TokenEndpoint() as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}, challenge=True))
        with managed_identity_client(server, provider, endpoint, monkeypatch) as client:
            result = OPERATIONS[operation](client)

        assert result  # the call succeeded
        assert bearers(server) == ["token-1", "token-2"]  # exactly one retry, with the new token
        assert endpoint.issued == ["token-1", "token-2"]
        # App Service's protocol carries no claims: msal's only answer to them is to skip its cache.
        assert [request.claims for request in endpoint.token_requests] == [None, None]


@pytest.mark.parametrize("provider", AZURE)
def test_a_plain_401_gets_no_retry_while_azure_identity_holds_a_fresh_token(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    # The endpoint would issue token-2, but without claims azure-identity never asks it: msal
    # hands back its cached token-1 (valid for an hour), so llmport sees the same token and stops.
    with TokenEndpoint() as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}))
        with (
            managed_identity_client(server, provider, endpoint, monkeypatch) as client,
            pytest.raises(AuthenticationError),
        ):
            client.chat("hello")

        assert bearers(server) == ["token-1"]
        assert endpoint.issued == ["token-1"]


@pytest.mark.parametrize("provider", AZURE)
def test_a_plain_401_is_retried_once_when_azure_identity_does_fetch_a_new_token(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    # Tokens that live 4 minutes: inside msal's 5-minute window its cache treats them as expired,
    # so the renewal after a 401 reaches the endpoint and brings token-2.
    with TokenEndpoint(lifetime=240) as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}))
        with managed_identity_client(server, provider, endpoint, monkeypatch) as client:
            assert client.chat("hello").text

        assert bearers(server) == ["token-1", "token-2"]
        assert endpoint.issued == ["token-1", "token-2"]


# -- (c) a CAE claims challenge ---------------------------------------------------------------


@pytest.mark.parametrize("provider", AZURE)
def test_the_claims_of_a_challenge_are_asked_for_and_the_retry_happens_once(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    # Every token is refused with a challenge: one retry with the token asked for with the claims,
    # then the 401 is final.
    with TokenEndpoint() as endpoint, model_server() as server:
        server.respond_with(revoking(provider, challenge=True))
        with (
            managed_identity_client(server, provider, endpoint, monkeypatch) as client,
            pytest.raises(AuthenticationError) as raised,
        ):
            client.chat("hello")

        assert bearers(server) == ["token-1", "token-2"]
        assert endpoint.issued == ["token-1", "token-2"]
        assert raised.value.claims == CLAIMS


@pytest.mark.parametrize("provider", AZURE)
def test_llmport_passes_the_decoded_claims_to_the_credential(provider: str) -> None:
    wall = WallClock()
    with model_server() as server:
        # First a challenge that a new token meets, then one nothing meets.
        credential = FakeCredential(clock=wall)
        server.respond_with(revoking(provider, {"fake-token-1"}, challenge=True))
        with wire(server, provider, auth="entra", credential=credential, wall=wall).client as client:
            assert client.chat("hello").text
        assert credential.claims == [None, CLAIMS]
        assert bearers(server) == ["fake-token-1", "fake-token-2"]

        stuck = FakeCredential(clock=wall)
        server.requests.clear()
        server.respond_with(revoking(provider, challenge=True))
        with (
            wire(server, provider, auth="entra", credential=stuck, wall=wall).client as client,
            pytest.raises(AuthenticationError),
        ):
            client.chat("hello")
        assert stuck.claims == [None, CLAIMS]  # asked once with the claims, not again
        assert bearers(server) == ["fake-token-1", "fake-token-2"]


@pytest.mark.parametrize("provider", AZURE)
def test_a_credential_that_cannot_meet_the_claims_gets_no_retry(provider: str) -> None:
    wall = WallClock()
    same = AccessToken("static-token", wall() + 3600)
    credential = FakeCredential(same, same, clock=wall)
    with model_server() as server:
        server.respond_with(revoking(provider, challenge=True))
        with (
            wire(server, provider, auth="entra", credential=credential, wall=wall).client as client,
            pytest.raises(AuthenticationError),
        ):
            client.chat("hello")

        assert credential.claims == [None, CLAIMS]
        assert bearers(server) == ["static-token"]


# -- ClientSecretCredential: the claims reach the identity platform ---------------------------


CLIENT_SECRET = "Qx7~abc.DEF" + "_ghi-JKL8mno9PQR"


@pytest.fixture
def client_secret_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[TokenEndpoint], AzureIdentityCredential]]:
    """llmport's AzureIdentityCredential(client_secret) with its authority on the local endpoint.

    azure-identity's real ClientSecretCredential, with two options a user of a private cloud
    would set and llmport does not expose: no instance discovery (msal would ask
    login.microsoftonline.com to vouch for 127.0.0.1) and the endpoint's self-signed certificate.
    """
    from azure import identity

    real = identity.ClientSecretCredential
    cafile: list[str] = []

    class Local(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, disable_instance_discovery=True, connection_verify=cafile[0], **kwargs)

    monkeypatch.setattr(identity, "ClientSecretCredential", Local)

    def make(endpoint: TokenEndpoint) -> AzureIdentityCredential:
        assert endpoint.cafile is not None
        cafile.append(endpoint.cafile)
        return AzureIdentityCredential(
            "client_secret",
            client_id="app-4c1d",
            tenant_id="tenant-77a2",
            client_secret=CLIENT_SECRET,
            authority=endpoint.authority,
        )

    yield make


def _client_with(server: LoopbackServer, provider: str, credential: AzureIdentityCredential) -> Client:
    from dependency_injector import providers

    settings = entra_settings(server, provider)
    container = Container(settings=settings)
    container.credential.override(providers.Object(credential))
    return build_client(settings, container)


@pytest.mark.parametrize("provider", AZURE)
def test_client_secret_credential_sends_the_claims_to_the_token_endpoint(
    client_secret_credential: Callable[[TokenEndpoint], AzureIdentityCredential], provider: str
) -> None:
    with TokenEndpoint(tls=True, client_secret=CLIENT_SECRET) as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}, challenge=True))
        with _client_with(server, provider, client_secret_credential(endpoint)) as client:
            assert client.chat("hello").text

        assert bearers(server) == ["token-1", "token-2"]
        sent = [request.claims for request in endpoint.token_requests]
        assert sent == [None, CLAIMS]  # the second token was asked for with the challenge's claims
        assert all(request.form["client_secret"] == CLIENT_SECRET for request in endpoint.token_requests)


@pytest.mark.parametrize("provider", AZURE)
def test_client_secret_credential_plain_401_is_final_from_msal_cache(
    client_secret_credential: Callable[[TokenEndpoint], AzureIdentityCredential], provider: str
) -> None:
    with TokenEndpoint(tls=True) as endpoint, model_server() as server:
        server.respond_with(revoking(provider, {"token-1"}))
        with (
            _client_with(server, provider, client_secret_credential(endpoint)) as client,
            pytest.raises(AuthenticationError),
        ):
            client.chat("hello")

        assert bearers(server) == ["token-1"]
        assert endpoint.issued == ["token-1"]  # msal's cache answered the renewal
