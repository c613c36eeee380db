"""No secret leaves with a configuration error, and no prompt with a failing call, as sentry records them.

Real sentry-sdk at its defaults (frame locals on; 2.x or 3.x) with a keeping transport. Each
build-time case of ``secrets_census`` gives settings that carry an API key, a token, a client
secret, a credential header, a Redis password or a signed URL, from a dict, keywords, a TOML
file, the environment or a Flask config, with one bad value; each call-time case sends a prompt
that the loopback refuses with a 400, or that fails validation. Then no canary may occur in
the serialized envelopes (every frame's locals, the source lines around them, the exception
values and their chains), in str/repr/pickle of the error and its chain, or in
``traceback.format_exception``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from loopback import LoopbackServer
from secrets_census import (
    BUILD_CASES,
    CALL_CASES,
    CANARIES,
    PROMPT,
    QUERY_SIGNATURE,
    REDIS_PASSWORD,
    SYSTEM,
    Finding,
    build_finding,
    call_finding,
)
from sentry_keeping import frame_locals_recorded, frames, keeping_sentry

from llmport import ConfigurationError, LLMPortError, ValidationError

# What each build-time error must name: the setting (and, where it helps, the fix).
NAMED = {
    "dict_bad_number": ("timeout",),
    "dict_unknown_key": ("temprature",),
    "keywords_bad_number": ("max_retries",),
    "keywords_build_client": ("embedding_batch_size",),
    "replace_bad_number": ("deadline",),
    "toml_bad_number": ("timeout", "llmport.toml"),
    "toml_malformed": ("broken.toml", "could not be read"),
    "environment_bad_number": ("timeout", "LLMPORT_TIMEOUT"),
    "environment_bad_json": ("default_headers", "LLMPORT_DEFAULT_HEADERS"),
    "token_bad_number": ("max_retries",),
    "client_secret_table_bad_number": ("timeout",),
    "client_secret_padded_tenant": ("tenant_id",),
    "client_secret_as_credential": ("credential", "client_secret"),
    "base_url_with_query": ("base_url", "remove the query", "https://gw.example/v1 "),
    "endpoint_with_query": ("endpoint", "remove the query", "https://res.openai.azure.com/ "),
    "base_url_with_query_and_newline": ("base_url", "https://gw.example/v1"),
    "deployment_bad_number": ("deployments[west].tpm",),
    "deployment_bad_text": ("deployments[west]", "timeout"),
    "deployment_query_in_endpoint": ("deployments[west]", "endpoint", "remove the query"),
    "redis_bad_port": ("budget_store", "port", "redis://:**********@127.0.0.1:63x9/0"),
    "redis_port_out_of_range": ("budget_store", "port"),
    "redis_bad_database": ("budget_store", "database", "'zero'"),
    "redis_bad_query_value": ("budget_store", "socket_timeout"),
    "redis_password_and_bad_number": ("move_after_timeout",),
    "flask_config": ("deployments[west].tpm", 'app.config["LLMPORT"]'),
}


def _none() -> dict[str, dict[str, int]]:
    return {"events": dict.fromkeys(CANARIES, 0), "error texts": dict.fromkeys(CANARIES, 0)}


def _found(finding: Finding) -> dict[str, dict[str, int]]:
    return {"events": finding.in_events, "error texts": finding.in_error}


@pytest.mark.parametrize("case", BUILD_CASES)
def test_a_configuration_error_carries_no_secret(tmp_path: Path, case: str) -> None:
    finding = build_finding(case, tmp_path)
    print(f"{case}: {finding.in_events} in envelopes, {finding.in_error} in error texts")

    error = finding.error
    assert isinstance(error, ConfigurationError), repr(error)
    for named in NAMED[case]:
        assert named in str(error), (named, str(error))
    assert _found(finding) == _none(), finding.frames_holding
    assert error.__cause__ is None and error.__context__ is None
    assert finding.frames_with_vars > 0


def test_every_case_names_what_it_must() -> None:
    assert set(NAMED) == set(BUILD_CASES)


@pytest.mark.parametrize("case", CALL_CASES)
@pytest.mark.parametrize("log_content", [False, True], ids=["default", "log_content"])
def test_a_failed_call_leaves_no_prompt_in_the_frames(
    server: LoopbackServer, case: str, log_content: bool
) -> None:
    settings: dict[str, Any] = {"log_content": True} if log_content else {}
    finding = call_finding(case, server, **settings)
    print(f"{case}: {finding.in_events} in envelopes, {finding.in_error} in error texts")

    error = finding.error
    assert isinstance(error, LLMPortError), repr(error)
    if isinstance(error, ValidationError):
        assert server.count == 0
    else:  # the prompt really went out, and came back refused
        assert error.status_code == 400
        assert any(PROMPT in json.dumps(request.body) for request in server.requests)
    # log_content puts the prompt into log events (sentry may keep them as breadcrumbs: the
    # opt-in), never into a frame, an exception value or the error itself.
    assert finding.frames_holding == []
    assert finding.frames_with_vars > 0
    assert finding.in_error == dict.fromkeys(CANARIES, 0)
    if not log_content:
        assert finding.in_events == dict.fromkeys(CANARIES, 0)
    assert error.__cause__ is None and error.__context__ is None


def test_the_query_and_the_password_are_shown_without_their_secret(tmp_path: Path) -> None:
    query = build_finding("base_url_with_query", tmp_path).error
    port = build_finding("redis_bad_port", tmp_path).error

    assert str(query).startswith("base_url: the URL must not hold a query or fragment")
    assert QUERY_SIGNATURE not in str(query) and "sig=" not in str(query)
    assert isinstance(port, ConfigurationError) and not isinstance(port, ValueError)
    assert REDIS_PASSWORD not in str(port)


def test_sentry_records_the_frames_it_is_checked_on() -> None:
    """Not vacuous: at these defaults, sentry does keep a frame's locals, secrets included."""

    def holds(secret: str) -> None:
        kept = {"api_key": secret}
        raise RuntimeError(f"{len(kept)}")

    with keeping_sentry() as transport:
        try:
            holds(PROMPT + SYSTEM)
        except RuntimeError as error:
            sentry_sdk.capture_exception(error)
    (event,) = transport.events()
    held = [frame for frame in frames(event) if frame.get("function") == "holds"]
    assert held and PROMPT in json.dumps(held[0]["vars"])


@pytest.mark.parametrize(
    ("options", "recorded"),
    [
        ({"include_local_variables": True}, True),  # sentry-sdk 2.x, its default
        ({"include_local_variables": False}, False),
        ({"data_collection": {"stack_frame_variables": True}}, True),  # 3.x, its default
        ({"data_collection": {"stack_frame_variables": False}}, False),
        ({"data_collection": {"stack_frame_variables": {"mode": "denylist", "terms": []}}}, False),
    ],
)
def test_the_frame_locals_check_reads_either_sentry_major(options: dict[str, Any], recorded: bool) -> None:
    assert frame_locals_recorded(options) is recorded
