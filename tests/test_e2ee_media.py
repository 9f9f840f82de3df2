"""End-to-end encrypted rooms, the media side (issue 14; docs/E2EE.md §4).

Real aiortc peers (parlor.client) through a real server and its SFU, over loopback. The
speakers' clients SFrame-encrypt each Opus payload (client/e2ee.py); the server forwards
frames it cannot read; keyed listeners decrypt them, keyless ones cannot. Keys travel
through the server's real signalling (`e2ee.publish`, `e2ee.key`) and the client's key
manager (`RoomKeys`: leader, rotation).

Speech is made with espeak-ng and scored with PESQ-WB (16 kHz, the `pesq` package) as in
`parlor bench quality` (bench/speech.py). What a listener "renders" is computed from the
payloads the server forwarded to it, in arrival order, each decoded by libopus into one
20 ms frame (a gap in the sequence numbers: 20 ms of silence per missing packet), so the
score measures what the frames carry, not the shared box's scheduling:
- a keyed listener decrypts each frame with the room keys it holds;
- a keyless listener is what a real keyless browser in the room is: its decrypting
  transform drops every frame it cannot open (docs/E2EE.md §4), so its decoder gets
  nothing and it plays silence, with comfort noise at -60 dBFS (PESQ needs some signal).
  That must score < 1.5. The test also feeds the raw forwarded payloads to the decoder,
  as a client that ignores encryption would (a payload libopus refuses: 20 ms of
  silence): that is noise, not speech, but its score varies with the random bytes
  (1.05-1.49 seen), so it is held to < 2.0, far below the keyed listener's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from tests.conftest import make_settings
from tests.live import LiveServer, live_server, make_member

from parlor.bench import speech
from parlor.client import ParlorClient, RoomSession
from parlor.client.e2ee import FrameCrypto, RoomKeys, rtp_payload_bounds
from parlor.client.media import MediaSession
from parlor.e2ee import KeyPair, SFrameReceiver, b64e, safety_code

LOOPBACK = ("127.0.0.1",)
FRAME = speech.RATE // 50  # 20 ms at 48 kHz


# -- frame crypto on RTP packets (no network) ------------------------------------------------


def rtp(payload: bytes, *, level: int = 30, padding: int = 0) -> bytes:
    """An RTP packet as aiortc's sender makes it: one-byte header extensions (the audio
    level among them), then the Opus payload."""
    b0 = 0x90 | (0x20 if padding else 0)
    header = bytes([b0, 111, 0x12, 0x34, 0, 0, 3, 0xC0, 0xDE, 0xAD, 0xBE, 0xEF])
    ext = bytes((0xBE, 0xDE, 0, 2, 0x10, 0x80 | level, 0x20, 7, 0, 0, 0, 0))
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + ext + payload + pad


def test_a_packet_is_encrypted_past_its_header_and_audio_level_and_decrypted_back() -> None:
    key = os.urandom(16)
    speaker, listener = FrameCrypto.with_key(key), FrameCrypto.with_key(key)
    opus = bytes([0x78]) + os.urandom(70)
    packet = rtp(opus, padding=4)
    sealed = speaker.seal_packet(packet)
    assert sealed is not None
    header_len = 12 + 12
    assert sealed[1:header_len] == packet[1:header_len]  # header and extensions in clear
    assert sealed[0] == packet[0] & ~0x20  # padding dropped
    assert opus not in sealed and len(sealed) > len(packet) - 4 + 16
    opened = listener.open_packet(sealed)
    assert opened is not None and opened[header_len:] == opus
    # a DTX frame (1-2 bytes) passes as is both ways; RTCP is never touched
    dtx = rtp(bytes([0x78]))
    assert speaker.seal_packet(dtx) == dtx and listener.open_packet(dtx) == dtx
    rtcp = bytes([0x80, 200]) + os.urandom(26)
    assert speaker.seal_packet(rtcp) == rtcp
    # no key to send with: nothing is sent, never plaintext
    assert FrameCrypto().seal_packet(packet) is None


def test_a_listener_drops_and_counts_what_it_cannot_decrypt() -> None:
    key = os.urandom(16)
    speaker = FrameCrypto.with_key(key)
    frames = [speaker.seal_packet(rtp(bytes([0x78]) + os.urandom(60))) for _ in range(4)]
    wrong, keyless, right = FrameCrypto.with_key(os.urandom(16)), FrameCrypto(), FrameCrypto.with_key(key)
    assert all(f is not None for f in frames)
    sealed = [f for f in frames if f is not None]
    corrupted = bytearray(sealed[1])
    corrupted[-3] ^= 0x01
    assert wrong.open_packet(sealed[0]) is None and wrong.dropped["bad_frame"] == 1
    assert keyless.open_packet(sealed[0]) is None and keyless.dropped["no_key"] == 1 and keyless.cant_decrypt
    assert right.open_packet(sealed[0]) is not None
    assert right.open_packet(sealed[0]) is None and right.dropped["replayed"] == 1
    assert right.open_packet(bytes(corrupted)) is None and right.dropped["bad_frame"] == 1
    assert right.open_packet(sealed[2]) is not None and right.open_packet(sealed[3]) is not None
    assert right.decrypted == 3 and not right.cant_decrypt


# -- through a real server ---------------------------------------------------------------------

@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(tmp_path / "data")) as s:
        yield s


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> speech.Speech:
    if speech.tools_missing():
        pytest.skip("needs espeak-ng and sox")
    return speech.make_speech(tmp_path_factory.mktemp("speech") / "talk.wav", 2)


async def bot(server: LiveServer, name: str) -> ParlorClient:
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, token = await make_member(server, http, name)
    client = ParlorClient(server.url, token, ice_hosts=LOOPBACK)
    await client.connect()
    return client


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():
            await asyncio.sleep(0.05)


class Person:
    """A bot in an encrypted room with its frame crypto and (member rooms) key manager."""

    def __init__(self, client: ParlorClient, room: RoomSession, crypto: FrameCrypto, keys: RoomKeys | None) -> None:
        self.client, self.room, self.crypto, self.keys = client, room, crypto, keys

    @property
    def media(self) -> MediaSession:
        assert self.room.media is not None
        return self.room.media


async def enter(
    server: LiveServer,
    client: ParlorClient,
    room_id: str,
    *,
    send_wav: str | None = None,
    crypto: FrameCrypto | None = None,
    keyed: bool = True,
    view: Any = None,
) -> Person:
    """Join with media; `keyed`: run a RoomKeys (publish a key, take keys from the leader)."""
    crypto = crypto if crypto is not None else FrameCrypto()
    room = await client.join_room(room_id, send_wav=send_wav, e2ee=crypto)
    assert room.media is not None
    room.media.record_frames = True
    keys = None
    if keyed:
        keys = RoomKeys(client, room_id, crypto, view=view)
        await keys.start()
    return Person(client, room, crypto, keys)


async def encrypted_room(server: LiveServer, owner: ParlorClient, title: str) -> str:
    room = await owner.create_room(title, encrypted=True)
    assert room.get("encrypted") is True
    # The media plane is told the room is encrypted; the actions layer does this when it
    # opens a peer (the e2ee-server branch), the test says it itself in case it does not.
    server.app.state.services.media.set_encrypted(room["id"], True)
    return str(room["id"])


def render(
    frames: list[tuple[int, int, bytes]], open_frame: Callable[[bytes], bytes | None], floor_dbfs: float | None = None
) -> np.ndarray:
    """What a listener plays from the frames it was forwarded (see the module docstring);
    `floor_dbfs`: comfort noise added at that level."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = speech.RATE  # type: ignore[attr-defined]
    decoder.layout = "mono"  # type: ignore[attr-defined]
    out: list[np.ndarray] = []
    silence = np.zeros(FRAME, dtype=np.float32)
    last_seq: int | None = None
    for _, seq, payload in frames:
        if last_seq is not None:
            out.extend([silence] * (((seq - last_seq) & 0xFFFF) - 1))
        last_seq = seq
        opus = open_frame(payload)
        pcm = silence
        if opus is not None:
            try:
                decoded = decoder.decode(av.Packet(opus))
            except av.error.FFmpegError:
                decoded = []
            if decoded:
                samples = np.concatenate([f.to_ndarray().reshape(-1) for f in decoded]).astype(np.float32) / 32768.0
                pcm = np.pad(samples[:FRAME], (0, max(0, FRAME - len(samples))))
        out.append(pcm)
    played = np.concatenate(out) if out else silence
    if floor_dbfs is not None:
        noise = np.random.default_rng(14).standard_normal(len(played)).astype(np.float32)
        played = played + noise * np.float32(10 ** (floor_dbfs / 20))
    return played


