"""The reply cache's settings (issue 21): from every source, checked, naming setting, source and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from cache_fakes import DictCacheStore
from dependency_injector import providers

import llmport
from llmport import ConfigurationError, Settings
from llmport.services.cache_embeddings import CachingEmbeddings
from llmport.services.caching import CachingChat
from llmport.services.chat import ChatService
from llmport.testing import Container

OPENAI = {"provider": "openai", "api_key": "sk-test", "chat_model": "gpt-4o-mini"}


def test_the_defaults_leave_the_cache_off() -> None:
    settings = Settings(provider="fake")
    assert (settings.cache, settings.cache_ttl, settings.cache_max_bytes, settings.cache_namespace) == (
        "off",
        3600.0,
        64 * 1024 * 1024,
        "",
    )


def test_every_source_sets_the_cache(tmp_path: Path) -> None:
    assert Settings(provider="fake", cache="memory", cache_ttl=5).cache_ttl == 5
    from_dict = Settings.from_dict({"provider": "fake", "cache": "memory", "cache_max_bytes": 2048})
    assert (from_dict.cache, from_dict.cache_max_bytes) == ("memory", 2048)
    path = tmp_path / "llmport.toml"
    path.write_text('provider = "fake"\ncache = "redis://127.0.0.1:6379/2"\ncache_namespace = "app"\n')
    from_file = Settings.from_toml(path)
    assert (from_file.cache, from_file.cache_namespace) == ("redis://127.0.0.1:6379/2", "app")
    env = {
        "OPENAI_API_KEY": "sk-test",
        "LLMPORT_CACHE": "memory",
        "LLMPORT_CACHE_TTL": "60.5",
        "LLMPORT_CACHE_MAX_BYTES": "4096",
        "LLMPORT_CACHE_NAMESPACE": "tenant-a",
    }
    from_env = Settings.from_env(env)
    assert (from_env.cache, from_env.cache_ttl, from_env.cache_max_bytes, from_env.cache_namespace) == (
        "memory",
        60.5,
        4096,
        "tenant-a",
    )
    assert from_env.source("cache_ttl") == "environment LLMPORT_CACHE_TTL"


@pytest.mark.parametrize(
    ("env", "start", "fix", "source"),
    [
        (
            {"LLMPORT_CACHE": "memcached://h"},
            "cache: 'memcached://h' is neither",
            "'redis://127.0.0.1:6379/0'",
            "LLMPORT_CACHE",
        ),
        (
            {"LLMPORT_CACHE": "redis://:pw@h/notadb"},
            "cache: ",
            "write it like 'redis://HOST:6379/0'",
            "LLMPORT_CACHE",
        ),
        ({"LLMPORT_CACHE_TTL": "0"}, "cache_ttl: 0.0 is out of range", "greater than 0", "LLMPORT_CACHE_TTL"),
        ({"LLMPORT_CACHE_TTL": "soon"}, "cache_ttl: 'soon' is not a number", "", "LLMPORT_CACHE_TTL"),
        (
            {"LLMPORT_CACHE_MAX_BYTES": "10"},
            "cache_max_bytes: 10 is out of range",
            "from 1024",
            "LLMPORT_CACHE_MAX_BYTES",
        ),
        (
            {"LLMPORT_CACHE_NAMESPACE": " app"},
            "cache_namespace: ",
            "without leading or trailing blanks",
            "LLMPORT_CACHE_NAMESPACE",
        ),
    ],
)
def test_a_wrong_cache_setting_names_itself_its_source_and_the_fix(
    env: dict[str, str], start: str, fix: str, source: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"OPENAI_API_KEY": "sk-test", **env})
    message = raised.value.message
    assert message.startswith(start) and fix in message
    assert message.endswith(f"(from environment {source})")
    assert "pw" not in message


def test_a_redis_cache_url_is_redacted_in_the_settings_shown() -> None:
    settings = Settings(provider="fake", cache="redis://:hunter2@h:6379/0")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.redacted())


def test_cache_off_builds_no_caching_composite() -> None:
    container = Container(settings=Settings(provider="fake"))
    assert container.cache_store() is None
    assert isinstance(container.chat_calls(), ChatService)


def test_a_cache_store_put_in_the_container_serves_chat_and_embeddings() -> None:
    settings = Settings(provider="fake", cache_ttl=42)
    container = Container(settings=settings)
    store = DictCacheStore()
    container.cache_store.override(providers.Object(store))
    with llmport.build_client(settings, container) as client:
        assert isinstance(container.chat_calls(), CachingChat)
        assert isinstance(container.embedding_calls(), CachingEmbeddings)
        assert client.chat("hi").cache_hit is False
        assert client.chat("hi").cache_hit is True
        assert client.embed(["a", "b"]).cache_hits == 0
        assert client.embed(["b", "c"]).cache_hits == 1
    assert set(store.ttls.values()) == {42.0}
    assert store.closed


def test_the_memory_and_redis_stores_are_named_by_their_dotted_path() -> None:
    from llmport.container.factories import CACHE_STORES

    assert CACHE_STORES == {
        "memory": "llmport.adapters.cache.memory.MemoryCacheStore",
        "redis": "llmport.adapters.cache.redis_cache.RedisCacheStore",
    }
