"""The examples in examples/ run offline with the fake provider, and the README shows them verbatim."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from llmport.testing import FakeEmbeddings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHOWN = re.findall(
    r"<!-- example: (\S+) -->\n```python\n(.*?)```",
    (ROOT / "README.md").read_text(encoding="utf-8"),
    re.DOTALL,
)


def run(*args: str, cwd: Path = EXAMPLES, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "AZURE_", "LLMPORT_", "DJANGO_"))
    }
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**clean, **env},
        check=False,
    )


def test_the_readme_shows_the_examples_exactly_as_they_are() -> None:
    assert {path for path, _ in SHOWN} >= {
        "examples/flask_app.py",
        "examples/django_project/example_site/settings.py",
        "examples/django_project/example_site/views.py",
        "examples/test_with_fixtures.py",
    }
    for path, shown in SHOWN:
        assert shown == (ROOT / path).read_text(encoding="utf-8"), f"README's copy of {path} is out of date"


def test_the_flask_example_answers_a_chat_request() -> None:
    result = run("flask_app.py")
    assert result.returncode == 0, result.stderr
    assert "'text': 'fake reply to: When was Microsoft founded?'" in result.stdout


def test_the_worker_writes_one_vector_per_non_empty_line() -> None:
    result = run("worker.py", stdin="first text\n\nsecond text\n", LLMPORT_PROVIDER="fake")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["first text", "second text"]
    assert rows[1]["vector"] == FakeEmbeddings.vector("second text")


def test_the_worker_exits_2_with_the_fix_when_nothing_is_configured() -> None:
    result = run("worker.py", stdin="text\n")
    assert result.returncode == 2
    assert "configuration: provider: nothing is configured" in result.stderr


def test_the_example_test_files_pass_under_pytest() -> None:
    files = sorted(path.name for path in EXAMPLES.glob("test_*.py"))
    assert files == ["test_flask_app.py", "test_with_fixtures.py"]
    result = run("-m", "pytest", "-q", "-p", "no:cacheprovider", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_the_django_example_passes_its_system_checks() -> None:
    result = run("manage.py", "check", cwd=EXAMPLES / "django_project")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
