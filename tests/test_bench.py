"""`parlor bench fanout` end to end: a real node, real WebRTC listeners, the JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.media

KEYS = {
    "listeners", "speakers", "workers", "engine", "seconds", "server_cpu_us_per_packet", "packets_forwarded",
    "delivered_ratio", "latency_ms_p50", "latency_ms_p99", "server_rss_mb_per_listener", "join_s_p50",
    "join_s_p99", "generator_cpu_pct",
}


def test_fanout_smoke() -> None:
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "fanout",
         "--listeners", "5", "--speakers", "1", "--seconds", "3", "--json"],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert KEYS <= set(result)
    assert result["listeners"] == 5 and result["engine"] == "fast"
    assert result["packets_forwarded_source"] == "server /metrics"
    assert result["packets_forwarded"] >= 5 * 140
    assert result["delivered_ratio"] >= 0.99
    assert result["srtp_errors"] == 0
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p99"]
    # the floor: SRTP-protect + sendto alone to the same five sockets, at 50 packets a second
    assert result["floor_packets"] == 5 * 50 * 3 and result["floor_fanout"] in ("c", "python")
    assert result["floor_us_per_packet"] > 0
    assert abs(result["cpu_vs_floor"] - result["server_cpu_us_per_packet"] / result["floor_us_per_packet"]) < 0.05
    assert time.monotonic() - started < 90  # generous: the box is shared
