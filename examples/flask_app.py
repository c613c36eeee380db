"""A Flask app factory with llmport: one client per process, llmport errors answered as JSON."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from llmport.entrypoints.flask import LLMPort, get_client

llm = LLMPort(error_handler=True)  # created once, bound to each app in create_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["LLMPORT"] = {"provider": "fake"}  # remove it to configure llmport from the environment
    app.config.update(config or {})
    llm.init_app(app)

    @app.post("/chat")
    def chat() -> dict[str, Any]:
        # "prompt" is a string or OpenAI-style messages; bad input becomes a 400 from the error handler
        reply = get_client().chat(request.get_json()["prompt"])
        return {"text": reply.text, "request_id": reply.request_id}

    return app


if __name__ == "__main__":
    http = create_app().test_client()
    print(http.post("/chat", json={"prompt": "When was Microsoft founded?"}).get_json())
