"""No key, token or client secret reaches an error tracker, a log, a traceback or a pickle.

Real sentry-sdk at its default options (frame locals on, default integrations, no value
truncation; 2.x and 3.x alike, see ``sentry_keeping.py``) with a transport that keeps the
envelopes instead of sending them; root and every vendor logger at DEBUG. For each provider
shape and each auth kind (API key; an Entra token from azure-identity's real
ManagedIdentityCredential; a static token) the loopback answers a 500, a 401, a connection
reset, a 429 whose body echoes the key or token, and a 400 whose plain-text body
echoes the credential header; each failure is captured with ``sentry_sdk.capture_exception``.
Then no secret may occur in the serialized events, in ``str``/``repr``/``pickle.dumps`` of the
error and of everything on its ``__cause__``/``__context__`` chain, in
``traceback.format_exception``, or in any log line.

The secrets are distinctive and mostly look like none of the known prefixes. They are joined
from pieces at import time, so that no line of this file (which sentry quotes as source context)
holds one whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sentry_sdk
from clock import FakeClock
from dependency_injector import providers
from harness import PROVIDERS, debug_log_lines, shaped
from loopback import LoopbackServer, RecordedRequest, Reply
from ports import free_port
from sentry_keeping import KeepingTransport, chain, error_texts, frames, keeping_sentry, occurrences
from token_endpoint import TokenEndpoint, point_managed_identity_at, refuse_off_machine
from wire_samples import azure_error, openai_error

from llmport import AuthenticationError, Client, LLMPortError, Settings, build_client
from llmport.adapters.identity.credentials import AzureIdentityCredential
from llmport.testing import Container


def _joined(*pieces: str) -> str:
    return "".join(pieces)


# An Azure key as the portal shows it (32 hex), the newer 84-character base62 key, an OpenAI key.
HEX_KEY = _joined("9c4e1f07b2d8", "5a36e1f0c7d9", "4a2b8e15")
B62_KEY = _joined(
    "7Hq2Lw9ZpR4tVx1N", "cB8mK3yD6fJ0sG5u", "A2eQ7rT9iW4oP1lZ", "xC6vB3nM8kJ5hG2f", "D9sA4qW7eR1tY6u", "I3oPk"
)
SK_KEY = _joined("sk-proj-", "Zr5Tq8Wm2Xn6Yb4V", "c1Ld7Kf3Jh9Gs0Pa")
# An opaque (non-JWT) token and a JWT-looking one; the token endpoint appends a number.
OPAQUE_TOKEN = _joined("tok_9f8e7d6c5b4a", "39281706f5e4d3c2", "b1a0x")
JWT_TOKEN = _joined(
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9",
    ".eyJhdWQiOiJjb2duaXRpdmUiLCJvaWQiOiJz",
    "ZWNyZXQifQ.U2lnbmF0dXJlVGhhdElzTG9uZw",
)
CLIENT_SECRET = _joined("Qx7~abc.DEF", "_ghi-JKL8mno9PQR")
KEYS = {"hex32": HEX_KEY, "base62-84": B62_KEY, "sk": SK_KEY}
assert (len(HEX_KEY), len(B62_KEY), B62_KEY.isalnum()) == (32, 84, True)
TOKENS = {"opaque": OPAQUE_TOKEN, "jwt": JWT_TOKEN}

# Every logger that may say something about a request: ours, the SDK's, its transport's,
# azure-core's and msal's (the credential's HTTP), urllib3 (under azure-core), sentry's own.
LOGGERS = ("", "llmport", "openai", "httpx2", "httpcore2", "azure", "msal", "urllib3", "sentry_sdk")
FAULTS = ("500", "401", "reset", "429-echo", "400-echo-header")
# Read from an operation's failure: chat, a stream drained, and one embeddings call.
OPERATIONS: dict[str, Callable[[Client], object]] = {
    "chat": lambda client: client.chat("hello"),
    "stream": lambda client: list(client.stream("hello")),
    "embed": lambda client: client.embed(["hello"]),
}


# -- capturing: sentry, logs, and no traffic off the machine ------------------------------------


@pytest.fixture
def sentry() -> Iterator[KeepingTransport]:
    """sentry-sdk initialised with its defaults (frame locals on, on 2.x and 3.x) and a keeping transport."""
    with keeping_sentry() as transport:
        yield transport


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Root and every vendor logger at DEBUG; each record kept as text."""
    with debug_log_lines(LOGGERS) as kept:
        yield kept


