"""The table of known windows, the fit rule, and a Router built by hand refusing what fits nowhere."""

from __future__ import annotations

import pytest
from clock import FakeClock
from word_counter import WordCounter, words

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.fakes import FakeChat
from llmport.domain.context_windows import (
    CHECKED,
    ContextWindow,
    base_model,
    embedding_input_limit,
    known_window,
)
from llmport.domain.errors import ContextLengthExceededError
from llmport.domain.messages import ImagePart, Message, TextPart
from llmport.domain.models import ChatRequest
from llmport.services.context_check import fits, upper_bound
from llmport.services.routing.router import Deployment, Router


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4o-mini-2024-07-18", 128_000),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", 128_000),
        ("gpt-4.1-nano", 1_047_576),
        ("gpt-5-mini", 400_000),
        ("o4-mini", 200_000),
        ("o3-mini-2025-01-31", 200_000),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-32k-0613", 32_768),
        ("gpt-3.5-turbo-0125", 16_385),
        ("GPT-4o", 128_000),
        ("gpt-4-turbo", None),  # not in the table: a window too small would refuse good requests
        ("gpt-4-1106-preview", None),
        ("o1-mini", None),
        ("llama-3-70b", None),
        (None, None),
    ],
)
def test_known_windows(model: str | None, window: int | None) -> None:
    found = known_window(model)
    assert (found.tokens if found else None) == window


def test_the_table_says_when_it_was_checked_and_gpt_5_caps_its_input() -> None:
    assert CHECKED == "2026-12-08"
    assert known_window("gpt-5") == ContextWindow(400_000, max_input=272_000)
    assert base_model("gpt-4o-2024-11-20") == "gpt-4o"
    assert embedding_input_limit("text-embedding-3-large") == 8_191
    assert embedding_input_limit("my-embedder") is None


def test_fits_keeps_the_input_cap_and_trusts_an_estimate_only_past_a_quarter() -> None:
    gpt5 = ContextWindow(400_000, max_input=272_000)
    assert fits(272_000, True, 128_000, gpt5)
    assert not fits(272_001, True, 0, gpt5)
    assert not fits(200_000, True, 200_001, gpt5)
    window = ContextWindow(1000)
    assert fits(1000, True, 0, window) and not fits(1001, True, 0, window)
    assert fits(1333, False, 0, window) and not fits(1340, False, 0, window)


def test_the_upper_bound_holds_bytes_and_gives_up_on_images_and_tools() -> None:
    plain = ChatRequest((Message("user", "héllo world"),))
    assert upper_bound(plain) == 16 + 4 * len("héllo world") + 16
    parts = ChatRequest((Message("user", (TextPart("a"), ImagePart(url="https://x.test/a.png"))),))
    assert upper_bound(parts) is None


def test_a_router_built_by_hand_refuses_what_fits_no_deployment_and_sends_nothing() -> None:
    small, large = FakeChat(), FakeChat()
    router = Router(
        [
            Deployment("small", small, context_window=ContextWindow(100)),
            Deployment("large", large, priority=1, context_window=ContextWindow(1000)),
        ],
        store=MemoryBudgetStore(clock=FakeClock()),
        counter=WordCounter(),
    )
    with pytest.raises(ContextLengthExceededError) as caught:
        router.complete(ChatRequest((Message("user", words(1001)),), model="m"))
    assert caught.value.context_window == 1000
    assert router.complete(ChatRequest((Message("user", words(500)),), model="m")).deployment == "large"
    assert (len(small.requests), len(large.requests)) == (0, 1)


def test_the_context_window_setting_from_the_environment_a_dict_and_a_deployment() -> None:
    from llmport.domain.errors import ConfigurationError
    from llmport.settings import Settings

    settings = Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_CONTEXT_WINDOW": "4096"})
    assert settings.context_window == 4096
    assert settings.source("context_window") == "environment LLMPORT_CONTEXT_WINDOW"
    for bad in ("0", "1.5", "lots"):
        with pytest.raises(ConfigurationError, match=r"context_window: .*LLMPORT_CONTEXT_WINDOW"):
            Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_CONTEXT_WINDOW": bad})
    routed = Settings.from_dict(
        {
            "provider": "fake",
            "chat_model": "m",
            "context_window": 1000,
            "deployments": [{"name": "a"}, {"name": "b", "context_window": 9000}],
        }
    )
    assert [d.settings.context_window for d in routed.routes] == [1000, 9000]
    assert Settings(provider="fake").context_window is None
