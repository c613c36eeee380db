"""Contract: every failure the providers really send becomes the same domain error everywhere."""

from __future__ import annotations

from email.utils import formatdate
from time import time
from typing import Any

import pytest
from adapter_cases import MODEL, TOKEN_CASES, AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import azure_content_filter_error, azure_error, openai_error

from llmport.domain import errors
from llmport.domain.models import ChatRequest, EmbeddingRequest, Message

REQUEST = ChatRequest((Message.user("ping"),), model=MODEL)

# (id, reply, domain class, code, retryable)
STATUS_CASES = [
    (
        "400",
        Reply(400, openai_error("Invalid value for 'temperature'", code="invalid_value")),
        errors.BadRequestError,
        "invalid_value",
        False,
    ),
    (
        "400-context-length",
        Reply(
            400,
            openai_error(
                "This model's maximum context length is 128000 tokens.", code="context_length_exceeded"
            ),
        ),
        errors.ContextLengthExceededError,
        "context_length_exceeded",
        False,
    ),
    (
        "400-azure-content-filter",
        Reply(400, azure_content_filter_error()),
        errors.ContentFilteredError,
        "content_filter",
        False,
    ),
    ("422", Reply(422, openai_error("Unprocessable", code=None)), errors.BadRequestError, None, False),
    (
        "401",
        Reply(401, azure_error("401", "Access denied due to invalid subscription key.")),
        errors.AuthenticationError,
        "401",
        False,
    ),
    (
        "403",
        Reply(403, azure_error("PermissionDenied", "Principal does not have access to API/Operation.")),
        errors.PermissionDeniedError,
        "PermissionDenied",
        False,
    ),
    (
        "404-deployment",
        Reply(404, azure_error("DeploymentNotFound", "The API deployment for this resource does not exist.")),
        errors.NotFoundError,
        "DeploymentNotFound",
        False,
    ),
    ("408", Reply(408, openai_error("Request timed out", code=None)), errors.RequestTimeoutError, None, True),
    ("409", Reply(409, openai_error("Conflict", code="conflict")), errors.ProviderError, "conflict", True),
    (
        "429-rate-limit",
        Reply(429, azure_error("429", "Requests have exceeded token rate limit.")),
        errors.RateLimitedError,
        "429",
        True,
    ),
    (
        "429-quota",
        Reply(
            429,
            openai_error(
                "You exceeded your current quota", code="insufficient_quota", type="insufficient_quota"
            ),
        ),
        errors.QuotaExceededError,
        "insufficient_quota",
        False,
    ),
    (
        "500",
        Reply(500, openai_error("The server had an error", code=None, type="server_error")),
        errors.ServiceUnavailableError,
        None,
        True,
    ),
    (
        "502-html",
        Reply(502, raw=b"<html><body>Bad Gateway</body></html>"),
        errors.ServiceUnavailableError,
        None,
        True,
    ),
    (
        "503",
        Reply(503, azure_error("ServiceUnavailable", "The service is temporarily unable to process.")),
        errors.ServiceUnavailableError,
        "ServiceUnavailable",
        True,
    ),
]


@pytest.mark.parametrize("expected", [pytest.param(c[1:], id=c[0]) for c in STATUS_CASES])
def test_each_error_status_maps_to_its_domain_error_with_status_code_and_request_id(
    adapter: Any,
    server: LoopbackServer,
    case: AdapterCase,
    expected: tuple[Reply, type[errors.LLMPortError], str | None, bool],
) -> None:
    reply, error_class, code, retryable = expected
    server.script(Reply(reply.status, reply.body, raw=reply.raw, headers={"x-request-id": "req-err-1"}))

    with pytest.raises(errors.LLMPortError) as caught:
        adapter.complete(REQUEST)

    error = caught.value
    assert type(error) is error_class
    assert (error.provider, error.status_code, error.code, error.request_id, error.retryable) == (
        case.provider,
        reply.status,
        code,
        "req-err-1",
        retryable,
    )
    # No chain to the SDK's exception: its frames hold the request headers (api-key, Authorization).
    assert (error.__cause__, error.__context__) == (None, None)


