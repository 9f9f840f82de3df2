"""`parlor admin …` for the console's actions (parlor/cli_admin.py), run against a running
instance: the same actions as the API, as the operator, with their effect on the live node
(rooms ended, a removed club's room ended, people out), and a ban from the CLI closing an
open socket within the node's next look (once a second)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from tests.conftest import error_code, make_settings, running_instance
from tests.live import live_server, make_member
from tests.people import signup_body
from tests.test_admin_actions import in_process, png

from parlor.cli import main


async def test_the_cli_runs_the_console_actions_on_a_running_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    async with running_instance(data, reconnect_grace_s=600) as inst:
        admin, ann, bob = await inst.admin(), await inst.member("ann"), await inst.member("bob")

        async def cli(*args: str) -> str:
            status, out, err = await in_process(capsys, data, *args)
            assert status == 0, (args, err)
            return out

        # reports: list, resolve (the reporter is told)
        made = await ann.post("/api/reports", json={"target": {"kind": "person", "id": bob.id}, "reason": "spam"})
        assert made.status_code == 201
        out = await cli("reports", "list")
        assert out.startswith(made.json()["id"]) and "person: Bob (@bob)" in out and "by @ann" in out
        listed = json.loads(await cli("reports", "list", "--json"))
        assert [i["id"] for i in listed["items"]] == [made.json()["id"]]
        out = await cli("reports", "resolve", made.json()["id"], "--outcome", "dismissed")
        assert out.startswith(f"report {made.json()['id']} dismissed")
        inbox = (await ann.http.get("/api/notifications")).json()["notifications"]
        assert [n["kind"] for n in inbox] == ["report_handled"]
        assert (await cli("reports", "list")).strip() == "no open reports"

        # people: search, show (with whom they invited)
        code = (await bob.post("/api/invites")).json()["code"]
        assert (await inst.client().post("/api/signup", json=signup_body(code, "cyd"))).status_code == 201
        assert "@bob  Bob" in await cli("people", "search", "bo")
        shown = json.loads(await cli("people", "show", "@bob", "--json"))
        assert [i["used_by"]["username"] for i in shown["invites"]] == ["cyd"]
        assert "used by @cyd" in await cli("people", "show", "bob")

        # sign-up mode, settings
        assert (await cli("signup-mode")).strip() == "sign-up mode: invite_only"
        await cli("signup-mode", "open")
        assert (await inst.client().get("/api/signup-mode")).json() == {"mode": "open"}
        out = await cli("settings", "set", "guest_rooms=true", "invites_per_member=4")
        assert "guest_rooms = true" in out and "invites_per_member = 4" in out
        assert (await admin.http.get("/api/admin/settings")).json()["invites_per_member"] == 4
        assert json.loads(await cli("settings", "show", "--json"))["guest_rooms"] is True

        # waitlist: list, let in, delete
        await cli("signup-mode", "invite_only")
        anon = inst.client()
        ids = []
        for name in ("wai", "squ"):
            r = await anon.post("/api/waitlist", json={"username": name, "display_name": name.title()})
            assert r.status_code == 201, r.text
            ids.append(r.json()["entry"]["id"])
        out = await cli("waitlist", "list")
        assert "@wai  Wai  waiting" in out and "@squ" in out
        assert "admitted by the operator" in await cli("waitlist", "let-in", ids[0])
        assert (await cli("waitlist", "delete", ids[1])).strip() == f"deleted waitlist entry {ids[1]}"
        entries = (await admin.http.get("/api/admin/waitlist")).json()["entries"]
        assert [(e["id"], e["status"]) for e in entries] == [(ids[0], "admitted")]

        # end-room: the running node ends it, everyone is out
        room = (await ann.post("/api/rooms", json={"title": "Too loud"})).json()
        assert (await bob.post(f"/api/rooms/{room['id']}/join")).status_code == 200
        started = time.monotonic()
        out = await cli("end-room", room["id"], "--reason", "off the rails")
        assert out.strip() == f"ended room “Too loud” ({room['id']})"
        assert room["id"] not in inst.services.live.rooms and time.monotonic() - started < 3
        r = await bob.http.get(f"/api/rooms/{room['id']}")
        assert (r.status_code, error_code(r)) == (410, "room_ended")

        # remove-avatar: gone from the profile
        r = await bob.http.put("/api/me/avatar", content=png(), headers={"content-type": "image/png"})
        assert r.status_code == 200, r.text
        assert (await cli("remove-avatar", "bob", "--reason", "nsfw")).startswith("removed the profile picture of @bob")
        r = await admin.http.get(f"/api/users/id/{bob.id}/avatar")
        assert (r.status_code, error_code(r)) == (404, "no_avatar")

        # remove-club: gone, its live room ended by the node
        club = (await admin.post("/api/clubs", json={"name": "Owls", "topics": ["music"]})).json()
        club_room = await admin.post("/api/rooms", json={"title": "Owls at night", "club_id": club["id"]})
        assert club_room.status_code == 201, club_room.text
        out = await cli("remove-club", club["id"], "--reason", "hate")
        assert out.strip() == f"removed club “Owls” ({club['id']})"
        r = await ann.http.get(f"/api/clubs/{club['id']}")
        assert (r.status_code, error_code(r)) == (404, "club_not_found")
        async with asyncio.timeout(1.5):
            while club_room.json()["id"] in inst.services.live.rooms:
                await asyncio.sleep(0.05)

        # all of it in the admin audit log, as the operator
        audit = json.loads("[" + ",".join((await cli("audit", "--json")).splitlines()) + "]")
        assert all(e["by_operator"] for e in audit)
        assert [e["action"] for e in audit] == [
            "club.remove", "user.avatar_remove", "room.end", "waitlist.delete", "waitlist.admit",
            "signup_mode.set", "settings.change", "signup_mode.set", "report.dismissed",
        ]  # fmt: skip

        # refused: exit status 1, the reason, nothing changed
        for args, code in (
            (("reports", "resolve", made.json()["id"], "--outcome", "actioned"), "report_already_handled"),
            (("reports", "resolve", "rp_nothing", "--outcome", "actioned"), "report_not_found"),
            (("people", "show", "nobody"), "user_not_found"),
            (("waitlist", "delete", ids[1]), "not_on_waitlist"),
            (("settings", "set", "guest_rooms=maybe"), "invalid_input"),
            (("end-room", room["id"], "--reason", "again"), "room_ended"),
            (("remove-club", club["id"], "--reason", "again"), "club_not_found"),
            (("remove-avatar", "bob"), "no_avatar"),
        ):
            before = (await admin.http.get("/api/admin/audit")).json()
            status, _, err = await in_process(capsys, data, *args)
            assert status == 1 and f"({code})" in err, (args, err)
            assert (await admin.http.get("/api/admin/audit")).json() == before


async def test_a_cli_ban_closes_the_open_socket_and_empties_the_seat_within_a_look(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        s: Any = server.app.state.services
        _, ann_token = await make_member(server, http, "ann")
        http.cookies.clear()
        bob_id, bob_token = await make_member(server, http, "bob")
        as_ann = {"Authorization": f"Bearer {ann_token}"}
        as_bob = {"Authorization": f"Bearer {bob_token}"}
        room = (await http.post("/api/rooms", json={"title": "Live"}, headers=as_ann)).json()
        assert (await http.post(f"/api/rooms/{room['id']}/join", headers=as_bob)).status_code == 200
        ws = await websockets.connect(server.ws_url, additional_headers=as_bob)
        await ws.send(json.dumps({"type": "hello"}))
        assert json.loads(await ws.recv())["type"] == "welcome"

        argv = ["admin", "ban", "bob", "--reason", "abuse", "--data-dir", str(settings.data_dir)]
        assert await asyncio.to_thread(main, argv) == 0
        done = time.monotonic()
        # The node looks once a second: closed and out of the room within 1.5 s of the CLI.
        async with asyncio.timeout(1.5):
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await ws.recv()
            while bob_id in s.live.rooms[room["id"]].participants:
                await asyncio.sleep(0.02)
        assert time.monotonic() - done < 1.5
