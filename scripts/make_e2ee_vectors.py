"""Writes tests/e2ee_vectors.json: fixed inputs and the bytes docs/E2EE.md says they
give. The Python tests check parlor.e2ee reproduces them; the browser tests check
web/static/e2ee_crypto.js does too, so both sides speak the same format."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from parlor import e2ee


def vectors() -> dict[str, Any]:
    room_id = "r_8f3a2c"
    alice = e2ee.KeyPair.from_scalar(0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA98765432110203040506070)
    bob = e2ee.KeyPair.from_scalar(0x0A1B2C3D4E5F60718293A4B5C6D7E8F9123456789ABCDEF00112233445566778)
    room_key = bytes(range(16))
    epoch, sender_tag = 3, 0xC0FFEE01
    nonce = bytes(range(100, 112))
    wrapped = e2ee.wrap_room_key(
        alice,
        bob.public,
        room_id=room_id,
        epoch=epoch,
        sender="u_alice",
        recipient="u_bob",
        room_key=room_key,
        nonce=nonce,
    )
    sender = e2ee.SFrameSender(room_key, epoch, sender_tag)
    base = e2ee.sender_base_key(room_key, sender_tag)
    key, salt = e2ee.sframe_key_and_salt(base, sender.kid)
    opus = bytes.fromhex("fc ff fe 48 65 6c 6c 6f 20 53 46 72 61 6d 65".replace(" ", ""))
    frames = [sender.encrypt(opus) for _ in range(3)]
    headers = {
        f"{kid}:{ctr}": e2ee.sframe_header(kid, ctr).hex()
        for kid, ctr in [(0, 0), (7, 7), (8, 0), (0x1FF, 0xAAAA), (sender.kid, 300)]
    }
    return {
        "room_id": room_id,
        "alice": {
            "user_id": "u_alice",
            "public": e2ee.b64e(alice.public),
            "safety_code": e2ee.safety_code(room_id, alice.public),
        },
        "bob": {
            "user_id": "u_bob",
            "public": e2ee.b64e(bob.public),
            "safety_code": e2ee.safety_code(room_id, bob.public),
        },
        "wrap": {
            "epoch": epoch,
            "room_key": e2ee.b64e(room_key),
            "nonce": e2ee.b64e(nonce),
            "wrapped": e2ee.b64e(wrapped),
        },
        "sframe": {
            "epoch": epoch,
            "sender_tag": sender_tag,
            "kid": sender.kid,
            "base_key": base.hex(),
            "key": key.hex(),
            "salt": salt.hex(),
            "plaintext": opus.hex(),
            "frames": [f.hex() for f in frames],
        },
        "headers": headers,
        "chat": {
            "epoch": epoch,
            "text": "héllo, room 🔒",
            "nonce": e2ee.b64e(nonce),
            "line": e2ee.encrypt_chat(room_key, epoch, room_id, "héllo, room 🔒", nonce),
        },
        "passphrase": {
            "passphrase": "correct horse",
            "room_name": "Book-Club",
            "key": e2ee.b64e(e2ee.passphrase_key("correct horse", "Book-Club")),
        },
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/e2ee_vectors.json")
    out.write_text(json.dumps(vectors(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
