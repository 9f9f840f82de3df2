"""The arithmetic of both kinds of limit, pure (the Redis scripts mirror it).

A rate limit is GCRA (the generic cell rate algorithm, a token bucket kept as one
number): `tat` is when the key's bucket would be full again. Taking `cost` from a
bucket moves it on by `cost` intervals of window/count; the take is refused when
that would put it more than a window ahead of now.

A back-off counts failures (`failures`, the time of the last, `last_at`): the
first `count` are free, then the next attempt must wait BASE_S·2^k, capped at the
policy's window; failures are forgotten after a quiet FORGET_S (or twice the cap).
"""

from __future__ import annotations

import math

from parlor.limits.policies import Rate

BASE_S = 1.0
FORGET_S = 3600.0
# Float slack: `count` takes at one instant must all fit.
_EPSILON = 1e-9


def take(tat: float | None, now: float, rate: Rate, cost: int = 1) -> tuple[float, float]:
    """(the bucket's new `tat`, 0.0) when the take fits; else (the old `tat`, seconds to wait)."""
    start = now if tat is None or tat < now else tat
    new = start + cost * rate.window_s / rate.count
    over = new - now - rate.window_s
    if over > _EPSILON * rate.window_s:
        # More than a whole bucket never fits: say "a window" rather than never.
        return (start, rate.window_s if cost > rate.count else over)
    return (new, 0.0)


def forget_after(rate: Rate) -> float:
    return max(FORGET_S, 2 * rate.window_s)


def backoff_wait(failures: int, last_at: float, now: float, rate: Rate) -> float:
    """Seconds before another attempt may be made (0.0: now)."""
    if failures < rate.count or now - last_at > forget_after(rate):
        return 0.0
    delay = min(BASE_S * math.pow(2, min(failures - rate.count, 60)), rate.window_s)
    return max(0.0, last_at + delay - now)


def backoff_failures(failures: int, last_at: float, now: float, rate: Rate) -> int:
    """The failures still counted at `now` (forgotten after a quiet spell)."""
    return 0 if now - last_at > forget_after(rate) else failures
