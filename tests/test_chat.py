"""In-room chat and reactions over REST: who may write, slow mode, timeouts, deletions,
lengths, emoji; each refusal answers a stable code, changes nothing and leaves the
others as they were. Chat never reaches the database or the log.

Time is the services' clock, moved by the test (slow mode, timeouts, the limiter).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import Instance, Person, error_code

from parlor.domain import chat as domain
from parlor.storage import tables
from parlor.storage.tables import audit_log


@dataclass
class Room:
    inst: Instance
    id: str
    ann: Person  # moderator
    bob: Person  # listener
    cat: Person  # speaker
    dan: Person  # not in the room
    now: list[float]

    def url(self, tail: str = "chat") -> str:
        return f"/api/rooms/{self.id}/{tail}"

    async def say(self, who: Person, text: str) -> Any:
        return await who.post(self.url(), json={"text": text})

    async def lines(self) -> list[str]:
        r = await self.ann.http.get(self.url())
        assert r.status_code == 200, r.text
        return [m["text"] for m in r.json()["messages"]]

    async def settings(self, **body: Any) -> Any:
        return await self.ann.http.patch(self.url(), json=body)

    def tick(self, seconds: float) -> None:
        self.now[0] += seconds


@pytest.fixture
async def room(instance: Instance) -> Room:
    now = [1_000_000.0]
    instance.services.clock = lambda: now[0]
    ann, bob, cat, dan = [await instance.member(n) for n in ("ann", "bob", "cat", "dan")]
    room_id = (await ann.post("/api/rooms", json={"title": "Chatty"})).json()["id"]
    for p in (bob, cat):
        assert (await p.post(f"/api/rooms/{room_id}/join")).status_code == 200
    await ann.post(f"/api/rooms/{room_id}/speak-invites", json={"user_id": cat.id})
    assert (await cat.post(f"/api/rooms/{room_id}/speak-invite/accept")).status_code == 200
    # They stay as their open sockets would keep them: the tests move the clock past the
    # reconnect grace, and the reaper would make a socketless participant leave.
    for p in (ann, bob, cat):
        instance.services.live.attach(room_id, p.id)
    return Room(instance, room_id, ann, bob, cat, dan, now)


async def refused(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert error_code(r) == code


async def test_a_line_reaches_the_history_with_its_mentions(room: Room) -> None:
    r = await room.say(room.bob, "  hello @ann and @CAT, not @nobody or me@ann.example  ")
    assert r.status_code == 201, r.text
    line = r.json()
    assert line["text"] == "hello @ann and @CAT, not @nobody or me@ann.example"
    assert line["mentions"] == [room.ann.id, room.cat.id]
    assert (line["user_id"], line["username"]) == (room.bob.id, "bob")
    assert await room.lines() == [line["text"]]
    # Markup is text: stored and sent as typed, the client shows it as text.
    r = await room.say(room.cat, '<img src=x onerror="alert(1)"><script>alert(2)</script>')
    assert r.json()["text"] == '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def test_the_history_keeps_the_last_hundred(room: Room) -> None:
    room.inst.services.limits = {**room.inst.services.limits, "chat": domain_rate(1000)}
    for i in range(domain.HISTORY_MAX + 5):
        assert (await room.say(room.ann, f"line {i}")).status_code == 201
    lines = await room.lines()
    assert len(lines) == domain.HISTORY_MAX and lines[0] == "line 5" and lines[-1] == f"line {domain.HISTORY_MAX + 4}"


def domain_rate(count: int) -> Any:
    from parlor.limits.policies import Rate

    return Rate(count, 60)


async def test_bad_lines_are_refused_and_change_nothing(room: Room) -> None:
    await room.say(room.bob, "first")
    await refused(await room.say(room.dan, "hi"), 403, "not_in_room")
    await refused(await room.say(room.bob, "x" * (domain.MESSAGE_MAX + 1)), 400, "chat_too_long")
    await refused(await room.say(room.bob, "   "), 400, "invalid_input")
    await refused(await room.say(room.bob, "bell\x07"), 400, "invalid_input")
    await refused(await room.say(room.bob, "rlo \u202e"), 400, "invalid_input")
    await refused(await room.dan.post(room.url("chat"), json={"text": "y" * 20_000}), 400, "invalid_input")
    assert await room.lines() == ["first"]
    assert (await room.say(room.cat, "x" * domain.MESSAGE_MAX)).status_code == 201  # the limit itself is fine


async def test_chat_off_and_speakers_only(room: Room) -> None:
    await refused(await room.bob.http.patch(room.url(), json={"mode": "off"}), 403, "not_moderator")
    await refused(await room.settings(mode="loud"), 400, "invalid_input")
    r = await room.settings(mode="speakers")
    assert r.json() == {"room_id": room.id, "mode": "speakers", "slow_mode_s": 0}
    await refused(await room.say(room.bob, "can I?"), 403, "chat_speakers_only")
    assert (await room.say(room.cat, "speaker here")).status_code == 201
    assert (await room.say(room.ann, "moderator here")).status_code == 201
    assert (await room.settings(mode="off")).status_code == 200
    for p in (room.bob, room.cat, room.ann):
        await refused(await room.say(p, "anyone?"), 403, "chat_off")
    # Reactions are not chat: they go on.
    assert (await room.bob.post(room.url("reactions"), json={"emoji": "👏"})).status_code == 202
    assert await room.lines() == ["speaker here", "moderator here"]
    await room.settings(mode="everyone")
    assert (await room.say(room.bob, "back")).status_code == 201


async def test_slow_mode(room: Room) -> None:
    await refused(await room.settings(slow_mode_s=-1), 400, "invalid_input")
    await refused(await room.settings(slow_mode_s=domain.SLOW_MODE_MAX_S + 1), 400, "invalid_input")
    assert (await room.settings(slow_mode_s=30)).json()["slow_mode_s"] == 30
    assert (await room.say(room.bob, "one")).status_code == 201
    room.tick(10)
    r = await room.say(room.bob, "two")
    await refused(r, 429, "chat_slow_mode")
    assert r.headers["Retry-After"] == "20"
    # Others are unaffected: their own clock, and moderators are exempt.
    assert (await room.say(room.cat, "cat one")).status_code == 201
    assert (await room.say(room.ann, "ann one")).status_code == 201
    assert (await room.say(room.ann, "ann two")).status_code == 201
    room.tick(20)
    assert (await room.say(room.bob, "two")).status_code == 201
    assert await room.lines() == ["one", "cat one", "ann one", "ann two", "two"]


async def test_time_out(room: Room) -> None:
    body = {"user_id": room.bob.id, "seconds": 60}
    await refused(await room.cat.post(room.url("chat/timeouts"), json=body), 403, "not_moderator")
    await refused(await room.ann.post(room.url("chat/timeouts"), json={**body, "seconds": -5}), 400, "invalid_input")
    await refused(
        await room.ann.post(room.url("chat/timeouts"), json={**body, "user_id": room.dan.id}), 404, "target_not_in_room"
    )
    await refused(
        await room.ann.post(room.url("chat/timeouts"), json={**body, "user_id": room.ann.id}), 409, "invalid_target"
    )
    r = await room.ann.post(room.url("chat/timeouts"), json=body)
    assert r.json() == {"room_id": room.id, "user_id": room.bob.id, "timed_out_until": room.now[0] + 60}
    r = await room.say(room.bob, "let me talk")
    await refused(r, 403, "chat_timed_out")
    assert r.headers["Retry-After"] == "60"
    await refused(await room.bob.post(room.url("reactions"), json={"emoji": "🔥"}), 403, "chat_timed_out")
    assert (await room.bob.http.get(room.url())).json()["timed_out_until"] == room.now[0] + 60
    assert (await room.say(room.cat, "cat is fine")).status_code == 201
    room.tick(61)
    assert (await room.say(room.bob, "free again")).status_code == 201
    # Again, then lifted early.
    await room.ann.post(room.url("chat/timeouts"), json=body)
    await refused(await room.say(room.bob, "no"), 403, "chat_timed_out")
    await room.ann.post(room.url("chat/timeouts"), json={**body, "seconds": 0})
    assert (await room.say(room.bob, "lifted")).status_code == 201
    # Leaving and coming back does not end a timeout.
    await room.ann.post(room.url("chat/timeouts"), json=body)
    await room.bob.post(f"/api/rooms/{room.id}/leave")
    await room.bob.post(f"/api/rooms/{room.id}/join")
    await refused(await room.say(room.bob, "sneaky"), 403, "chat_timed_out")
    assert await room.lines() == ["cat is fine", "free again", "lifted"]


async def test_delete(room: Room) -> None:
    bob_line = (await room.say(room.bob, "bob's")).json()["id"]
    ann_line = (await room.say(room.ann, "ann's")).json()["id"]
    cat_line = (await room.say(room.cat, "cat's")).json()["id"]
    await refused(await room.bob.http.delete(room.url(f"chat/{ann_line}")), 403, "not_moderator")
    await refused(await room.dan.http.delete(room.url(f"chat/{ann_line}")), 403, "not_in_room")
    await refused(await room.ann.http.delete(room.url("chat/m_nosuch")), 404, "chat_message_not_found")
    assert await room.lines() == ["bob's", "ann's", "cat's"]
    assert (await room.bob.http.delete(room.url(f"chat/{bob_line}"))).status_code == 204  # one's own
    assert (await room.ann.http.delete(room.url(f"chat/{cat_line}"))).status_code == 204  # a moderator's
    assert await room.lines() == ["ann's"]
    await refused(await room.ann.http.delete(room.url(f"chat/{cat_line}")), 404, "chat_message_not_found")


async def test_reactions_take_only_the_fixed_emoji(room: Room) -> None:
    for emoji in domain.REACTIONS:
        assert (await room.bob.post(room.url("reactions"), json={"emoji": emoji})).status_code == 202
    assert (await room.bob.post(room.url("reactions"), json={"emoji": "❤"})).status_code == 202  # no VS16
    for bad in ("💩", "", "👏👏", "<b>", "\x00"):
        await refused(await room.bob.post(room.url("reactions"), json={"emoji": bad}), 400, "unknown_emoji")
    await refused(await room.dan.post(room.url("reactions"), json={"emoji": "👏"}), 403, "not_in_room")


async def test_chat_and_reactions_are_rate_limited(room: Room) -> None:
    from parlor.limits.policies import Rate

    s = room.inst.services
    s.limits = {**s.limits, "chat": Rate(3, 60), "reactions": Rate(2, 10)}
    for i in range(3):
        assert (await room.say(room.bob, f"{i}")).status_code == 201
    r = await room.say(room.bob, "3")
    await refused(r, 429, "rate_limited")
    assert "Retry-After" in r.headers
    assert (await room.say(room.cat, "cat")).status_code == 201
    for _ in range(2):
        assert (await room.bob.post(room.url("reactions"), json={"emoji": "👍"})).status_code == 202
    await refused(await room.bob.post(room.url("reactions"), json={"emoji": "👍"}), 429, "rate_limited")
    assert await room.lines() == ["0", "1", "2", "cat"]


async def test_moderator_chat_actions_are_audited_without_text(room: Room) -> None:
    line = (await room.say(room.bob, "secret words")).json()["id"]
    await room.settings(mode="speakers", slow_mode_s=5)
    await room.ann.post(room.url("chat/timeouts"), json={"user_id": room.bob.id, "seconds": 60})
    await room.ann.http.delete(room.url(f"chat/{line}"))
    own = (await room.say(room.cat, "mine")).json()["id"]
    await room.cat.http.delete(room.url(f"chat/{own}"))  # an author's own: not a moderator action
    async with room.inst.services.db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit_log.c.actor_id, audit_log.c.action, audit_log.c.target_id)
                .where(audit_log.c.room_id == room.id, audit_log.c.action.like("chat.%"))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (room.ann.id, "chat.settings", None),
        (room.ann.id, "chat.timeout", room.bob.id),
        (room.ann.id, "chat.delete", room.bob.id),
    ]


async def test_chat_is_gone_with_the_room_and_never_stored_or_logged(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    words = "zebra-quokka-marmalade"
    await room.say(room.bob, f"{words} @ann")
    await room.bob.post(room.url("reactions"), json={"emoji": "🔥"})
    await room.settings(slow_mode_s=3)
    assert room.id in room.inst.services.chat.rooms
    assert (await room.ann.post(f"/api/rooms/{room.id}/end")).status_code == 200
    s = room.inst.services
    assert room.id not in s.chat.rooms and room.id not in s.reactions.rooms
    await refused(await room.ann.http.get(room.url()), 410, "room_ended")
    await refused(await room.say(room.ann, "after"), 410, "room_ended")
    async with s.db.engine.connect() as conn:
        for table in tables.metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                assert not any(isinstance(v, str) and words in v for v in row), table.name
    assert words not in caplog.text
