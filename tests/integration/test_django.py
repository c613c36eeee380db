"""The Django app through Django's real test client and system checks, on the example project."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import django
import pytest
from django.apps import apps
from django.conf import settings
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest
from django.test import Client as DjangoClient
from django.test import override_settings

import llmport
from llmport.entrypoints.django import get_client
from llmport.entrypoints.django.apps import LLMPortConfig
from llmport.entrypoints.django.middleware import LLMPortErrorMiddleware
from llmport.testing import FakeChat, override

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_project"

# Django can be configured once per process: these tests run on the example project's own
# settings (copied, so that no DJANGO_SETTINGS_MODULE leaks into other tests' subprocesses). The
# project's folder is on the path through pytest's ``pythonpath`` option (pyproject.toml).
if not settings.configured:
    _example = importlib.import_module("example_site.settings")
    _values = {name: getattr(_example, name) for name in dir(_example) if name.isupper()}
    # Scripted errors must reach the view rather than be retried (and slept on).
    _values["LLMPORT"] = {**_values["LLMPORT"], "max_retries": 0}
    settings.configure(**_values)
    django.setup()

BAD = {"provider": "azure", "endpoint": "https://r.openai.azure.com", "api_key": "sk-do-not-print-me"}


def post_chat(prompt: object = "hello") -> object:
    return DjangoClient().post("/chat", {"prompt": prompt}, content_type="application/json")


def config() -> LLMPortConfig:
    found = apps.get_app_config("llmport")
    assert isinstance(found, LLMPortConfig)
    return found


def test_ready_built_one_client_from_settings_llmport() -> None:
    client = get_client()
    assert isinstance(client, llmport.Client)
    assert client.settings is not None and client.settings.provider == "fake"
    config().ready()  # Django may call it again; the process keeps its one client
    assert get_client() is client


def test_the_example_view_answers_through_the_client() -> None:
    response = post_chat()
    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "fake reply to: hello"
    assert body["request_id"].startswith("fake-request-")


def test_the_middleware_turns_bad_input_into_400() -> None:
    response = post_chat([{"role": "robot", "content": "beep"}])
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request"


def test_the_middleware_answers_a_rate_limit_with_429_and_retry_after() -> None:
    with override(get_client(), chat=FakeChat(llmport.RateLimitedError("busy", retry_after=0.5))):
        response = post_chat()
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["retry_after"] == 1


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (llmport.RequestTimeoutError("slow"), 504),
        (llmport.PermissionDeniedError("deployment secret-name forbidden", status_code=403), 502),
        (llmport.ContentFilteredError("filtered", code="content_filter"), 422),
    ],
    ids=["timeout", "permission", "content-filter"],
)
def test_the_middleware_maps_upstream_failures(error: llmport.LLMPortError, status: int) -> None:
    with override(get_client(), chat=FakeChat(error)):
        response = post_chat()
    assert response.status_code == status
    assert "secret-name" not in response.content.decode()


def test_the_middleware_leaves_other_exceptions_to_django() -> None:
    middleware = LLMPortErrorMiddleware(lambda request: pytest.fail("not called"))
    assert middleware.process_exception(HttpRequest(), ValueError("not ours")) is None


def test_the_system_check_passes_on_good_settings() -> None:
    assert [message for message in run_checks() if message.id == "llmport.E001"] == []


def test_the_system_check_reports_a_bad_llmport_dict_with_a_hint() -> None:
    with override_settings(LLMPORT=BAD):
        messages = [message for message in run_checks() if message.id == "llmport.E001"]
    assert len(messages) == 1
    assert isinstance(messages[0], Error)
    assert "api_version" in messages[0].msg
    assert messages[0].hint is not None and "settings.LLMPORT" in messages[0].hint
    assert "sk-do-not-print-me" not in f"{messages[0].msg} {messages[0].hint}"


def test_manage_py_check_fails_on_a_bad_llmport_dict() -> None:
    with override_settings(LLMPORT=BAD), pytest.raises(SystemCheckError, match=r"llmport\.E001"):
        call_command("check")


def test_the_system_check_names_the_environment_when_llmport_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [name for name in os.environ if name.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))]:
        monkeypatch.delenv(name)
    with override_settings():
        del settings.LLMPORT
        messages = [message for message in run_checks() if message.id == "llmport.E001"]
    assert [message.obj for message in messages] == ["environment"]
    assert "provider" in messages[0].msg


def test_get_client_raises_the_error_ready_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config(), "client", None)
    monkeypatch.setattr(config(), "error", llmport.ConfigurationError("endpoint: missing"))
    with pytest.raises(llmport.ConfigurationError, match="not configured: endpoint: missing"):
        get_client()


def test_a_bad_config_does_not_crash_startup_and_check_reports_it(tmp_path: Path) -> None:
    (tmp_path / "bad_settings.py").write_text(
        f"SECRET_KEY = 'x'\nINSTALLED_APPS = ['llmport.entrypoints.django']\nLLMPORT = {BAD!r}\n",
        encoding="utf-8",
    )
    script = (
        "import django, llmport\n"
        "django.setup()\n"  # runs ready(): it must record the error, not raise it
        "from llmport.entrypoints.django import get_client\n"
        "try:\n    get_client()\nexcept llmport.ConfigurationError as exc:\n    print('get_client:', exc)\n"
        "from django.core.management import call_command\n"
        "call_command('check')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "bad_settings", "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "get_client: llmport is not configured: api_version" in result.stdout
    assert "(llmport.E001) api_version" in result.stderr
    assert "HINT: Fix settings.LLMPORT" in result.stderr
    assert "sk-do-not-print-me" not in result.stdout + result.stderr
