"""The composition root: one DeclarativeContainer decides which adapter serves which port."""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

from dependency_injector import containers, providers

from ..adapters.fakes import FakeChat, FakeEmbeddings
from ..domain.errors import ConfigurationError
from ..domain.ports import ChatPort, Closeable, CredentialPort, EmbeddingPort, ForkAware, TelemetryPort
from ..domain.redaction import entry
from ..services.chat import ChatService
from ..services.client import Client
from ..services.embeddings import EmbeddingService
from ..services.retry import Retrier, RetryPolicy
from ..services.token_cache import TokenCache
from ..settings import CredentialKind, OwnCredential, Settings
from . import routing

if TYPE_CHECKING:
    from ..adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
    from ..adapters.llm.openai import OpenAIAdapter
    from ..adapters.llm.wire.transport import HttpClientSource

__all__ = ["Clients", "Container", "build_client", "clients_from_file", "from_dict", "from_env", "from_file"]


# Vendor adapters are imported inside these factories, so that `import llmport` loads neither
# openai nor azure.identity; they load when a client for a real provider is built.


def _openai_adapter(
    settings: Settings, token: Callable[[], str] | None, http_client: HttpClientSource | None
) -> OpenAIAdapter:
    from ..adapters.llm.openai import OpenAIAdapter

    key = settings.api_key.reveal() if settings.api_key else None
    return OpenAIAdapter(
        api_key=key or _required(token),
        base_url=settings.base_url,
        timeout=settings.timeout,
        api=settings.api,
        max_tokens_field=settings.max_tokens_field,
        max_response_bytes=settings.max_response_bytes,
        default_headers=settings.default_headers,
        http_client=http_client,
    )


def _azure_classic_adapter(
    settings: Settings, token: Callable[[], str] | None, http_client: HttpClientSource | None
) -> AzureClassicAdapter:
    from ..adapters.llm.azure import AzureClassicAdapter

    return AzureClassicAdapter(
        endpoint=_required(settings.endpoint),
        api_version=_required(settings.api_version),
        api_key=settings.api_key.reveal() if settings.api_key else None,
        token_provider=token,
        timeout=settings.timeout,
        api=settings.api,
        max_tokens_field=settings.max_tokens_field,
        max_response_bytes=settings.max_response_bytes,
        default_headers=settings.default_headers,
        http_client=http_client,
    )


def _azure_v1_adapter(
    settings: Settings, token: Callable[[], str] | None, http_client: HttpClientSource | None
) -> AzureV1Adapter:
    from ..adapters.llm.azure import AzureV1Adapter

    return AzureV1Adapter(
        endpoint=_required(settings.endpoint),
        api_key=settings.api_key.reveal() if settings.api_key else None,
        token_provider=token,
        timeout=settings.timeout,
        api=settings.api,
        max_tokens_field=settings.max_tokens_field,
        max_response_bytes=settings.max_response_bytes,
        default_headers=settings.default_headers,
        http_client=http_client,
    )


def _credential(settings: Settings) -> CredentialPort | None:
    if settings.routes:
        return None  # each deployment has its own (container_routing.py)
    if settings.auth == "token":
        from ..adapters.identity.credentials import StaticTokenCredential

        return StaticTokenCredential(_required(settings.token).reveal())
    if settings.auth == "entra":
        from ..adapters.identity.credentials import (
            PROVIDER_REUSE,
            AzureCoreCredential,
            AzureIdentityCredential,
        )

        own = settings.credential
        if isinstance(own, OwnCredential):
            # Yours: wrapped, so the token cache, refresh margin and 401 rule apply as to any other.
            if own.kind == "token_credential":
                return AzureCoreCredential(own.value)  # type: ignore[arg-type]
            from ..adapters.identity.credentials import TokenProviderCredential

            return TokenProviderCredential(
                own.value,  # type: ignore[arg-type]
                assumed_lifetime=settings.token_refresh_margin + PROVIDER_REUSE,
            )
        return AzureIdentityCredential(
            cast(CredentialKind, own),
            client_id=settings.client_id,
            tenant_id=settings.tenant_id,
            client_secret=settings.client_secret.reveal() if settings.client_secret else None,
        )
    return None  # API keys go to the adapter as they are: there is nothing to cache


