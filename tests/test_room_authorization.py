"""Every room action × every role (and a non-member), table-driven.

Refused actions answer 403 with a stable code and leave the room exactly as it was;
allowed ones succeed. A fresh room is set up for each case.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from tests.conftest import Instance, Person, error_code, make_settings

from parlor.app import build_app

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES = ("moderator", "speaker", "listener", "outsider")


@dataclass
class Cast:
    inst: Instance
    people: dict[str, Person]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cast(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cast]:
    # A fresh room for each case (68), made by one moderator and joined by the same people:
    # far more than the rate limits let one person do in an hour.
    settings = make_settings(tmp_path_factory.mktemp("authz"), limits="room_create=500/3600,room_join=500/600")
    seen: dict[str, str | None] = {}
    app = build_app(settings, on_ready=lambda _s, token: seen.update(token=token))
    async with app.router.lifespan_context(app):
        inst = Instance(app, settings, seen["token"])
        names = ("moderator", "speaker", "listener", "outsider", "t_mod", "t_speaker", "t_listener")
        people = {name: await inst.member(name.replace("_", "")) for name in names}
        yield Cast(inst, people)
        await inst.close()


async def fresh_room(cast: Cast) -> str:
    p = cast.people
    r = await p["moderator"].post("/api/rooms", json={"title": "Authz"})
    room_id = str(r.json()["id"])
    for name in ("speaker", "listener", "t_mod", "t_speaker", "t_listener"):
        assert (await p[name].post(f"/api/rooms/{room_id}/join")).status_code == 200
    for name in ("speaker", "t_mod", "t_speaker"):
        await p["moderator"].post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": p[name].id})
        assert (await p[name].post(f"/api/rooms/{room_id}/speak-invite/accept")).status_code == 200
        await p[name].post(f"/api/rooms/{room_id}/mute", json={"muted": False})
    await p["moderator"].post(f"/api/rooms/{room_id}/moderators", json={"user_id": p["t_mod"].id})
    return room_id


# action name -> (method, path template, body template, roles allowed)
ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None, set[str]]] = {
    "raise hand": ("POST", "/hand", {"raised": True}, {"listener"}),
    "lower hand": ("POST", "/hand", {"raised": False}, {"listener"}),
    "invite to speak": ("POST", "/speak-invites", {"user_id": "{t_listener}"}, {"moderator"}),
    "accept speak invite": ("POST", "/speak-invite/accept", None, set()),
    "decline speak invite": ("POST", "/speak-invite/decline", None, set()),
    "move to audience": ("POST", "/audience", {"user_id": "{t_speaker}"}, {"moderator"}),
    "self mute": ("POST", "/mute", {"muted": True}, {"moderator", "speaker"}),
    "mute speaker": ("POST", "/mute-speaker", {"user_id": "{t_speaker}", "lock": True}, {"moderator"}),
    "unlock mute": ("POST", "/unlock-mute", {"user_id": "{t_speaker}"}, {"moderator"}),
    "make moderator": ("POST", "/moderators", {"user_id": "{t_speaker}"}, {"moderator"}),
    "revoke moderator": ("DELETE", "/moderators/{t_mod}", None, {"moderator"}),
    "remove": ("POST", "/remove", {"user_id": "{t_listener}", "block": False}, {"moderator"}),
    # A block outlives the room (the moderator's later rooms refuse them too), so
    # each case blocks a newcomer of its own.
    "remove and block": ("POST", "/remove", {"user_id": "{victim}", "block": True}, {"moderator"}),
    "change settings": ("PATCH", "", {"title": "New title", "hand_raise": "off"}, {"moderator"}),
    "change kind": ("PATCH", "", {"kind": "closed"}, {"moderator"}),
    "end room": ("POST", "/end", None, {"moderator"}),
    "leave": ("POST", "/leave", None, {"moderator", "speaker", "listener"}),
}


def fill(template: Any, cast: Cast) -> Any:
    ids = {name: person.id for name, person in cast.people.items()}
    if isinstance(template, str):
        return template.format_map(defaultdict(str, ids))
    if isinstance(template, dict):
        return {k: fill(v, cast) for k, v in template.items()}
    return template


_victims = iter(range(1000))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
async def test_room_action_authorization(cast: Cast, action: str, role: str) -> None:
    method, path, body, allowed = ACTIONS[action]
    room_id = await fresh_room(cast)
    if "{victim}" in str(body):
        victim = await cast.inst.member(f"victim{next(_victims)}")
        assert (await victim.post(f"/api/rooms/{room_id}/join")).status_code == 200
        cast.people["victim"] = victim
    actor = cast.people[role]
    observer = cast.people["moderator"]
    before = (await observer.http.get(f"/api/rooms/{room_id}")).json()
    r = await actor.http.request(method, f"/api/rooms/{room_id}{fill(path, cast)}", json=fill(body, cast))
    if role in allowed:
        assert r.status_code == 200, (action, role, r.text)
        return
    assert r.status_code == 403, (action, role, r.text)
    error_code(r)
    after = (await observer.http.get(f"/api/rooms/{room_id}")).json()
    assert after == before


@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_only_the_invited_listener_answers_an_invitation(cast: Cast, answer: str) -> None:
    room_id = await fresh_room(cast)
    p = cast.people
    await p["moderator"].post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": p["listener"].id})
    other = await p["t_listener"].post(f"/api/rooms/{room_id}/speak-invite/{answer}")
    assert other.status_code == 403 and error_code(other) == "no_speak_invite"
    mine = await p["listener"].post(f"/api/rooms/{room_id}/speak-invite/{answer}")
    assert mine.status_code == 200
    me = next(x for x in mine.json()["participants"] if x["user_id"] == p["listener"].id)
    assert me["role"] == ("speaker" if answer == "accept" else "listener")


async def test_anonymous_gets_401_for_every_room_action(cast: Cast) -> None:
    room_id = await fresh_room(cast)
    anon = cast.inst.client()
    for method, path, body, _ in ACTIONS.values():
        r = await anon.request(method, f"/api/rooms/{room_id}{fill(path, cast)}", json=fill(body, cast))
        assert r.status_code == 401 and error_code(r) == "not_authenticated"
