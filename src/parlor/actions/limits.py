"""Rate limits as actions see them: name a policy, give whom it counts for.

    await limits.check(s, "room_create", account=user.id, address=address)

Checked before the work: a refused request changes nothing, not even the count
(ParlorError 429 `rate_limited` with `Retry-After`). Sign-in has its own pair,
`check_sign_in` before the password is hashed and `signed_in` after it matched
(parlor/limits/policies.py says how the back-off grows).
"""

from __future__ import annotations

import ipaddress

from parlor.actions.services import Services
from parlor.errors import rate_limited
from parlor.limits.base import Bucket
from parlor.limits.policies import SIGN_IN_ACCOUNT, SIGN_IN_ADDRESS

_KEY_MAX = 100

# What a refusal says, before "try again in …".
_REFUSALS = {
    "signup": "Too many sign-ups from your network",
    "waitlist": "Too many waitlist places asked for from your network",
    "invites": "You have made many invites in a short time",
    "room_create": "You have started many rooms in a short time",
    "room_join": "You have joined many rooms in a short time",
    "room_invite": "You have invited many people into rooms in a short time",
    "event_create": "You have scheduled many events today",
    "contact_lookup": "You have looked up many contacts today",
    "ping": "You pinged them a moment ago",
    "reports": "You have sent many reports in a short time",
    "guest_room_open": "Many guest rooms were opened from your network",
    "guest_join": "Many rooms were entered as a guest from your network",
    "chat": "You are sending messages too fast",
    "reactions": "You are reacting too fast",
    "e2ee_publish": "You have published many keys in this room in a short time",
    "e2ee_key": "You are sending room keys too fast",
    "club_found": "You have founded many clubs today",
    "club_invite": "You have invited or nominated many people to clubs in a short time",
    "sso": "Many sign-ins with single sign-on were started from your network",
}


def address_key(address: str) -> str:
    """One key per IPv4 address, per IPv6 /64 (what one customer usually holds)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:_KEY_MAX]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _buckets(s: Services, policy: str, account: str | None, address: str | None) -> list[Bucket]:
    rate = s.limits[policy]
    buckets = []
    if account is not None:
        buckets.append((f"{policy}:u:{account[:_KEY_MAX]}", rate))
    if address is not None:
        buckets.append((f"{policy}:a:{address_key(address)}", rate))
    return buckets


def _in(wait_s: float) -> str:
    if wait_s < 90:
        seconds = max(1, round(wait_s))
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    if wait_s < 90 * 60:
        return f"in {round(wait_s / 60)} minutes"
    return f"in {round(wait_s / 3600)} hours"


async def check(
    s: Services, policy: str, *, account: str | None = None, address: str | None = None, cost: int = 1
) -> None:
    """Count `cost` against `policy` for the account and the address given, or refuse (429)."""
    wait = await s.limiter.take(_buckets(s, policy, account, address), s.clock(), cost)
    if wait > 0:
        raise rate_limited(wait, f"{_REFUSALS.get(policy, 'Too many requests')}: try again {_in(wait)}.")


def _sign_in_keys(s: Services, username: str, address: str | None) -> tuple[Bucket, Bucket | None]:
    [account] = _buckets(s, SIGN_IN_ACCOUNT, username, None)
    by_address = _buckets(s, SIGN_IN_ADDRESS, None, address) if address is not None else []
    return account, (by_address[0] if by_address else None)


async def check_sign_in(s: Services, username: str, address: str | None) -> None:
    """Before the password is checked: refuse while a back-off runs, else count a failure
    (taken back by `signed_in`), so that attempts racing each other are counted too."""
    account, by_address = _sign_in_keys(s, username, address)
    wait = await s.limiter.attempt([account, *([by_address] if by_address else [])], s.clock())
    if wait > 0:
        raise rate_limited(wait, f"Too many failed sign-ins: try again {_in(wait)}.")


async def signed_in(s: Services, username: str, address: str | None) -> None:
    """The password matched: the account starts afresh; the address only gets this attempt
    back (one person signing in on their own account does not clear a flood from there)."""
    account, by_address = _sign_in_keys(s, username, address)
    await s.limiter.succeeded([account[0]], [by_address[0]] if by_address else [])