def _token_cache(
    credential: CredentialPort | None, settings: Settings, clock: Callable[[], float]
) -> TokenCache | None:
    if credential is None:
        return None
    return TokenCache(
        credential, scopes=(settings.scope,), refresh_margin=settings.token_refresh_margin, clock=clock
    )


def _token_provider(cache: TokenCache | None) -> Callable[[], str] | None:
    return cache.token if cache is not None else None


def _telemetry(settings: Settings) -> TelemetryPort:
    """OpenTelemetry when the application has set a tracer provider, else the no-op port.

    An application that configured tracing has imported ``opentelemetry.trace`` already, so it is
    looked up in ``sys.modules``, never imported: without OpenTelemetry this costs nothing.
    """
    from ..adapters.telemetry.otel import NoTelemetry

    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None or isinstance(
        trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    ):
        return NoTelemetry()
    try:
        from ..adapters.telemetry.otel import OpenTelemetry, capture_content_from_env

        address, port = _server(settings)
        return OpenTelemetry(
            provider=settings.provider or "unknown",
            server_address=address,
            server_port=port,
            capture_content=settings.log_content or capture_content_from_env(),
        )
    except ImportError:  # opentelemetry-semantic-conventions missing: install llmport[otel]
        return NoTelemetry()


def _server(settings: Settings) -> tuple[str | None, int | None]:
    from urllib.parse import urlsplit

    if settings.provider == "openai":
        url = settings.base_url or "https://api.openai.com/v1"
    elif settings.provider in ("azure", "azure_v1"):
        url = settings.endpoint or ""
    else:
        return None, None
    parts = urlsplit(url)
    return parts.hostname, parts.port


def _adapter_kind(settings: Settings) -> str:
    """Which adapter serves the ports: the provider's, or ``routed`` for several deployments."""
    return "routed" if settings.routes else str(settings.provider)


def _embedding_workers(settings: Settings) -> int:
    """Batches in flight at once: as set, else one per deployment serving embeddings."""
    if "embedding_max_workers" in settings.sources or not settings.routes:
        return settings.embedding_max_workers
    return max(1, sum("embeddings" in routed.kinds for routed in settings.routes))


def _sub_container(settings: Settings) -> Container:
    return Container(settings=settings)


def _retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_retries=settings.max_retries, deadline=settings.deadline)


def _required(value: Any) -> Any:
    assert value is not None  # Settings validated it; reaching None here is a bug in the wiring
    return value


def _setting(settings: providers.Provider[Settings], name: str) -> providers.Provider[Any]:
    return providers.Callable(attrgetter(name), settings)


