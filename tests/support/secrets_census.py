"""Canaries planted in bad settings and in failing calls; where they turn up once sentry has the error.

Each case builds a client (or settings) from configuration that carries secrets (an API key, a
token, a client secret, a credential header's value, a Redis password, a signed URL's query)
and one bad value, or makes a call that fails, with a prompt in it. The error is captured by
real sentry-sdk at its defaults (frame locals on) with a keeping transport; then each canary is
counted in the serialized envelopes, in str/repr/pickle of the error and its chain, and in
``traceback.format_exception``. The frames that held one are named too.

Run ``.venv/bin/python tests/support/secrets_census.py`` for the table; the tests in
``test_secrets_build_time.py`` assert that every count is 0.

The canaries are joined from pieces at import time, so that no line of this file (which sentry
quotes as source context) holds one whole; a case never binds a secret to a local of its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sentry_sdk

# The imports below need the paths set just above.
from loopback import LoopbackServer, Reply
from sentry_keeping import error_texts, frames, keeping_sentry, occurrences
from wire_samples import openai_error

import llmport


def _joined(*pieces: str) -> str:
    return "".join(pieces)


API_KEY = _joined("cnryKey", "5f3a9d1e7b2c", "Q8w")
API_KEY_2 = _joined("cnryKeyTwo", "0b7e44a1", "Zz")
HEADER_VALUE = _joined("cnryHdr", "7q9w2e4r", "6t")
TOKEN = _joined("cnryTok", "1a2b3c4d", "5e")
CLIENT_SECRET = _joined("cnry~Sec", "ret.9x8y", "7z")
REDIS_PASSWORD = _joined("cnryRedis", "Pw8k3j5h")
QUERY_SIGNATURE = _joined("cnrySig", "4d6f8h0j", "2k")
PROMPT = _joined("cnry prompt: ", "why do zebras ", "have stripes?")
SYSTEM = _joined("cnry system: ", "answer as a ", "pirate")

SECRETS = {
    "api_key": API_KEY,
    "api_key_2": API_KEY_2,
    "header": HEADER_VALUE,
    "token": TOKEN,
    "client_secret": CLIENT_SECRET,
    "redis_password": REDIS_PASSWORD,
    "query": QUERY_SIGNATURE,
}
PROMPTS = {"prompt": PROMPT, "system": SYSTEM}
CANARIES = {**SECRETS, **PROMPTS}

AZURE = "https://res.openai.azure.com"
VERSION = "2024-10-21"


def _headers() -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": HEADER_VALUE, "x-trace-tag": "census"}


def _deployments(*, second: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "east", "endpoint": "https://east.openai.azure.com", "api_key": API_KEY, "tpm": 1000},
        {"name": "west", "endpoint": "https://west.openai.azure.com", "api_key": API_KEY_2, **second},
    ]


def _routed(**extra: Any) -> dict[str, Any]:
    return {
        "chat_model": "gpt-4o",
        "api_version": VERSION,
        "default_headers": _headers(),
        "budget_store": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6390/0",
        "deployments": _deployments(second={"tpm": 500}),
        **extra,
    }


# -- build-time cases: each raises, from a frame that binds no secret --------------------------


@dataclass
class Place:
    """What a case may use: a scratch folder, and the environment (restored after the case)."""

    folder: Path
    environ: MutableMapping[str, str] = field(repr=False)


def dict_bad_number(place: Place) -> object:
    return llmport.from_dict(
        {"api_key": API_KEY, "default_headers": _headers(), "chat_model": "gpt-4o", "timeout": -1}
    )


def dict_unknown_key(place: Place) -> object:
    return llmport.from_dict({"api_key": API_KEY, "default_headers": _headers(), "temprature": 0.2})


def keywords_bad_number(place: Place) -> object:
    return llmport.Settings(provider="openai", api_key=API_KEY, default_headers=_headers(), max_retries=99)


def keywords_build_client(place: Place) -> object:
    return llmport.build_client(
        llmport.Settings(api_key=API_KEY, default_headers=_headers(), embedding_batch_size=0)
    )


def replace_bad_number(place: Place) -> object:
    return llmport.Settings(api_key=API_KEY, default_headers=_headers()).replace(deadline=-5)


def toml_bad_number(place: Place) -> object:
    path = place.folder / "llmport.toml"
    path.write_text(
        f'api_key = "{API_KEY}"\ntimeout = -1\n[default_headers]\n'
        f'Ocp-Apim-Subscription-Key = "{HEADER_VALUE}"\n',
        encoding="utf-8",
    )
    return llmport.from_file(path)


def toml_malformed(place: Place) -> object:
    path = place.folder / "broken.toml"
    path.write_text(f'api_key = "{API_KEY}"\ntimeout = = 3\n', encoding="utf-8")
    return llmport.clients_from_file(path)


def environment_bad_number(place: Place) -> object:
    place.environ.update(
        OPENAI_API_KEY=API_KEY,
        LLMPORT_DEFAULT_HEADERS=json.dumps(_headers()),
        LLMPORT_TIMEOUT="-1",
    )
    return llmport.from_env()


def environment_bad_json(place: Place) -> object:
    place.environ.update(
        OPENAI_API_KEY=API_KEY,
        LLMPORT_DEFAULT_HEADERS=json.dumps(_headers())[:-1],  # the closing brace is missing
    )
    return llmport.from_env()


def token_bad_number(place: Place) -> object:
    return llmport.from_dict(
        {"endpoint": AZURE, "api_version": VERSION, "auth": "token", "token": TOKEN, "max_retries": -1}
    )


def client_secret_table_bad_number(place: Place) -> object:
    return llmport.from_dict(
        {
            "endpoint": AZURE,
            "api_version": VERSION,
            "credential": {
                "kind": "client_secret",
                "client_id": "app-1",
                "tenant_id": "tenant-1",
                "client_secret": CLIENT_SECRET,
            },
            "timeout": 0,
        }
    )


def client_secret_padded_tenant(place: Place) -> object:
    return llmport.from_dict(
        {
            "endpoint": AZURE,
            "api_version": VERSION,
            "auth": "entra",
            "credential": "client_secret",
            "client_id": "app-1",
            "tenant_id": " tenant-1",
            "client_secret": CLIENT_SECRET,
        }
    )


def client_secret_as_credential(place: Place) -> object:
    # A common slip: the secret itself given as the credential.
    return llmport.from_dict({"endpoint": AZURE, "api_version": VERSION, "credential": CLIENT_SECRET})


def base_url_with_query(place: Place) -> object:
    return llmport.from_dict({"api_key": API_KEY, "base_url": f"https://gw.example/v1?sig={QUERY_SIGNATURE}"})


def endpoint_with_query(place: Place) -> object:
    return llmport.from_dict(
        {"endpoint": f"{AZURE}/?sv=2024&sig={QUERY_SIGNATURE}", "api_version": VERSION, "api_key": API_KEY}
    )


def base_url_with_query_and_newline(place: Place) -> object:
    return llmport.from_dict(
        {"api_key": API_KEY, "base_url": f"https://gw.example/v1?sig={QUERY_SIGNATURE}\n"}
    )


def deployment_bad_number(place: Place) -> object:
    return llmport.from_dict(
        {**_routed(), "deployments": _deployments(second={"tpm": -3, "default_headers": _headers()})}
    )


def deployment_bad_text(place: Place) -> object:
    return llmport.from_dict({**_routed(), "deployments": _deployments(second={"timeout": "soon"})})


def deployment_query_in_endpoint(place: Place) -> object:
    return llmport.from_dict(
        {
            **_routed(),
            "deployments": _deployments(
                second={"endpoint": f"https://west.openai.azure.com/?sig={QUERY_SIGNATURE}"}
            ),
        }
    )


def redis_bad_port(place: Place) -> object:
    return llmport.from_dict({**_routed(), "budget_store": f"redis://:{REDIS_PASSWORD}@127.0.0.1:63x9/0"})


def redis_port_out_of_range(place: Place) -> object:
    return llmport.from_dict(
        {**_routed(), "budget_store": f"redis://user:{REDIS_PASSWORD}@127.0.0.1:70000/0"}
    )


def redis_bad_database(place: Place) -> object:
    return llmport.from_dict({**_routed(), "budget_store": f"redis://:{REDIS_PASSWORD}@127.0.0.1/zero"})


def redis_bad_query_value(place: Place) -> object:
    # Passes the settings' checks; redis-py refuses it when the store is built.
    url = "redis://:{}@127.0.0.1:6390/0?socket_timeout=soon"
    return llmport.from_dict({**_routed(), "budget_store": url.format(REDIS_PASSWORD)})


def redis_password_and_bad_number(place: Place) -> object:
    return llmport.from_dict({**_routed(), "move_after_timeout": "maybe"})


def flask_config(place: Place) -> object:
    from flask import Flask

    from llmport.entrypoints.flask import LLMPort

    app = Flask("census")
    app.config["LLMPORT"] = {**_routed(), "deployments": _deployments(second={"tpm": 0})}
    return LLMPort(app)


BUILD_CASES: dict[str, Callable[[Place], object]] = {
    case.__name__: case
    for case in (
        dict_bad_number,
        dict_unknown_key,
        keywords_bad_number,
        keywords_build_client,
        replace_bad_number,
        toml_bad_number,
        toml_malformed,
        environment_bad_number,
        environment_bad_json,
        token_bad_number,
        client_secret_table_bad_number,
        client_secret_padded_tenant,
        client_secret_as_credential,
        base_url_with_query,
        endpoint_with_query,
        base_url_with_query_and_newline,
        deployment_bad_number,
        deployment_bad_text,
        deployment_query_in_endpoint,
        redis_bad_port,
        redis_port_out_of_range,
        redis_bad_database,
        redis_bad_query_value,
        redis_password_and_bad_number,
        flask_config,
    )
}


# -- call-time cases: a prompt in a call that fails --------------------------------------------


def client_for(server: LoopbackServer, **extra: Any) -> llmport.Client:
    """A client of the loopback's OpenAI shape; no retries (the census needs one attempt)."""
    return llmport.from_dict(
        {
            "base_url": f"{server.url}/v1",
            "api_key": server.api_key,
            "chat_model": "gpt-4o-mini",
            "embedding_model": "text-embedding-3-small",
            "max_retries": 0,
            **extra,
        }
    )


