"""The connection indicator's board (actions/links.py): who has a poor link, from the
server's own view (a late heartbeat) and the client's report; one coalesced `links`
message per change, bad reports refused with stable codes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest

from parlor import protocol as p
from parlor.actions import links
from parlor.actions.live import LiveRooms
from parlor.bus.base import room_channel
from parlor.bus.memory import MemoryBus
from parlor.domain import rooms as domain
from parlor.domain.rooms import Participant, Role
from parlor.errors import Code, ParlorError


def services() -> tuple[Any, list[dict[str, Any]]]:
    live = LiveRooms()
    room = domain.create("r1", "Tea", "mod", 0.0)
    listener = Participant("lis", Role.LISTENER, joined_at=1.0)
    live.put(replace(room, participants=MappingProxyType({**room.participants, "lis": listener})))
    bus = MemoryBus()
    seen: list[dict[str, Any]] = []
    bus.subscribe(room_channel("r1"), seen.append)
    return SimpleNamespace(live=live, links=links.LinkBoard(), bus=bus), seen


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_reports_and_lateness_make_one_picture() -> None:
    s, seen = services()
    links.do_report(s, "lis", "r1", "poor")
    await settle()
    assert [m["data"]["poor"] for m in seen] == [{"lis": "reported"}]
    assert p.parse_server(seen[0]["text"]) == p.Links(room_id="r1", poor={"lis": "reported"})
    # A second change within the coalescing interval waits, merged with what follows.
    links.do_socket_late(s, "mod", ["r1"], True)
    links.do_report(s, "lis", "r1", "good")
    await settle()
    assert len(seen) == 1
    await asyncio.sleep(links.COALESCE_S + 0.1)
    assert seen[-1]["data"]["poor"] == {"mod": "late"}
    assert links.current_text(s, "r1") == p.Links(room_id="r1", poor={"mod": "late"}).to_json()
    # Heard again: the all-clear goes out, and nothing stays behind.
    links.do_socket_late(s, "mod", ["r1"], False)
    await asyncio.sleep(links.COALESCE_S + 0.1)
    assert seen[-1]["data"]["poor"] == {}
    assert len(seen) == 3
    assert "r1" not in s.links.rooms


async def test_the_same_picture_is_not_sent_twice() -> None:
    s, seen = services()
    links.do_report(s, "lis", "r1", "poor")
    await settle()
    links.do_report(s, "lis", "r1", "poor")
    links.do_socket_late(s, "lis", ["r1"], True)  # late wins over reported, but it changes the reason
    await asyncio.sleep(links.COALESCE_S + 0.1)
    assert [m["data"]["poor"] for m in seen] == [{"lis": "reported"}, {"lis": "late"}]


@pytest.mark.parametrize(
    ("user", "room", "quality", "code"),
    [
        ("lis", "r1", "awful", Code.BAD_MESSAGE),
        ("stranger", "r1", "poor", Code.NOT_IN_ROOM),
        ("lis", "nope", "poor", Code.NOT_IN_ROOM),
    ],
)
async def test_bad_reports_are_refused_and_change_nothing(user: str, room: str, quality: str, code: Code) -> None:
    s, seen = services()
    with pytest.raises(ParlorError) as err:
        links.do_report(s, user, room, quality)
    assert err.value.code is code
    await settle()
    assert seen == [] and s.links.rooms == {}


def test_picture_lists_the_stage_first_and_forgets_leavers() -> None:
    board = links.LinkBoard()
    for user in ("b-listener", "a-listener", "z-speaker", "gone"):
        board.mark("r", user, links.REPORTED, True)
    present = {
        "a-listener": Participant("a-listener", Role.LISTENER, 0.0),
        "b-listener": Participant("b-listener", Role.LISTENER, 0.0),
        "z-speaker": Participant("z-speaker", Role.SPEAKER, 0.0),
    }
    assert list(board.picture("r", present)) == ["z-speaker", "a-listener", "b-listener"]
    assert "gone" not in board.rooms["r"].reasons
    # clearing what was never marked changes nothing (and tells the caller so)
    assert not board.mark("r", "a-listener", links.LATE, False)
    assert not board.mark("elsewhere", "a-listener", links.LATE, False)
    assert board.mark("r", "a-listener", links.LATE, True)


def test_the_link_message_is_part_of_the_protocol() -> None:
    assert p.parse_client('{"type":"link","room_id":"r1","quality":"poor"}') == p.Link("r1", "poor")
    with pytest.raises(p.ProtocolError):
        p.parse_client('{"type":"link","room_id":"r1","quality":1}')
    with pytest.raises(p.ProtocolError):
        p.parse_client('{"type":"links","room_id":"r1","poor":{}}')  # server → client only
