"""Single sign-on rules that need no I/O: the username a new account gets from the
provider's claims, whether the claims make an admin, and the sealed state that carries a
sign-in from its start to the provider's redirect back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

USERNAME_MIN, USERNAME_MAX = 3, 30
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def username_base(claims: Mapping[str, Any]) -> str:
    """A username made from `preferred_username`, else the e-mail's local part, else
    "member": lowercase letters, digits and underscores, 3 to 30 of them."""
    raw = claims.get("preferred_username")
    if not isinstance(raw, str) or not raw.strip():
        email = claims.get("email")
        raw = email.split("@", 1)[0] if isinstance(email, str) else ""
    # "Zoë.Müller" → "zoe_muller": accents go, other separators become one underscore.
    ascii_only = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = _NOT_NAME.sub("_", ascii_only.lower()).strip("_")[:USERNAME_MAX].rstrip("_")
    if len(name) < USERNAME_MIN:
        name = (name + "_member" if name else "member")[:USERNAME_MAX]
    return name


def username_candidates(base: str, tries: int = 50) -> Iterator[str]:
    """`base`, then `base_2`, `base_3`, … each cut to fit 30 characters."""
    yield base
    for n in range(2, tries + 2):
        suffix = f"_{n}"
        yield base[: USERNAME_MAX - len(suffix)] + suffix


def display_name(claims: Mapping[str, Any], username: str) -> str:
    """The provider's `name`, else the username; the caller cleans and bounds it."""
    name = claims.get("name")
    return name if isinstance(name, str) and name.strip() else username


def in_group(claims: Mapping[str, Any], claim: str, group: str) -> bool:
    """Whether `group` is among the values of `claim` (a list, or one string)."""
    values = claims.get(claim)
    if isinstance(values, str):
        return values == group
    if isinstance(values, list):
        return group in [v for v in values if isinstance(v, str)]
    return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, data: Mapping[str, Any], expires_at: float) -> str:
    """`data` and its expiry, signed with `key` (not encrypted: it goes back to the
    browser that started the sign-in, and only to it)."""
    body = _b64(json.dumps({"d": dict(data), "x": expires_at}, separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unseal(key: bytes, sealed: str, now: float) -> dict[str, Any] | None:
    """The data `seal` signed, if the signature holds and it has not expired; else None."""
    body, dot, mac = sealed.partition(".")
    if not dot or len(sealed) > 4096:
        return None
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), dict):
        return None
    expiry = payload.get("x")
    if not isinstance(expiry, int | float) or expiry < now:
        return None
    data: dict[str, Any] = payload["d"]
    return data