def bad_request(_index: int, _request: object) -> Reply:
    """A 400 that does not echo the prompt (as OpenAI's and Azure's do not)."""
    return Reply(400, openai_error("Invalid value for 'messages'.", code="invalid_value"))


CALL_CASES: dict[str, Callable[[llmport.Client], object]] = {
    "chat_400": lambda client: client.chat(PROMPT, system=SYSTEM),
    "chat_messages_400": lambda client: client.chat(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    ),
    "chat_responses_400": lambda client: client.chat(PROMPT, instructions=SYSTEM, api="responses"),
    "stream_400": lambda client: list(client.stream(PROMPT, system=SYSTEM)),
    "embed_400": lambda client: client.embed([PROMPT, SYSTEM]),
    "chat_invalid_temperature": lambda client: client.chat(PROMPT, system=SYSTEM, temperature=7.0),
    "chat_invalid_message": lambda client: client.chat([{"role": "user", "content": PROMPT}, {"role": "x"}]),
    "embed_invalid_input": lambda client: client.embed([PROMPT, ""]),
}


# -- capturing and counting --------------------------------------------------------------------


@dataclass
class Finding:
    """One case: the error raised and where each canary turned up."""

    case: str
    error: BaseException | None
    in_events: dict[str, int]
    in_error: dict[str, int]
    frames_holding: list[str]
    #: Frames whose locals sentry recorded (the case's own, at least): the scan is not vacuous.
    frames_with_vars: int

    @property
    def total(self) -> int:
        return sum(self.in_events.values()) + sum(self.in_error.values())