@pytest.fixture(autouse=True)
def on_this_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No name but the loopback's resolves (msal's instance discovery would go to Microsoft)."""
    refused = refuse_off_machine(monkeypatch)
    yield
    assert refused == []


@pytest.fixture
def managed_identity_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[TokenEndpoint], None]:
    """Point azure-identity's ManagedIdentityCredential at a local App Service endpoint."""
    return lambda endpoint: point_managed_identity_at(endpoint, monkeypatch)


# -- what is scanned ---------------------------------------------------------------------------


@dataclass
class Scan:
    """Everything captured in one test, and counts for the report."""

    errors: list[LLMPortError] = field(default_factory=list)
    calls: int = 0

    def failure(self, operation: Callable[[Client], object], client: Client) -> LLMPortError:
        # Runs the call in a frame whose locals hold no secret (sentry records this frame too).
        self.calls += 1
        try:
            operation(client)
        except LLMPortError as error:
            sentry_sdk.capture_exception(error)
            self.errors.append(error)
            return error
        raise AssertionError("the call was expected to fail")

    def where(
        self, secrets: dict[str, str], sentry: KeepingTransport, log_lines: list[str]
    ) -> dict[str, dict[str, int]]:
        """Occurrences of each secret in the tracker's envelopes, the log lines, and the exceptions."""
        exceptions: list[bytes] = []
        for error in self.errors:
            exceptions += error_texts(error)
        return {
            "sentry events": occurrences(secrets, sentry.serialized()),
            "logs": occurrences(secrets, [line.encode() for line in log_lines]),
            "exceptions, chains, tracebacks, pickles": occurrences(secrets, exceptions),
        }

    def report(self, events: list[dict[str, Any]]) -> str:
        linked = sum(len(chain(error)) for error in self.errors)
        framed = sum(len(frames(event)) for event in events)
        return (
            f"{len(events)} events ({framed} frames), {len(self.errors)} exceptions "
            f"({linked} along their chains)"
        )


# -- the loopback's faults ---------------------------------------------------------------------


def _sent_credential(request: RecordedRequest) -> tuple[str, str]:
    """The credential header the client sent: (name as sent, value as sent)."""
    if "api-key" in request.headers:
        return "api-key", request.headers["api-key"]
    return "Authorization", request.headers.get("authorization", "")


def fault_responder(fault: str, provider: str) -> Callable[[int, RecordedRequest], Reply]:
    def body(status: int, code: str, message: str) -> Any:
        return azure_error(code, message) if provider == "azure" else openai_error(message, code=code)

    def respond(_index: int, request: RecordedRequest) -> Reply:
        name, value = _sent_credential(request)
        bare = value[7:] if value.lower().startswith("bearer ") else value
        if fault == "500":
            return Reply(500, body(500, "server_error", "The server had an error processing your request."))
        if fault == "401":
            shown = f"{bare[:3]}***{bare[-2:]}"
            return Reply(401, body(401, "invalid_api_key", f"Incorrect API key provided: {shown}."))
        if fault == "reset":
            return Reply(reset=True)
        if fault == "429-echo":
            # A gateway that puts the caller's credential, bare, in its message.
            message = f"Requests from {bare} exceed the quota of this deployment. Retry in 1 second."
            return Reply(429, body(429, "429", message), headers={"retry-after": "1"})
        # A proxy's plain-text 400 that echoes the credential header as it came in.
        return Reply(400, raw=f"400 Bad Request\nrejected header {name}: {value}\n".encode())

    return respond


