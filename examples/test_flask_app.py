"""Testing an app that uses llmport: the pytest fixtures, and override() in a running Flask app."""

from __future__ import annotations

from flask_app import create_app

import llmport
from llmport.testing import FakeChat, override


def answer(client: llmport.Client, question: str) -> str:
    return client.chat(question, system="Answer in one word.").text


def test_answer_uses_the_fake(llmport_client: llmport.Client, llmport_fake_chat: FakeChat) -> None:
    llmport_fake_chat.push("Paris")
    assert answer(llmport_client, "Capital of France?") == "Paris"
    assert llmport_fake_chat.requests[0].messages[0].text == "Answer in one word."


def test_the_app_answers_from_the_overridden_adapter() -> None:
    app = create_app()
    chat = FakeChat("Paris")
    with override(app.extensions["llmport"], chat=chat):
        response = app.test_client().post("/chat", json={"prompt": "Capital of France?"})
    assert response.get_json()["text"] == "Paris"
    assert chat.requests[0].messages[-1].text == "Capital of France?"


def test_a_rate_limit_becomes_429_with_retry_after() -> None:
    app = create_app({"LLMPORT": {"provider": "fake", "max_retries": 0}})  # the error must reach the view
    busy = FakeChat(llmport.RateLimitedError("busy", retry_after=2.5))
    with override(app.extensions["llmport"], chat=busy):
        response = app.test_client().post("/chat", json={"prompt": "hello"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