def captured(run: Callable[[], object]) -> BaseException | None:
    """Run ``run`` and hand what it raises to sentry; this frame binds no secret."""
    try:
        built = run()
    except Exception as error:
        sentry_sdk.capture_exception(error)
        return error
    close = getattr(built, "close", None)
    if callable(close):
        close()
    return None


@contextmanager
def environment() -> Iterator[None]:
    """``os.environ`` without llmport's and the SDKs' variables while the block runs; restored after."""
    before = dict(os.environ)
    for name in [name for name in os.environ if name.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))]:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


def _finding(
    case: str, error: BaseException | None, envelopes: list[bytes], events: list[dict[str, Any]]
) -> Finding:
    holding = sorted(
        {
            f"{frame.get('module')}.{frame.get('function')}"
            for event in events
            for frame in frames(event)
            if any(canary in json.dumps(frame.get("vars", {})) for canary in CANARIES.values())
        }
    )
    return Finding(
        case,
        error,
        occurrences(CANARIES, envelopes),
        occurrences(CANARIES, [] if error is None else error_texts(error)),
        holding,
        sum(1 for event in events for frame in frames(event) if frame.get("vars")),
    )


def build_finding(case: str, folder: Path) -> Finding:
    """Run one build-time case under sentry; count its canaries."""
    with keeping_sentry() as transport, environment():
        error = captured(lambda: BUILD_CASES[case](Place(folder, os.environ)))
    return _finding(case, error, transport.serialized(), transport.events())


