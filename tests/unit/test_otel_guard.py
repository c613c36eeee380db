"""A telemetry failure is logged once per process and kind: across threads, and again in a forked child."""

from __future__ import annotations

import itertools
import logging
import os
import threading

import pytest

from llmport.adapters.telemetry.guard import ENDING_SPAN, RECORDING, telemetry_failed

_numbers = itertools.count()


def raised(message: str) -> Exception:
    """A raised (so with a traceback) exception of a class no other test uses."""
    error = type(f"GuardBroke{next(_numbers)}", (RuntimeError,), {})
    try:
        raise error(message)
    except RuntimeError as exc:
        return exc


def records(caplog: pytest.LogCaptureFixture, exc: Exception) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "llmport.telemetry" and type(exc).__name__ in r.getMessage()
    ]


def test_one_record_per_kind_naming_the_class_and_the_place_but_not_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="llmport")
    exc = raised("the prompt was: my secret plans")
    for _ in range(3):
        telemetry_failed(ENDING_SPAN, exc)
    telemetry_failed(RECORDING, exc)  # another kind: what was being done differs
    found = records(caplog, exc)
    assert [ENDING_SPAN in r.getMessage() for r in found] == [True, False]
    assert RECORDING in found[1].getMessage()
    for record in found:
        assert "secret plans" not in record.getMessage() and record.exc_info is None
        assert "test_otel_guard.py" in record.getMessage()  # where it was raised


def test_threads_failing_alike_at_once_log_it_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llmport")
    exc = raised("boom")
    start = threading.Barrier(8)

    def fail() -> None:
        start.wait()
        for _ in range(50):
            telemetry_failed(ENDING_SPAN, exc)

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(records(caplog, exc)) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_logs_its_own_first_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llmport")
    exc = raised("boom")
    telemetry_failed(ENDING_SPAN, exc)
    assert len(records(caplog, exc)) == 1
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count what it logs, report through the pipe, leave at once
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        logging.getLogger("llmport.telemetry").addHandler(handler)
        telemetry_failed(ENDING_SPAN, exc)
        telemetry_failed(ENDING_SPAN, exc)
        os.write(write_end, str(len(seen)).encode())
        os._exit(0)
    os.close(write_end)
    logged_in_child = os.read(read_end, 16).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    assert logged_in_child == "1"
    telemetry_failed(ENDING_SPAN, exc)
    assert len(records(caplog, exc)) == 1  # the parent still logged it once
