"""iCalendar (RFC 5545) text for events: one event's file and a person's feed. Pure.

An event with a time zone is written in it (`DTSTART;TZID=Europe/Berlin:…`) with a
VTIMEZONE made from the zone's own rules (zoneinfo) for the years the calendar spans,
so calendar apps show the local time the host meant, across DST changes; one without
is written in UTC (`…Z`). Lines end in CRLF and are folded at 75 octets.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRODID = "-//Parlor//Events//EN"


@dataclass(frozen=True)
class CalEvent:
    uid: str
    title: str
    description: str
    starts_at: float
    ends_at: float | None
    time_zone: str | None
    organizer_name: str
    organizer_uri: str
    url: str
    status: str  # "CONFIRMED" | "CANCELLED"
    sequence: int
    updated_at: float
    created_at: float


def escape(text: str) -> str:
    """TEXT values (RFC 5545 §3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _param(text: str) -> str:
    """A parameter value (CN=…): quoted, without the characters a quoted value cannot hold."""
    return '"' + "".join(ch for ch in text if ch not in '"\r\n' and ord(ch) >= 0x20) + '"'


def fold(line: str) -> str:
    """Lines longer than 75 octets go on continuation lines (a space first), never inside a character."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    limit = 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:  # not inside a UTF-8 sequence
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
        limit = 74  # the leading space takes one
    return "\r\n ".join(parts)


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%dT%H%M%SZ")


def _local(ts: float, zone: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%Y%m%dT%H%M%S")


def _offset(delta: timedelta | None) -> str:
    seconds = int((delta or timedelta()).total_seconds())
    sign = "+" if seconds >= 0 else "-"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def transitions(zone: zoneinfo.ZoneInfo, first_year: int, last_year: int) -> list[datetime]:
    """The UTC instants in [first_year, last_year] at which the zone's offset changes."""
    found: list[datetime] = []
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    at = start
    before = at.astimezone(zone).utcoffset()
    while at < end:
        nxt = at + step
        after = nxt.astimezone(zone).utcoffset()
        if after != before:
            low, high = at, nxt  # bisect to the second
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == before:
                    low = mid
                else:
                    high = mid
            found.append(high.replace(microsecond=0))
        at, before = nxt, after
    return found


def vtimezone(name: str, first_year: int, last_year: int) -> list[str]:
    """A VTIMEZONE for `name` covering the years given: one observance per change of offset,
    and one for the offset in force at the start (so a zone without DST has one)."""
    zone = zoneinfo.ZoneInfo(name)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{name}"]

    def observance(at: datetime, before: timedelta | None, after: timedelta | None) -> None:
        local = at.astimezone(zone)
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        # DTSTART is the local time of the change, in the offset before it.
        onset = (at + (before or timedelta())).replace(tzinfo=None)
        lines.extend(
            [
                f"BEGIN:{kind}",
                f"DTSTART:{onset.strftime('%Y%m%dT%H%M%S')}",
                f"TZOFFSETFROM:{_offset(before)}",
                f"TZOFFSETTO:{_offset(after)}",
                f"TZNAME:{local.tzname() or name}",
                f"END:{kind}",
            ]
        )

    first = start.astimezone(zone).utcoffset()
    observance(start, first, first)
    for at in transitions(zone, first_year, last_year):
        observance(at, (at - timedelta(seconds=1)).astimezone(zone).utcoffset(), at.astimezone(zone).utcoffset())
    lines.append("END:VTIMEZONE")
    return lines


def _when(prop: str, ts: float, zone_name: str | None) -> str:
    if zone_name is None:
        return f"{prop}:{_utc(ts)}"
    return f"{prop};TZID={zone_name}:{_local(ts, zoneinfo.ZoneInfo(zone_name))}"


def _vevent(e: CalEvent, stamp: float) -> Iterator[str]:
    yield "BEGIN:VEVENT"
    yield f"UID:{e.uid}"
    yield f"DTSTAMP:{_utc(stamp)}"
    yield f"CREATED:{_utc(e.created_at)}"
    yield f"LAST-MODIFIED:{_utc(e.updated_at)}"
    yield f"SEQUENCE:{e.sequence}"
    yield _when("DTSTART", e.starts_at, e.time_zone)
    if e.ends_at is not None:
        yield _when("DTEND", e.ends_at, e.time_zone)
    yield f"SUMMARY:{escape(e.title)}"
    if e.description:
        yield f"DESCRIPTION:{escape(e.description)}"
    yield f"ORGANIZER;CN={_param(e.organizer_name)}:{e.organizer_uri}"
    yield f"URL:{e.url}"
    yield f"LOCATION:{escape(e.url)}"
    yield f"STATUS:{e.status}"
    yield "END:VEVENT"


def calendar(events: Iterable[CalEvent], *, now: float, name: str | None = None) -> str:
    """A VCALENDAR holding `events` (and the VTIMEZONEs they use), as RFC 5545 text."""
    items = list(events)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape(name)}")
    years: dict[str, tuple[int, int]] = {}
    for e in items:
        if e.time_zone is None:
            continue
        low = datetime.fromtimestamp(e.starts_at, UTC).year - 1
        high = datetime.fromtimestamp(e.ends_at or e.starts_at, UTC).year + 1
        seen = years.get(e.time_zone)
        years[e.time_zone] = (min(low, seen[0]), max(high, seen[1])) if seen else (low, high)
    for zone_name, (low, high) in sorted(years.items()):
        lines.extend(vtimezone(zone_name, low, high))
    for e in items:
        lines.extend(_vevent(e, now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
