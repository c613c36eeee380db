"""No reply can make llmport hold more than max_response_bytes: bodies, error bodies and streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import PROVIDERS, raw_settings
from raw_server import RawServer, huge

import llmport
from llmport import ResponseTooLargeError

CAP = 8 * 1024 * 1024
REPLY = 40 * 1024 * 1024


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("status", "operation"), [(200, "chat"), (200, "stream"), (200, "embed"), (429, "chat"), (503, "embed")]
)
def test_a_reply_past_the_cap_fails_at_once_and_is_not_retried(
    provider: str, status: int, operation: str
) -> None:
    with RawServer(huge(status=status, size=REPLY)) as server:
        settings = raw_settings(server.url, provider, max_response_bytes=CAP, deadline=30.0, timeout=10.0)
        with llmport.build_client(settings) as client, pytest.raises(ResponseTooLargeError) as caught:
            if operation == "chat":
                client.chat("hi")
            elif operation == "stream":
                list(client.stream("hi"))
            else:
                client.embed(["hi"])
        # A 429 or 503 would be retried, but a reply this size would only come again.
        assert server.requests == 1
    error = caught.value
    assert "max_response_bytes" in str(error)
    assert (error.provider, error.retryable) == (provider, False)


def test_peak_memory_stays_near_the_cap_with_200_mb_replies() -> None:
    # A fresh process, so that the peak RSS is this scenario's alone.
    probe = Path(__file__).parent / "rss_probe.py"
    support = str(Path(__file__).parents[1] / "support")  # raw_server; pytest's pythonpath is in-process only
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (support, os.environ.get("PYTHONPATH"))))}
    result = subprocess.run(
        [sys.executable, str(probe), str(CAP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["errors"] == [
        "chat:ResponseTooLargeError:1",
        "embed:ResponseTooLargeError:1",
        "stream:ResponseTooLargeError:1",
    ]
    # Three 200 MB replies (one a 429 that is not retried): growth is about the cap, not the replies.
    assert figures["growth_mib"] < 3 * CAP / 2**20 + 16, figures


def test_the_cap_is_a_setting_with_a_default_that_fits_the_largest_embeddings_reply() -> None:
    # 2048 inputs x 3072 dimensions as base64 float32: 2048 * 3072 * 4 * 4 / 3 bytes of JSON.
    largest = 2048 * 3072 * 4 * 4 // 3
    assert llmport.Settings(provider="fake").max_response_bytes > largest * 1.5
    env = llmport.Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_MAX_RESPONSE_BYTES": "2048"})
    assert env.max_response_bytes == 2048
    with pytest.raises(llmport.ConfigurationError, match="max_response_bytes"):
        llmport.Settings(provider="fake", max_response_bytes=10)
