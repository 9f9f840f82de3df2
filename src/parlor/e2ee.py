"""End-to-end encryption primitives, exactly as docs/E2EE.md specifies them.

The server never calls the key functions here: it holds no keys. They exist for the
Python client (bots, tests) and so that the browser's implementation can be checked
against the same vectors (tests/e2ee_vectors.json). Frames follow RFC 9605 (SFrame)
with the AES_128_GCM_SHA256_128 cipher suite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CIPHER_SUITE = 0x0004  # AES_128_GCM_SHA256_128
KEY_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
EPOCHS_KEPT = 4
REPLAY_WINDOW = 128
PUBLIC_KEY_LEN = 65
WRAPPED_LEN = NONCE_LEN + KEY_LEN + TAG_LEN
PBKDF2_ITERATIONS = 210_000
CHAT_PREFIX = "e2ee:1:"
CHAT_LINE = re.compile(r"^e2ee:1:([0-9]{1,10}):([A-Za-z0-9_-]+)$")


class E2EEError(ValueError):
    """A frame, key or message that cannot be used; `code` is stable."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


# -- encoding ------------------------------------------------------------------------


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise E2EEError("bad_encoding", "not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- HKDF (RFC 5869), small enough to keep the byte layout visible ---------------------


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


# -- identity keys and wrapping (§1, §3) --------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    private: ec.EllipticCurvePrivateKey
    public: bytes  # uncompressed point, 65 bytes

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_private(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_scalar(cls, scalar: int) -> KeyPair:
        return cls.from_private(ec.derive_private_key(scalar, ec.SECP256R1()))

    @classmethod
    def from_private(cls, private: ec.EllipticCurvePrivateKey) -> KeyPair:
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return cls(private, public)


def check_public_key(public: bytes) -> ec.EllipticCurvePublicKey:
    if len(public) != PUBLIC_KEY_LEN or public[0] != 0x04:
        raise E2EEError("bad_key", "a public key is a 65-byte uncompressed P-256 point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError as exc:
        raise E2EEError("bad_key", "not a point on P-256") from exc


def _wrap_key_and_aad(
    mine: KeyPair, their_public: bytes, room_id: str, epoch: int, sender: str, recipient: str
) -> tuple[bytes, bytes]:
    shared = mine.private.exchange(ec.ECDH(), check_public_key(their_public))
    wrap_key = hkdf(room_id.encode(), shared, b"parlor e2ee wrap v1", KEY_LEN)
    aad = f"{room_id}|{epoch}|{sender}|{recipient}".encode()
    return wrap_key, aad


def wrap_room_key(
    mine: KeyPair,
    recipient_public: bytes,
    *,
    room_id: str,
    epoch: int,
    sender: str,
    recipient: str,
    room_key: bytes,
    nonce: bytes | None = None,
) -> bytes:
    wrap_key, aad = _wrap_key_and_aad(mine, recipient_public, room_id, epoch, sender, recipient)
    nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
    return nonce + AESGCM(wrap_key).encrypt(nonce, room_key, aad)


def unwrap_room_key(
    mine: KeyPair,
    sender_public: bytes,
    *,
    room_id: str,
    epoch: int,
    sender: str,
    recipient: str,
    wrapped: bytes,
) -> bytes:
    if len(wrapped) != WRAPPED_LEN:
        raise E2EEError("bad_key", "a wrapped key is 44 bytes")
    wrap_key, aad = _wrap_key_and_aad(mine, sender_public, room_id, epoch, sender, recipient)
    try:
        return AESGCM(wrap_key).decrypt(wrapped[:NONCE_LEN], wrapped[NONCE_LEN:], aad)
    except InvalidTag as exc:
        raise E2EEError("bad_key", "the wrapped key does not open") from exc


def passphrase_key(passphrase: str, room_name: str) -> bytes:
    """A guest room's key from its passphrase (§1); the name is lower-cased first, as
    guest room names are case-insensitive."""
    salt = ("parlor room " + room_name.lower()).encode()
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, PBKDF2_ITERATIONS, KEY_LEN)


def safety_code(room_id: str, public: bytes) -> str:
    """Three groups of four digits from the first 60 bits of the key's digest (§6)."""
    digest = hashlib.sha256(b"parlor safety v1" + room_id.encode() + public).digest()
    bits = int.from_bytes(digest[:8], "big") >> 4
    groups = [(bits >> shift) & 0xFFFFF for shift in (40, 20, 0)]
    return " ".join(f"{g % 10_000:04d}" for g in groups)


def key_leader(people: Iterable[Mapping[str, object]]) -> str | None:
    """The keyed participant earliest by (`keyed_since`, `user_id`) (§2)."""
    keyed = [
        (float(str(p["keyed_since"])), str(p["user_id"]))
        for p in people
        if p.get("public_key") and p.get("keyed_since") is not None
    ]
    return min(keyed)[1] if keyed else None


# -- SFrame (§4, RFC 9605) ---------------------------------------------------------------


def _min_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def sframe_header(kid: int, ctr: int) -> bytes:
    config, tail = 0, b""
    for value, shift in ((kid, 4), (ctr, 0)):
        if value < 8:
            config |= value << shift
        else:
            raw = _min_bytes(value)
            if len(raw) > 8:
                raise E2EEError("bad_frame", "a key id or counter is at most 8 bytes")
            config |= (0x8 | (len(raw) - 1)) << shift
            tail += raw
    return bytes([config]) + tail


def parse_sframe_header(frame: bytes) -> tuple[int, int, int]:
    """(kid, ctr, header length); raises on a frame too short to hold them."""
    if not frame:
        raise E2EEError("bad_frame", "empty frame")
    config, pos, values = frame[0], 1, []
    for nibble in (config >> 4, config & 0xF):
        if nibble & 0x8:
            n = (nibble & 0x7) + 1
            if len(frame) < pos + n:
                raise E2EEError("bad_frame", "header runs past the frame")
            values.append(int.from_bytes(frame[pos : pos + n], "big"))
            pos += n
        else:
            values.append(nibble)
    return values[0], values[1], pos


def kid_for(epoch: int, sender_tag: int) -> int:
    return epoch * 2**32 + sender_tag


def sender_base_key(room_key: bytes, sender_tag: int) -> bytes:
    return hkdf(b"", room_key, b"parlor sframe sender" + sender_tag.to_bytes(4, "big"), KEY_LEN)


def sframe_key_and_salt(base_key: bytes, kid: int) -> tuple[bytes, bytes]:
    secret = hkdf_extract(b"", base_key)
    tail = kid.to_bytes(8, "big") + CIPHER_SUITE.to_bytes(2, "big")
    key = hkdf_expand(secret, b"SFrame 1.0 Secret key " + tail, KEY_LEN)
    salt = hkdf_expand(secret, b"SFrame 1.0 Secret salt " + tail, NONCE_LEN)
    return key, salt


def _nonce(salt: bytes, ctr: int) -> bytes:
    return bytes(a ^ b for a, b in zip(salt, ctr.to_bytes(NONCE_LEN, "big"), strict=True))


def is_dtx(frame: bytes) -> bool:
    """A 1–2 byte Opus DTX frame the server inserts itself; it is never encrypted."""
    return 0 < len(frame) <= 2


class SFrameSender:
    """Encrypts one sender's frames under the room key of one epoch."""

    def __init__(self, room_key: bytes, epoch: int, sender_tag: int | None = None) -> None:
        self.epoch = epoch
        self.sender_tag = sender_tag if sender_tag is not None else int.from_bytes(os.urandom(4), "big")
        self.kid = kid_for(epoch, self.sender_tag)
        key, self._salt = sframe_key_and_salt(sender_base_key(room_key, self.sender_tag), self.kid)
        self._aead = AESGCM(key)
        self.ctr = 0

    def encrypt(self, payload: bytes) -> bytes:
        header = sframe_header(self.kid, self.ctr)
        nonce = _nonce(self._salt, self.ctr)
        self.ctr += 1
        return header + self._aead.encrypt(nonce, payload, header)


@dataclass
class _Replay:
    highest: int = -1
    seen: set[int] = field(default_factory=set)

    def fresh(self, ctr: int) -> bool:
        return ctr > self.highest - REPLAY_WINDOW and ctr not in self.seen

    def mark(self, ctr: int) -> None:
        self.seen.add(ctr)
        if ctr > self.highest:
            self.highest = ctr
            floor = ctr - REPLAY_WINDOW
            self.seen = {c for c in self.seen if c > floor}


class SFrameReceiver:
    """Decrypts every sender's frames with the room keys of the last few epochs."""

    def __init__(self) -> None:
        self._room_keys: dict[int, bytes] = {}
        self._senders: dict[int, tuple[AESGCM, bytes, _Replay]] = {}

    @property
    def epochs(self) -> list[int]:
        return sorted(self._room_keys)

    def add_key(self, epoch: int, room_key: bytes) -> None:
        if len(room_key) != KEY_LEN:
            raise E2EEError("bad_key", "a room key is 16 bytes")
        self._room_keys[epoch] = room_key
        for old in sorted(self._room_keys)[:-EPOCHS_KEPT]:
            del self._room_keys[old]
        self._senders = {k: v for k, v in self._senders.items() if k >> 32 in self._room_keys}

    def decrypt(self, frame: bytes) -> bytes:
        """The Opus frame, or E2EEError (`no_key`, `bad_frame`, `replayed`)."""
        if is_dtx(frame):
            return frame
        kid, ctr, hlen = parse_sframe_header(frame)
        if len(frame) < hlen + TAG_LEN:
            raise E2EEError("bad_frame", "too short for its tag")
        state = self._senders.get(kid)
        if state is None:
            room_key = self._room_keys.get(kid >> 32)
            if room_key is None:
                raise E2EEError("no_key", f"no key for epoch {kid >> 32}")
            key, salt = sframe_key_and_salt(sender_base_key(room_key, kid & 0xFFFFFFFF), kid)
            state = (AESGCM(key), salt, _Replay())
            self._senders[kid] = state
        aead, salt, replay = state
        if not replay.fresh(ctr):
            raise E2EEError("replayed", "counter already seen")
        try:
            plain = aead.decrypt(_nonce(salt, ctr), frame[hlen:], frame[:hlen])
        except InvalidTag as exc:
            raise E2EEError("bad_frame", "authentication failed") from exc
        replay.mark(ctr)
        return plain


# -- chat (§5) -----------------------------------------------------------------------------


def chat_key(room_key: bytes) -> bytes:
    return hkdf(b"", room_key, b"parlor chat v1", KEY_LEN)


def encrypt_chat(room_key: bytes, epoch: int, room_id: str, text: str, nonce: bytes | None = None) -> str:
    nonce = nonce if nonce is not None else os.urandom(NONCE_LEN)
    sealed = AESGCM(chat_key(room_key)).encrypt(nonce, text.encode(), room_id.encode())
    return f"{CHAT_PREFIX}{epoch}:{b64e(nonce + sealed)}"


def decrypt_chat(room_keys: Mapping[int, bytes], room_id: str, line: str) -> str:
    match = CHAT_LINE.match(line)
    if match is None:
        raise E2EEError("bad_frame", "not an encrypted chat line")
    room_key = room_keys.get(int(match.group(1)))
    if room_key is None:
        raise E2EEError("no_key", "no key for that epoch")
    raw = b64d(match.group(2))
    if len(raw) < NONCE_LEN + TAG_LEN:
        raise E2EEError("bad_frame", "too short")
    try:
        plain = AESGCM(chat_key(room_key)).decrypt(raw[:NONCE_LEN], raw[NONCE_LEN:], room_id.encode())
    except InvalidTag as exc:
        raise E2EEError("bad_frame", "authentication failed") from exc
    return plain.decode()