def call_finding(case: str, server: LoopbackServer, **settings: Any) -> Finding:
    """Run one call-time case under sentry against the loopback answering 400; count its canaries."""
    server.respond_with(bad_request)
    with keeping_sentry() as transport, client_for(server, **settings) as client:
        error = captured(lambda: CALL_CASES[case](client))
    return _finding(case, error, transport.serialized(), transport.events())


def census(folder: Path) -> list[Finding]:
    """Every case, build-time and call-time (the latter without and with log_content)."""
    findings = [build_finding(case, folder) for case in BUILD_CASES]
    with LoopbackServer() as server:
        findings += [call_finding(case, server) for case in CALL_CASES]
        findings += [
            _renamed(call_finding(case, server, log_content=True), f"{case} (log_content)")
            for case in CALL_CASES
        ]
    return findings


def _renamed(finding: Finding, case: str) -> Finding:
    finding.case = case
    return finding


def _kind(error: BaseException | None) -> str:
    return "(nothing raised)" if error is None else type(error).__name__


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        findings = census(Path(folder))
    print(f"sentry-sdk {sentry_sdk.VERSION}, llmport {llmport.__file__}")
    print(f"{'case':44} {'error':22} {'events':>6} {'error':>5}  frames holding a canary")
    for finding in findings:
        print(
            f"{finding.case:44} {_kind(finding.error):22} {sum(finding.in_events.values()):6} "
            f"{sum(finding.in_error.values()):5}  {', '.join(finding.frames_holding)}"
        )
    build = [f for f in findings if f.case in BUILD_CASES]
    calls = [f for f in findings if f.case in CALL_CASES]
    opted = [f for f in findings if f.case.endswith("(log_content)")]
    for label, group in (("build-time", build), ("call-time", calls), ("call-time, log_content", opted)):
        events = sum(sum(f.in_events.values()) for f in group)
        texts = sum(sum(f.in_error.values()) for f in group)
        print(f"{label}: {len(group)} cases, {events} occurrences in envelopes, {texts} in error texts")


if __name__ == "__main__":
    main()