def keyed_opener(keys: dict[int, bytes]) -> Callable[[bytes], bytes | None]:
    receiver = SFrameReceiver()
    for epoch, key in keys.items():
        receiver.add_key(epoch, key)

    def open_frame(frame: bytes) -> bytes | None:
        try:
            return receiver.decrypt(frame)
        except ValueError:
            return None

    return open_frame


def decryptable(frames: list[tuple[int, int, bytes]], keys: dict[int, bytes]) -> int:
    """How many of `frames` (audio ones: DTX frames carry none) the keys open."""
    opener = keyed_opener(keys)
    return sum(1 for _, _, f in frames if len(f) > 2 and opener(f) is not None)


@pytest.mark.media
async def test_the_server_forwards_frames_it_cannot_read_and_only_keyed_listeners_hear_speech(
    server: LiveServer, talk: speech.Speech
) -> None:
    ann_c, bob_c, eve_c = [await bot(server, n) for n in ("ann", "bob", "eve")]
    try:
        room_id = await encrypted_room(server, ann_c, "Secret")
        ann = await enter(server, ann_c, room_id, send_wav=str(talk.path))
        await ann.room.post("mute", {"muted": False})
        bob = await enter(server, bob_c, room_id)
        eve = await enter(server, eve_c, room_id, keyed=False)  # in the room, holds no key
        assert ann.keys is not None and bob.keys is not None
        # ann (keyed first) leads; she re-keys when bob publishes, and bob takes it
        await eventually(lambda: bob.keys is not None and ann.keys is not None
                         and bob.keys.highest_epoch == ann.keys.highest_epoch >= 2)
        assert ann.keys.leader == bob.keys.leader == ann_c.user_id
        for person in (ann, bob, eve):
            person.media.received_frames.clear()
        ann.media.sent_frames.clear()
        await asyncio.sleep(talk.seconds + 1.0)
        sent = set(ann.media.sent_frames)
        at_bob, at_eve = list(bob.media.received_frames), list(eve.media.received_frames)
        assert len(sent) > 200 and len(at_bob) > 200 and len(at_eve) > 200

        # (a) none of the forwarded frames is a plaintext frame ann's encoder produced,
        # and each one bob got opens to one of them (so the capture is of the same audio)
        assert not sent & {f for _, _, f in at_eve}
        assert not sent & {f for _, _, f in at_bob}
        opener = keyed_opener(bob.keys.keys)
        opened = [opener(f) for _, _, f in at_bob if len(f) > 2]
        assert sum(1 for o in opened if o in sent) >= 0.95 * len(opened)
        # the listeners' own view: bob decrypts (and hears), eve cannot
        assert bob.crypto.decrypted > 200 and bob.media.level() > 0.02
        assert eve.crypto.decrypted == 0 and eve.crypto.dropped["no_key"] > 200 and eve.crypto.cant_decrypt

        # (b) PESQ-WB of what each renders, against the speech ann sent
        keyed_score, _ = speech.score(render(at_bob, keyed_opener(bob.keys.keys)), talk.samples)
        dropped = render(at_eve, lambda f: f if len(f) <= 2 else None, floor_dbfs=-60.0)
        keyless_score, _ = speech.score(dropped, talk.samples)
        raw_score, _ = speech.score(render(at_eve, lambda f: f), talk.samples)
        print(f"PESQ-WB keyed {keyed_score}, keyless {keyless_score}, keyless fed raw frames {raw_score}")
        assert keyed_score >= 3.0, keyed_score
        assert keyless_score < 1.5, keyless_score
        assert raw_score < 2.0, raw_score
    finally:
        for c in (ann_c, bob_c, eve_c):
            await c.close()