# -- clients -----------------------------------------------------------------------------------


def _settings(server: LoopbackServer, provider: str, **auth: Any) -> Settings:
    return shaped(server.url, provider, **auth)


def _container(settings: Settings, credential: object | None = None) -> Container:
    """The real container, with time that moves only when slept (the retries wait no real time)."""
    fake = FakeClock(1_000.0)
    container = Container(settings=settings)
    container.sleep.override(providers.Object(fake.sleep))
    container.clock.override(providers.Object(fake))
    container.rand.override(providers.Object(lambda: 0.5))
    if credential is not None:
        container.credential.override(providers.Object(credential))
    return container


CASES = [
    *((provider, "api_key", shape) for provider in PROVIDERS for shape in KEYS),
    *((provider, "entra", shape) for provider in PROVIDERS for shape in TOKENS),
    *((provider, "token", shape) for provider in PROVIDERS for shape in TOKENS),
]


@pytest.mark.parametrize("case", CASES, ids=["-".join(case) for case in CASES])
def test_no_secret_reaches_the_tracker_logs_tracebacks_or_pickles(
    sentry: KeepingTransport,
    log_lines: list[str],
    managed_identity_env: Callable[[TokenEndpoint], None],
    case: tuple[str, str, str],
) -> None:
    provider, auth, shape = case
    scan = Scan()
    secrets: dict[str, str] = {}
    # Every token request gets the same token: the one the test looks for.
    with TokenEndpoint(prefix=TOKENS.get(shape, "unused-"), same_token=True) as endpoint:
        if auth == "api_key":
            secret = KEYS[shape]
            options: dict[str, Any] = {"api_key": secret}
        elif auth == "entra":
            # azure-identity's real ManagedIdentityCredential, served by the local App Service endpoint.
            managed_identity_env(endpoint)
            secret = TOKENS[shape] + "1"
            options = {"auth": "entra", "credential": "managed_identity"}
        else:
            secret = TOKENS[shape]
            options = {"auth": "token", "token": secret}
        secrets[shape] = secret
        server = LoopbackServer(api_key=secret, token=secret, accept_token=lambda token: token == secret)
        with server:
            sent_before = 0
            for fault in FAULTS:
                server.respond_with(fault_responder(fault, provider))
                settings = _settings(server, provider, **options)
                with build_client(settings, _container(settings)) as client:
                    operations = (
                        OPERATIONS
                        if fault in ("429-echo", "400-echo-header")
                        else {"chat": OPERATIONS["chat"]}
                    )
                    for operation in operations.values():
                        error = scan.failure(operation, client)
                        assert (fault == "401") == isinstance(error, AuthenticationError), (
                            fault,
                            repr(error),
                        )
                # The secret really went out, and the echoing faults really sent it back.
                sent = server.requests[sent_before:]
                sent_before = len(server.requests)
                assert sent and all(secret in str(request.headers) for request in sent)
        if auth == "entra":
            assert endpoint.count == 5  # one token per client: azure-identity's own cache did the rest
    events = sentry.events()
    found = scan.where(secrets, sentry, log_lines)
    print(f"{provider}/{auth}/{shape}: {scan.report(events)}; occurrences {found}")

    # Not vacuous: one event per failure, with the frames' locals, and DEBUG lines from the SDK's transport.
    assert len(events) == len(scan.errors) == scan.calls
    assert all(any(frame.get("vars") for frame in frames(event)) for event in events)
    assert any(line.startswith("httpcore2") for line in log_lines)
    assert found == {where: dict.fromkeys(secrets, 0) for where in found}
    assert all(error.__cause__ is None and error.__context__ is None for error in scan.errors)