class Container(containers.DeclarativeContainer):
    """Wires one client from its Settings. Override any provider in tests, e.g.
    ``container.chat_adapter.override(providers.Object(FakeChat()))``.
    """

    settings: providers.Dependency[Settings] = providers.Dependency(instance_of=Settings)
    sleep = providers.Object(time.sleep)
    clock = providers.Object(time.monotonic)
    wall_clock = providers.Object(time.time)
    rand = providers.Object(random.random)

    credential = providers.ThreadSafeSingleton(_credential, settings)
    token_cache = providers.ThreadSafeSingleton(_token_cache, credential, settings, wall_clock)
    token_provider = providers.Callable(_token_provider, token_cache)

    provider_name = _setting(settings, "provider")
    adapter_kind = providers.Callable(_adapter_kind, settings)
    #: The user's httpx client (or a callable making one) for the SDK, or None for llmport's own.
    http_client: providers.Provider[Any] = providers.Object(None)
    openai_adapter = providers.ThreadSafeSingleton(_openai_adapter, settings, token_provider, http_client)
    azure_adapter = providers.ThreadSafeSingleton(
        _azure_classic_adapter, settings, token_provider, http_client
    )
    azure_v1_adapter = providers.ThreadSafeSingleton(_azure_v1_adapter, settings, token_provider, http_client)
    #: Several deployments: their rate budgets, and the Router over their own containers' adapters.
    budget_store = providers.ThreadSafeSingleton(routing.budget_store, settings, wall_clock)
    router = providers.ThreadSafeSingleton(
        routing.router, settings, budget_store, wall_clock, http_client, providers.Object(_sub_container)
    )
    chat_adapter: providers.Provider[ChatPort] = providers.Selector(
        adapter_kind,
        openai=openai_adapter,
        azure=azure_adapter,
        azure_v1=azure_v1_adapter,
        fake=providers.ThreadSafeSingleton(FakeChat),
        routed=router,
    )
    embedding_adapter: providers.Provider[EmbeddingPort] = providers.Selector(
        adapter_kind,
        openai=openai_adapter,
        azure=azure_adapter,
        azure_v1=azure_v1_adapter,
        fake=providers.ThreadSafeSingleton(FakeEmbeddings),
        routed=router,
    )

    #: Spans and metrics: OpenTelemetry when the application configured it, else nothing.
    telemetry: providers.Provider[TelemetryPort] = providers.ThreadSafeSingleton(_telemetry, settings)
    retrier = providers.ThreadSafeSingleton(
        Retrier, providers.Callable(_retry_policy, settings), sleep=sleep, clock=clock, rand=rand
    )
    chat_service = providers.ThreadSafeSingleton(
        ChatService,
        chat_adapter,
        provider=provider_name,
        model=_setting(settings, "chat_model"),
        retrier=retrier,
        token_cache=token_cache,
        log_content=_setting(settings, "log_content"),
        telemetry=telemetry,
    )
    embedding_service = providers.ThreadSafeSingleton(
        EmbeddingService,
        embedding_adapter,
        provider=provider_name,
        model=_setting(settings, "embedding_model"),
        retrier=retrier,
        token_cache=token_cache,
        batch_size=_setting(settings, "embedding_batch_size"),
        token_budget=_setting(settings, "embedding_token_budget"),
        max_workers=providers.Callable(_embedding_workers, settings),
        telemetry=telemetry,
    )


# Fork safety. A pre-fork server (gunicorn --preload, uWSGI without lazy-apps) builds the client
# in the parent, often makes a call there, then forks workers. A child that kept using the
# parent's pooled sockets would read replies meant for another process. So the parts of every
# client built here that hold sockets, threads or locks (adapters, credential, token cache, batch
# pool) are told in the child, right after the fork, to drop what is the parent's. And since
# every ThreadSafeSingleton of dependency_injector shares one class-level lock, held while any of
# them is built, a fork waits for a build under way to finish: a child forked while another
# thread held it could never build a client.
_FORK_AWARE: weakref.WeakKeyDictionary[object, tuple[ForkAware, ...]] = weakref.WeakKeyDictionary()
_FORK_AWARE_ITSELF: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_FORK_HOOK_LOCK = threading.Lock()
_fork_hooks_installed = False


def _after_fork_in_child() -> None:
    for parts in list(_FORK_AWARE.values()):
        for part in parts:
            part.after_fork()
    for aware in list(_FORK_AWARE_ITSELF):
        aware.after_fork()


def _install_fork_hooks() -> None:
    """Install the process-wide fork hooks, once, before the first client is built."""
    global _fork_hooks_installed  # noqa: PLW0603 - one set of hooks per process
    with _FORK_HOOK_LOCK:
        if _fork_hooks_installed or not hasattr(os, "register_at_fork"):
            return
        # Not in dependency_injector's stubs: the class-level RLock every ThreadSafeSingleton copies.
        building = cast(Any, providers.ThreadSafeSingleton).storage_lock
        os.register_at_fork(
            before=building.acquire, after_in_parent=building.release, after_in_child=building.release
        )
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hooks_installed = True


def _survive_fork(owner: object, parts: Iterable[object]) -> None:
    """Have ``parts`` told about a fork for as long as ``owner`` lives."""
    unique = {id(part): part for part in parts if isinstance(part, ForkAware)}
    _FORK_AWARE[owner] = tuple(unique.values())


