"""The Flask extension through Flask's real test client: factory pattern, get_client, error handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

import llmport
from llmport.entrypoints.flask import LLMPort, get_client
from llmport.testing import FakeChat, override

FAKE = {"provider": "fake", "max_retries": 0}  # scripted errors must reach the view, not be retried


def make_app(config: object = FAKE, **options: bool) -> Flask:
    app = Flask("test_app")
    if config is not None:
        app.config["LLMPORT"] = config

    @app.post("/chat")
    def chat() -> dict[str, object]:
        reply = get_client().chat("hello")
        return {"text": reply.text}

    LLMPort().init_app(app, **options)
    return app


@pytest.fixture
def app() -> Iterator[Flask]:
    app = make_app(error_handler=True)
    yield app
    app.extensions["llmport"].close()


def test_init_app_puts_one_client_in_the_app_extensions(app: Flask) -> None:
    client = app.extensions["llmport"]
    assert isinstance(client, llmport.Client)
    with app.app_context():
        assert get_client() is client
    assert client.settings.max_retries == 0  # read from app.config["LLMPORT"]


def test_the_constructor_initialises_an_app_directly() -> None:
    app = Flask("direct")
    app.config["LLMPORT"] = FAKE
    extension = LLMPort(app)
    with app.app_context():
        assert extension.client is app.extensions["llmport"]


def test_one_extension_serves_several_apps_with_their_own_clients() -> None:
    extension, first, second = LLMPort(), Flask("first"), Flask("second")
    for each in (first, second):
        each.config["LLMPORT"] = FAKE
        extension.init_app(each)
    assert first.extensions["llmport"] is not second.extensions["llmport"]


def test_a_view_answers_through_the_client(app: Flask) -> None:
    response = app.test_client().post("/chat")
    assert response.status_code == 200
    assert response.get_json() == {"text": "fake reply to: hello"}


def test_without_config_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMPORT_PROVIDER", "fake")
    monkeypatch.setenv("LLMPORT_CHAT_MODEL", "model-from-env")
    app = make_app(config=None)
    assert app.extensions["llmport"].settings.chat_model == "model-from-env"


def test_bad_config_fails_init_app_with_the_fix() -> None:
    with pytest.raises(llmport.ConfigurationError, match="api_version"):
        make_app({"provider": "azure", "endpoint": "https://r.openai.azure.com", "api_key": "k"})


def test_config_that_is_not_a_dict_is_named_in_the_error() -> None:
    with pytest.raises(llmport.ConfigurationError, match=r'app.config\["LLMPORT"\] must be a dict'):
        make_app("provider=fake")


def test_initialising_an_app_twice_is_refused(app: Flask) -> None:
    with pytest.raises(RuntimeError, match="already initialised"):
        LLMPort().init_app(app)


def test_get_client_outside_an_app_context_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        get_client()


def test_get_client_on_an_app_without_the_extension_says_how_to_add_it() -> None:
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="init_app"):
        get_client()


ERRORS = [
    (llmport.ValidationError("unknown role 'robot'"), 400),
    (llmport.ContentFilteredError("filtered", code="content_filter"), 422),
    (llmport.QuotaExceededError("quota", code="insufficient_quota"), 503),
    (llmport.AuthenticationError("bad key", status_code=401), 502),
    (llmport.NotFoundError("no deployment", status_code=404), 502),
    (llmport.ServiceUnavailableError("down", status_code=500), 503),
    (llmport.RequestTimeoutError("slow"), 504),
    (llmport.ConnectionFailedError("refused"), 502),
    (llmport.StreamInterruptedError("broke"), 502),
]


@pytest.mark.parametrize(("error", "status"), ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
def test_the_error_handler_answers_json_with_the_status(
    app: Flask, error: llmport.LLMPortError, status: int
) -> None:
    with override(app.extensions["llmport"], chat=FakeChat(error)):
        response = app.test_client().post("/chat")
    assert response.status_code == status
    assert response.is_json
    assert response.get_json()["error"]["type"]


def test_a_rate_limit_is_429_with_retry_after_rounded_up(app: Flask) -> None:
    busy = FakeChat(llmport.RateLimitedError("busy", retry_after=1.2, request_id="req-9"))
    with override(app.extensions["llmport"], chat=busy):
        response = app.test_client().post("/chat")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"]["request_id"] == "req-9"


def test_without_the_error_handler_flask_answers_its_own_500() -> None:
    app = make_app()
    with override(app.extensions["llmport"], chat=FakeChat(llmport.RateLimitedError("busy", retry_after=1))):
        response = app.test_client().post("/chat")
    assert response.status_code == 500
    assert not response.is_json


def test_the_app_uses_its_own_adapters_again_after_override(app: Flask) -> None:
    scripted = FakeChat("overridden")
    http = app.test_client()
    with override(app.extensions["llmport"], chat=scripted):
        assert http.post("/chat").get_json() == {"text": "overridden"}
    assert http.post("/chat").get_json() == {"text": "fake reply to: hello"}
    assert len(scripted.requests) == 1


def test_a_bad_value_in_app_config_is_reported_as_coming_from_there() -> None:
    app = Flask(__name__)
    app.config["LLMPORT"] = {"provider": "anthropic"}
    with pytest.raises(llmport.ConfigurationError, match=r'from app\.config\["LLMPORT"\]'):
        LLMPort(app)
