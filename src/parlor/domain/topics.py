"""Topics: the short labels that tie rooms, events, clubs and people's interests together.

The instance keeps one list (`PARLOR_TOPICS`, comma-separated; DEFAULT_TOPICS otherwise).
A topic is a lowercase slug, so "Music" and "music" are one topic and URLs can carry it.
Rooms, events and clubs carry at most MAX_PER_THING; a person's interests at most
MAX_INTERESTS. Unknown topics are refused, never created on the fly: the list is what
the hallway and search filter by, so it stays small and curated by the operator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from parlor.errors import Code, ParlorError

DEFAULT_TOPICS: tuple[str, ...] = (
    "art",
    "books",
    "business",
    "comedy",
    "faith",
    "film",
    "food",
    "gaming",
    "health",
    "languages",
    "music",
    "news",
    "parenting",
    "politics",
    "science",
    "sports",
    "tech",
    "travel",
    "wellness",
    "writing",
)
MAX_PER_THING = 3
MAX_INTERESTS = 20
MAX_LIST = 200
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def parse_topic_list(raw: Iterable[str]) -> tuple[str, ...] | None:
    """The instance's topic list from a setting, or None when it is not a list of slugs."""
    topics = tuple(dict.fromkeys(t.strip().lower() for t in raw if t.strip()))
    if not 0 < len(topics) <= MAX_LIST or not all(_SLUG.match(t) for t in topics):
        return None
    return topics


def check_topics(raw: object, allowed: Iterable[str], *, limit: int = MAX_PER_THING) -> tuple[str, ...]:
    """`raw` (a JSON list from a client) as known topics, deduplicated, in the given order.

    Refuses anything but a list of strings (400 invalid_input), more than `limit`
    topics (400 too_many_topics) and a topic not on the instance's list (400 unknown_topic).
    """
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ParlorError(400, Code.INVALID_INPUT, "Topics are a list of topic names.")
    topics = tuple(dict.fromkeys(t.strip().lower() for t in raw))
    if len(topics) > limit:
        raise ParlorError(400, Code.TOO_MANY_TOPICS, f"Pick at most {limit} topics.")
    known = frozenset(allowed)
    for topic in topics:
        if topic not in known:
            raise ParlorError(400, Code.UNKNOWN_TOPIC, f"{topic[:40]!r} is not a topic here.")
    return topics
