"""`parlor bench login-flood` end to end (a real node), short: the JSON report's shape, and
that the flood met the back-off (docs/BENCHMARKS.md has the measured figures)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from parlor.limits.policies import DEFAULTS


def test_login_flood_smoke() -> None:
    args = ["--seconds", "1.5", "--flooders", "3", "--no-unthrottled", "--json"]
    out = subprocess.run(
        [sys.executable, "-m", "parlor.cli", "bench", "login-flood", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "login-flood" and "unthrottled" not in result
    throttled = result["throttled"]
    for phase in ("baseline", "during_flood"):
        probe = throttled[phase]
        assert probe["requests"] >= 1 and 0 < probe["p50_ms"] <= probe["p95_ms"] <= probe["max_ms"]
    statuses = throttled["flood"]["statuses"]
    assert set(statuses) <= {"401", "429"}, statuses
    # attempts are counted before they are hashed: the free failures, then one more after
    # each doubling wait (1 s, 2 s, 4 s, …) that fits in the flood's time, however many flooders
    doublings = math.floor(math.log2(throttled["flood"]["seconds"] + 1))
    assert statuses.get("401", 0) <= DEFAULTS["sign_in_account"].count + doublings
    assert throttled["flood"]["attempts"] == sum(statuses.values())
