"""The README's table "From the raw SDK to llmport": every row names a test, and that test exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = (
    (ROOT / "README.md")
    .read_text(encoding="utf-8")
    .split("## From the raw SDK to llmport")[1]
    .split("\n## ")[0]
)
ROWS = [line for line in SECTION.splitlines() if line.startswith("|")][2:]  # past the header and rule
IDIOMS = (
    "OpenAI(api_key",
    "AzureOpenAI(",
    "/openai/v1/",
    "get_bearer_token_provider",
    "TokenCredential",
    "load_component",
    "chat.completions.create",
    "stream=True",
    "responses.create",
    "previous_response_id",
    '"type": "function"',
    '"type": "mcp"',
    "parse(response_format",
    "image_url",
    "embeddings.create",
    "with_options",
    "APIConnectionError",
    "_request_id",
    "default_headers",
    "extra_headers",
    "http_client",
)


def test_every_sdk_idiom_has_a_row() -> None:
    for idiom in IDIOMS:
        assert any(idiom in row.split(" | ")[0] for row in ROWS), f"no row for {idiom}"


def test_every_row_names_a_test_that_exists() -> None:
    assert len(ROWS) >= len(IDIOMS)
    for row in ROWS:
        named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", row.rstrip(" |").rsplit(" | ", 1)[-1])
        assert named, f"this row names no test: {row}"
        for path, name in named:
            source = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name} does not exist"
