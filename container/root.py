"""The composition root: one DeclarativeContainer decides which adapter serves which port."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from ..adapters.fakes import FakeChat, FakeEmbeddings
from ..adapters.recording import hook as recording
from ..domain.errors import ConfigurationError
from ..domain.ports import ChatPort, Closeable, EmbeddingPort, TelemetryPort
from ..domain.redaction import entry
from ..services.chat import ChatService
from ..services.client import Client
from ..services.embeddings import EmbeddingService
from ..services.retry import Retrier
from ..settings import Settings
from . import batch, factories, routing
from .fork import install_fork_hooks, survive_fork

if TYPE_CHECKING:
    from ..adapters.llm.wire.transport import HttpClientSource

__all__ = ["Clients", "Container", "build_client", "clients_from_file", "from_dict", "from_env", "from_file"]


def _sub_container(settings: Settings) -> Container:
    return Container(settings=settings)


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

    credential = providers.ThreadSafeSingleton(factories.credential, settings)
    token_cache = providers.ThreadSafeSingleton(factories.token_cache, credential, settings, wall_clock)
    token_provider = providers.Callable(factories.token_provider, token_cache)

    provider_name = _setting(settings, "provider")
    adapter_kind = providers.Callable(factories.adapter_kind, settings)
    #: The user's httpx client (or a callable making one) for the SDK, or None for llmport's own.
    http_client: providers.Provider[Any] = providers.Object(None)
    #: The provider's adapter (a row of factories.LLM_ADAPTERS): one, for chat and embeddings.
    llm_adapter = providers.ThreadSafeSingleton(factories.llm_adapter, settings, token_provider, http_client)
    #: Counts tokens before sending (``Client.count_tokens``, the context check, the router's
    #: budgets, the embedding batches): tiktoken, loaded on the first count.
    token_counter: providers.Provider[Any] = providers.ThreadSafeSingleton(factories.token_counter, settings)
    #: The context-window check in front of the chat service (None: a deployment with no known window).
    context_check = providers.ThreadSafeSingleton(factories.context_check, token_counter, settings)
    #: Embedding inputs held to their model's limit, counted for the batches (None: estimates).
    embedding_limits = providers.ThreadSafeSingleton(factories.embedding_limits, token_counter, settings)

    #: Several deployments: their rate budgets, and the Router over their own containers' adapters.
    budget_store = providers.ThreadSafeSingleton(routing.budget_store, settings, wall_clock)
    router = providers.ThreadSafeSingleton(
        routing.router,
        settings,
        budget_store,
        wall_clock,
        http_client,
        providers.Object(_sub_container),
        counter=token_counter,
    )
    chat_adapter: providers.Provider[ChatPort] = providers.Selector(
        adapter_kind,
        llm=llm_adapter,
        fake=providers.ThreadSafeSingleton(FakeChat),
        routed=router,
    )
    embedding_adapter: providers.Provider[EmbeddingPort] = providers.Selector(
        adapter_kind,
        llm=llm_adapter,
        fake=providers.ThreadSafeSingleton(FakeEmbeddings),
        routed=router,
    )

    #: Spans and metrics: OpenTelemetry when the application configured it, else nothing.
    telemetry: providers.Provider[TelemetryPort] = providers.ThreadSafeSingleton(
        factories.telemetry, settings
    )
    retrier = providers.ThreadSafeSingleton(
        Retrier, providers.Callable(factories.retry_policy, settings), sleep=sleep, clock=clock, rand=rand
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
        context=context_check,
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
        max_workers=providers.Callable(factories.embedding_workers, settings),
        telemetry=telemetry,
        limits=embedding_limits,
    )
    #: The reply cache's store (the ``cache`` setting); None: off, and no caching composite at all.
    cache_store: providers.Provider[Any] = providers.ThreadSafeSingleton(
        factories.cache_store, settings, clock
    )
    #: What the client calls: the services, behind the reply cache when there is a store.
    chat_calls = providers.ThreadSafeSingleton(
        factories.chat_calls, chat_service, cache_store, settings, clock, sleep, telemetry=telemetry
    )
    embedding_calls = providers.ThreadSafeSingleton(
        factories.embedding_calls, embedding_service, cache_store, settings, clock, sleep, telemetry=telemetry
    )
    #: The Batch API (``client.batch``): the provider's Files + Batches, and where jobs are kept.
    batch_port = providers.ThreadSafeSingleton(
        batch.batch_port,
        settings,
        adapter_kind,
        llm_adapter.provider,
        chat_adapter.provider,
        embedding_adapter.provider,
    )
    batch_store = providers.ThreadSafeSingleton(batch.batch_store, settings)
    batch_service = providers.ThreadSafeSingleton(
        batch.batch_service,
        batch_port,
        batch_store,
        clock=clock,
        sleep=sleep,
        rand=rand,
        wall_clock=wall_clock,
        counter=token_counter,
    )


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
    install_fork_hooks()
    container = container or Container(settings=settings)
    if http_client is not None:
        container.http_client.override(providers.Object(http_client))
    credential = container.credential()

    def close_credential() -> None:
        if isinstance(credential, Closeable):
            credential.close()

    chat, embeddings = container.chat_calls(), container.embedding_calls()
    client = Client(
        chat,
        embeddings,
        settings=settings,
        on_close=close_credential,
        container=container,
        counter=container.token_counter(),
        batch=container.batch_service,
    )
    recording.remember(client, settings)  # what a test's cassette never writes (adapters/recording)
    survive_fork(  # the client itself too: its own lock and usage ledger
        client,
        (
            credential,
            container.token_cache(),
            container.chat_adapter(),
            container.embedding_adapter(),
            chat,
            embeddings,
            container.token_counter(),
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
        install_fork_hooks()
        survive_fork(self)

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