# -- the client secret, with the token endpoint down -------------------------------------------


@pytest.mark.parametrize("provider", ["azure", "azure_v1"])
def test_the_client_secret_stays_out_when_the_token_endpoint_is_down(
    sentry: KeepingTransport, log_lines: list[str], monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    from azure import identity

    real = identity.ClientSecretCredential

    class NoInstanceDiscovery(real):  # type: ignore[misc,valid-type]
        """azure-identity's ClientSecretCredential, kept from asking login.microsoftonline.com
        to validate the authority (msal's instance discovery): the failing request is then the
        one to the closed port on 127.0.0.1, as with an Entra endpoint that is down. azure-core's
        retries of that request (4.8 s of backoff per call) are turned off to keep the test short."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, disable_instance_discovery=True, retry_total=0, **kwargs)

    monkeypatch.setattr(identity, "ClientSecretCredential", NoInstanceDiscovery)
    # The scheme written out: Python 3.10's urlparse reads "127.0.0.1:PORT" as scheme "127.0.0.1".
    authority = f"https://127.0.0.1:{free_port()}"
    scan = Scan()
    with LoopbackServer() as server:
        settings = _settings(
            server,
            provider,
            auth="entra",
            credential="client_secret",
            client_id="app-4c1d",
            tenant_id="tenant-77a2",
            client_secret=CLIENT_SECRET,
        )
        credential = AzureIdentityCredential(
            "client_secret",
            client_id="app-4c1d",
            tenant_id="tenant-77a2",
            client_secret=CLIENT_SECRET,
            authority=authority,
        )
        started = time.monotonic()
        with build_client(settings, _container(settings, credential)) as client:
            for operation in OPERATIONS.values():
                error = scan.failure(operation, client)
                assert isinstance(error, AuthenticationError), repr(error)
                assert "client_secret" in str(error)
        elapsed = time.monotonic() - started
        assert server.count == 0  # no token, no request
    events = sentry.events()
    secrets = {"client_secret": CLIENT_SECRET}
    found = scan.where(secrets, sentry, log_lines)
    print(f"{provider}/client_secret: {scan.report(events)}; occurrences {found}")

    assert len(events) == len(scan.errors) == 3
    assert any(line.startswith("azure") for line in log_lines)  # azure-identity said it failed
    assert elapsed < 5
    assert found == {where: dict.fromkeys(secrets, 0) for where in found}


# -- known gaps: an echo outside the provider's message ----------------------------------------

# A key an OpenAI-compatible gateway may issue: short, no known prefix; only the adapter knows it.
SHORT_KEY = _joined("gwKey", "Ab12Cd34")
ECHOES = {
    # The provider's error `code` is copied onto the error, and shown by str(), unredacted.
    "error-code": ("chat", HEX_KEY, Reply(429, {"error": {"code": HEX_KEY, "message": "slow down"}})),
    # So is the request id header.
    "request-id-header": (
        "chat",
        HEX_KEY,
        Reply(500, {"error": {"message": "m"}}, headers={"x-request-id": HEX_KEY}),
    ),
    # A mid-stream error event is redacted by pattern only, without the adapter's own secrets.
    "stream-error-short-key": (
        "stream",
        SHORT_KEY,
        Reply(200, events=[{"error": {"message": f"the key {SHORT_KEY} is over its quota"}}]),
    ),
}


@pytest.mark.parametrize("echo", ECHOES)
def test_an_echo_outside_the_error_message_is_redacted(server: LoopbackServer, echo: str) -> None:
    from harness import wire

    operation, secret, reply = ECHOES[echo]
    server.api_key = secret
    server.respond_with(lambda _index, _request: reply)
    scan = Scan()
    with wire(server, "azure", api_key=secret, max_retries=0).client as client:
        error = scan.failure(OPERATIONS[operation], client)

    assert occurrences({echo: secret}, error_texts(error)) == {echo: 0}
