"""The E2EE primitives of docs/E2EE.md: the checked-in vectors (which the browser is
tested against too), rotation, replay and tampering."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from parlor import e2ee
from parlor.e2ee import E2EEError

ROOT = Path(__file__).resolve().parents[1]


def test_the_implementation_reproduces_the_checked_in_vectors() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("vectors", ROOT / "scripts/make_e2ee_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checked_in = json.loads((ROOT / "tests/e2ee_vectors.json").read_text())
    assert module.vectors() == checked_in


def test_vectors_decrypt_and_unwrap_back_to_their_inputs() -> None:
    v = json.loads((ROOT / "tests/e2ee_vectors.json").read_text())
    bob = e2ee.KeyPair.from_scalar(0x0A1B2C3D4E5F60718293A4B5C6D7E8F9123456789ABCDEF00112233445566778)
    assert e2ee.b64e(bob.public) == v["bob"]["public"]
    room_key = e2ee.unwrap_room_key(
        bob,
        e2ee.b64d(v["alice"]["public"]),
        room_id=v["room_id"],
        epoch=v["wrap"]["epoch"],
        sender="u_alice",
        recipient="u_bob",
        wrapped=e2ee.b64d(v["wrap"]["wrapped"]),
    )
    assert room_key == e2ee.b64d(v["wrap"]["room_key"])
    rx = e2ee.SFrameReceiver()
    rx.add_key(v["sframe"]["epoch"], room_key)
    plain = [rx.decrypt(bytes.fromhex(f)).hex() for f in v["sframe"]["frames"]]
    assert plain == [v["sframe"]["plaintext"]] * 3
    assert e2ee.decrypt_chat({3: room_key}, v["room_id"], v["chat"]["line"]) == v["chat"]["text"]


def test_header_round_trips_across_sizes() -> None:
    for kid, ctr in [(0, 0), (7, 1), (8, 8), (2**32 + 5, 2**40), (2**63, 2**64 - 1)]:
        header = e2ee.sframe_header(kid, ctr)
        assert e2ee.parse_sframe_header(header + b"rest") == (kid, ctr, len(header))


def test_a_wrapped_key_opens_only_for_its_recipient_in_its_room_and_epoch() -> None:
    alice, bob, eve = (e2ee.KeyPair.generate() for _ in range(3))
    key = os.urandom(16)
    args = {"room_id": "r1", "epoch": 2, "sender": "a", "recipient": "b"}
    wrapped = e2ee.wrap_room_key(alice, bob.public, room_key=key, **args)  # type: ignore[arg-type]
    assert len(wrapped) == e2ee.WRAPPED_LEN
    assert e2ee.unwrap_room_key(bob, alice.public, wrapped=wrapped, **args) == key  # type: ignore[arg-type]
    with pytest.raises(E2EEError):
        e2ee.unwrap_room_key(eve, alice.public, wrapped=wrapped, **args)  # type: ignore[arg-type]
    with pytest.raises(E2EEError):
        e2ee.unwrap_room_key(bob, alice.public, wrapped=wrapped, **{**args, "epoch": 3})  # type: ignore[arg-type]
    with pytest.raises(E2EEError):
        e2ee.unwrap_room_key(bob, alice.public, wrapped=wrapped, **{**args, "room_id": "r2"})  # type: ignore[arg-type]


def test_a_public_key_that_is_not_a_point_is_refused() -> None:
    with pytest.raises(E2EEError) as err:
        e2ee.check_public_key(b"\x04" + b"\x01" * 64)
    assert err.value.code == "bad_key"
    with pytest.raises(E2EEError):
        e2ee.check_public_key(b"\x02" + b"\x01" * 32)


def test_frames_after_rotation_need_the_new_key_and_old_epochs_age_out() -> None:
    k1, k2 = os.urandom(16), os.urandom(16)
    old_member, new_member = e2ee.SFrameReceiver(), e2ee.SFrameReceiver()
    old_member.add_key(1, k1)
    new_member.add_key(2, k2)
    before, after = e2ee.SFrameSender(k1, 1), e2ee.SFrameSender(k2, 2)
    f1, f2 = before.encrypt(b"before"), after.encrypt(b"after")
    assert old_member.decrypt(f1) == b"before"
    with pytest.raises(E2EEError) as err:
        old_member.decrypt(f2)  # removed before epoch 2: never given its key
    assert err.value.code == "no_key"
    with pytest.raises(E2EEError) as err:
        new_member.decrypt(f1)  # joined at epoch 2: cannot read what came before
    assert err.value.code == "no_key"
    for epoch in range(3, 7):
        new_member.add_key(epoch, os.urandom(16))
    assert new_member.epochs == [3, 4, 5, 6]


def test_tampered_replayed_and_garbage_frames_are_dropped() -> None:
    key = os.urandom(16)
    tx, rx = e2ee.SFrameSender(key, 1), e2ee.SFrameReceiver()
    rx.add_key(1, key)
    frame = tx.encrypt(b"opus frame bytes")
    tampered = bytearray(frame)
    tampered[-1] ^= 1
    with pytest.raises(E2EEError) as err:
        rx.decrypt(bytes(tampered))
    assert err.value.code == "bad_frame"
    assert rx.decrypt(frame) == b"opus frame bytes"
    with pytest.raises(E2EEError) as err:
        rx.decrypt(frame)
    assert err.value.code == "replayed"
    for junk in [b"\xff", b"\x80", b"\xff\x01\x02", os.urandom(40)]:
        if e2ee.is_dtx(junk):
            assert rx.decrypt(junk) == junk  # the server's own silence frame passes as is
            continue
        with pytest.raises(E2EEError):
            rx.decrypt(junk)
    later = [tx.encrypt(bytes([i])) for i in range(200)]
    assert rx.decrypt(later[-1]) == bytes([199])
    with pytest.raises(E2EEError):
        rx.decrypt(later[0])  # older than the replay window
    assert rx.decrypt(later[150]) == bytes([150])


def test_safety_codes_differ_for_a_substituted_key() -> None:
    real, swapped = e2ee.KeyPair.generate(), e2ee.KeyPair.generate()
    code = e2ee.safety_code("r1", real.public)
    assert len(code) == 14 and code.replace(" ", "").isdigit()
    assert code == e2ee.safety_code("r1", real.public)
    assert code != e2ee.safety_code("r1", swapped.public)


def test_the_leader_is_the_earliest_keyed_participant() -> None:
    people = [
        {"user_id": "b", "public_key": "x", "keyed_since": 5.0},
        {"user_id": "a", "public_key": "y", "keyed_since": 5.0},
        {"user_id": "c", "public_key": None, "keyed_since": None},
        {"user_id": "d", "public_key": "z", "keyed_since": 9.0},
    ]
    assert e2ee.key_leader(people) == "a"
    assert e2ee.key_leader([people[2]]) is None


def test_passphrase_keys_depend_on_the_room_but_not_its_case() -> None:
    assert e2ee.passphrase_key("pw", "Room") == e2ee.passphrase_key("pw", "room")
    assert e2ee.passphrase_key("pw", "room") != e2ee.passphrase_key("pw", "room2")
