"""Private contact matching, the client's side (docs/API.md, "Contact matching").

The client reads a contact list (pasted text, a vCard or a CSV file), normalises
each phone number to E.164 and each e-mail address, and hashes it with the
instance's contact key: HMAC-SHA256(key, "phone:+441234…" | "email:ann@…").
It sends the server only the first `prefix_bits` bits of each hash, gets back
every findable identifier in those buckets (with its full keyed hash), and
matches locally. No identifier, nor any full hash of one, leaves this module
for the network (tests/test_contacts.py captures every request to prove it).

`web/static/contacts.js` is the same in the browser; both are checked against
tests/data/contact_vectors.json, so they must change together.

This module imports nothing of the server, like the rest of `parlor.client`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

E164_MIN_DIGITS, E164_MAX_DIGITS = 7, 15
EMAIL_MAX = 254
MAX_PREFIXES_PER_REQUEST = 1000

_PHONE_NOISE = re.compile(r"[\s.\-()/]")
_PHONE_LIKE = re.compile(r"^[+\d\s.\-()/]+$")
_COUNTRY = re.compile(r"^\+?([1-9]\d{0,2})$")
# "+44 (0)20 …": the bracketed trunk zero written after a country code is not dialled.
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")


def normalize_country(code: str | None) -> str | None:
    """A default country calling code, "+44" or "44" → "44"; None when not one."""
    if code is None:
        return None
    m = _COUNTRY.match(code.strip())
    return m.group(1) if m else None


def normalize_phone(raw: str, default_country: str | None = None) -> str | None:
    """E.164 ("+" and 7–15 digits), or None when `raw` cannot be one.

    Spaces, dots, dashes, slashes and parentheses are dropped; a leading "00"
    means "+"; a number without either is national: one leading trunk "0" is
    dropped and the default country code put in front (no default: None).
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    if not text or not _PHONE_LIKE.match(text):
        return None
    international = text.startswith("+") or text.startswith("00")
    if international:
        text = _TRUNK_IN_BRACKETS.sub("", text)
    digits = _PHONE_NOISE.sub("", text)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    else:
        country = normalize_country(default_country)
        if country is None:
            return None
        if digits.startswith("0"):
            digits = digits[1:]
        digits = country + digits
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    if not E164_MIN_DIGITS <= len(digits) <= E164_MAX_DIGITS:
        return None
    return "+" + digits


