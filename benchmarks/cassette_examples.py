"""The examples of examples/azure_docs recorded to cassettes once, replayed with the servers gone, scanned.

Phase 1 records every example on every URL shape (and autogen's Entra ID ones) against the loopback
server and a local managed-identity endpoint, into ``--dir``. Phase 2 replays them all in a fresh
process where no server exists: the examples point at a closed port and the network guard refuses
anything a cassette does not answer; each output must be what the live run printed. Phase 3 scans
the files for the API key and every token the identity endpoint issued.

    .venv/bin/python benchmarks/cassette_examples.py [--dir /tmp/example-cassettes]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "support")]

from example_cassettes import KEY, cases, leaks, record, replay  # noqa: E402  # the tests' helpers, by path

from llmport.adapters.recording import hook  # noqa: E402


def record_all(folder: Path) -> dict[str, object]:
    outputs, tokens = {}, []
    start = time.perf_counter()
    for case in cases():
        outputs[case.name], issued = record(case, folder / f"{case.name}.json")
        tokens += issued
    seconds = time.perf_counter() - start
    (folder / "outputs.json").write_text(json.dumps(outputs, indent=2, sort_keys=True))
    return {"seconds": seconds, "tokens": tokens}


def replay_all(folder: Path) -> None:
    """In this process no server was ever started: replay everything under the network guard."""
    expected = json.loads((folder / "outputs.json").read_text())
    hook.install(hook.NetworkGuard("(the replay must not send)"))
    start = time.perf_counter()
    differing = [
        case.name for case in cases() if replay(case, folder / f"{case.name}.json")[0] != expected[case.name]
    ]
    print(json.dumps({"seconds": time.perf_counter() - start, "differing": differing}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--replay", type=Path, default=None, help=argparse.SUPPRESS)  # phase 2's own process
    args = parser.parse_args()
    if args.replay is not None:
        replay_all(args.replay)
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="example-cassettes-"))
    folder.mkdir(parents=True, exist_ok=True)
    recorded = record_all(folder)
    start = time.perf_counter()
    child = subprocess.run(  # noqa: S603  # this very script, by our own interpreter
        [sys.executable, __file__, "--replay", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    process_seconds = time.perf_counter() - start
    replayed = json.loads(child.stdout.strip().splitlines()[-1])
    files = sorted(folder.glob("*.json"))
    files.remove(folder / "outputs.json")
    secrets = {"api key": KEY, **{f"token {n}": token for n, token in enumerate(recorded["tokens"])}}  # type: ignore[arg-type]
    found = {path.name: leaks(path, secrets) for path in files}
    exchanges = sum(len(json.loads(path.read_text())["exchanges"]) for path in files)
    size = sum(path.stat().st_size for path in files)
    print(f"cassettes: {len(files)} files, {exchanges} exchanges, {size} bytes in {folder}")
    print(f"record (servers up):         {recorded['seconds']:.2f} s")
    seconds = replayed["seconds"]
    print(f"replay (no server, guarded): {seconds:.2f} s in-process, {process_seconds:.2f} s with start-up")
    print(f"outputs differing from the live run: {replayed['differing'] or 'none'}")
    print(f"secret scan ({len(secrets)} values + JWT shape): {sum(map(len, found.values()))} found")
    scrubbed = sum(path.read_text().count("<scrubbed>") for path in files)
    print(f"<scrubbed> placeholders: {scrubbed}")


if __name__ == "__main__":
    main()
