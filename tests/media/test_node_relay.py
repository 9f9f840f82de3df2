"""The relay between nodes (media/node_relay.py), two relays on loopback: a packet sent
to the room's other nodes arrives once at each and is delivered; a datagram without the
node key's MAC (a stray one, a forged one, one cut short) is refused and never delivered."""

from __future__ import annotations

import asyncio
import socket

from parlor.media import relay_wire
from parlor.media.node_relay import MAC_BYTES, NodeRelay, seal

KEY = bytes(range(32))
RTP = bytes([0x80, 111, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4]) + b"\xfc" + b"\x00" * 40


async def _until(check: object, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_speakers_packet_reaches_each_other_node_once_and_strays_are_refused() -> None:
    got: dict[str, list[tuple[str, str, bytes]]] = {"b": [], "c": []}
    a = NodeRelay(lambda *_: None)
    b = NodeRelay(lambda *args: got["b"].append(args))
    c = NodeRelay(lambda *args: got["c"].append(args))
    for relay in (a, b, c):
        await relay.start("127.0.0.1", KEY)
    try:
        assert b.address is not None and c.address is not None
        a.set_targets("r_1", [b.address, c.address])
        a.send("r_1", "u_speaker", RTP)
        a.send("r_other", "u_speaker", RTP)  # a room with no other node: sent nowhere
        await _until(lambda: got["b"] and got["c"])
        assert got == {"b": [("r_1", "u_speaker", RTP)], "c": [("r_1", "u_speaker", RTP)]}
        assert a.sent == 2

        body = relay_wire.encode("r_1", "u_intruder", RTP)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
            stray.sendto(body, b.address)  # no MAC
            stray.sendto(seal(bytes(32), body), b.address)  # another key's MAC
            stray.sendto(seal(KEY, body)[:-1], b.address)  # cut short
            stray.sendto(b"\x00" * MAC_BYTES, b.address)
            stray.sendto(seal(KEY, b"\x07not a relay datagram"), b.address)  # sealed, malformed
        await _until(lambda: b.refused == 5)
        assert got["b"] == [("r_1", "u_speaker", RTP)]  # nothing of them delivered
        assert b.received == 1

        a.set_targets("r_1", [])
        a.send("r_1", "u_speaker", RTP)
        await asyncio.sleep(0.1)
        assert len(got["b"]) == 1 and a.sent == 2
    finally:
        for relay in (a, b, c):
            relay.close()
