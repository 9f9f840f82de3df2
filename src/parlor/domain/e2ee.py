"""End-to-end encrypted rooms, the server's part (docs/E2EE.md): the form of what it
relays, pure. The server never holds a key: it checks that a public key, a wrapped room
key, an epoch and an encrypted chat line look as the contract says, and nothing more.
"""

from __future__ import annotations

import base64
import re

from parlor.errors import Code, ParlorError

KEY_MAX = 100  # characters of a public key or a wrapped room key (§7)
PUBLIC_KEY_BYTES = 65  # an uncompressed P-256 point: 0x04 || x || y (§1)
EPOCH_MAX = 2**31 - 1
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# An encrypted room's chat line (§5): `e2ee:1:<epoch>:<base64url(nonce || ciphertext)>`.
CHAT_LINE = re.compile(r"e2ee:1:[0-9]{1,10}:[A-Za-z0-9_-]+")


def _bad(message: str) -> ParlorError:
    return ParlorError(400, Code.BAD_KEY, message)


def _decode(text: str) -> bytes | None:
    """Base64url without padding, or None; only the canonical spelling of its bytes."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text else None


def check_public_key(public_key: str) -> str:
    if len(public_key) > KEY_MAX:
        raise _bad(f"A public key is at most {KEY_MAX} characters.")
    raw = _decode(public_key)
    if raw is None or len(raw) != PUBLIC_KEY_BYTES or raw[0] != 0x04:
        raise _bad("A public key is an uncompressed P-256 point (65 bytes, 0x04 first) in base64url.")
    return public_key


def check_wrapped(wrapped: str, epoch: int) -> None:
    if len(wrapped) > KEY_MAX:
        raise _bad(f"A wrapped key is at most {KEY_MAX} characters.")
    if _decode(wrapped) is None:
        raise _bad("A wrapped key is base64url without padding.")
    if not 1 <= epoch <= EPOCH_MAX:
        raise _bad(f"An epoch is 1 to {EPOCH_MAX}.")


def is_chat_line(text: str) -> bool:
    return CHAT_LINE.fullmatch(text) is not None