@pytest.mark.media
async def test_a_removed_participant_cannot_decrypt_what_follows_nor_a_late_joiner_what_came_before(
    server: LiveServer, tmp_path: Path
) -> None:
    """carl is removed; his client keeps its keys and would go on listening, but the server
    stops sending to him, so the frames he would get are taken as bob got them after the
    removal. dave joins late and gets the frames bob was sent before he joined."""
    from tests.media.media_helpers import write_tone

    tone = write_tone(tmp_path / "tone.wav", seconds=3, freq=440)
    ann_c, bob_c, carl_c, dave_c = [await bot(server, n) for n in ("ann", "bob", "carl", "dave")]
    try:
        room_id = await encrypted_room(server, ann_c, "Rotating")
        ann = await enter(server, ann_c, room_id, send_wav=tone)
        await ann.room.post("mute", {"muted": False})
        bob = await enter(server, bob_c, room_id)
        carl = await enter(server, carl_c, room_id)
        assert ann.keys and bob.keys and carl.keys
        await eventually(lambda: bob.keys is not None and carl.keys is not None and ann.keys is not None
                         and bob.keys.highest_epoch == carl.keys.highest_epoch == ann.keys.highest_epoch >= 3)
        await asyncio.sleep(0.5)
        assert carl.crypto.decrypted > 10  # carl heard the room while in it
        carl_keys = dict(carl.keys.keys)
        before_removal = ann.keys.highest_epoch

        await ann.room.post("remove", {"user_id": carl_c.user_id})
        await eventually(lambda: ann.keys is not None and ann.keys.highest_epoch > before_removal, within=3.0)
        bob.media.received_frames.clear()
        await eventually(lambda: bob.keys is not None and ann.keys is not None
                         and bob.keys.highest_epoch == ann.keys.highest_epoch)
        await asyncio.sleep(1.5)
        after = list(bob.media.received_frames)
        # frames still in flight under the old epoch are the last ones before ann re-keyed;
        # everything after that is under the new epoch
        newest = ann.keys.highest_epoch
        newest_opener = keyed_opener({newest: ann.keys.keys[newest]})
        new_epoch = [x for x in after if len(x[2]) > 2 and newest_opener(x[2]) is not None]
        assert len(new_epoch) > 40
        assert decryptable(new_epoch, carl_keys) == 0
        assert decryptable(new_epoch, bob.keys.keys) == len(new_epoch)

        # dave joins late: the frames bob got before cannot be opened with dave's keys
        before_join = list(bob.media.received_frames)
        dave = await enter(server, dave_c, room_id)
        assert dave.keys is not None
        await eventually(lambda: dave.keys is not None and ann.keys is not None
                         and dave.keys.highest_epoch == ann.keys.highest_epoch)
        await eventually(lambda: dave.crypto.decrypted > 20)  # he hears what follows
        assert decryptable(before_join, bob.keys.keys) > 40
        assert decryptable(before_join, dave.keys.keys) == 0
    finally:
        for c in (ann_c, bob_c, carl_c, dave_c):
            await c.close()


