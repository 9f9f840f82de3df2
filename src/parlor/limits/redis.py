"""The Redis limiter: one set of buckets for every node (PARLOR_REDIS_URL).

Each call is one Lua script, so it is atomic across nodes; the scripts are
`rules` in Lua. Keys expire once they say nothing (a full bucket, a forgotten
back-off), so Redis holds only keys touched recently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parlor.limits import rules
from parlor.limits.base import Bucket, Limiter

PREFIX = "parlor:limit:"

# KEYS: buckets. ARGV: now, cost, then count and window per bucket.
_TAKE = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local wait = 0
local new = {}
for i = 1, #KEYS do
  local count = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]))
  local start = now
  if tat and tat > now then start = tat end
  local n = start + cost * window / count
  local over = n - now - window
  if over > 1e-9 * window then
    if cost > count then over = window end
    if over > wait then wait = over end
  end
  new[i] = n
end
if wait > 0 then return string.format('%.6f', wait) end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.6f', new[i]), 'PX', math.ceil((new[i] - now) * 1000) + 1000)
end
return '0'
"""

# KEYS: back-offs. ARGV: now, base, then count, cap and forget-after per key.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local wait = 0
local counted = {}
for i = 1, #KEYS do
  local count = tonumber(ARGV[3 * i])
  local cap = tonumber(ARGV[3 * i + 1])
  local forget = tonumber(ARGV[3 * i + 2])
  local state = redis.call('HMGET', KEYS[i], 'f', 't')
  local f = tonumber(state[1]) or 0
  local t = tonumber(state[2]) or 0
  if now - t > forget then f = 0 end
  if f >= count then
    local w = t + math.min(base * 2 ^ math.min(f - count, 60), cap) - now
    if w > wait then wait = w end
  end
  counted[i] = f + 1
end
if wait > 0 then return string.format('%.6f', wait) end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'f', counted[i], 't', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[3 * i + 2]) * 1000))
end
return '0'
"""

# KEYS: the first ARGV[1] are reset, the rest take back one failure.
_SUCCEEDED = """
local resets = tonumber(ARGV[1])
for i = 1, #KEYS do
  if i <= resets then
    redis.call('DEL', KEYS[i])
  else
    local f = tonumber(redis.call('HGET', KEYS[i], 'f'))
    if f and f > 0 then redis.call('HSET', KEYS[i], 'f', f - 1) end
  end
end
return 0
"""


class RedisLimiter(Limiter):
    def __init__(self, url: str) -> None:
        import redis.asyncio  # optional dependency: only when a Redis URL is set

        self._redis: Any = redis.asyncio.Redis.from_url(url)
        self._take = self._redis.register_script(_TAKE)
        self._attempt = self._redis.register_script(_ATTEMPT)
        self._succeeded = self._redis.register_script(_SUCCEEDED)

    async def start(self) -> None:
        await self._redis.ping()  # an unreachable Redis stops the start, with its reason

    async def close(self) -> None:
        await self._redis.aclose()

    async def take(self, buckets: Sequence[Bucket], now: float, cost: int = 1) -> float:
        if not buckets:
            return 0.0
        args: list[Any] = [repr(now), cost]
        for _, rate in buckets:
            args += [rate.count, repr(float(rate.window_s))]
        return float(await self._take(keys=[PREFIX + key for key, _ in buckets], args=args))

    async def attempt(self, backoffs: Sequence[Bucket], now: float) -> float:
        if not backoffs:
            return 0.0
        args: list[Any] = [repr(now), repr(rules.BASE_S)]
        for _, rate in backoffs:
            args += [rate.count, repr(float(rate.window_s)), repr(rules.forget_after(rate))]
        return float(await self._attempt(keys=[PREFIX + key for key, _ in backoffs], args=args))

    async def succeeded(self, reset: Sequence[str], forgive: Sequence[str]) -> None:
        keys = [PREFIX + key for key in (*reset, *forgive)]
        if keys:
            await self._succeeded(keys=keys, args=[len(reset)])
