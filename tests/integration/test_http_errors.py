"""The one table that turns domain errors into HTTP responses, shared by the Flask and Django edges."""

from __future__ import annotations

import pytest

import llmport
from llmport.entrypoints.http_errors import error_response

UPSTREAM_DETAIL = "deployment gpt-4o-internal in resource contoso-prod"

STATUS_BY_ERROR = [
    (llmport.ValidationError("messages must not be empty"), 400, "invalid_request"),
    (llmport.BadRequestError("bad temperature", status_code=400, code="invalid_value"), 400, "bad_request"),
    (
        llmport.ContextLengthExceededError("too long", code="context_length_exceeded"),
        400,
        "context_length_exceeded",
    ),
    (llmport.ContentFilteredError("filtered", code="content_filter"), 422, "content_filtered"),
    (llmport.RateLimitedError("slow down", retry_after=1.0), 429, "rate_limited"),
    (llmport.QuotaExceededError(UPSTREAM_DETAIL, code="insufficient_quota"), 503, "quota_exceeded"),
    (llmport.ConfigurationError(UPSTREAM_DETAIL), 500, "configuration_error"),
    (llmport.AuthenticationError(UPSTREAM_DETAIL, status_code=401), 502, "upstream_authentication_failed"),
    (llmport.PermissionDeniedError(UPSTREAM_DETAIL, status_code=403), 502, "upstream_permission_denied"),
    (
        llmport.NotFoundError(UPSTREAM_DETAIL, status_code=404, code="DeploymentNotFound"),
        502,
        "upstream_not_found",
    ),
    (llmport.ServiceUnavailableError(UPSTREAM_DETAIL, status_code=503), 503, "upstream_unavailable"),
    (llmport.ConnectionFailedError(UPSTREAM_DETAIL), 502, "upstream_connection_failed"),
    (llmport.RequestTimeoutError(UPSTREAM_DETAIL), 504, "upstream_timeout"),
    (llmport.StreamInterruptedError(UPSTREAM_DETAIL), 502, "upstream_stream_interrupted"),
    (llmport.ProviderError(UPSTREAM_DETAIL, status_code=409), 502, "upstream_error"),
    (llmport.LLMPortError(UPSTREAM_DETAIL), 500, "llmport_error"),
]


@pytest.mark.parametrize(
    ("error", "status", "kind"), STATUS_BY_ERROR, ids=[type(e).__name__ for e, _, _ in STATUS_BY_ERROR]
)
def test_each_error_gets_its_status_and_type(error: llmport.LLMPortError, status: int, kind: str) -> None:
    response = error_response(error)
    assert response.status == status
    assert response.body["error"]["type"] == kind
    assert response.body["error"]["retryable"] is error.retryable


@pytest.mark.parametrize(
    "error", [e for e, status, _ in STATUS_BY_ERROR if status >= 500], ids=lambda e: type(e).__name__
)
def test_server_side_errors_hide_their_message_and_code(error: llmport.LLMPortError) -> None:
    body = error_response(error).body
    assert UPSTREAM_DETAIL not in str(body)
    assert "code" not in body["error"]
    assert body["error"]["message"].startswith("The language model")


def test_caller_errors_keep_their_message_and_code() -> None:
    body = error_response(
        llmport.BadRequestError("bad temperature", code="invalid_value", request_id="r-1")
    ).body
    assert body == {
        "error": {
            "type": "bad_request",
            "message": "bad temperature",
            "retryable": False,
            "request_id": "r-1",
            "code": "invalid_value",
        }
    }


@pytest.mark.parametrize(("retry_after", "header"), [(2.1, "3"), (2.0, "2"), (0.2, "1"), (-1.0, "0")])
def test_rate_limit_retry_after_is_whole_seconds_rounded_up(retry_after: float, header: str) -> None:
    status, body, headers = error_response(llmport.RateLimitedError("busy", retry_after=retry_after))
    assert (status, headers) == (429, {"Retry-After": header})
    assert body["error"]["retry_after"] == int(header)


def test_rate_limit_without_a_hint_sends_no_retry_after() -> None:
    status, body, headers = error_response(llmport.RateLimitedError("busy"))
    assert (status, headers) == (429, {})
    assert "retry_after" not in body["error"]


def test_content_filter_results_reach_the_caller() -> None:
    results = {"hate": {"filtered": True, "severity": "high"}}
    body = error_response(llmport.ContentFilteredError("filtered", filter_results=results)).body
    assert body["error"]["content_filter"] == results


def test_an_unknown_subclass_uses_its_nearest_mapped_parent() -> None:
    class CustomTimeout(llmport.RequestTimeoutError):
        pass

    assert error_response(CustomTimeout("slow")).status == 504
