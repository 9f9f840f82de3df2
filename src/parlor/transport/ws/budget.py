"""A socket's message budget: a token bucket, so one client cannot flood the node.

Every frame a client sends takes a token, before it is even parsed. A client within
its budget never notices it (a page sends a heartbeat every 5 s and an ack at most
once a second). Past it, frames are dropped and the client is told (`rate_limited`,
at most once a second). Only sustained abuse closes the socket: each dropped frame
also takes from a larger, slowly refilled allowance, and when that runs out the
socket is closed with 1008 (policy violation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A burst of this many frames, then this many a second.
BURST = 60
RATE = 20.0
# Dropped frames tolerated: this many at once, refilled at this rate (the budget's
# own). A flood of thousands of frames a second exhausts it within a second or two,
# one at six times the budget in about half a minute; a client sending at most
# twice its budget never does.
ABUSE_BURST = 3000
ABUSE_RATE = RATE
# The least time between two `rate_limited` errors on one socket.
NOTICE_EVERY_S = 1.0


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


@dataclass
class MessageBudget:
    messages: Bucket = field(default_factory=lambda: Bucket(BURST, RATE))
    abuse: Bucket = field(default_factory=lambda: Bucket(ABUSE_BURST, ABUSE_RATE))
    noticed_at: float | None = None
    dropped: int = 0

    def allow(self, now: float) -> bool:
        """Whether this frame may be handled; a dropped one counts towards abuse."""
        if self.messages.take(now):
            return True
        self.dropped += 1
        self.abuse.take(now)
        return False

    @property
    def abusive(self) -> bool:
        """Dropped frames keep coming faster than the allowance refills."""
        return self.abuse.tokens < 1.0

    def should_notice(self, now: float) -> bool:
        """Tell the client (once, then at most every NOTICE_EVERY_S)."""
        if self.noticed_at is None or now - self.noticed_at >= NOTICE_EVERY_S:
            self.noticed_at = now
            return True
        return False
