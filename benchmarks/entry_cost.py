"""What cutting errors at the entries costs a call that succeeds: ``python benchmarks/entry_cost.py``.

``Client.chat`` and the rest are wrapped by ``domain.redaction.entry`` (see docs/design.md, "Errors
leave an entry bare"). This times a chat on the fake provider through the wrapper and through the
function it wraps, and the wrapper around a function that does nothing; best of several repeats.
"""

from __future__ import annotations

import timeit

import llmport
from llmport.domain.redaction import entry


def _best(run: object, number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(run, number=number, repeat=repeat)) / number  # type: ignore[arg-type]


def main() -> None:
    with llmport.from_dict({"provider": "fake"}) as client:
        wrapped = llmport.Client.chat
        plain = wrapped.__wrapped__  # type: ignore[attr-defined]
        best = {"chat through entry": float("inf"), "chat without entry": float("inf")}
        for _round in range(5):  # alternated, so that a busy machine slows both alike
            for label, chat in (("chat through entry", wrapped), ("chat without entry", plain)):
                seconds = _best(lambda chat=chat: chat(client, "hello"), number=5_000, repeat=3)
                best[label] = min(best[label], seconds)
        for label, seconds in best.items():
            print(f"{label}: {seconds * 1e6:.2f} us per call (fake provider)")

    def nothing(first: int, second: int | None = None) -> int:
        return first

    for label, function in (("a function", nothing), ("entry(function)", entry(nothing))):
        seconds = _best(lambda function=function: function(1, second=2), number=200_000)
        print(f"{label}: {seconds * 1e9:.0f} ns per call")


if __name__ == "__main__":
    main()
