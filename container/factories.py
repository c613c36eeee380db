"""What the container builds from Settings: one table of LLM adapters by provider, the credential,
the token cache, telemetry, the retry policy.

Vendor adapters are imported inside these factories, so that ``import llmport`` loads neither
openai nor azure.identity; they load when a client for a real provider is built.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from ..domain.ports import CacheStore, CredentialPort, TelemetryPort, TokenCounter
from ..services.cache_embeddings import CachingEmbeddings
from ..services.cache_store import ReplyCache
from ..services.caching import CachingChat, ChatCalls, EmbeddingCalls
from ..services.chat import ChatService
from ..services.context_check import ContextCheck
from ..services.embedding_limits import EmbeddingLimits
from ..services.embeddings import EmbeddingService
from ..services.retry import RetryPolicy
from ..services.token_cache import TokenCache
from ..settings import CredentialKind, OwnCredential, Settings
from .routing import context_window

if TYPE_CHECKING:
    from ..adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
    from ..adapters.llm.openai import OpenAIAdapter
    from ..adapters.llm.wire.transport import HttpClientSource

    LLMAdapter = OpenAIAdapter | AzureClassicAdapter | AzureV1Adapter

__all__ = [
    "CACHE_STORES",
    "LLM_ADAPTERS",
    "adapter_kind",
    "cache_store",
    "chat_calls",
    "context_check",
    "credential",
    "embedding_calls",
    "embedding_limits",
    "embedding_workers",
    "llm_adapter",
    "retry_policy",
    "server",
    "telemetry",
    "token_cache",
    "token_counter",
    "token_provider",
]

TokenSource = Callable[[], str]


def _openai_class() -> type[OpenAIAdapter]:
    from ..adapters.llm.openai import OpenAIAdapter

    return OpenAIAdapter


def _azure_class() -> type[AzureClassicAdapter]:
    from ..adapters.llm.azure import AzureClassicAdapter

    return AzureClassicAdapter


def _azure_v1_class() -> type[AzureV1Adapter]:
    from ..adapters.llm.azure import AzureV1Adapter

    return AzureV1Adapter


def _key(settings: Settings) -> str | None:
    return settings.api_key.reveal() if settings.api_key else None


# Each provider's own keywords: where the adapter sends, and how it authenticates.
def _openai_keywords(settings: Settings, token: TokenSource | None) -> dict[str, Any]:
    return {"api_key": _key(settings) or _required(token), "base_url": settings.base_url}


def _azure_keywords(settings: Settings, token: TokenSource | None) -> dict[str, Any]:
    return {
        "endpoint": _required(settings.endpoint),
        "api_version": _required(settings.api_version),
        "api_key": _key(settings),
        "token_provider": token,
    }


def _azure_v1_keywords(settings: Settings, token: TokenSource | None) -> dict[str, Any]:
    return {"endpoint": _required(settings.endpoint), "api_key": _key(settings), "token_provider": token}


@dataclass(frozen=True, slots=True)
class AdapterRow:
    """How one provider's adapter is built: its class (imported on first use) and the keywords that
    are its own; every adapter also takes the shared ones (``llm_adapter``)."""

    load: Callable[[], type[LLMAdapter]]
    keywords: Callable[[Settings, TokenSource | None], dict[str, Any]]


#: The one table of LLM adapters, by provider.
LLM_ADAPTERS: dict[str, AdapterRow] = {
    "openai": AdapterRow(_openai_class, _openai_keywords),
    "azure": AdapterRow(_azure_class, _azure_keywords),
    "azure_v1": AdapterRow(_azure_v1_class, _azure_v1_keywords),
}


def llm_adapter(
    settings: Settings, token: TokenSource | None, http_client: HttpClientSource | None
) -> LLMAdapter:
    """The provider's adapter (its row of ``LLM_ADAPTERS``), serving both chat and embeddings."""
    row = LLM_ADAPTERS[str(settings.provider)]
    return row.load()(
        **row.keywords(settings, token),
        timeout=settings.timeout,
        api=settings.api,
        max_tokens_field=settings.max_tokens_field,
        max_response_bytes=settings.max_response_bytes,
        default_headers=settings.default_headers,
        http_client=http_client,
    )


