"""`parlor bench fanout` end to end: a real node, real WebRTC listeners, the JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

pytestmark = pytest.mark.media

KEYS = {
    "listeners", "speakers", "workers", "engine", "seconds", "server_cpu_us_per_packet", "packets_forwarded",
    "delivered_ratio", "latency_ms_p50", "latency_ms_p99", "server_rss_mb_per_listener", "join_s_p50",
    "join_s_p99", "generator_cpu_pct",
}


def _fanout(*extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "fanout",
         "--listeners", "5", "--speakers", "1", "--seconds", "3", "--json", *extra],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_fanout_smoke() -> None:
    started = time.monotonic()
    result = _fanout()
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
    # The default keeps every listener's socket open and in the room to the end, and
    # the node's messages reach them.
    assert result["subscribed"] is True
    assert result["listener_sockets_in_room"] == 5 and result["listener_sockets_closed"] == 0
    assert result["listener_msgs_per_s_speech"] + result["listener_msgs_per_s_idle"] > 0


def test_fanout_unsubscribed_closes_the_listeners_sockets() -> None:
    result = _fanout("--no-subscribed")
    assert result["subscribed"] is False
    assert result["listener_sockets_in_room"] == 0
    assert result["listener_msgs_per_s_speech"] == 0 and result["listener_msgs_per_s_idle"] == 0
    assert result["delivered_ratio"] >= 0.99  # media flows without the sockets


def test_fanout_encrypted_both_reports_plain_and_encrypted_per_packet() -> None:
    """Issue 14: the same room and listeners, windows alternating plain and SFrame payloads."""
    result = _fanout("--encrypted", "both")
    assert result["encrypted"] == "both"
    assert result["plain_packets"] >= 5 * 50 * 3 * 0.7 / 2 and result["encrypted_packets"] >= 5 * 50 * 3 * 0.7 / 2
    assert result["plain_us_per_packet"] > 0 and result["encrypted_us_per_packet"] > 0
    ratio = result["encrypted_us_per_packet"] / result["plain_us_per_packet"]
    assert abs(result["encrypted_vs_plain"] - ratio) < 0.01
    assert result["delivered_ratio"] >= 0.99  # the encrypted frames are forwarded, none dropped
    assert result["packets_dropped_server"] == 0


def test_fanout_on_two_nodes_relays_each_packet_once_and_reports_against_one_node() -> None:
    """Issue 13: a cluster of two nodes (a Redis of its own), listeners split over both,
    after a one-node run with the same listeners as the baseline of the same run."""
    out = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "fanout",
         "--nodes", "2", "--listeners", "6", "--speakers", "1", "--seconds", "3", "--json"],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert result["nodes"] == 2
    # the speaker and 3 listeners on the room's node, 3 listeners on the other
    assert result["peers_per_node"] == [4, 3]
    assert result["delivered_ratio"] >= 0.99 and result["srtp_errors"] == 0
    # each of the speaker's packets sent once to the other node (give or take the
    # packets in flight as the window opens and closes)
    assert abs(result["relay_packets"] - result["packets_sent"]) <= 5
    one = result["one_node"]
    assert one["delivered_ratio"] >= 0.99 and one["packets_received"] > 0
    assert result["cpu_per_delivered_vs_one_node"] == pytest.approx(
        result["server_cpu_us_per_delivered"] / one["server_cpu_us_per_delivered"], abs=0.01
    )
    assert result["relay_us_per_packet"] > 0
