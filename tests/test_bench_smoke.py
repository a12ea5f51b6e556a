"""The load benchmark still runs (``bench/``, ``make bench``): its quick mode, on SQLite
and the raw baseline, for the fanout and resume scenarios — every message delivered, the
resume contiguous, the report written. Not a timing: CI only checks that it works.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT
from tests.services import unavailable

NODE_PACKAGES = ("ws", "yjs", "y-protocols", "lib0")


def _need_the_generator() -> None:
    if shutil.which("node") is None:
        unavailable("Node.js is not installed (the bench's load generator runs on it)")
    for package in NODE_PACKAGES:
        if not (ROOT / "node_modules" / package / "package.json").exists():
            unavailable(f"node_modules/{package} is missing (npm ci)")


def _bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args``, which must succeed."""
    run = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def test_quick_bench_loses_nothing_and_writes_its_table(tmp_path: Path) -> None:
    _need_the_generator()
    doc, results = tmp_path / "performance.md", tmp_path / "results.json"
    args = ["--quick", "--scenarios", "fanout,resume", "--targets", "baseline,sqlite"]
    args += ["--duration", "1", "--var", str(tmp_path / "var"), "--doc", str(doc)]
    _bench("bench", *args, "--output", str(results))

    rows = json.loads(results.read_text())["rows"]
    fanout = [r for r in rows if r["scenario"] == "fanout"]
    assert {r["target"] for r in fanout} == {"baseline", "sqlite"}
    for row in fanout:
        assert row["received"] == row["expected"] > 0, row
        assert row["lost"] == 0
        assert row["duplicates"] == 0
        assert row["out_of_order"] == 0
        assert not row["closed_sockets"]
        # The noise gauges: run-queue waits, and the machine's I/O pressure where the
        # kernel reports it (PSI).
        assert row["server_runq_wait_pct"] >= 0
        if Path("/proc/pressure/io").exists():
            assert row["io_pressure_pct"] >= 0
        else:
            assert row["io_pressure_pct"] is None
    resumed = {r["target"]: r for r in rows if r["scenario"] == "resume"}
    assert resumed["sqlite"]["events"] == resumed["sqlite"]["missed"] == 200
    assert resumed["sqlite"]["gaps"] == 0

    report = doc.read_text(encoding="utf-8")
    assert "### Fanout" in report
    assert "| 2×5, 2 senders/room | 5 | sqlite |" in report
    assert "### Resume" in report


def test_read_receipts_in_the_message_cost_run(tmp_path: Path) -> None:
    """``bench.messagecost --read-after``: every member sends a ``read`` receipt as the
    browser does (finding 39); each is answered, none refused, nothing lost."""
    _need_the_generator()
    args = ["--quick", "--targets", "baseline,sqlite", "--shape", "2x5x1", "--rate", "2"]
    args += ["--read-after", "100", "--rounds", "1", "--duration", "2"]
    run = _bench("bench.messagecost", *args, "--var", str(tmp_path / "var"))
    rounds = re.findall(
        r"^round 0 (\w+) .* lost (\d+)  reads (\d+)/(\d+) acked, refused (.*)$",
        run.stdout,
        re.MULTILINE,
    )
    assert {name for name, *_ in rounds} == {"baseline", "sqlite"}, run.stdout
    for _, lost, acked, sent, refused in rounds:
        assert lost == "0"
        assert int(sent) > 0
        assert acked == sent
        assert refused == "{}"
