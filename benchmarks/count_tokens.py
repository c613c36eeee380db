"""What counting a prompt costs next to sending it: ``python benchmarks/count_tokens.py [--calls N]``.

One process, one llmport client on the benchmark's loopback server (benchmarks/server.py), a
conversation of about 4,000 prompt tokens (gpt-4o, 48 turns of English, code and non-ASCII text,
system messages with names), in rounds, alternately:

- ``new``: ``client.count_tokens`` of a conversation never counted before (every text tokenized);
- ``again``: of the same conversation again (a chat counts its history at every turn: the
  counter remembers each text's count);
- ``chat``: ``client.chat`` of the conversation, sent to the loopback server.

Printed: the median per-call time of each and the ratios ``new / chat`` and ``again / chat``,
measured in the same run; and the first count of a fresh process (it imports tiktoken and builds
``o200k_base``, once).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import Server  # a sibling module of a script, not an installed package

import llmport

_PARAGRAPHS = (
    "The quarterly report shows revenue up 12% year over year, driven by the cloud segment and a "
    "strong renewal rate among enterprise customers; operating margin held at 31%.",
    "def merge(a, b):\n    out = []\n    while a and b:\n"
    "        out.append(a.pop(0) if a[0] < b[0] else b.pop(0))\n    return out + a + b\n",
    "東京の天気は晴れ、最高気温は二十三度の予想です。Привет! Как прошёл день? Ça va très bien, merci.",
    "Please summarise the incident: the p99 latency rose from 180 ms to 2.4 s between 14:02 and 14:19 UTC "
    "after a configuration push that halved the connection pool of the payments service.",
)


def conversation(tag: str = "") -> list[dict[str, Any]]:
    """A conversation of about 4,000 prompt tokens on gpt-4o (``main`` prints its count);
    ``tag`` starts every turn, so that each tag's texts are new to the counter."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a concise assistant for an operations team."},
        {"role": "system", "name": "example_user", "content": "Summarise the ticket."},
        {"role": "system", "name": "example_assistant", "content": "Ticket summarised in one line."},
    ]
    turn = 0
    while len(messages) < 51:
        role = "user" if turn % 2 == 0 else "assistant"
        text = " ".join(_PARAGRAPHS[(turn + i) % len(_PARAGRAPHS)] for i in range(2))
        messages.append({"role": role, "content": f"{tag}({turn}) {text}"})
        turn += 1
    return messages


def _per_call(action: Callable[[int], object], calls: int) -> float:
    started = time.perf_counter()
    for number in range(calls):
        action(number)
    return (time.perf_counter() - started) / calls


def first_count_seconds() -> float:
    """The first count of a fresh process: importing tiktoken and building o200k_base."""
    script = (
        "import time, llmport\n"
        "c = llmport.from_dict({'provider': 'fake', 'chat_model': 'gpt-4o'})\n"
        "t = time.perf_counter(); c.count_tokens('hello'); print(time.perf_counter() - t)\n"
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout.strip())


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its figures and return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls of each kind per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    messages = conversation()
    with Server(workers=1) as server:
        url = f"http://127.0.0.1:{server.port}/v1"
        values = {"provider": "openai", "base_url": url, "api_key": "sk-bench", "chat_model": "gpt-4o"}
        with llmport.from_dict(values) as client:
            count = client.count_tokens(messages)
            client.chat(messages, max_tokens=16)
            times: dict[str, list[float]] = {"new": [], "again": [], "chat": []}
            for round_ in range(args.rounds):
                fresh = [conversation(f"{round_}.{number} ") for number in range(args.calls)]
                new_one = fresh.__getitem__
                times["new"].append(_per_call(lambda n, at=new_one: client.count_tokens(at(n)), args.calls))
                times["again"].append(_per_call(lambda n: client.count_tokens(messages), args.calls))
                times["chat"].append(_per_call(lambda n: client.chat(messages, max_tokens=16), args.calls))
    new, again, chat = (statistics.median(times[kind]) for kind in ("new", "again", "chat"))
    first = first_count_seconds()
    print(f"conversation: {len(messages)} messages, {count.tokens} prompt tokens, {count.encoding}")
    print(f"count_tokens, a new conversation: {new * 1e6:.0f} us per call")
    print(f"count_tokens, the same again: {again * 1e6:.0f} us per call")
    print(f"chat on the loopback server: {chat * 1e6:.0f} us per call")
    print(f"new / chat: {new / chat:.3f}   again / chat: {again / chat:.3f}")
    print(f"(median of {args.rounds} rounds of {args.calls} calls each)")
    print(f"first count in a fresh process (imports tiktoken, builds o200k_base): {first * 1e3:.0f} ms")
    return {"tokens": count.tokens, "new": new, "again": again, "chat": chat, "first": first}


if __name__ == "__main__":
    main()
