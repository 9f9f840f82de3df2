"""Private contact matching (docs/API.md, "Contact matching"; DESIGN §5).

Members and waitlisted people opt in identifiers one by one, as keyed hashes
(HMAC-SHA256 with the instance's contact key, which clients get from `params`).
A member looks contacts up by short hash prefixes and gets whole buckets back;
the client matches locally. Nothing of a lookup is stored or logged: the only
trace is, in this process's memory for a few minutes, which waitlist entries
were in the buckets a member looked at, so that they may let them in.
"""

from __future__ import annotations

import re
import secrets
import weakref
from dataclasses import dataclass
from typing import Any

from parlor.actions import growth, limits
from parlor.actions.ids import looks_like_id, new_id
from parlor.actions.services import Services
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.limits.policies import CONTACT_LOOKUP, DEFAULTS
from parlor.storage import contacts as store
from parlor.storage import social as social_store

KINDS = ("phone", "email")
HASH = re.compile(r"^[0-9a-f]{64}$")
MAX_IDENTIFIERS = 10
MAX_PREFIXES = 1000
PREFIX_BITS_MAX = 20
BITS_CACHE_S = 60.0
BUDGET_WINDOW_S = DEFAULTS[CONTACT_LOOKUP].window_s
LET_IN_TTL_S = 15 * 60.0

Owner = store.Owner


def prefix_bits_for(findable: int, bucket_min: int) -> int:
    """floor(log2(findable / bucket_min)), within 0..PREFIX_BITS_MAX.

    An average bucket then holds bucket_min to 2·bucket_min findable identifiers,
    so a prefix never narrows a contact down to fewer than that many people.
    """
    per_bucket = findable // bucket_min
    return min(PREFIX_BITS_MAX, max(0, per_bucket.bit_length() - 1))


@dataclass
class _Memory:
    """Per instance, in this process only."""

    bits: tuple[float, int] | None = None  # (valid until, prefix bits)


_memories: dict[int, _Memory] = {}


def _memory(s: Services) -> _Memory:
    memory = _memories.get(id(s))
    if memory is None:
        memory = _memories[id(s)] = _Memory()
        weakref.finalize(s, _memories.pop, id(s), None)
    return memory


# -- parameters ------------------------------------------------------------------------------


async def _prefix_bits(s: Services) -> int:
    memory = _memory(s)
    now = s.clock()
    if memory.bits is None or memory.bits[0] < now:
        async with s.db.engine.connect() as conn:
            findable = await store.count_all(conn)
        memory.bits = (now + BITS_CACHE_S, prefix_bits_for(findable, s.settings.contact_bucket_min))
    return memory.bits[1]


async def params(s: Services) -> dict[str, Any]:
    """The contact key (hex) and the current prefix length, for members and waitlisted people."""
    async with s.db.engine.begin() as conn:
        key = await store.contact_key(conn, secrets.token_hex(32))
    return {"key": key, "prefix_bits": await _prefix_bits(s)}


# -- findable identifiers -------------------------------------------------------------------


def member(user: User) -> Owner:
    return ("user", user.id)


async def waitlisted(s: Services, token: str) -> Owner:
    """The waitlist entry a waitlist token names, as an owner of identifiers."""
    entry = await growth.waitlist_entry_for_token(s, token)
    if entry is None:
        raise ParlorError(401, Code.INVALID_WAITLIST_TOKEN, "This waitlist place is not known: it was used or left.")
    return ("waitlist", entry.id)


def check_identifier(kind: str, hash_hex: str) -> None:
    if kind not in KINDS:
        raise ParlorError(400, Code.INVALID_CONTACT_KIND, "An identifier is a phone number or an e-mail address.")
    if not HASH.match(hash_hex):
        message = "Send the identifier's keyed hash (64 lower-case hex digits), never the identifier."
        raise ParlorError(400, Code.INVALID_CONTACT_HASH, message)


async def identifiers(s: Services, owner: Owner) -> dict[str, Any]:
    async with s.db.engine.connect() as conn:
        return {"identifiers": await store.list_for(conn, owner)}


async def do_add_identifier(s: Services, owner: Owner, kind: str, hash_hex: str) -> dict[str, Any]:
    """Opt one identifier in (idempotent); answers it as listed."""
    check_identifier(kind, hash_hex)
    async with s.db.engine.begin() as conn:
        # Write, then count: two adds racing cannot both slip under the cap.
        added = await store.add(
            conn, identifier_id=new_id("ci"), owner=owner, kind=kind, hash_hex=hash_hex, now=s.clock()
        )
        if await store.count_for(conn, owner) > MAX_IDENTIFIERS:
            raise ParlorError(
                409, Code.TOO_MANY_IDENTIFIERS, f"You can make at most {MAX_IDENTIFIERS} identifiers findable."
            )
    _memory(s).bits = None
    return added


