"""What OpenTelemetry raises never reaches a call: it is logged once per process and kind, then ignored.

The SDK hands every span to the application's processors inside ``start_span`` and ``span.end()``,
and every ``histogram.record`` to its exemplar filter and views, without catching what they raise;
a processor that raises would turn a call the provider served (and billed) into an error.
"""

from __future__ import annotations

import logging
import os

__all__ = [
    "BUILDING",
    "ENDING_SPAN",
    "RECORDING",
    "STARTING_SPAN",
    "SWITCHING_CONTEXT",
    "UPDATING_SPAN",
    "telemetry_failed",
]

logger = logging.getLogger("llmport.telemetry")

# What llmport was doing when OpenTelemetry raised (the "kind" of failure, with the exception's class).
STARTING_SPAN = "starting a span"
UPDATING_SPAN = "updating a span"
ENDING_SPAN = "ending a span"
RECORDING = "recording a metric"
SWITCHING_CONTEXT = "switching the current context"
BUILDING = "building the tracer and the instruments"

#: The kinds logged in this process (a forked child starts with none: ``_pid`` tells it apart).
_logged: dict[tuple[str, str], object] = {}
_pid = 0


def telemetry_failed(doing: str, exc: Exception) -> None:
    """Note that OpenTelemetry raised ``exc`` while llmport was ``doing`` something; the call goes on.

    Logged at WARNING on ``llmport.telemetry`` the first time this process sees this kind of
    failure (what was being done, and the exception's class), then never again. The record names
    the class and where it was raised, never its message nor a traceback: a processor's message
    may quote span attributes, which hold the prompt when content capture is on.
    """
    global _pid  # noqa: PLW0603 - one record of logged kinds per process
    if _pid != os.getpid():
        _logged.clear()
        _pid = os.getpid()
    kind = (doing, _class_name(exc))
    mark = object()
    # setdefault is atomic under the GIL: of two threads failing alike at once, one logs.
    if _logged.setdefault(kind, mark) is not mark:
        return
    logger.warning(
        "OpenTelemetry failed while %s: %s raised in %s; the call went on without it (logged once "
        "per process for this failure)",
        doing,
        kind[1],
        _where(exc),
    )


def _class_name(exc: Exception) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _where(exc: Exception) -> str:
    """The innermost frame the exception passed through: file, line and function, no values."""
    tb = exc.__traceback__
    if tb is None:
        return "an unknown place"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename}:{tb.tb_lineno} ({code.co_name})"
