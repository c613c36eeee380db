"""The defaults more than one floor uses, each written once: settings, services and adapters import them."""

from __future__ import annotations

__all__ = [
    "CACHE_MAX_BYTES",
    "CACHE_MAX_ENTRY_BYTES",
    "CACHE_TTL",
    "DEFAULT_SCOPE",
    "DEFAULT_TIMEOUT",
    "LEASE_SECONDS",
    "MAX_EMBEDDING_BATCH",
    "TOKEN_REFRESH_MARGIN",
]

#: Seconds one HTTP request may take (``timeout``): the adapters' default and the setting's.
DEFAULT_TIMEOUT = 60.0
#: The most inputs OpenAI and Azure OpenAI accept in one embeddings request: the default
#: ``embedding_batch_size`` and its ceiling.
MAX_EMBEDDING_BATCH = 2048
#: Seconds before a token's expiry when it stops being handed out (``token_refresh_margin``),
#: as azure-core refreshes.
TOKEN_REFRESH_MARGIN = 300.0
#: Seconds a budget store's lease of room to this process lasts (``lease_seconds``).
LEASE_SECONDS = 0.25
#: The Entra ID scope of Azure OpenAI (``scope``).
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"
#: Seconds a reply stays in the reply cache (``cache_ttl``).
CACHE_TTL = 3600.0
#: What the memory cache store's values may hold together, in bytes (``cache_max_bytes``).
CACHE_MAX_BYTES = 64 * 1024 * 1024
#: The longest value a cache store (memory or Redis) keeps, in bytes: a longer one is not stored.
CACHE_MAX_ENTRY_BYTES = 1024 * 1024