def normalize_email(raw: str) -> str | None:
    """Trimmed, NFC, lower-cased; None unless it looks like local@domain.tld.

    Provider-specific rules (Gmail's dots and "+tags") are not folded: they hold
    only for some domains, and guessing wrong would match the wrong person.
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    text = text.lower()
    local, at, domain = text.partition("@")
    if not at or not local or "@" in domain or len(text) > EMAIL_MAX:
        return None
    if any(ch.isspace() for ch in text):
        return None
    if "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return text


def normalize(raw: str, default_country: str | None = None) -> tuple[str, str] | None:
    """(kind, value) for one identifier: "email" when it has an "@", else "phone"."""
    if "@" in raw:
        email = normalize_email(raw)
        return ("email", email) if email else None
    phone = normalize_phone(raw, default_country)
    return ("phone", phone) if phone else None


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256(contact key, "kind:value"), lower-case hex: all a server ever holds."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def prefix_of(hash_hex: str, bits: int) -> int:
    """The first `bits` bits (0–32) of a hex hash, as an integer."""
    if not 0 <= bits <= 32:
        raise ValueError("bits must be 0 to 32")
    return int(hash_hex[:8], 16) >> (32 - bits)


# -- reading contact lists ------------------------------------------------------------------


def parse_vcard(text: str) -> list[str]:
    """The TEL and EMAIL values of a vCard file (any version; folded lines unfolded)."""
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    found = []
    for line in unfolded.splitlines():
        name, colon, value = line.partition(":")
        if not colon:
            continue
        # "item1.TEL;TYPE=cell" → "TEL"
        prop = name.split(";", 1)[0].rsplit(".", 1)[-1].strip().upper()
        if prop in ("TEL", "EMAIL") and value.strip():
            found.append(value.strip())
    return found


def _looks_like_contact(cell: str) -> bool:
    cell = cell.strip()
    if "@" in cell:
        return True
    return bool(_PHONE_LIKE.match(cell)) and sum(ch.isdigit() for ch in cell) >= E164_MIN_DIGITS - 1


def parse_csv(text: str) -> list[str]:
    """Every cell of a CSV file that looks like a phone number or an e-mail address."""
    return [cell.strip() for row in csv.reader(io.StringIO(text)) for cell in row if _looks_like_contact(cell)]


def parse_list(text: str) -> list[str]:
    """A pasted list: one identifier per line, or separated by commas or semicolons."""
    return [part.strip() for part in re.split(r"[\n\r,;]+", text) if part.strip()]


def parse_contacts(text: str, filename: str = "") -> list[str]:
    """Raw identifiers from a vCard file, a CSV file (by name) or pasted text."""
    if re.search(r"^BEGIN:VCARD", text, re.IGNORECASE | re.MULTILINE):
        return parse_vcard(text)
    if filename.lower().endswith(".csv"):
        return parse_csv(text)
    return parse_list(text)


# -- matching --------------------------------------------------------------------------------


class Caller(Protocol):
    """What matching needs of a client: `ParlorClient.call`."""

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Contact:
    raw: str
    kind: str
    value: str
    hash: str


@dataclass
class Matches:
    """Who of your contacts is here: members (with `followed_by_you`) and waitlisted people.

    Each entry is the server's candidate record plus `contacts`: which of your raw
    entries matched it (known only here, never sent).
    """

    members: list[dict[str, Any]] = field(default_factory=list)
    waitlisted: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def prepare(entries: Iterable[str], key: bytes, default_country: str | None) -> tuple[list[Contact], list[str]]:
    """Normalise and hash; returns (contacts, entries that are neither a phone nor an e-mail)."""
    contacts: list[Contact] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for raw in entries:
        found = normalize(raw, default_country)
        if found is None:
            skipped.append(raw)
            continue
        kind, value = found
        digest = keyed_hash(key, kind, value)
        if digest not in seen:
            seen.add(digest)
            contacts.append(Contact(raw, kind, value, digest))
    return contacts, skipped


def match_locally(contacts: list[Contact], buckets: list[dict[str, Any]]) -> Matches:
    """Keep the candidates whose full keyed hash is one of ours."""
    by_hash: dict[str, list[Contact]] = {}
    for c in contacts:
        by_hash.setdefault(c.hash, []).append(c)
    members: dict[str, dict[str, Any]] = {}
    waitlisted: dict[str, dict[str, Any]] = {}
    for bucket in buckets:
        for candidate in bucket["candidates"]:
            mine = by_hash.get(candidate["hash"])
            if not mine:
                continue
            if "member" in candidate:
                person, into = candidate["member"], members
            else:
                person, into = candidate["waitlisted"], waitlisted
            entry = into.setdefault(person["id"], {**person, "contacts": []})
            entry["contacts"] += [c.raw for c in mine if c.raw not in entry["contacts"]]
    return Matches(list(members.values()), list(waitlisted.values()))


async def fetch_params(client: Caller) -> tuple[bytes, int]:
    params = await client.call("GET", "/api/contacts/params")
    return bytes.fromhex(params["key"]), int(params["prefix_bits"])


async def find_contacts(client: Caller, entries: Iterable[str], *, default_country: str | None = None) -> Matches:
    """Which of `entries` (raw phone numbers and e-mail addresses) are findable here.

    Sends only hash prefixes, `MAX_PREFIXES_PER_REQUEST` a request. If the
    instance's prefix length changes meanwhile (it grew), starts again once.
    """
    entries = list(entries)
    for attempt in range(2):
        key, bits = await fetch_params(client)
        contacts, skipped = prepare(entries, key, default_country)
        prefixes = sorted({prefix_of(c.hash, bits) for c in contacts})
        buckets: list[dict[str, Any]] = []
        try:
            for start in range(0, len(prefixes), MAX_PREFIXES_PER_REQUEST):
                chunk = prefixes[start : start + MAX_PREFIXES_PER_REQUEST]
                answer = await client.call("POST", "/api/contacts/match", {"prefix_bits": bits, "prefixes": chunk})
                buckets += answer["buckets"]
        except Exception as exc:
            if attempt == 0 and getattr(exc, "code", "") == "contact_params_changed":
                continue
            raise
        found = match_locally(contacts, buckets)
        found.skipped = skipped
        return found
    raise AssertionError("unreachable")


async def add_findable(
    client: Caller, kind: str, raw: str, *, default_country: str | None = None, waitlist: bool = False
) -> dict[str, Any]:
    """Opt in: make one of your own identifiers findable (only its keyed hash is sent).

    `waitlist`: you are waitlisted (the client sends your X-Waitlist-Token), not a member.
    """
    value = normalize_phone(raw, default_country) if kind == "phone" else normalize_email(raw)
    if value is None:
        raise ValueError(f"not a valid {kind}")
    key, _bits = await fetch_params(client)
    path = "/api/contacts/waitlist/identifiers" if waitlist else "/api/contacts/identifiers"
    return await client.call("POST", path, {"kind": kind, "hash": keyed_hash(key, kind, value)})
