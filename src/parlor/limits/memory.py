"""The in-process limiter: the default, for one node."""

from __future__ import annotations

from collections.abc import Sequence

from parlor.limits import rules
from parlor.limits.base import Bucket, Limiter

_SWEEP_MIN = 4096


class MemoryLimiter(Limiter):
    """Dicts, changed without an `await` in between, so each call is atomic."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        # key → (failures, time of the last, when it may be forgotten)
        self._failures: dict[str, tuple[int, float, float]] = {}
        self._sweep_at = _SWEEP_MIN

    async def take(self, buckets: Sequence[Bucket], now: float, cost: int = 1) -> float:
        taken = [rules.take(self._tats.get(key), now, rate, cost) for key, rate in buckets]
        wait = max((w for _, w in taken), default=0.0)
        if wait > 0:
            return wait
        for (key, _), (tat, _) in zip(buckets, taken, strict=True):
            self._tats[key] = tat
        self._sweep(now)
        return 0.0

    async def attempt(self, backoffs: Sequence[Bucket], now: float) -> float:
        counted = []
        wait = 0.0
        for key, rate in backoffs:
            failures, last_at, _ = self._failures.get(key, (0, 0.0, 0.0))
            wait = max(wait, rules.backoff_wait(failures, last_at, now, rate))
            counted.append(rules.backoff_failures(failures, last_at, now, rate) + 1)
        if wait > 0:
            return wait
        for (key, rate), failures in zip(backoffs, counted, strict=True):
            self._failures[key] = (failures, now, now + rules.forget_after(rate))
        self._sweep(now)
        return 0.0

    async def succeeded(self, reset: Sequence[str], forgive: Sequence[str]) -> None:
        for key in reset:
            self._failures.pop(key, None)
        for key in forgive:
            if key in self._failures:
                failures, last_at, forget_at = self._failures[key]
                self._failures[key] = (max(0, failures - 1), last_at, forget_at)

    def _sweep(self, now: float) -> None:
        """Drop keys that say nothing any more, once the dicts have doubled (amortised O(1))."""
        if len(self._tats) + len(self._failures) < self._sweep_at:
            return
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        self._failures = {k: v for k, v in self._failures.items() if v[2] > now}
        self._sweep_at = max(_SWEEP_MIN, 2 * (len(self._tats) + len(self._failures)))

    def key_count(self) -> int:
        return len(self._tats) + len(self._failures)
