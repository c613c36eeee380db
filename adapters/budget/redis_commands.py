"""The Redis store's script runs as commands, and how their answers read (``lua.py`` has the scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...domain.budget import Budget, Lease, RateHint, Refusal, Remaining, Reservation
from .window import HINT_SECONDS

__all__ = [
    "Command",
    "hint_args",
    "reading",
    "remaining_of",
    "reservation_of",
    "reserving",
    "seconds",
]

#: One script run: its name, the deployment whose keys it takes, its arguments after ``now, margin``.
Command = tuple[str, str, Sequence[str | int]]


def reserving(budget: Budget, tokens: int, lease: int = 0, second: int = 0) -> Command:
    """Reserve one request and ``tokens`` on ``budget``, asking for a lease of ``lease`` more calls."""
    args = (tokens, _limit(budget.rpm), _limit(budget.tpm), repr(budget.probe_timeout), lease, second)
    return ("reserve", budget.deployment, args)


def reservation_of(
    budget: Budget, tokens: int, answer: Any, origin: str, lease: Lease | None = None
) -> Reservation | Refusal:
    """The answer of a ``reserving`` run: the reservation (with the lease granted with it), or a refusal."""
    if int(answer[0]) == 1:
        return Reservation(budget, tokens, int(answer[2]), bool(int(answer[1])), origin, lease)
    return Refusal(budget.deployment, answer[1], seconds(answer[2]))


def reading(budget: Budget) -> Command:
    """Read what ``budget``'s deployment can take now."""
    return ("remaining", budget.deployment, (_limit(budget.rpm), _limit(budget.tpm)))


def remaining_of(budgets: Sequence[Budget], answers: Sequence[Any]) -> dict[str, Remaining]:
    """The answers of one ``reading`` per budget, by deployment."""
    return {
        budget.deployment: Remaining(
            budget.deployment,
            requests=None if int(answer[0]) < 0 else int(answer[0]),
            tokens=None if int(answer[1]) < 0 else int(answer[1]),
            health=answer[2],
            wait=seconds(answer[3]),
        )
        for budget, answer in zip(budgets, answers, strict=True)
    }


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def seconds(millis: Any) -> float:
    """A script's milliseconds as seconds (a negative count: never)."""
    value = int(millis)
    return float("inf") if value < 0 else value / 1000


def hint_args(hint: RateHint | None) -> list[str]:
    """A rate hint as a script's four arguments (remaining and reset, of requests then tokens)."""
    if hint is None:
        return ["", "", "", ""]
    args = []
    for left, reset in (
        (hint.remaining_requests, hint.reset_requests),
        (hint.remaining_tokens, hint.reset_tokens),
    ):
        args += ["", ""] if left is None else [str(left), repr(HINT_SECONDS if reset is None else reset)]
    return args