def adapter_kind(settings: Settings) -> str:
    """Which adapter serves the ports: ``llm`` (a row of the table), ``fake``, or ``routed`` for
    several deployments."""
    if settings.routes:
        return "routed"
    return "fake" if settings.provider == "fake" else "llm"


def credential(settings: Settings) -> CredentialPort | None:
    """The credential that tokens come from; None for an API key (nothing to cache) or routing."""
    if settings.routes:
        return None  # each deployment has its own (container/routing.py)
    if settings.auth == "token":
        from ..adapters.identity.credentials import StaticTokenCredential

        return StaticTokenCredential(_required(settings.token).reveal())
    if settings.auth != "entra":
        return None  # API keys go to the adapter as they are: there is nothing to cache
    from ..adapters.identity.credentials import (
        PROVIDER_REUSE,
        AzureCoreCredential,
        AzureIdentityCredential,
        TokenProviderCredential,
    )

    own = settings.credential
    if not isinstance(own, OwnCredential):
        return AzureIdentityCredential(
            cast(CredentialKind, own),
            client_id=settings.client_id,
            tenant_id=settings.tenant_id,
            client_secret=settings.client_secret.reveal() if settings.client_secret else None,
        )
    # Yours: wrapped, so the token cache, refresh margin and 401 rule apply as to any other.
    if own.kind == "token_credential":
        return AzureCoreCredential(own.value)  # type: ignore[arg-type]
    return TokenProviderCredential(
        own.value,  # type: ignore[arg-type]
        assumed_lifetime=settings.token_refresh_margin + PROVIDER_REUSE,
    )


def token_cache(
    credential: CredentialPort | None, settings: Settings, clock: Callable[[], float]
) -> TokenCache | None:
    """The cache in front of the credential, refreshing ``token_refresh_margin`` before expiry."""
    if credential is None:
        return None
    return TokenCache(
        credential, scopes=(settings.scope,), refresh_margin=settings.token_refresh_margin, clock=clock
    )


def token_provider(cache: TokenCache | None) -> TokenSource | None:
    """The plain callable the adapters get: the current token."""
    return cache.token if cache is not None else None


def telemetry(settings: Settings) -> TelemetryPort:
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

        address, port = server(settings)
        return OpenTelemetry(
            provider=settings.provider or "unknown",
            server_address=address,
            server_port=port,
            capture_content=settings.log_content or capture_content_from_env(),
        )
    except ImportError:  # opentelemetry-semantic-conventions missing: install llmport[otel]
        return NoTelemetry()


def server(settings: Settings) -> tuple[str | None, int | None]:
    """The host and port calls go to, for telemetry; None for the fake."""
    if settings.provider == "openai":
        url = settings.base_url or "https://api.openai.com/v1"
    elif settings.provider in ("azure", "azure_v1"):
        url = settings.endpoint or ""
    else:
        return None, None
    parts = urlsplit(url)
    return parts.hostname, parts.port