@pytest.mark.media
async def test_a_server_that_swaps_a_public_key_makes_the_safety_codes_differ(server: LiveServer) -> None:
    """A test double of the signalling path: what bob's client sees of the people list
    carries mallory's public key in place of ann's."""
    mallory = KeyPair.generate()
    ann_c, bob_c = await bot(server, "ann"), await bot(server, "bob")

    def swap(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for p in people:
            if p.get("user_id") == ann_c.user_id and p.get("public_key"):
                p["public_key"] = b64e(mallory.public)
        return people

    try:
        room_id = await encrypted_room(server, ann_c, "Verify")
        ann = await enter(server, ann_c, room_id)
        bob = await enter(server, bob_c, room_id, view=swap)
        honest = RoomKeys(bob_c, room_id, FrameCrypto(), keypair=bob.keys.keypair if bob.keys else None)
        assert ann.keys and bob.keys
        await eventually(lambda: ann_c.user_id in honest.keyed() and bob_c.user_id in honest.keyed())
        await eventually(lambda: ann.keys is not None and bob_c.user_id in ann.keys.safety_codes())
        # honest signalling: the code bob holds for ann is ann's own, and the other way round
        assert honest.safety_codes()[ann_c.user_id] == ann.keys.my_safety_code()
        assert ann.keys.safety_codes()[bob_c.user_id] == bob.keys.my_safety_code()
        # the swapped key: read aloud, ann's code and the one bob's screen shows for her differ
        assert bob.keys.safety_codes()[ann_c.user_id] == safety_code(room_id, mallory.public)
        assert bob.keys.safety_codes()[ann_c.user_id] != ann.keys.my_safety_code()
        # and the key ann wraps for bob does not open with the key bob was handed
        await asyncio.sleep(0.5)
        assert bob.keys.highest_epoch == 0 and bob.keys.rejected["bad_key"] >= 1
    finally:
        await ann_c.close()
        await bob_c.close()


@pytest.mark.media
async def test_bad_frames_are_dropped_counted_and_the_room_goes_on(server: LiveServer, tmp_path: Path) -> None:
    """A guest-room style fixed key (epoch 1). bob holds it, carl a wrong one, dave none;
    then some of ann's packets reach the server with a replayed or a corrupted frame
    (swapped in where the server takes her packets). Each listener drops and counts what
    it cannot decrypt; bob keeps hearing."""
    from tests.media.media_helpers import write_tone

    tone = write_tone(tmp_path / "tone.wav", seconds=3, freq=440)
    key = os.urandom(16)
    ann_c, bob_c, carl_c, dave_c = [await bot(server, n) for n in ("ann", "bob", "carl", "dave")]
    try:
        room_id = await encrypted_room(server, ann_c, "Guest-style")
        sfu = server.app.state.services.media
        upstream: list[bytes] = []
        on_rtp = sfu._on_rtp

        tamper: list[Callable[[bytes], bytes]] = []  # payload rewrites for ann's next packets

        def flip(frame: bytes) -> bytes:
            out = bytearray(frame)
            out[-5] ^= 0x40  # inside the ciphertext or tag
            return bytes(out)

        def tap(peer: Any, data: bytes) -> None:
            if peer.user_id == ann_c.user_id:
                bounds = rtp_payload_bounds(data)
                if tamper and bounds is not None and bounds[1] - bounds[0] > 2:
                    data = data[: bounds[0]] + tamper.pop(0)(data[bounds[0] : bounds[1]])
                upstream.append(data)
            on_rtp(peer, data)

        sfu._on_rtp = tap
        ann = await enter(server, ann_c, room_id, send_wav=tone, crypto=FrameCrypto.with_key(key), keyed=False)
        await ann.room.post("mute", {"muted": False})
        bob = await enter(server, bob_c, room_id, crypto=FrameCrypto.with_key(key), keyed=False)
        carl = await enter(server, carl_c, room_id, crypto=FrameCrypto.with_key(os.urandom(16)), keyed=False)
        dave = await enter(server, dave_c, room_id, keyed=False)
        await eventually(lambda: bob.crypto.decrypted > 50 and len(upstream) > 60
                         and carl.crypto.dropped["bad_frame"] > 50 and dave.crypto.dropped["no_key"] > 50)
        assert bob.media.level() > 0.02
        assert carl.crypto.decrypted == 0 and carl.crypto.dropped["bad_frame"] > 50
        assert dave.crypto.decrypted == 0 and dave.crypto.dropped["no_key"] > 50 and dave.crypto.cant_decrypt

        # ann's next 20 packets reach the server with their payload swapped: 10 replay
        # earlier frames of hers, 10 are her own frames with one bit flipped (fresh RTP
        # numbering, as a tampering server or network would send them on)
        old = [p for p in upstream[-40:] if (b := rtp_payload_bounds(p)) and b[1] - b[0] > 2][:10]
        replayed = [bytes(p[slice(*b)]) for p in old if (b := rtp_payload_bounds(p))]
        tamper.extend([(lambda _f, r=r: r) for r in replayed])
        tamper.extend([flip] * 10)
        before = dict(bob.crypto.dropped)
        decrypted_before = bob.crypto.decrypted
        await eventually(lambda: not tamper)
        await eventually(lambda: bob.crypto.dropped["replayed"] - before.get("replayed", 0) >= 10
                         and bob.crypto.dropped["bad_frame"] - before.get("bad_frame", 0) >= 10)
        # the room goes on: bob keeps decrypting and hearing ann
        await eventually(lambda: bob.crypto.decrypted > decrypted_before + 50)
        assert bob.media.level() > 0.02
        assert not bob.crypto.cant_decrypt
    finally:
        for c in (ann_c, bob_c, carl_c, dave_c):
            await c.close()



@pytest.mark.media
async def test_worker_processes_forward_encrypted_frames_whole(tmp_path: Path) -> None:
    """`--workers 2`: the pool tells every worker the room is encrypted (also one that
    joins the room later), so each admits SFrame frames and listeners on both workers
    decrypt all of the speaker's frames (an Opus check would drop about half of them)."""
    from tests.media.media_helpers import write_tone

    from parlor.media.workers import WorkerPool

    tone = write_tone(tmp_path / "tone.wav", seconds=3, freq=440)
    key = os.urandom(16)
    async with live_server(make_settings(tmp_path / "data", workers=2)) as server:
        pool = server.app.state.services.media
        assert isinstance(pool, WorkerPool)
        clients = [await bot(server, n) for n in ("ann", "bob", "carl", "dan")]
        try:
            room_id = await encrypted_room(server, clients[0], "Spread out")
            crypto = FrameCrypto.with_key(key)
            assert crypto.sender is not None
            # as a speaker who has talked a while: 2-byte counters, so that the header byte
            # read as an Opus TOC says "two equal frames" and an Opus check would drop
            # every frame of even length
            crypto.sender.ctr = 1000
            ann = await enter(server, clients[0], room_id, send_wav=tone, crypto=crypto, keyed=False)
            await ann.room.post("mute", {"muted": False})
            listeners = [
                await enter(server, c, room_id, crypto=FrameCrypto.with_key(key), keyed=False) for c in clients[1:]
            ]
            assert {pool.worker_of(room_id, c.user_id) for c in clients[1:]} == {0, 1}
            await eventually(lambda: all(p.crypto.decrypted > 50 for p in listeners))
            sent0 = ann.crypto.encrypted
            got0 = [p.crypto.decrypted for p in listeners]
            await asyncio.sleep(2.0)
            sent = ann.crypto.encrypted - sent0
            for p, n in zip(listeners, got0, strict=True):
                assert p.crypto.decrypted - n >= 0.9 * sent, (p.client.user_id, p.crypto.decrypted - n, sent)
                assert sum(p.crypto.dropped.values()) == 0
                assert p.media.level() > 0.02
        finally:
            for c in clients:
                await c.close()
