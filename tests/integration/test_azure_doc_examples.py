"""Every example in examples/azure_docs and examples/autogen runs against two servers on each URL shape.

The servers: llmport's loopback (tests/support/loopback.py) and @copilotkit/aimock, an
implementation of the wire protocol none of us wrote. The shapes: OpenAI (``/v1``), Azure classic
(deployments + api-version) and Azure v1 (``/openai/v1``). Each example runs as ``__main__`` with
only environment variables set, as a user runs it; Entra ID examples get their tokens from a local
App Service managed-identity endpoint through azure-identity's real DefaultAzureCredential.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aimock_server import running_aimock
from loopback import LoopbackServer, RecordedRequest, Reply
from token_endpoint import TokenEndpoint, point_managed_identity_at, refuse_off_machine
from wire_samples import (
    azure_error,
    chat_chunks,
    chat_completion,
    embedding_list,
    openai_error,
    response_events,
    response_full,
    response_object,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = ROOT / "examples"
KEY = "example-key"
SHAPES = ("openai", "azure", "azure_v1")
AZURE_SHAPES = ("azure", "azure_v1")
VECTOR = [0.25, -0.5, 0.75]
#: prompt fragment -> the answer both servers give (None: a 429 "rate limit exceeded").
ANSWERS: dict[str, str | None] = {
    "This is a test": "A test reply",
    "Explain it again": "Again, a test reply",
    "capital of France": "Paris",
    "short story": "Once upon a time",
    "in this image": "A mountain lake",
    "Say this is a test": "This is a test",
    "output all files": "Use os.listdir",
    "overloaded": None,
}
AIMOCK_FIXTURES: list[dict[str, Any]] = [
    {"match": {"userMessage": prompt}, "response": {"content": answer}}
    for prompt, answer in ANSWERS.items()
    if answer is not None
] + [
    {
        "match": {"userMessage": "overloaded"},
        "response": {
            "status": 429,
            "error": {
                "message": "Rate limit exceeded.",
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
            },
        },
    },
    {"match": {"inputText": "Python in VS Code"}, "response": {"embedding": VECTOR}},
]


# -- the servers --------------------------------------------------------------------------------


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user turn, in a chat.completions or a Responses request."""
    turns = body.get("messages") or body.get("input") or []
    if isinstance(turns, str):
        return turns
    content = [turn for turn in turns if turn.get("role") == "user"][-1].get("content")
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content)


def answering(request: RecordedRequest) -> Reply:
    """The loopback's side of ANSWERS: the same answer aimock gives, in the shape asked for."""
    body = request.body if isinstance(request.body, dict) else {}
    azure = request.shape != "openai"
    if request.op == "embeddings":
        return Reply(body=embedding_list([VECTOR]))
    text = last_user_text(body)
    if "this repo" in text:  # the MCP example: the items of Azure's documentation
        return Reply(body=response_full())
    answer = next((answer for prompt, answer in ANSWERS.items() if prompt in text), "pong")
    if answer is None:
        error = (
            azure_error("429", "Rate limit exceeded.") if azure else openai_error("Rate limit.", code=None)
        )
        return Reply(429, error, headers={"retry-after-ms": "10"})
    return text_reply(request.op, body, answer, azure=azure)


def text_reply(op: str, body: Mapping[str, Any], answer: str, *, azure: bool) -> Reply:
    """``answer`` as chat.completions or the Responses API gives it, whole or streamed."""
    headers = {"apim-request-id": "apim-loopback"} if azure else {}
    stream = bool(body.get("stream"))
    if op == "responses":
        if stream:
            return Reply(events=response_events((answer,)), done=False)
        return Reply(body=response_object(answer), headers=headers)
    if stream:
        return Reply(events=chat_chunks((answer[:4], answer[4:]), azure=azure))
    return Reply(body=chat_completion(answer, azure=azure), headers=headers)


