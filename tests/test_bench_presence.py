"""`parlor bench presence` at a small size: a real node, real sockets, the JSON report
and the issue's bounds (≤ 5 messages per client per second on average, ≤ 20 at p99)."""

from __future__ import annotations

import json
import subprocess
import sys

from parlor.actions.chat_board import INTERVAL_S


def test_presence_bench_small() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "presence",
         "--listeners", "200", "--storm-s", "4", "--hands", "6", "--json"],
        capture_output=True, text=True, timeout=240, check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "presence" and result["listeners"] == 200
    assert result["joined"] == 200 and result["join_failed"] == 0
    overall = result["msgs_per_client_s"]
    assert overall["clients"] >= 190
    assert 0 < overall["avg"] <= 5 and overall["p99"] <= 20, overall
    assert set(result["msgs_per_client_s_by_phase"]) == {"join", "hands", "storm", "leave"}
    storm = result["msgs_per_client_s_by_phase"]["storm"]
    # A storm of ~200 reactions a second reaches each client as one batch per interval.
    assert storm["p99"] <= 1 / INTERVAL_S + 1, storm
    assert result["node_cpu_ms_per_join"] > 0
    # Merged, yet nothing lost: one client saw every reaction counted.
    assert result["reactions_delivered_to_one_client"] == result["reactions_sent"] > 0
    assert result["within_bounds"] is True
