"""Small parts of routing: a reply stamped with its deployment, the plan from an aged view."""

from __future__ import annotations

import dataclasses

import pytest

from llmport.adapters.fakes import FakeChat
from llmport.domain.budget import Remaining
from llmport.domain.messages import Message
from llmport.domain.models import ChatChunk, ChatResponse, EmbeddingResponse
from llmport.domain.replies import served_by
from llmport.services.routing.plan import Deployment, plan


@pytest.mark.parametrize(
    "reply",
    [
        ChatChunk(text="x", model="m", index=2),
        ChatResponse(Message.assistant("ok"), model="m", id="r1"),
        EmbeddingResponse([[1.0, 2.0]], model="e"),
    ],
)
def test_served_by_copies_every_field_and_names_the_deployment(reply: object) -> None:
    stamped = served_by(reply, "east")  # type: ignore[type-var]
    assert stamped == dataclasses.replace(reply, deployment="east")  # type: ignore[type-var]
    assert stamped.deployment == "east" and reply.deployment is None  # type: ignore[attr-defined]


def test_a_wait_in_an_aged_view_counts_only_what_is_left_of_it() -> None:
    east, west = Deployment("east", FakeChat()), Deployment("west", FakeChat(), priority=1)
    view = {"east": Remaining("east", None, None, "closed", wait=2.0)}
    assert [d.name for d in plan([east, west], view).order] == ["west"]
    assert [d.name for d in plan([east, west], view, elapsed=1.5).order] == ["west"]
    assert [d.name for d in plan([east, west], view, elapsed=2.0).order] == ["east", "west"]
