"""The rest of the moderator's toolkit: withdraw an invitation to speak, mute everyone on
stage, lower all hands, invite a member into a closed room (told in the inbox and over
the socket), open a closed room up, and the room's moderation trail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import Instance, Person, error_code, make_settings
from tests.live import LiveServer, live_server, make_member
from tests.people import MEMBER_PASSWORD

from parlor.actions import rooms as room_actions


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def person(snapshot: dict[str, Any], who: Person) -> dict[str, Any]:
    return next(p for p in snapshot["participants"] if p["user_id"] == who.id)


async def room_with(inst: Instance, kind: str = "open") -> tuple[str, dict[str, Person]]:
    """host (moderator), mod2 (moderator), sam (speaker, unmuted), lis (listener, hand up)."""
    p = {n: await inst.member(n) for n in ("host", "mod2", "sam", "lis")}
    rid = (await ok(await p["host"].post("/api/rooms", json={"title": "Toolkit"}), 201))["id"]
    for n in ("mod2", "sam", "lis"):
        await ok(await p[n].post(f"/api/rooms/{rid}/join"))
    for n in ("mod2", "sam"):
        await ok(await p["host"].post(f"/api/rooms/{rid}/speak-invites", json={"user_id": p[n].id}))
        await ok(await p[n].post(f"/api/rooms/{rid}/speak-invite/accept"))
    for n in ("host", "mod2", "sam"):
        await ok(await p[n].post(f"/api/rooms/{rid}/mute", json={"muted": False}))
    await ok(await p["host"].post(f"/api/rooms/{rid}/moderators", json={"user_id": p["mod2"].id}))
    await ok(await p["lis"].post(f"/api/rooms/{rid}/hand", json={"raised": True}))
    if kind != "open":
        await ok(await p["host"].http.patch(f"/api/rooms/{rid}", json={"kind": kind}))
    return rid, p


async def trail(who: Person, rid: str, **params: Any) -> dict[str, Any]:
    return await ok(await who.http.get(f"/api/rooms/{rid}/audit", params=params))


# -- the actions ---------------------------------------------------------------------------------


async def test_withdrawing_an_invitation_to_speak(instance: Instance) -> None:
    rid, p = await room_with(instance)
    host, lis = p["host"], p["lis"]
    await ok(await host.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": lis.id}))
    snap = await ok(await host.http.delete(f"/api/rooms/{rid}/speak-invites/{lis.id}"))
    assert person(snap, lis)["speak_invite"] is False and person(snap, lis)["role"] == "listener"
    # too late to accept; withdrawing again, or someone never invited, is a clear 409
    r = await lis.post(f"/api/rooms/{rid}/speak-invite/accept")
    assert r.status_code == 403 and error_code(r) == "no_speak_invite"
    for target in (lis.id, p["sam"].id):
        r = await host.http.delete(f"/api/rooms/{rid}/speak-invites/{target}")
        assert r.status_code == 409 and error_code(r) == "no_speak_invite"
    r = await host.http.delete(f"/api/rooms/{rid}/speak-invites/u_nobody")
    assert r.status_code == 404 and error_code(r) == "target_not_in_room"
    # the listener's hand stays up: withdrawing says "not now", not "put your hand down"
    assert person(snap, lis)["hand_raised"] is True


async def test_mute_all_quiets_the_speakers_not_the_moderators_and_they_may_unmute(instance: Instance) -> None:
    rid, p = await room_with(instance)
    room = instance.services.live.get(rid)
    assert room.audible_speakers == {p["host"].id, p["mod2"].id, p["sam"].id}
    snap = await ok(await p["host"].post(f"/api/rooms/{rid}/mute-all"))
    assert person(snap, p["sam"])["self_muted"] and not person(snap, p["sam"])["mute_locked"]
    assert not person(snap, p["host"])["self_muted"] and not person(snap, p["mod2"])["self_muted"]
    # what the media plane forwards follows at once
    assert instance.services.live.get(rid).audible_speakers == {p["host"].id, p["mod2"].id}
    # all muted already: nothing changes, nothing is audited
    version = snap["version"]
    again = await ok(await p["host"].post(f"/api/rooms/{rid}/mute-all"))
    assert again["version"] == version
    snap = await ok(await p["sam"].post(f"/api/rooms/{rid}/mute", json={"muted": False}))
    assert not person(snap, p["sam"])["self_muted"]
    assert [e["action"] for e in (await trail(p["host"], rid))["entries"]].count("mute.all") == 1


async def test_lower_all_hands(instance: Instance) -> None:
    rid, p = await room_with(instance)
    extra = await instance.member("extra")
    await ok(await extra.post(f"/api/rooms/{rid}/join"))
    await ok(await extra.post(f"/api/rooms/{rid}/hand", json={"raised": True}))
    snap = await ok(await p["mod2"].post(f"/api/rooms/{rid}/lower-hands"))
    assert not any(x["hand_raised"] for x in snap["participants"])
    # raising again works: lowering is not switching hands off
    snap = await ok(await extra.post(f"/api/rooms/{rid}/hand", json={"raised": True}))
    assert person(snap, extra)["hand_raised"] and snap["hand_raise"] == "everyone"


async def test_opening_a_closed_room_up_lets_anyone_in_and_is_in_the_trail(instance: Instance) -> None:
    rid, p = await room_with(instance, kind="closed")
    stranger = await instance.member("stranger")
    r = await stranger.post(f"/api/rooms/{rid}/join")
    assert r.status_code == 403 and error_code(r) == "room_closed"
    assert rid not in [x["id"] for x in (await ok(await stranger.http.get("/api/rooms")))["rooms"]]
    await ok(await p["host"].http.patch(f"/api/rooms/{rid}", json={"kind": "open"}))
    assert rid in [x["id"] for x in (await ok(await stranger.http.get("/api/rooms")))["rooms"]]
    await ok(await stranger.post(f"/api/rooms/{rid}/join"))
    actions = [e["action"] for e in (await trail(p["host"], rid))["entries"]]
    assert actions[:2] == ["room.kind.open", "room.kind.closed"]


# -- the moderation trail --------------------------------------------------------------------------


async def test_the_trail_says_who_did_what_to_whom_newest_first_and_pages(instance: Instance) -> None:
    rid, p = await room_with(instance)
    host, mod2, sam, lis = p["host"], p["mod2"], p["sam"], p["lis"]
    await ok(await mod2.post(f"/api/rooms/{rid}/mute-speaker", json={"user_id": sam.id, "lock": True}))
    await ok(await host.http.patch(f"/api/rooms/{rid}", json={"title": "Renamed", "hand_raise": "off"}))
    await ok(await host.post(f"/api/rooms/{rid}/remove", json={"user_id": lis.id, "block": True}))
    await ok(await sam.post(f"/api/rooms/{rid}/audience", json={"user_id": sam.id}))  # steps down: not moderation
    page = await trail(mod2, rid)
    names = [
        (e["action"], e["by"]["username"] if e["by"] else None, e["target"]["username"] if e["target"] else None)
        for e in page["entries"]
    ]
    assert names == [
        ("remove.block", "host", "lis"),
        ("room.hands.off", "host", None),  # one entry per setting changed
        ("room.title", "host", None),
        ("mute.speaker", "mod2", "sam"),
        ("moderator.make", "host", "mod2"),
        ("speak.invite", "host", "sam"),
        ("speak.invite", "host", "mod2"),
        ("room.create", "host", None),
    ]
    first = page["entries"][0]
    assert first["by"] == {"id": host.id, "username": "host", "display_name": "Host"} and first["by_admin"] is False
    assert isinstance(first["at"], float) and page["next_before"] is None
    # listeners' own joins, hands, mutes and stepping down are not moderation
    assert not {e["action"] for e in page["entries"]} & {"room.join", "hand.raise", "mute", "unmute", "stage.leave"}
    # paged: three at a time, the pages add up to the whole, newest first
    seen: list[int] = []
    before = None
    while True:
        part = await trail(host, rid, limit=3, **({"before": before} if before else {}))
        seen += [e["id"] for e in part["entries"]]
        before = part["next_before"]
        if before is None:
            break
        assert len(part["entries"]) == 3
    assert seen == [e["id"] for e in page["entries"]] and seen == sorted(seen, reverse=True)


async def test_only_moderators_read_the_trail(instance: Instance) -> None:
    rid, p = await room_with(instance)
    stranger = await instance.member("stranger")
    for who, status, code in ((p["sam"], 403, "not_moderator"), (p["lis"], 403, "not_moderator"),
                              (stranger, 403, "not_in_room")):
        r = await who.http.get(f"/api/rooms/{rid}/audit")
        assert (r.status_code, error_code(r)) == (status, code)
    r = await instance.client().get(f"/api/rooms/{rid}/audit")
    assert r.status_code == 401
    for params in ({"limit": 0}, {"limit": 101}, {"before": 0}, {"limit": "x"}):
        r = await p["host"].http.get(f"/api/rooms/{rid}/audit", params=params)
        assert r.status_code == 400 and error_code(r) == "invalid_input", params
    r = await p["host"].http.get("/api/rooms/r_nothing/audit")
    assert r.status_code == 404 and error_code(r) == "room_not_found"
    await ok(await p["host"].post(f"/api/rooms/{rid}/end"))
    r = await p["host"].http.get(f"/api/rooms/{rid}/audit")
    assert r.status_code == 410 and error_code(r) == "room_ended"


async def test_an_admin_in_the_trail_is_an_admin_not_a_name(instance: Instance) -> None:
    rid, p = await room_with(instance)
    admin = await instance.admin()
    await room_actions.do_remove_sanctioned(instance.services, admin.id, rid, p["lis"].id)
    entry = (await trail(p["host"], rid))["entries"][0]
    assert entry["action"] == "room.sanction" and entry["by"] is None and entry["by_admin"] is True
    assert entry["target"]["username"] == "lis"
    # a deleted account's entries stay, nameless
    r = await p["sam"].http.request("DELETE", "/api/me", json={"password": MEMBER_PASSWORD})
    assert r.status_code == 204, r.text
    entries = (await trail(p["host"], rid))["entries"]
    assert any(e["action"] == "speak.invite" and e["target"] is None for e in entries)


# -- an invitation reaches the invited at once ---------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path) -> Any:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


async def events_within(ws: Any, seconds: float) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if msg.get("type") == "event":
            got.append((msg["name"], msg["data"]))
    return got


async def test_the_invited_member_is_told_over_the_socket_and_in_the_inbox(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as host_http, httpx.AsyncClient(base_url=server.url) as ann_http:
        host_id, _ = await make_member(server, host_http, "host")
        ann_id, ann_token = await make_member(server, ann_http, "ann")
        rid = (await ok(await host_http.post("/api/rooms", json={"title": "Book club", "kind": "closed"}), 201))["id"]
        ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {ann_token}"})
        try:
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ok(await host_http.post(f"/api/rooms/{rid}/invites", json={"username": "ann"}))
            got = await events_within(ws, 1.5)
        finally:
            await ws.close()
        notes = [d for name, d in got if name == "notification"]
        assert len(notes) == 1 and notes[0]["kind"] == "room_invite"
        assert notes[0]["actor"]["id"] == host_id
        assert notes[0]["room"] == {"id": rid, "title": "Book club", "live": True}
        assert "hallway.changed" in [name for name, _ in got]  # the room now shows in ann's hallway
        inbox = (await ok(await ann_http.get("/api/notifications")))["notifications"]
        assert [(n["kind"], n["room"]["id"]) for n in inbox] == [("room_invite", rid)]
        assert rid in [r["id"] for r in (await ok(await ann_http.get("/api/rooms")))["rooms"]]
        await ok(await ann_http.post(f"/api/rooms/{rid}/join"))
        assert ann_id in instance_participants(server, rid)


def instance_participants(server: LiveServer, rid: str) -> set[str]:
    room = server.app.state.services.live.get(rid)
    return set(room.participants) if room else set()


async def test_the_chat_moderation_is_in_the_trail_never_its_text(instance: Instance) -> None:
    rid, p = await room_with(instance)
    host, lis = p["host"], p["lis"]
    await ok(await lis.post(f"/api/rooms/{rid}/chat", json={"text": "a line nobody keeps"}), 201)
    await ok(await host.http.patch(f"/api/rooms/{rid}/chat", json={"mode": "speakers"}))
    await ok(await host.post(f"/api/rooms/{rid}/chat/timeouts", json={"user_id": lis.id, "seconds": 60}))
    page = await trail(host, rid)
    top = [(e["action"], e["target"]["username"] if e["target"] else None) for e in page["entries"][:2]]
    assert top == [("chat.timeout", "lis"), ("chat.settings", None)]
    assert "a line nobody keeps" not in json.dumps(page)


async def test_a_guest_in_the_trail_is_a_guest_not_a_name_nor_null(instance: Instance) -> None:
    rid, p = await room_with(instance)
    host = p["host"]
    admin = await instance.admin()
    await ok(await admin.http.patch("/api/admin/settings", json={"guest_rooms": True}))
    await ok(await host.post(f"/api/rooms/{rid}/guests", json={"allowed": True}))
    gus = instance.client()
    entered = await ok(await gus.post(f"/api/guest/rooms/{rid}/enter", json={"display_name": "Gus Guestly"}))
    gid = entered["guest"]["id"]
    await ok(await host.post(f"/api/rooms/{rid}/speak-invites", json={"user_id": gid}))
    await ok(await host.post(f"/api/rooms/{rid}/chat/timeouts", json={"user_id": gid, "seconds": 60}))
    await ok(await host.post(f"/api/rooms/{rid}/remove", json={"user_id": gid, "block": False}))
    page = await trail(host, rid)
    a_guest = {"id": None, "username": "", "display_name": "a guest", "guest": True}
    top = [(e["action"], e["by"]["username"], e["target"]) for e in page["entries"][:3]]
    assert top == [("remove", "host", a_guest), ("chat.timeout", "host", a_guest), ("speak.invite", "host", a_guest)]
    assert "guest" not in page["entries"][0]["by"]
    assert "Gus Guestly" not in json.dumps(page) and gid not in json.dumps(page)