@pytest.fixture(scope="module")
def aimock_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tokens = [f"token-{n}" for n in range(1, 10)]
    with running_aimock(AIMOCK_FIXTURES, tmp_path_factory.mktemp("aimock"), [KEY, *tokens]) as url:
        yield url


class Server(NamedTuple):
    name: str  # loopback or aimock
    url: str


@pytest.fixture(params=["loopback", "aimock"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """The server the example talks to (aimock's is shared by the module)."""
    if request.param == "aimock":
        yield Server("aimock", request.getfixturevalue("aimock_url"))
        return
    with LoopbackServer(api_key=KEY, accept_token=lambda token: token.startswith("token-")) as loopback:
        loopback.respond_with(lambda _index, recorded: answering(recorded))
        yield Server("loopback", loopback.url)


def shape_env(shape: str, url: str, *, key: str | None = KEY) -> dict[str, str]:
    """The environment a user sets for each URL shape (no key: Entra ID)."""
    env = {"LLMPORT_CHAT_MODEL": "gpt-4o-mini", "LLMPORT_EMBEDDING_MODEL": "text-embedding-3-small"}
    env["LLMPORT_MAX_RETRIES"] = "0"
    if shape == "openai":
        return {**env, "OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": str(key)}
    env["AZURE_OPENAI_ENDPOINT"] = url if shape == "azure" else f"{url}/openai/v1"
    if shape == "azure":
        env["OPENAI_API_VERSION"] = "2024-10-21"
    return {**env, "AZURE_OPENAI_API_KEY": key} if key else env


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Run an example as ``__main__`` with only ``env`` configured; return what it printed."""

    def run_example(name: str, env: Mapping[str, str], *argv: str) -> str:
        for variable in list(__import__("os").environ):
            if variable.startswith(("OPENAI_", "AZURE_OPENAI_", "LLMPORT_")):
                monkeypatch.delenv(variable)
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        path = EXAMPLES / name
        monkeypatch.setattr(sys, "argv", [str(path), *argv])
        capsys.readouterr()
        runpy.run_path(str(path), run_name="__main__")
        return capsys.readouterr().out

    return run_example


@pytest.fixture
def managed_identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    """azure-identity's DefaultAzureCredential finds its managed identity here; nothing leaves the machine."""
    refused = refuse_off_machine(monkeypatch)
    with TokenEndpoint() as endpoint:
        point_managed_identity_at(endpoint, monkeypatch)
        yield endpoint
    assert refused == []


# -- Azure's openai-python documentation, v1 API ------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_chat(run: Callable[..., str], server: Server, shape: str) -> None:
    assert run("azure_docs/chat.py", shape_env(shape, server.url)) == "Paris\n"


@pytest.mark.parametrize("shape", SHAPES)
def test_streaming(run: Callable[..., str], server: Server, shape: str) -> None:
    assert run("azure_docs/streaming.py", shape_env(shape, server.url)) == "Once upon a time\n"


@pytest.mark.parametrize("shape", SHAPES)
def test_image_input(run: Callable[..., str], server: Server, shape: str) -> None:
    assert run("azure_docs/image_input.py", shape_env(shape, server.url)) == "A mountain lake\n"


@pytest.mark.parametrize("shape", SHAPES)
def test_embeddings(run: Callable[..., str], server: Server, shape: str) -> None:
    vector, tokens = run("azure_docs/embeddings.py", shape_env(shape, server.url)).splitlines()
    assert vector == str(VECTOR) and int(tokens) >= 0


@pytest.mark.parametrize("shape", SHAPES)
def test_responses_and_previous_response_id(run: Callable[..., str], server: Server, shape: str) -> None:
    first, second = run("azure_docs/responses.py", shape_env(shape, server.url)).splitlines()
    response_id, _, text = first.partition(" ")
    assert response_id and text == "A test reply"
    assert second == "Again, a test reply"


@pytest.mark.parametrize("shape", SHAPES)
def test_responses_with_the_mcp_tool(run: Callable[..., str], server: Server, shape: str) -> None:
    if server.name == "aimock":
        pytest.skip("aimock has no MCP tool: it cannot list or call an MCP server's tools")
    lines = run("azure_docs/responses_mcp.py", shape_env(shape, server.url)).splitlines()
    assert lines[0]  # the model's text after its MCP calls
    assert "tools: read_wiki_structure, ask_question" in lines
    assert any(line.startswith("called: ask_question") for line in lines)


@pytest.mark.parametrize("shape", SHAPES)
def test_errors_a_429_is_caught_as_rate_limited(run: Callable[..., str], server: Server, shape: str) -> None:
    out = run("azure_docs/errors.py", shape_env(shape, server.url), "we are overloaded")
    assert out.startswith("A 429 status code was received; we should back off a bit.")


@pytest.mark.parametrize("shape", SHAPES)
def test_errors_an_unreachable_server_is_caught_as_connection_failed(
    run: Callable[..., str], shape: str
) -> None:
    out = run("azure_docs/errors.py", shape_env(shape, "http://127.0.0.1:9"))
    assert out.startswith("The server could not be reached:")


@pytest.mark.parametrize("shape", SHAPES)
def test_request_ids(run: Callable[..., str], server: Server, shape: str) -> None:
    out = run("azure_docs/request_ids.py", shape_env(shape, server.url))
    request_id = out.split("x-request-id: ")[1].split()[0]
    assert request_id not in ("", "None")
    if server.name == "loopback":
        assert request_id == "req-loopback"
        assert out.rstrip().endswith(f"apim-request-id: {'None' if shape == 'openai' else 'apim-loopback'}")


@pytest.mark.parametrize("shape", SHAPES)
def test_retries_with_options(run: Callable[..., str], server: Server, shape: str) -> None:
    assert run("azure_docs/retries.py", shape_env(shape, server.url)) == "Use os.listdir\n" * 2


# -- autogen's configuration examples ----------------------------------------------------------------


@pytest.mark.parametrize("shape", AZURE_SHAPES)
def test_autogen_key(run: Callable[..., str], server: Server, shape: str) -> None:
    assert run("autogen/key.py", shape_env(shape, server.url)) == "Paris\n"


@pytest.mark.parametrize("shape", AZURE_SHAPES)
def test_autogen_entra_token_provider(
    run: Callable[..., str], server: Server, shape: str, managed_identity: TokenEndpoint
) -> None:
    assert run("autogen/entra_token_provider.py", shape_env(shape, server.url, key=None)) == "Paris\n"
    assert managed_identity.issued == ["token-1"]


@pytest.mark.parametrize("shape", AZURE_SHAPES)
def test_autogen_declarative(
    run: Callable[..., str], server: Server, shape: str, managed_identity: TokenEndpoint
) -> None:
    assert run("autogen/declarative.py", shape_env(shape, server.url, key=None)) == "Paris\n"
    assert managed_identity.issued == ["token-1"]


def test_autogen_declarative_with_a_managed_identity_kind_reads_as_settings() -> None:
    import llmport

    component = {
        "provider": "AzureOpenAIChatCompletionClient",
        "config": {
            "model": "gpt-4o",
            "azure_endpoint": "https://r.openai.azure.com/",
            "api_version": "2024-06-01",
            "azure_ad_token_provider": {
                "config": {"provider_kind": "ManagedIdentityCredential", "scopes": []}
            },
            "model_info": {"vision": False},
        },
    }
    settings = llmport.Settings.from_dict(component)
    assert (settings.provider, settings.chat_model, settings.credential) == (
        "azure",
        "gpt-4o",
        "managed_identity",
    )
    with pytest.raises(llmport.ConfigurationError, match="temperature has no llmport setting"):
        llmport.Settings.from_dict({**component, "config": {**component["config"], "temperature": 0.2}})


def test_an_example_runs_as_a_script_from_the_command_line() -> None:
    env = {"LLMPORT_PROVIDER": "fake", "PATH": __import__("os").environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "azure_docs" / "chat.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fake reply to: What is the capital of France?")
