"""Requests between nodes are believed only when signed with the cluster's node key,
recently (cluster/hop.py): a client cannot pose as a node to claim another address or
act as another user, and a captured hop cannot be replayed later."""

from __future__ import annotations

from parlor.cluster import hop

KEY = bytes(range(32))


def test_a_hop_signed_with_the_key_is_believed_for_what_it_signs_only() -> None:
    token = hop.sign(KEY, 1000.0, "POST", "/api/rooms/r_1/join", "203.0.113.5")
    assert hop.verify(KEY, token, 1005.0, "POST", "/api/rooms/r_1/join", "203.0.113.5")
    # another address, path or method: not what was signed
    assert not hop.verify(KEY, token, 1005.0, "POST", "/api/rooms/r_1/join", "198.51.100.7")
    assert not hop.verify(KEY, token, 1005.0, "POST", "/api/rooms/r_2/join", "203.0.113.5")
    assert not hop.verify(KEY, token, 1005.0, "DELETE", "/api/rooms/r_1/join", "203.0.113.5")


def test_a_hop_without_the_key_or_too_old_is_refused() -> None:
    parts = ("/internal/room-op", '{"op":"attach"}')
    assert not hop.verify(KEY, hop.sign(bytes(32), 1000.0, *parts), 1000.0, *parts)  # another key
    assert not hop.verify(KEY, hop.sign(KEY, 1000.0, *parts), 1000.0 + hop.MAX_AGE_S + 1, *parts)  # replayed late
    assert not hop.verify(b"", hop.sign(b"", 1000.0, *parts), 1000.0, *parts)  # no key: never believed
    for forged in ("", "1000", "1000.", "x.abc", f"1000.{'0' * 64}"):
        assert not hop.verify(KEY, forged, 1000.0, *parts)
