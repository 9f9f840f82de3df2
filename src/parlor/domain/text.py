"""Text people type that others will see: the one rule for every such field.

Room titles, display names, bios, token names, waitlist names… all pass through
`clean_text`. It normalises (NFC, every whitespace run one space) and refuses what
has no business in a name or a line of text: control characters (a NUL, which
PostgreSQL refuses outright; a bell; terminal escapes), bidirectional overrides and
isolates (U+202E makes "gnp.exe" read "exe.png"), other invisible format characters,
lone surrogates and private-use characters. Refused, not stripped: what is stored is
what the person typed, or nothing.

Tab, newline and carriage return are whitespace a text area sends; they are folded
into spaces like any other run. The zero-width (non-)joiners and the tag characters
are format characters that emoji sequences and some scripts need, so they stay.
"""

from __future__ import annotations

import unicodedata

from parlor.errors import Code, ParlorError

_FOLDED = frozenset("\t\n\r")
_JOINERS = frozenset("\u200c\u200d")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def _allowed(ch: str) -> bool:
    if ch in _FOLDED or ch in _JOINERS:
        return True
    if "\U000e0020" <= ch <= "\U000e007f":  # tags: subdivision flags (🏴 + tags)
        return True
    return unicodedata.category(ch) not in _REFUSED_CATEGORIES


def has_bad_characters(text: str) -> bool:
    """Whether `text` holds a character no text field accepts."""
    return not all(_allowed(ch) for ch in text)


def bad_text(what: str) -> ParlorError:
    return ParlorError(400, Code.INVALID_INPUT, f"{what} cannot contain control or invisible formatting characters.")


def clean_text(text: str, what: str, *, max_len: int, min_len: int = 0) -> str:
    """`text` normalised, or a 400 naming the field (`what`, e.g. "A room title")."""
    if has_bad_characters(text):
        raise bad_text(what)
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not min_len <= len(cleaned) <= max_len:
        span = f"at most {max_len}" if min_len == 0 else f"{min_len} to {max_len}"
        raise ParlorError(400, Code.INVALID_INPUT, f"{what} is {span} characters.")
    return cleaned