def test_azure_content_filter_400_carries_the_per_category_results(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(400, azure_content_filter_error("hate")))

    with pytest.raises(errors.ContentFilteredError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.filter_results["hate"] == {"filtered": True, "severity": "high"}
    assert caught.value.filter_results["violence"] == {"filtered": False, "severity": "safe"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, id="retry-after-ms-wins"),
        pytest.param({"retry-after": "7"}, 7.0, id="retry-after-seconds"),
        pytest.param({}, None, id="no-hint"),
    ],
)
def test_rate_limits_carry_the_providers_retry_hint(
    adapter: Any, server: LoopbackServer, headers: dict[str, str], expected: float | None
) -> None:
    server.script(Reply(429, azure_error("429", "Rate limit is exceeded."), headers=headers))

    with pytest.raises(errors.RateLimitedError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.retry_after == expected


def test_a_retry_after_http_date_becomes_seconds_from_now(adapter: Any, server: LoopbackServer) -> None:
    server.script(
        Reply(
            429,
            openai_error("slow down", code=None),
            headers={"retry-after": formatdate(time() + 120, usegmt=True)},
        )
    )

    with pytest.raises(errors.RateLimitedError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 121


def test_azures_apim_request_id_is_used_when_there_is_no_x_request_id(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(
        Reply(
            500,
            azure_error("InternalServerError", "boom"),
            headers={"x-request-id": "", "apim-request-id": "apim-7"},
        )
    )

    with pytest.raises(errors.ServiceUnavailableError) as caught:
        adapter.embed(EmbeddingRequest(("a",), model="emb"))

    assert caught.value.request_id == "apim-7"


def test_a_malformed_json_body_raises_provider_error(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(200, raw=b'{"choices": [', headers={"x-request-id": "req-bad"}))

    with pytest.raises(errors.ProviderError) as caught:
        adapter.complete(REQUEST)

    assert type(caught.value) is errors.ProviderError
    assert caught.value.request_id == "req-bad"


def test_json_of_the_wrong_shape_raises_provider_error(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(200, {"choices": []}))

    with pytest.raises(errors.ProviderError, match="not the JSON expected"):
        adapter.complete(REQUEST)


def test_a_reply_slower_than_the_timeout_raises_request_timeout(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    adapter = make_adapter(timeout=0.2)
    server.script(Reply(delay=1.0))

    with pytest.raises(errors.RequestTimeoutError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.retryable and caught.value.provider == case.provider


def test_a_refused_connection_raises_connection_failed(case: AdapterCase) -> None:
    with LoopbackServer() as dead:
        pass  # nothing listens at its URL once it is closed
    adapter = case.build(dead)
    try:
        with pytest.raises(errors.ConnectionFailedError) as caught:
            adapter.complete(REQUEST)
    finally:
        adapter.close()

    assert type(caught.value) is errors.ConnectionFailedError
    assert caught.value.retryable and caught.value.provider == case.provider


def test_a_wrong_key_raises_authentication_error_that_never_shows_the_key(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    secret = "sk-proj-WRONGwrongWRONG1234"
    adapter = make_adapter(api_key=secret, token_provider=lambda: secret)

    with pytest.raises(errors.AuthenticationError) as caught:
        adapter.complete(REQUEST)

    error = caught.value
    assert (error.status_code, error.provider) == (401, case.provider)
    for text in (str(error), repr(error), error.message):
        assert "WRONG" not in text and "34" not in text.split("(")[0]


@pytest.mark.parametrize("case", TOKEN_CASES, ids=lambda c: c.id, indirect=True)
@pytest.mark.parametrize("token", ["", None])
def test_a_token_provider_giving_nothing_raises_authentication_error_before_sending(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase, token: str | None
) -> None:
    adapter = make_adapter(token_provider=lambda: token)

    with pytest.raises(errors.AuthenticationError, match="empty token") as caught:
        adapter.complete(REQUEST)

    assert caught.value.provider == case.provider
    assert server.requests == []


@pytest.mark.parametrize("case", TOKEN_CASES, ids=lambda c: c.id, indirect=True)
def test_a_failing_token_provider_raises_authentication_error(
    make_adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    def broken() -> str:
        raise RuntimeError("IMDS unreachable")

    adapter = make_adapter(token_provider=broken)

    with pytest.raises(errors.AuthenticationError, match="RuntimeError"):
        list(adapter.stream(REQUEST))

    assert server.requests == []


def test_a_callable_openai_key_is_asked_before_every_request(server: LoopbackServer) -> None:
    from llmport.adapters.llm.openai import OpenAIAdapter

    keys = iter([server.api_key, "sk-rotated-away"])
    adapter = OpenAIAdapter(api_key=lambda: next(keys), base_url=f"{server.url}/v1")
    try:
        assert adapter.complete(REQUEST).text == "pong"
        with pytest.raises(errors.AuthenticationError):
            adapter.complete(REQUEST)
    finally:
        adapter.close()

    assert [r.headers["authorization"] for r in server.requests] == [
        f"Bearer {server.api_key}",
        "Bearer sk-rotated-away",
    ]
