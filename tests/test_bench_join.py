"""`parlor bench join`: a short run end to end, and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parlor.bench.join import percentile


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.5) == 10
    assert percentile(values, 0.95) == 19
    assert percentile([7.0], 0.95) == 7


@pytest.mark.media
@pytest.mark.browser
def test_join_bench_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "join", "--joins", "3", "--json"],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "join" and result["listener"] == "web client (Chromium)"
    assert result["joins"] == 3 and result["heard"] == 3, result
    first = result["join_to_first_audio_ms"]
    assert 0 < first["min"] <= first["p50"] <= first["p95"] <= first["max"] < 15_000, first
    assert len(result["runs"]) == 3
    for run in result["runs"]:
        # in order: the page's connection exists, gets a packet, decodes audio (its
        # state may say `connected` only a look or two after the first packet came)
        assert 0 < run["pc"] <= run["packet"] <= run["audio"], run
        assert run.get("connected", run["pc"]) >= run["pc"], run
    assert set(result["phases_ms"]) == {"pc", "connected", "packet"}
