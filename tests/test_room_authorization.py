"""Every room action × role × room kind × block state, table-driven.

For each case a fresh room is set up (the cast below), then one person does one action
over HTTP while every event the node publishes is captured off the bus.

- A refused action answers its stable code and changes nothing: the same snapshot,
  no audit entry, no event.
- An allowed one answers 2xx, changes exactly what the table says (a diff of the
  snapshots) and publishes exactly the events the table says: to the room, to whose
  own channel (`room.you`, `notification`), to the hallway.

Roles: the moderator who made the room, a speaker, a listener, a member outside the
room, and a guest (someone with no account who came in by the room's link, "anyone with
the link" on; it acts by its cookie). The guest is set up for what the action asks of
it: a listener, invited to speak for the answers to an invitation, on stage for a
self mute. Kinds: the room is open, social or closed (it was opened, filled, then set to
that kind: whoever is in it stays invited). Block states: "none", or "blocked": the
room's creator has blocked the actor (a user block, made after they came in; for the
creator's own row, the creator has blocked the member they invite, which is the one
action that reads it). A block keeps people out of the blocker's rooms; it does not
take away what a participant already is. A guest has no account to block: its "blocked"
is the only block it can have, removed and blocked from the room, after which its
cookie names nobody (401 for everything).

Chat and reactions are actions too; the snapshot holds the room's chat (lines by
author, settings, timeouts), so a refused chat action is seen to change nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from tests.conftest import Instance, Person, error_code, make_settings

from parlor.actions import chat as chat_actions
from parlor.actions import guests as guest_actions
from parlor.actions import rooms as actions
from parlor.app import build_app
from parlor.bus.base import HALLWAY, room_channel, user_channel
from parlor.domain.rooms import RoomKind
from parlor.domain.users import User
from parlor.storage.tables import audit_log

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES = ("moderator", "speaker", "listener", "outsider", "guest")
KINDS = ("open", "social", "closed")
BLOCKS = ("none", "blocked")
# The targets of actions, each set up in a fresh room:
#   t_mod a second moderator, t_speaker an unmuted speaker, t_locked a speaker muted with
#   a lock, t_listener a listener with a raised hand, t_invited a listener invited to
#   speak, newcomer a member outside the room, victim a listener who joins only for
#   "remove and block" (a block outlives the room, so each such case has its own).
CAST = (
    *("moderator", "speaker", "listener", "outsider"),
    *("t_mod", "t_speaker", "t_locked", "t_listener", "t_invited", "newcomer"),
)


@dataclass
class Cast:
    inst: Instance
    people: dict[str, Person]
    users: dict[str, User] = field(default_factory=dict)
    # ids the actions' paths name that are not people: "line", a chat line by t_speaker
    ids: dict[str, str] = field(default_factory=dict)

    def name_of(self, user_id: str) -> str:
        return next(name for name, p in self.people.items() if p.id == user_id)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cast(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cast]:
    # A fresh room for each of some 600 cases, made by one moderator, joined by the same
    # people and inviting the same newcomer: far past the default limits.
    limits = (
        "room_create=5000/3600,room_join=50000/600,room_invite=5000/3600,signup=500/3600,invites=500/3600,"
        "guest_join=5000/600,chat=5000/60,reactions=5000/15"
    )
    settings = make_settings(tmp_path_factory.mktemp("authz"), limits=limits, guest_rooms=True)
    seen: dict[str, str | None] = {}
    app = build_app(settings, on_ready=lambda _s, token: seen.update(token=token))
    async with app.router.lifespan_context(app):
        inst = Instance(app, settings, seen["token"])
        people = {name: await inst.member(name.replace("_", "")) for name in CAST}
        users = {
            name: User(p.id, p.user["username"], p.user["display_name"], False, 0.0) for name, p in people.items()
        }
        yield Cast(inst, people, users)
        await inst.close()


_victims = iter(range(10_000))


async def fresh_room(cast: Cast, kind: str, *, victim: bool = False, line: bool = False, guest: str = "") -> str:
    """The cast in a new room (see CAST), set up through the actions layer (fast).

    `line`: t_speaker has written a chat line (cast.ids["line"]). `guest`: a guest came
    in by the link ("listener", "invited" to speak, "speaker", or "blocked": then
    removed and blocked), as cast.people["guest"] with its own cookie."""
    s, u = cast.inst.services, cast.users
    room = await actions.do_create_room(s, u["moderator"], "Authz")
    rid = room.id
    if victim:
        person = await cast.inst.member(f"victim{next(_victims)}")
        cast.people["victim"] = person
        u["victim"] = User(person.id, person.user["username"], person.user["display_name"], False, 0.0)
    others = ("speaker", "listener", "t_mod", "t_speaker", "t_locked", "t_listener", "t_invited")
    for name in others + (("victim",) if victim else ()):
        await actions.do_join(s, u[name], rid)
    for name in ("speaker", "t_mod", "t_speaker", "t_locked"):
        await actions.do_invite_to_speak(s, u["moderator"], rid, u[name].id)
        await actions.do_answer_speak_invite(s, u[name], rid, accept=True)
    for name in ("moderator", "speaker", "t_mod", "t_speaker"):
        await actions.do_set_muted(s, u[name], rid, False)
    await actions.do_mute_speaker(s, u["moderator"], rid, u["t_locked"].id, lock=True)
    await actions.do_make_moderator(s, u["moderator"], rid, u["t_mod"].id)
    await actions.do_set_hand(s, u["t_listener"], rid, True)
    await actions.do_invite_to_speak(s, u["moderator"], rid, u["t_invited"].id)
    if line:
        cast.ids["line"] = (await chat_actions.do_send(s, u["t_speaker"], rid, "a line"))["id"]
    if guest:
        await enter_guest(cast, rid, guest)
    if kind != "open":
        await actions.do_update_settings(s, u["moderator"], rid, None, None, RoomKind(kind))
    return rid


async def enter_guest(cast: Cast, rid: str, state: str) -> None:
    s, mod = cast.inst.services, cast.users["moderator"]
    await guest_actions.do_set_guests_allowed(s, mod, rid, True)
    g, token, _ = await guest_actions.do_enter_member_room(s, rid, "Gus", address=None)
    http = cast.inst.client()
    http.headers["cookie"] = f"parlor_guest={token}"
    cast.people["guest"] = Person(http, {"id": g.id, "username": "", "display_name": "Gus"})
    if state in ("invited", "speaker"):
        await actions.do_invite_to_speak(s, mod, rid, g.id)
    if state == "speaker":
        await actions.do_answer_speak_invite(s, g.as_user(), rid, accept=True)
        await actions.do_set_muted(s, g.as_user(), rid, False)
    if state == "blocked":
        await actions.do_remove(s, mod, rid, g.id, True)


# -- the table -------------------------------------------------------------------------------

Change = tuple[str, str, Any]  # (cast name or "room", field, new value); field "present": in the room
Event = tuple[str, str]  # (channel: "room" | "hallway" | a cast name, event name)


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # after /api/rooms/{id}; "{name}" is that cast member's id
    body: dict[str, Any] | None
    allowed: frozenset[str]
    # what an allowed action changes and publishes, given (actor, kind)
    changes: Callable[[str, str], set[Change]]
    events: Callable[[str, str], list[Event]]
    # the refusal for a role that may not (default: outsider not_in_room, others not_moderator)
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)
    status: int = 200
    # audited when allowed (None: when it changes something)
    audited: bool | None = None
    # what the guest row is, in the room (see fresh_room)
    guest: str = "listener"
    # for members only: a guest's cookie names nobody here
    members_only: bool = False


def stage(you: tuple[str, ...] = (), *, hallway: bool = False) -> Callable[[str, str], list[Event]]:
    """A room.state, room.you to each of `you` ("actor": whoever acted), maybe hallway.changed."""

    def events(actor: str, kind: str) -> list[Event]:
        out = [("room", "room.state")] + [(actor if w == "actor" else w, "room.you") for w in you]
        return out + ([("hallway", "hallway.changed")] if hallway else [])

    return events


def fixed(*changes: Change) -> Callable[[str, str], set[Change]]:
    def mine(x: Any, actor: str) -> Any:
        return actor if x == "actor" else x

    return lambda actor, kind: {(mine(who, actor), f, mine(v, actor)) for who, f, v in changes}


def nothing(actor: str, kind: str) -> list[Event]:
    return []


def no_changes(actor: str, kind: str) -> set[Change]:
    return set()


NOT_LISTENER = (403, "not_listener")
NO_INVITE = (403, "no_speak_invite")
IN_ROOM = {"moderator", "speaker", "listener"}
WITH_GUEST = frozenset(IN_ROOM | {"guest"})
MOD = frozenset({"moderator"})
IN_ROOM_BLOCKED_OUT = "room_not_found"  # a blocked outsider: to them the room is not there
EVERYONE_IN_ROOM = ("moderator", "speaker", "listener", "t_mod", "t_speaker", "t_locked", "t_listener", "t_invited")


def kind_change(to: str) -> tuple[Callable[[str, str], set[Change]], Callable[[str, str], list[Event]]]:
    """PATCH kind=`to`: a change (and an announcement) only when the room is not that kind."""
    return (
        lambda actor, kind: set() if kind == to else {("room", "kind", to)},
        lambda actor, kind: [] if kind == to else [("room", "room.state"), ("hallway", "hallway.changed")],
    )


def join_refusal(kind: str, block: str) -> tuple[int, str] | None:
    if block == "blocked":
        return (404, IN_ROOM_BLOCKED_OUT)
    return {"open": None, "social": (403, "not_followed_by_moderator"), "closed": (403, "room_closed")}[kind]


ACTIONS: dict[str, Action] = {
    "raise hand": Action(
        "POST", "/hand", {"raised": True}, frozenset({"listener", "guest"}),
        fixed(("actor", "hand_raised", True)), stage(("actor",)),
        {"moderator": NOT_LISTENER, "speaker": NOT_LISTENER},
    ),
    # the listener's hand is down already: allowed, and nothing happens
    "lower hand": Action(
        "POST", "/hand", {"raised": False}, frozenset({"listener", "guest"}), no_changes, nothing,
        {"moderator": NOT_LISTENER, "speaker": NOT_LISTENER},
    ),
    "invite to speak": Action(
        "POST", "/speak-invites", {"user_id": "{t_listener}"}, MOD,
        fixed(("t_listener", "speak_invite", True)), stage(("t_listener",)),
    ),
    "withdraw speak invite": Action(
        "DELETE", "/speak-invites/{t_invited}", None, MOD,
        fixed(("t_invited", "speak_invite", False)), stage(("t_invited",)),
    ),
    # only the guest row holds an invitation (the members' answers: test_only_the_invited_...)
    "accept speak invite": Action(
        "POST", "/speak-invite/accept", None, frozenset({"guest"}),
        # on stage muted, like every newcomer to it
        fixed(("actor", "role", "speaker"), ("actor", "speak_invite", False), ("actor", "self_muted", True)),
        stage(("actor",), hallway=True),
        {"moderator": NO_INVITE, "speaker": NO_INVITE, "listener": NO_INVITE}, guest="invited",
    ),
    "decline speak invite": Action(
        "POST", "/speak-invite/decline", None, frozenset({"guest"}),
        fixed(("actor", "speak_invite", False)), stage(("actor",)),
        {"moderator": NO_INVITE, "speaker": NO_INVITE, "listener": NO_INVITE}, guest="invited",
    ),
    "move to audience": Action(
        "POST", "/audience", {"user_id": "{t_speaker}"}, MOD,
        fixed(("t_speaker", "role", "listener")), stage(("t_speaker",), hallway=True),
    ),
    "self mute": Action(
        "POST", "/mute", {"muted": True}, frozenset({"moderator", "speaker", "guest"}),
        fixed(("actor", "self_muted", True)), stage(("actor",)),
        {"listener": (403, "not_speaker")}, guest="speaker",
    ),
    "mute speaker": Action(
        "POST", "/mute-speaker", {"user_id": "{t_speaker}", "lock": True}, MOD,
        fixed(("t_speaker", "self_muted", True), ("t_speaker", "mute_locked", True)), stage(("t_speaker",)),
    ),
    # speakers only: the moderators (moderator, t_mod) keep their microphones
    "mute all": Action(
        "POST", "/mute-all", None, MOD,
        fixed(("speaker", "self_muted", True), ("t_speaker", "self_muted", True)), stage(("speaker", "t_speaker")),
    ),
    "lower all hands": Action(
        "POST", "/lower-hands", None, MOD,
        fixed(("t_listener", "hand_raised", False)), stage(("t_listener",)),
    ),
    "unlock mute": Action(
        "POST", "/unlock-mute", {"user_id": "{t_locked}"}, MOD,
        fixed(("t_locked", "mute_locked", False)), stage(("t_locked",)),
    ),
    "make moderator": Action(
        "POST", "/moderators", {"user_id": "{t_speaker}"}, MOD,
        fixed(("t_speaker", "role", "moderator")), stage(("t_speaker",), hallway=True),
    ),
    "revoke moderator": Action(
        "DELETE", "/moderators/{t_mod}", None, MOD,
        fixed(("t_mod", "role", "speaker")), stage(("t_mod",), hallway=True),
    ),
    "remove": Action(
        "POST", "/remove", {"user_id": "{t_listener}", "block": False}, MOD,
        fixed(("t_listener", "present", False)), stage(("t_listener",), hallway=True),
    ),
    "remove and block": Action(
        "POST", "/remove", {"user_id": "{victim}", "block": True}, MOD,
        fixed(("victim", "present", False)), stage(("victim",), hallway=True),
    ),
    # hands off lowers t_listener's hand
    "change settings": Action(
        "PATCH", "", {"title": "New title", "hand_raise": "off"}, MOD,
        fixed(("room", "title", "New title"), ("room", "hand_raise", "off"), ("t_listener", "hand_raised", False)),
        stage(("t_listener",), hallway=True),
    ),
    "close the room": Action("PATCH", "", {"kind": "closed"}, MOD, *kind_change("closed")),
    "open the room up": Action("PATCH", "", {"kind": "open"}, MOD, *kind_change("open")),
    "invite a member": Action(
        "POST", "/invites", {"username": "newcomer"}, MOD, no_changes,
        lambda actor, kind: [("room", "room.state"), ("hallway", "hallway.changed"), ("newcomer", "notification")],
        audited=True, members_only=True,
    ),
    "join": Action(
        "POST", "/join", None, frozenset({"outsider"}),
        fixed(("actor", "present", True)), stage(("actor",), hallway=True),
        {r: (409, "already_in_room") for r in IN_ROOM}, members_only=True,
    ),
    "view": Action("GET", "", None, frozenset(ROLES), no_changes, nothing),
    # a guest never moderates a members' room (and a guest room's trail is not kept)
    "read the audit trail": Action("GET", "/audit", None, MOD, no_changes, nothing, members_only=True),
    "end room": Action(
        "POST", "/end", None, MOD, fixed(("room", "ended", True)),
        lambda actor, kind: [("room", "room.ended"), ("hallway", "hallway.changed")]
        + [(name, "room.you") for name in EVERYONE_IN_ROOM],
    ),
    "leave": Action(
        "POST", "/leave", None, WITH_GUEST,
        fixed(("actor", "present", False)), stage(("actor",), hallway=True),
    ),
    # chat and reactions (never audited: nothing of a line is stored)
    "read the chat": Action(
        "GET", "/chat", None, WITH_GUEST, no_changes, nothing,
    ),
    "write in the chat": Action(
        "POST", "/chat", {"text": "hello"}, WITH_GUEST,
        fixed(("chat", "line", "actor")), lambda actor, kind: [("room", "chat.message")], status=201, audited=False,
    ),
    "react": Action(
        "POST", "/reactions", {"emoji": "👏"}, WITH_GUEST,
        no_changes, lambda actor, kind: [("room", "reactions")], status=202, audited=False,
    ),
    # the moderator's chat tools (audited: who, what, whom; never the text)
    "chat settings": Action(
        "PATCH", "/chat", {"mode": "speakers", "slow_mode_s": 10}, MOD,
        fixed(("chat", "mode", "speakers"), ("chat", "slow_mode_s", 10)),
        lambda actor, kind: [("room", "chat.settings")],
    ),
    "delete a chat line": Action(
        "DELETE", "/chat/{line}", None, MOD,
        fixed(("chat", "line_deleted", "t_speaker")), lambda actor, kind: [("room", "chat.deleted")], status=204,
    ),
    "time out of the chat": Action(
        "POST", "/chat/timeouts", {"user_id": "{t_listener}", "seconds": 60}, MOD,
        fixed(("chat", "timed_out", "t_listener")), lambda actor, kind: [("t_listener", "chat.you")],
    ),
}


def expected_refusal(name: str, action: Action, role: str, kind: str, block: str) -> tuple[int, str] | None:
    """None when `role` may do it here; else the status and code it must answer."""
    if role == "guest" and (block == "blocked" or action.members_only):
        return (401, "not_authenticated")
    if name in ("join", "view") and role == "outsider":
        return join_refusal(kind, block)
    if name == "invite a member" and role == "moderator":
        if block == "blocked":
            return (403, "user_blocked")  # the moderator blocked the newcomer
        if kind == "open":
            return (409, "room_is_open")
    if role in action.allowed:
        return None
    if role in action.refusals:
        return action.refusals[role]
    return (403, "not_in_room") if role == "outsider" else (403, "not_moderator")


def fill(template: Any, cast: Cast) -> Any:
    ids = {name: person.id for name, person in cast.people.items()} | cast.ids
    if isinstance(template, str):
        return template.format_map(defaultdict(str, ids))
    if isinstance(template, dict):
        return {k: fill(v, cast) for k, v in template.items()}
    return template


# -- observing -------------------------------------------------------------------------------

FIELDS = ("role", "hand_raised", "self_muted", "mute_locked", "speak_invite")


async def snapshot(cast: Cast, rid: str) -> dict[str, Any]:
    """What the room looks like, by cast name (to the creator, through the actions layer)."""
    room = cast.inst.services.live.get(rid)
    if room is None:
        return {"ended": True}
    view = actions.room_view(cast.inst.services, room)
    chat = cast.inst.services.chat.get(rid)
    return {
        "chat": {
            "mode": chat.mode.value,
            "slow_mode_s": chat.slow_mode_s,
            "lines": {m.id: cast.name_of(m.user_id) for m in chat.history},
            "timed_out": {cast.name_of(u) for u in chat.timeouts},
        },
        "room": {k: view[k] for k in ("title", "kind", "hand_raise", "ended")},
        "people": {cast.name_of(p["user_id"]): {f: p[f] for f in FIELDS} for p in view["participants"]},
        "invited": set(room.invited),
        "blocked": set(room.blocked),
    }


def diff(before: dict[str, Any], after: dict[str, Any]) -> set[Change]:
    if after.get("ended"):
        return {("room", "ended", True)}
    out: set[Change] = {("room", k, v) for k, v in after["room"].items() if before["room"][k] != v}
    was_chat, chat = before["chat"], after["chat"]
    out |= {("chat", k, chat[k]) for k in ("mode", "slow_mode_s") if was_chat[k] != chat[k]}
    out |= {("chat", "line", who) for i, who in chat["lines"].items() if i not in was_chat["lines"]}
    out |= {("chat", "line_deleted", who) for i, who in was_chat["lines"].items() if i not in chat["lines"]}
    out |= {("chat", "timed_out", who) for who in chat["timed_out"] - was_chat["timed_out"]}
    for name in before["people"].keys() | after["people"].keys():
        was, now = before["people"].get(name), after["people"].get(name)
        if (was is None) != (now is None):
            out.add((name, "present", now is not None))
        elif was is not None and now is not None:
            out |= {(name, f, now[f]) for f in FIELDS if was[f] != now[f]}
    return out


async def audit_count(cast: Cast, rid: str) -> int:
    async with cast.inst.services.db.engine.connect() as conn:
        q = sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.room_id == rid)
        return int((await conn.execute(q)).scalar_one())


class Events:
    """Every message published on the room's channel, the hallway and the cast's own channels."""

    def __init__(self, cast: Cast, rid: str) -> None:
        self.seen: list[Event] = []
        bus = cast.inst.services.bus
        channels = {room_channel(rid): "room", HALLWAY: "hallway"}
        channels |= {user_channel(p.id): name for name, p in cast.people.items()}
        self.stops = [
            bus.subscribe(ch, lambda m, label=label: self.seen.append((label, m["name"])))
            for ch, label in channels.items()
        ]

    def close(self) -> list[Event]:
        for stop in self.stops:
            stop()
        return self.seen


# -- the test ----------------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ACTIONS))
async def test_room_action_authorization(cast: Cast, name: str, role: str, kind: str, block: str) -> None:
    action = ACTIONS[name]
    guest = ("blocked" if block == "blocked" else action.guest) if role == "guest" else ""
    victim, line = "{victim}" in str(action.body), "{line}" in action.path
    rid = await fresh_room(cast, kind, victim=victim, line=line, guest=guest)
    actor = cast.people[role]
    blocker, blocked = (cast.people["moderator"], cast.people["newcomer" if role == "moderator" else role])
    if role == "guest":
        block = "none"  # its block is the room's, made in fresh_room
    if block == "blocked":
        r = await blocker.post(f"/api/users/id/{blocked.id}/block")
        assert r.status_code == 200, r.text
    try:
        before, audits = await snapshot(cast, rid), await audit_count(cast, rid)
        events = Events(cast, rid)
        try:
            r = await actor.http.request(
                action.method, f"/api/rooms/{rid}{fill(action.path, cast)}", json=fill(action.body, cast)
            )
            refusal = expected_refusal(name, action, role, kind, guest or block)
            if refusal is None:  # some events go out just after the answer (a reaction's batch)
                await settle(events.seen, action.events(role, kind))
        finally:
            seen = events.close()
        after = await snapshot(cast, rid)
        if refusal is not None:
            assert (r.status_code, error_code(r)) == refusal, (name, role, kind, block, r.text)
            assert after == before, "a refusal changed the room"
            assert await audit_count(cast, rid) == audits, "a refusal was audited"
            assert seen == [], f"a refusal published {seen}"
            return
        assert r.status_code == action.status, (name, role, kind, block, r.text)
        want = action.changes(role, kind)
        assert diff(before, after) == want, (name, role, kind, block)
        assert Counter(seen) == Counter(action.events(role, kind)), (name, role, kind, block, seen)
        if name == "invite a member":
            assert cast.people["newcomer"].id in after["invited"]
        if name == "remove and block":
            assert cast.people["victim"].id in after["blocked"]
        changed = bool(want) if action.audited is None else action.audited
        assert await audit_count(cast, rid) > audits if changed else await audit_count(cast, rid) == audits
    finally:
        if block == "blocked":
            r = await blocker.http.delete(f"/api/users/id/{blocked.id}/block")
            assert r.status_code == 200, r.text
        await end_quietly(cast, rid)


async def settle(seen: list[Event], want: list[Event], timeout: float = 10.0) -> None:
    """Until every wanted event is seen (or the time is up: the assertion tells)."""
    deadline = time.monotonic() + timeout
    while Counter(want) - Counter(seen) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def end_quietly(cast: Cast, rid: str) -> None:
    """Over: no room outlives its case (its absent people would be reaped during another)."""
    if cast.inst.services.live.get(rid) is not None:
        await actions.do_admin_end(cast.inst.services, None, rid)


@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_only_the_invited_listener_answers_an_invitation(cast: Cast, answer: str) -> None:
    rid = await fresh_room(cast, "open")
    p = cast.people
    other = await p["t_listener"].post(f"/api/rooms/{rid}/speak-invite/{answer}")
    assert other.status_code == 403 and error_code(other) == "no_speak_invite"
    mine = await p["t_invited"].post(f"/api/rooms/{rid}/speak-invite/{answer}")
    assert mine.status_code == 200
    me = next(x for x in mine.json()["participants"] if x["user_id"] == p["t_invited"].id)
    assert me["role"] == ("speaker" if answer == "accept" else "listener")


async def test_anonymous_gets_401_for_every_room_action(cast: Cast) -> None:
    rid = await fresh_room(cast, "open")
    anon = cast.inst.client()
    for action in ACTIONS.values():
        path = f"/api/rooms/{rid}{fill(action.path, cast)}"
        r = await anon.request(action.method, path, json=fill(action.body, cast))
        assert r.status_code == 401 and error_code(r) == "not_authenticated"