async def do_remove_identifier(s: Services, owner: Owner, identifier_id: str) -> None:
    """Opt out: the keyed hash is deleted, so it can never be matched again."""
    async with s.db.engine.begin() as conn:
        if not looks_like_id(identifier_id) or not await store.remove(conn, owner, identifier_id):
            raise ParlorError(404, Code.IDENTIFIER_NOT_FOUND, "You have no such findable identifier.")
    _memory(s).bits = None


# -- matching ---------------------------------------------------------------------------------


def check_prefixes(prefix_bits: int, current: int, prefixes: list[int]) -> list[int]:
    if prefix_bits != current:
        raise ParlorError(409, Code.CONTACT_PARAMS_CHANGED, "The prefix length changed: fetch the parameters again.")
    if len(prefixes) > MAX_PREFIXES:
        raise ParlorError(400, Code.TOO_MANY_PREFIXES, f"Send at most {MAX_PREFIXES} prefixes a request.")
    if any(not 0 <= p < 1 << prefix_bits for p in prefixes):
        raise ParlorError(400, Code.INVALID_PREFIX, f"A prefix is a number of {prefix_bits} bits.")
    return sorted(set(prefixes))


async def match(s: Services, viewer: User, prefix_bits: int, prefixes: list[int]) -> dict[str, Any]:
    """Every findable identifier in the buckets asked for, with its full keyed hash and owner.

    Leaves out the viewer and anyone blocked either way. Remembers (briefly, for every
    node of a cluster) which waitlist entries the viewer saw, for `do_let_in`.
    """
    wanted = check_prefixes(prefix_bits, await _prefix_bits(s), prefixes)
    # The daily budget of prefixes (PARLOR_CONTACT_PREFIX_BUDGET): a refused lookup spends none.
    await limits.check(s, CONTACT_LOOKUP, account=viewer.id, cost=len(wanted))
    shift = 32 - prefix_bits
    async with s.db.engine.connect() as conn:
        found = await store.in_buckets(conn, [(p << shift, (p + 1) << shift) for p in wanted])
        hidden = await social_store.block_set(conn, viewer.id) | {viewer.id}
        found = [c for c in found if c.user_id not in hidden]
        followed = await social_store.followed_among(conn, viewer.id, [c.user_id for c in found if c.user_id])
    buckets: dict[int, list[dict[str, Any]]] = {p: [] for p in wanted}
    seen: dict[str, float] = {}
    for c in sorted(found, key=lambda c: c.hash):
        if c.user_id is not None:
            person = {
                "id": c.user_id,
                "username": c.username,
                "display_name": c.display_name,
                "followed_by_you": c.user_id in followed,
            }
            buckets[c.bucket >> shift].append({"hash": c.hash, "member": person})
        elif c.waitlist_id is not None:
            buckets[c.bucket >> shift].append(
                {"hash": c.hash, "waitlisted": {"id": c.waitlist_id, "display_name": c.display_name}}
            )
            seen[c.waitlist_id] = s.clock() + LET_IN_TTL_S
    if seen:
        await s.cluster.remember(
            {_seen_key(viewer.id, entry_id): repr(until) for entry_id, until in seen.items()}, LET_IN_TTL_S
        )
    return {
        "prefix_bits": prefix_bits,
        "buckets": [{"prefix": p, "candidates": candidates} for p, candidates in buckets.items()],
    }


def _seen_key(user_id: str, entry_id: str) -> str:
    return f"contact-match:{user_id}:{entry_id}"


async def matched_recently(s: Services, user_id: str, entry_id: str) -> bool:
    until = await s.cluster.recall(_seen_key(user_id, entry_id))
    return until is not None and float(until) > s.clock()


def check_entry_id(entry_id: str) -> str:
    if not entry_id or len(entry_id) > 32:
        raise bad_input("entry_id is a waitlist entry's id.")
    return entry_id


async def do_let_in(s: Services, viewer: User, entry_id: str) -> dict[str, Any]:
    """Let in a waitlisted person who was in a bucket the viewer looked up in the last minutes.

    This shows only that the viewer asked for that bucket, not that they hold the
    contact: without an oblivious PRF the server cannot tell. Spends an invite
    (growth.admit_waitlisted checks the mode and the quota).
    """
    check_entry_id(entry_id)
    if not await matched_recently(s, viewer.id, entry_id):
        raise ParlorError(
            403, Code.CONTACT_NOT_MATCHED, "Find this person among your contacts first (matches last 15 minutes)."
        )
    return await growth.admit_waitlisted(s, viewer, entry_id, "contact")
