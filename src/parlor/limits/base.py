"""The limiter contract: buckets and back-offs kept per key, taken all or nothing.

Every method takes `now` from the caller (the services' clock), so one clock rules
every node's view of a key and tests can move time without sleeping.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from parlor.limits.policies import Rate

# (key, the policy's rate for it)
Bucket = tuple[str, Rate]


class Limiter(abc.ABC):
    @abc.abstractmethod
    async def take(self, buckets: Sequence[Bucket], now: float, cost: int = 1) -> float:
        """Take `cost` from every bucket, or from none: 0.0 when taken, else the longest wait in seconds."""

    @abc.abstractmethod
    async def attempt(self, backoffs: Sequence[Bucket], now: float) -> float:
        """Count an attempt as a failure on every back-off until it succeeds (`succeeded`), so
        that concurrent attempts are counted too; or on none, when one of them says wait:
        0.0 when counted, else the longest wait in seconds."""

    @abc.abstractmethod
    async def succeeded(self, reset: Sequence[str], forgive: Sequence[str]) -> None:
        """An attempt succeeded: the `reset` back-offs start over; the `forgive` ones take back
        the failure `attempt` counted."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass
