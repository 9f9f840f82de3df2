"""The Python client in end-to-end encrypted rooms (docs/E2EE.md): frame crypto and keys.

`FrameCrypto` encrypts the Opus payload of each outgoing RTP packet with the current
epoch's SFrame sender and decrypts each incoming one, leaving the RTP header and its
extensions (the RFC 6464 audio level among them) in clear; a frame it cannot decrypt is
dropped, never played, and counted by reason. 1–2 byte frames (Opus DTX, no audio) pass
as is both ways. `MediaSession` applies it (client/media.py).

`RoomKeys` keeps a room's keys for one visit (§1–§3): it makes a key pair, publishes it,
computes the key leader from the room's people list and, as leader, makes and sends a new
room key at every change of the keyed set; as receiver it takes keys from the leader only.
A guest-room style fixed key (epoch 1) needs no `RoomKeys`: `FrameCrypto.with_key`.

The primitives are `parlor.e2ee`'s (pure functions, no server code).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from parlor.e2ee import (
    KEY_LEN,
    E2EEError,
    KeyPair,
    SFrameReceiver,
    SFrameSender,
    b64d,
    b64e,
    is_dtx,
    key_leader,
    safety_code,
    unwrap_room_key,
    wrap_room_key,
)
from parlor.media.rtp import rtp_payload

if TYPE_CHECKING:
    from parlor.client.session import ParlorClient, RoomSession

# "can't decrypt" shows while frames were dropped for want of a key this recently
CANT_DECRYPT_WINDOW_S = 1.0


def rtp_payload_bounds(data: bytes | bytearray) -> tuple[int, int] | None:
    """(start, end) of an RTP packet's payload, or None if malformed (media/rtp.py's check)."""
    parsed = rtp_payload(data)
    return None if parsed is None else (parsed[1], parsed[2])


def is_rtcp(data: bytes) -> bool:
    return len(data) >= 2 and 192 <= data[1] <= 223


class FrameCrypto:
    """One participant's SFrame state for one room: the key it sends with, the keys it
    decrypts with (last 4 epochs), and what it dropped."""

    def __init__(self) -> None:
        self.sender: SFrameSender | None = None
        self.receiver = SFrameReceiver()
        self.dropped: Counter[str] = Counter()  # reason (no_key, bad_frame, replayed) -> frames
        self.decrypted = 0
        self.encrypted = 0
        self.unsent = 0  # frames not sent: no key to send with yet
        self._last_no_key = -1e9

    @classmethod
    def with_key(cls, room_key: bytes, epoch: int = 1) -> FrameCrypto:
        """A fixed key (guest rooms: from the link or a passphrase, epoch 1)."""
        crypto = cls()
        crypto.add_key(epoch, room_key)
        crypto.send_with(epoch, room_key)
        return crypto

    def add_key(self, epoch: int, room_key: bytes) -> None:
        self.receiver.add_key(epoch, room_key)

    def send_with(self, epoch: int, room_key: bytes) -> None:
        self.sender = SFrameSender(room_key, epoch)

    @property
    def send_epoch(self) -> int | None:
        return self.sender.epoch if self.sender is not None else None

    @property
    def cant_decrypt(self) -> bool:
        """The visible "can't decrypt" state: frames dropped for want of a key just now."""
        return time.monotonic() - self._last_no_key < CANT_DECRYPT_WINDOW_S

    @property
    def cant_decrypt_total(self) -> int:
        return sum(self.dropped.values())

    def encrypt(self, payload: bytes) -> bytes | None:
        """The frame to send, or None (no key yet: send nothing rather than plaintext)."""
        if is_dtx(payload):
            return payload
        if self.sender is None:
            self.unsent += 1
            return None
        self.encrypted += 1
        return self.sender.encrypt(payload)

    def decrypt(self, frame: bytes) -> bytes | None:
        """The Opus frame to play, or None: dropped (counted in `dropped`)."""
        try:
            plain = self.receiver.decrypt(frame)
        except E2EEError as exc:
            self.dropped[exc.code] += 1
            if exc.code == "no_key":
                self._last_no_key = time.monotonic()
            return None
        if not is_dtx(frame):
            self.decrypted += 1
        return plain

    def seal_packet(self, data: bytes) -> bytes | None:
        """An outgoing RTP packet with its payload encrypted (header kept, padding
        dropped); RTCP and malformed packets as they are; None: don't send."""
        if is_rtcp(data):
            return data
        bounds = rtp_payload_bounds(data)
        if bounds is None:
            return data
        start, end = bounds
        frame = self.encrypt(bytes(data[start:end]))
        if frame is None:
            return None
        header = bytearray(data[:start])
        header[0] &= ~0x20 & 0xFF
        return bytes(header) + frame

    def open_packet(self, data: bytes) -> bytes | None:
        """An incoming RTP packet with its payload decrypted; None: drop it."""
        if is_rtcp(data):
            return data
        bounds = rtp_payload_bounds(data)
        if bounds is None:
            return None
        start, end = bounds
        plain = self.decrypt(bytes(data[start:end]))
        if plain is None:
            return None
        header = bytearray(data[:start])
        header[0] &= ~0x20 & 0xFF
        return bytes(header) + plain


PeopleView = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class RoomKeys:
    """The key side of one visit to a members' encrypted room (docs/E2EE.md §1–§3).

    `crypto` is the `FrameCrypto` the room's media uses. `view` sees the people list
    before this does (a test double of a server that swaps keys uses it).
    """

    def __init__(
        self,
        client: ParlorClient,
        room_id: str,
        crypto: FrameCrypto,
        *,
        keypair: KeyPair | None = None,
        view: PeopleView | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.client = client
        self.room_id = room_id
        self.crypto = crypto
        self.keypair = keypair or KeyPair.generate()
        self.view = view
        self.poll_s = poll_s
        self.highest_epoch = 0
        self.keys: dict[int, bytes] = {}  # epoch -> room key (last 4 kept by the receiver)
        self.leader: str | None = None
        self.rejected: Counter[str] = Counter()  # keys refused: not_leader, bad_key
        self._sent_for: frozenset[tuple[str, str]] | None = None  # keyed set we last keyed
        self._pending: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self.session: RoomSession | None = None

    @property
    def user_id(self) -> str:
        return str(self.client.user_id)

    @property
    def public_b64(self) -> str:
        return b64e(self.keypair.public)

    def people(self) -> list[dict[str, Any]]:
        state = self.client.rooms.get(self.room_id) or {}
        people = [dict(p) for p in state.get("participants", [])]
        return self.view(people) if self.view is not None else people

    def keyed(self) -> dict[str, bytes]:
        """user_id -> public key, of everyone keyed in the people list as we see it."""
        out: dict[str, bytes] = {}
        for p in self.people():
            if p.get("public_key") and p.get("keyed_since") is not None:
                with contextlib.suppress(ValueError):
                    out[str(p["user_id"])] = b64d(str(p["public_key"]))
        return out

    def my_safety_code(self) -> str:
        return safety_code(self.room_id, self.keypair.public)

    def safety_codes(self) -> dict[str, str]:
        """The code of the key we hold for each other keyed person (§6)."""
        return {u: safety_code(self.room_id, k) for u, k in self.keyed().items() if u != self.user_id}

    async def start(self) -> None:
        await self.client.publish_public_key(self.room_id, self.public_b64)
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self.step()
            await asyncio.sleep(self.poll_s)

    async def step(self) -> None:
        """One look at the room: rotate if leader and the keyed set changed; take keys."""
        people = self.people()
        keyed = self.keyed()
        leader = key_leader(people)
        if leader != self.leader:
            self.leader = leader
            self._sent_for = None  # a new leader keys everyone afresh
        if leader is not None and leader == self.user_id:
            current = frozenset((u, b64e(k)) for u, k in keyed.items())
            if current != self._sent_for:
                await self._rotate(keyed)
                self._sent_for = current
        others: list[dict[str, Any]] = []  # another room's keys: left for its own RoomKeys
        while not self.client.room_keys.empty():
            message = self.client.room_keys.get_nowait()
            (self._pending if message.get("room_id") == self.room_id else others).append(message)
        for message in others:
            self.client.room_keys.put_nowait(message)
        self._pending = [m for m in self._pending if not self._take(m, keyed)]

    async def _rotate(self, keyed: dict[str, bytes]) -> None:
        epoch = self.highest_epoch + 1
        room_key = os.urandom(KEY_LEN)
        self._install(epoch, room_key)
        for user_id, public in keyed.items():
            if user_id == self.user_id:
                continue
            wrapped = wrap_room_key(
                self.keypair, public, room_id=self.room_id, epoch=epoch,
                sender=self.user_id, recipient=user_id, room_key=room_key,
            )
            await self.client.send_room_key(self.room_id, user_id, epoch, b64e(wrapped))

    def _install(self, epoch: int, room_key: bytes) -> None:
        self.keys[epoch] = room_key
        for old in sorted(self.keys)[:-4]:
            del self.keys[old]
        self.crypto.add_key(epoch, room_key)
        if epoch > self.highest_epoch:
            self.highest_epoch = epoch
            self.crypto.send_with(epoch, room_key)

    def _take(self, message: dict[str, Any], keyed: dict[str, bytes]) -> bool:
        """Handle one wrapped key; False: keep it for later (the sender's public key is
        not in our people list yet)."""
        sender = str(message.get("from"))
        if sender != self.leader:
            if self.leader is None:
                return False
            self.rejected["not_leader"] += 1
            return True
        public = keyed.get(sender)
        if public is None:
            return False
        epoch = int(message["epoch"])
        try:
            room_key = unwrap_room_key(
                self.keypair, public, room_id=self.room_id, epoch=epoch,
                sender=sender, recipient=self.user_id, wrapped=b64d(str(message["wrapped"])),
            )
        except (E2EEError, ValueError):
            self.rejected["bad_key"] += 1
            return True
        self._install(epoch, room_key)
        return True
