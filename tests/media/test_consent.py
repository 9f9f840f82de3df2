"""Consent checks answered without aioice (media/consent.py): the same answer aioice
gives, byte for byte, and nothing answered that aioice would refuse."""

from __future__ import annotations

import os

import aioice.stun as stun
import pytest

from parlor.media.consent import ConsentAnswerer

LOCAL, REMOTE, PASSWORD = "nodeufrag", "peerufrag", "node-ice-password-24chars"


def _check(
    username: str = f"{LOCAL}:{REMOTE}",
    key: str = PASSWORD,
    controlled: bool = False,
    method: stun.Method = stun.Method.BINDING,
    extra: bool = True,
) -> tuple[bytes, stun.Message]:
    """A browser's consent check (libwebrtc's attributes), as bytes and as aioice parses it."""
    request = stun.Message(message_method=method, message_class=stun.Class.REQUEST, transaction_id=os.urandom(12))
    request.attributes["USERNAME"] = username
    if extra:
        request.attributes["PRIORITY"] = 1853817087
    if controlled:
        request.attributes["ICE-CONTROLLED"] = 42
    else:
        request.attributes["ICE-CONTROLLING"] = 0x1234567890
        request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(key.encode())
    data = bytes(request)
    return data, stun.parse_message(data)


def _aioice_answer(request: stun.Message, addr: tuple[str, int]) -> bytes:
    """What aioice's Connection.request_received sends for an authenticated check."""
    response = stun.Message(
        message_method=stun.Method.BINDING, message_class=stun.Class.RESPONSE, transaction_id=request.transaction_id
    )
    response.attributes["XOR-MAPPED-ADDRESS"] = addr
    response.add_message_integrity(PASSWORD.encode())
    return bytes(response)


@pytest.mark.parametrize("addr", [("127.0.0.1", 50123), ("192.0.2.77", 9), ("2001:db8::5:1", 61000)])
def test_answer_is_aioice_s_answer_byte_for_byte(addr: tuple[str, int]) -> None:
    answerer = ConsentAnswerer(LOCAL, REMOTE, PASSWORD, addr)
    for _ in range(3):  # a new transaction each time
        data, request = _check()
        answer = answerer.answer(data)
        assert answer == _aioice_answer(request, addr)
        parsed = stun.parse_message(answer)
        assert parsed.transaction_id == request.transaction_id
        assert parsed.message_class == stun.Class.RESPONSE
        assert parsed.attributes["XOR-MAPPED-ADDRESS"] == addr
        assert parsed.check_message_integrity(PASSWORD.encode())
        assert parsed.attributes["FINGERPRINT"] == stun.message_fingerprint(answer[:-8])
    assert answerer.answered == 3


def test_a_minimal_check_is_answered() -> None:
    data, request = _check(extra=False)
    assert ConsentAnswerer(LOCAL, REMOTE, PASSWORD, ("127.0.0.1", 1)).answer(data) == _aioice_answer(
        request, ("127.0.0.1", 1)
    )


def test_what_aioice_must_judge_is_left_to_it() -> None:
    answerer = ConsentAnswerer(LOCAL, REMOTE, PASSWORD, ("127.0.0.1", 5000))
    good, _ = _check()
    refused = [
        _check(key="not-the-password")[0],  # aioice answers 401
        _check(username=f"{LOCAL}:someone-else")[0],
        _check(username=f"other:{REMOTE}")[0],
        _check(controlled=True)[0],  # a role conflict: aioice answers 487 or switches
        _check(method=stun.Method.ALLOCATE)[0],
        good[:-4],  # truncated: the header's length no longer matches
        good[:20],  # no attributes at all
        b"\x80\x60" + good[2:],  # RTP, not STUN
        good[:2] + good[2:4] + b"\x00\x00\x00\x00" + good[8:],  # no magic cookie
        bytes(20),
        b"",
    ]
    without_integrity = stun.Message(
        message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST, transaction_id=os.urandom(12)
    )
    without_integrity.attributes["USERNAME"] = f"{LOCAL}:{REMOTE}"
    refused.append(bytes(without_integrity))
    tampered = bytearray(good)
    tampered[30] ^= 1  # inside USERNAME's value: the MAC no longer holds
    refused.append(bytes(tampered))
    overrun = bytearray(good)
    overrun[22:24] = (4000).to_bytes(2, "big")  # the first attribute claims more than there is
    refused.append(bytes(overrun))
    for data in refused:
        assert answerer.answer(data) is None, data
    assert answerer.answered == 0
    assert answerer.answer(good) is not None


def test_a_scoped_ipv6_address_is_answered_without_its_scope() -> None:
    data, request = _check()
    answer = ConsentAnswerer(LOCAL, REMOTE, PASSWORD, ("fe80::1%lo", 5000)).answer(data)
    assert answer == _aioice_answer(request, ("fe80::1", 5000))


def test_an_address_that_is_not_an_ip_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        ConsentAnswerer(LOCAL, REMOTE, PASSWORD, ("localhost", 5000))
