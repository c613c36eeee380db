"""The benchmark's building blocks run end to end on a tiny budget, so that they cannot rot unnoticed."""

from __future__ import annotations

import json
from pathlib import Path

import loadgen  # benchmarks/ is a folder of scripts: pytest's pythonpath (pyproject.toml) finds them
import pytest
import report
import worker
from server import Server

TINY = worker.Counts(
    warmup=2, chat=5, stream=2, embed_1=2, embed_2048=1, threads=2, per_thread=2, rss_first=2, rss_last=4
)


@pytest.fixture(scope="module")
def port() -> object:
    with Server(workers=1) as server:
        yield server.port


def test_the_server_outpaces_a_raw_socket_client(port: int) -> None:
    load = loadgen.measure(port, processes=1, depth=4, seconds=0.2)
    assert load.requests > 0
    assert load.rate > 1000


def test_one_round_of_every_client_kind_reports_ratios_and_a_chart(
    port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = {}
    latencies = {}
    for kind in worker.KINDS:
        calls = worker.calls(kind, port, TINY)
        figures[kind] = {**report_figures(calls), **worker.rss(kind, port, TINY), **worker.cold(kind, port)}
        latencies[kind] = {key: calls[key] for key in ("chat", "stream_first", "stream_total", "embed_1")}
    worker.main(["json", "import", "0"])
    assert json.loads(capsys.readouterr().out)["import"] >= 0
    rounds = [{"figures": figures, "imports": {"openai": 0.4, "llmport": 0.04}, "latencies": latencies}]
    loads = [loadgen.Load(1, 1, 1.0, 20_000)]
    summary = report.build(
        rounds,
        loads,
        pairs=(("raw-openai", "llmport-openai"), ("raw-azure", "llmport-azure")),
        quick=True,
        pinned=False,
        server_workers=1,
        seconds=1.0,
    )
    text = report.markdown(summary)
    assert "| chat p50 (µs) | <= 1.00 |" in text
    assert "QUICK SMOKE RUN" in text
    pytest.importorskip("matplotlib")
    assert report.chart(rounds, tmp_path / "results.png") is not None
    assert (tmp_path / "results.png").stat().st_size > 10_000


def report_figures(calls: dict[str, object]) -> dict[str, float]:
    import run

    return run._summarise(calls)
