"""What a reply-cache hit costs: ``PYTHONPATH=tests/support python benchmarks/cache_hit.py``.

Times ``client.chat`` on the fake provider without a cache, and answered from the cache (the dict
store of tests/support/cache_fakes.py, so that the figure is the policy's own: the key's hash and
the reply's JSON, not a store's); best of several repeats, alternated.
"""

from __future__ import annotations

import timeit

from cache_fakes import DictCacheStore
from dependency_injector import providers

import llmport
from llmport.testing import Container


def _client(cached: bool) -> llmport.Client:
    settings = llmport.Settings(provider="fake")
    container = Container(settings=settings)
    if cached:
        container.cache_store.override(providers.Object(DictCacheStore()))
    return llmport.build_client(settings, container)


def main() -> None:
    clients = {"no cache": _client(False), "cache hit": _client(True)}
    best = dict.fromkeys(clients, float("inf"))
    for client in clients.values():
        client.chat("hello there")  # fills the cache
    for _round in range(5):
        for label, client in clients.items():
            seconds = min(timeit.repeat(lambda c=client: c.chat("hello there"), number=2_000, repeat=3))
            best[label] = min(best[label], seconds / 2_000)
    for label, seconds in best.items():
        print(f"{label}: {seconds * 1e6:.1f} us per chat (fake provider)")
    for client in clients.values():
        client.close()


if __name__ == "__main__":
    main()
