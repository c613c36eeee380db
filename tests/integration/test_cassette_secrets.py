"""No secret reaches a cassette file: planted in headers, bodies, queries, error messages, token fields.

Each secret is planted where a real one travels, and the server echoes them all back (in a reply,
a header, an error message), as a misbehaving gateway would; then the file is scanned for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from harness import CHAT_MODEL, settings_for
from loopback import LoopbackServer, RecordedRequest, Reply
from wire_samples import chat_completion, openai_error

import llmport
from llmport.testing import cassette

API_KEY = "sk-planted-api-key-0123456789"
CLIENT_SECRET = "planted-client-secret-Qx8~v"  # another client's, never sent over HTTP
APIM_KEY = "planted-apim-subscription-key-7f"
USER_SECRET = "planted-user-secret-42\n"  # as read from a secret file, trailing newline and all
SAS_SIG = "planted-sas-signature%2Bq%3D"
FUNCTION_CODE = "planted-functions-code-555"
OPAQUE_TOKEN = "planted-opaque-token-444"
COOKIE = "planted-session-cookie-999"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJjb2duaXRpdmUifQ.c2lnbmF0dXJl"
SECRETS = [
    API_KEY,
    CLIENT_SECRET,
    APIM_KEY,
    USER_SECRET.strip(),
    SAS_SIG,
    FUNCTION_CODE,
    OPAQUE_TOKEN,
    COOKIE,
    JWT,
]
IMAGE = f"https://acct.blob.core.windows.net/c/cat.png?sv=2024-05-04&sp=r&sig={SAS_SIG}"


def echo(_index: int, request: RecordedRequest) -> Reply:
    """Everything the request carried, and more, sent back where a secret may hide in a reply."""
    seen = json.dumps({"headers": request.headers, "query": request.query, "body": request.body})
    if "error please" in seen:
        return Reply(
            400,
            openai_error(f"Incorrect API key provided: {API_KEY}; you sent {seen}", code="invalid_api_key"),
        )
    body = chat_completion(f"echo {seen} {CLIENT_SECRET} Bearer {JWT} see {IMAGE}")
    body["access_token"] = OPAQUE_TOKEN  # a token field, as an identity platform's reply has
    headers = {"set-cookie": f"session={COOKIE}; HttpOnly", "x-echo-key": APIM_KEY}
    return Reply(body=body, headers=headers)


def scan(path: Path) -> list[str]:
    """The planted secrets found in the file (none, or the test fails)."""
    text = path.read_text(encoding="utf-8")
    return [
        secret
        for secret in SECRETS
        if secret in text or secret.replace("%2B", "+").replace("%3D", "=") in text
    ]


def test_no_planted_secret_reaches_the_file_and_the_replay_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    # Another client, configured with a client secret it never sends: its secrets are scrubbed too.
    other = llmport.Settings(
        provider="azure", endpoint="https://r.openai.azure.com", api_version="2024-10-21",
        chat_model=CHAT_MODEL, auth="entra", credential="client_secret", client_id="app",
        tenant_id="tenant", client_secret=CLIENT_SECRET,
    )  # fmt: skip
    prompt = [
        {"role": "user", "content": [
            {"type": "text", "text": f"my secret is {USER_SECRET.strip()}, my image:"},
            {"type": "image_url", "image_url": {"url": IMAGE}},
        ]},
    ]  # fmt: skip
    with LoopbackServer(api_key=API_KEY) as server, llmport.build_client(other):
        server.respond_with(echo)
        settings = settings_for(
            server, "openai", default_headers={"Ocp-Apim-Subscription-Key": APIM_KEY}, max_retries=0
        )
        own = httpx2.Client(params={"code": FUNCTION_CODE})
        with llmport.build_client(settings, http_client=own) as client:
            with cassette(path, secrets=[USER_SECRET]):
                text = client.chat(prompt).text
                with pytest.raises(llmport.BadRequestError):
                    client.chat("error please", headers={"Authorization-Extra": JWT})
            assert scan(path) == []
            with cassette(path, mode="replay", secrets=[USER_SECRET]):  # the same test, the same secrets
                replayed = client.chat(prompt).text
        own.close()
        sent = server.requests[0]  # the secrets really went over the wire, and came back in the echo
    assert sent.headers["authorization"] == f"Bearer {API_KEY}" and sent.query["code"] == FUNCTION_CODE
    assert sent.headers["ocp-apim-subscription-key"] == APIM_KEY and SAS_SIG in json.dumps(sent.body)
    written = json.loads(path.read_text())
    request = written["exchanges"][0]["request"]
    assert (
        request["headers"]["authorization"] == request["headers"]["ocp-apim-subscription-key"] == "<scrubbed>"
    )
    assert request["path"] == "/v1/chat/completions?code=<scrubbed>"
    assert "sig=<scrubbed>" in json.dumps(request["body"])
    assert written["exchanges"][0]["response"]["headers"]["set-cookie"] == "<scrubbed>"
    assert written["exchanges"][0]["response"]["body"]["access_token"] == "<scrubbed>"
    # While recording, the code under test sees what it will see in replay: the scrubbed recording.
    assert replayed == text and "<scrubbed>" in text
    assert [secret for secret in SECRETS if secret in replayed] == []