def embedding_workers(settings: Settings) -> int:
    """Batches in flight at once: as set, else one per deployment serving embeddings."""
    if "embedding_max_workers" in settings.sources or not settings.routes:
        return settings.embedding_max_workers
    return max(1, sum("embeddings" in routed.kinds for routed in settings.routes))


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry owner's policy: how many retries, and the call's deadline."""
    return RetryPolicy(max_retries=settings.max_retries, deadline=settings.deadline)


#: The reply cache's stores by setting, as dotted names: imported only when a client uses one.
CACHE_STORES = {
    "memory": "llmport.adapters.cache.memory.MemoryCacheStore",
    "redis": "llmport.adapters.cache.redis_cache.RedisCacheStore",
}


def cache_store(settings: Settings, clock: Callable[[], float]) -> CacheStore | None:
    """The reply cache's store from the ``cache`` setting; None when it is ``off`` (no cache at all).

    The memory store's entries expire on ``clock`` (the container's), so a test's clock ages them.
    """
    if settings.cache == "off":
        return None
    module, _, name = CACHE_STORES["memory" if settings.cache == "memory" else "redis"].rpartition(".")
    store_class: Any = getattr(importlib.import_module(module), name)
    if settings.cache == "memory":
        return cast(CacheStore, store_class(max_bytes=settings.cache_max_bytes, clock=clock))
    return cast(CacheStore, store_class(settings.cache))


def _reply_cache(
    store: CacheStore, settings: Settings, clock: Callable[[], float], sleep: Callable[[float], None]
) -> ReplyCache:
    # Where calls go is part of every key: one store may serve several clients.
    scope = {
        "provider": settings.provider,
        "base_url": settings.base_url,
        "endpoint": settings.endpoint,
        "api": settings.api,
        "deployments": [routed.name for routed in settings.routes],
    }
    return ReplyCache(
        store=store,
        ttl=settings.cache_ttl,
        scope=scope,
        namespace=settings.cache_namespace,
        deadline=settings.deadline,
        clock=clock,
        sleep=sleep,
    )


def chat_calls(
    service: ChatService,
    store: CacheStore | None,
    settings: Settings,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    *,
    telemetry: TelemetryPort | None = None,
) -> ChatCalls:
    """What the client calls for chat: the service, behind the reply cache when there is a store."""
    if store is None:
        return service
    cache = _reply_cache(store, settings, clock, sleep)
    return CachingChat(
        service, cache, model=settings.chat_model, provider=str(settings.provider), telemetry=telemetry
    )


def embedding_calls(
    service: EmbeddingService,
    store: CacheStore | None,
    settings: Settings,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    *,
    telemetry: TelemetryPort | None = None,
) -> EmbeddingCalls:
    """What the client calls for embeddings: the service, behind the per-input cache when there is one."""
    if store is None:
        return service
    cache = _reply_cache(store, settings, clock, sleep)
    return CachingEmbeddings(
        service, cache, model=settings.embedding_model, provider=str(settings.provider), telemetry=telemetry
    )


def token_counter(settings: Settings) -> TokenCounter:
    """The token counter: tiktoken with the shipped encodings (loaded on the first count, not here)."""
    from ..adapters.tokens import TiktokenCounter

    return TiktokenCounter(settings.deployment_models)


# -- what uses the token counter (issue 22): the context check; the router and the embedding
# service take the counter itself. The counter's own factory is the token counting's.


def context_check(counter: TokenCounter | None, settings: Settings) -> ContextCheck | None:
    """The context-window check in front of the chat service; None without a counter.

    A routed client's refuses only what fits no deployment's window (its Router then sends a call
    to one whose window fits it), and is None when a deployment's window is unknown.
    """
    if counter is None:
        return None
    if not settings.routes:
        return ContextCheck(
            counter,
            context_window=settings.context_window,
            deployment_models=settings.deployment_models,
            api=settings.api,
        )
    windows = [context_window(routed.settings) for routed in settings.routes if "chat" in routed.kinds]
    if not windows or None in windows:
        return None
    return ContextCheck(counter, windows=[w for w in windows if w is not None], api=settings.api)


def embedding_limits(counter: TokenCounter | None, settings: Settings) -> EmbeddingLimits | None:
    """What holds embedding inputs to their model's limits and counts them for the batches; None
    without a counter (estimates)."""
    if counter is None:
        return None
    return EmbeddingLimits(
        counter, token_budget=settings.embedding_token_budget, deployment_models=settings.deployment_models
    )


def _required(value: Any) -> Any:
    assert value is not None  # Settings validated it; reaching None here is a bug in the wiring
    return value