@entry
def build_client(
    settings: Settings, container: Container | None = None, *, http_client: HttpClientSource | None = None
) -> Client:
    """Build a Client from settings: the adapters and their SDK clients are made now, once.

    The client survives ``os.fork()``: in the child, its adapters open their own connections.

    Args:
        settings: validated settings (see Settings).
        container: a container to use instead of a new one, e.g. with providers overridden.
        http_client: your ``httpx2.Client`` (a proxy, a custom CA, mTLS), for the SDK to send
            through instead of llmport's own; the call's deadline and ``max_response_bytes`` still
            hold (llmport wraps its connection pools' network backend). You close it; llmport
            does not. A forked child cannot use an object made in the parent (its calls raise
            ConfigurationError): pass a callable returning a new ``httpx2.Client`` instead, and
            each process makes its own (llmport closes those). Ignored by the fake provider.

    Raises:
        ConfigurationError: the settings cannot be wired (e.g. an SDK rejects them), or
            ``http_client`` is not an httpx2.Client on httpx's own transports.
    """
    _install_fork_hooks()
    container = container or Container(settings=settings)
    if http_client is not None:
        container.http_client.override(providers.Object(http_client))
    credential = container.credential()

    def close_credential() -> None:
        if isinstance(credential, Closeable):
            credential.close()

    chat, embeddings = container.chat_service(), container.embedding_service()
    client = Client(chat, embeddings, settings=settings, on_close=close_credential, container=container)
    _FORK_AWARE_ITSELF.add(client)  # its own lock and usage ledger
    _survive_fork(
        client,
        (
            credential,
            container.token_cache(),
            container.chat_adapter(),
            container.embedding_adapter(),
            chat,
            embeddings,
        ),
    )
    return client


@entry
def from_env(**overrides: Any) -> Client:
    """Build a client from the environment (OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT, LLMPORT_*...).

    Args:
        overrides: settings that win over the environment, by field name.

    Raises:
        ConfigurationError: nothing or something contradictory is configured; the message says what.
    """
    return build_client(Settings.from_env(**overrides))


@entry
def from_dict(values: Mapping[str, Any]) -> Client:
    """Build a client from a mapping whose keys are the settings' field names.

    Raises:
        ConfigurationError: an unknown key, or a missing or invalid setting.
    """
    return build_client(Settings.from_dict(values))


@entry
def from_file(path: str | os.PathLike[str], name: str = "default") -> Client:
    """Build the client ``name`` (a ``[clients.NAME]`` table, or the top level) from a TOML file.

    Raises:
        ConfigurationError: the file cannot be read, or the client's settings are invalid.
    """
    return build_client(Settings.from_toml(path, name=name))


class Clients:
    """Several named clients, each wired by its own Container and built once, on first use.

    ``clients["embeddings"]`` returns that client; ``clients.containers[name]`` is its container
    (override its providers before first use, in tests). Thread-safe; close it at shutdown.
    """

    def __init__(self, settings: Mapping[str, Settings]) -> None:
        self.containers: dict[str, Container] = {name: Container(settings=s) for name, s in settings.items()}
        self._settings = dict(settings)
        self._built: dict[str, Client] = {}
        self._lock = threading.Lock()
        _install_fork_hooks()
        _FORK_AWARE_ITSELF.add(self)

    def after_fork(self) -> None:
        """In a forked child: a new lock (a parent thread may have held it); built clients stay."""
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """The client names, sorted."""
        return sorted(self._settings)

    def __getitem__(self, name: str) -> Client:
        """Return the client ``name``, building it on first use.

        Raises:
            ConfigurationError: there is no such client (the message lists the names).
        """
        with self._lock:
            if name not in self._built:
                if name not in self._settings:
                    raise ConfigurationError(
                        f"no client named {name!r}; the clients are: {', '.join(self.names)}"
                    )
                self._built[name] = build_client(self._settings[name], self.containers[name])
            return self._built[name]

    def close(self) -> None:
        """Close every client built so far."""
        with self._lock:
            built, self._built = list(self._built.values()), {}
        for client in built:
            client.close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@entry
def clients_from_file(path: str | os.PathLike[str]) -> Clients:
    """Read every ``[clients.NAME]`` of a TOML file; each client is built when first asked for.

    Raises:
        ConfigurationError: the file cannot be read, or a client's settings are invalid.
    """
    return Clients(Settings.all_from_toml(path))
