"""Events: scheduled rooms (DESIGN §5). The pure rules: what a valid event is, and when
each reminder is due, late or skipped. No I/O; the clock is an argument.

Times are seconds since the epoch (UTC). A client gives them as ISO 8601 with an offset
("2027-03-21T19:00:00+01:00"); a time without an offset is refused, never guessed.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from parlor.domain.text import clean_text
from parlor.errors import Code, ParlorError

TITLE_MAX = 120  # as a room's title: the room an event opens carries it
DESCRIPTION_MAX = 1000
COHOSTS_MAX = 5
TIME_ZONE_MAX = 64
# How far ahead an event may be scheduled, and how long one may last.
AHEAD_MAX_S = 366 * 86400
LENGTH_MAX_S = 24 * 3600
# A host may open the event's room this long before its start.
START_EARLY_S = 3600
# A reminder sent more than this after it was due is marked late.
LATE_AFTER_S = 60.0


class State(StrEnum):
    SCHEDULED = "scheduled"  # not started yet
    LIVE = "live"  # its room is open (or was, until the scheduler sees it ended)
    ENDED = "ended"  # its room has ended
    CANCELLED = "cancelled"  # by its host
    MISSED = "missed"  # nobody started it within the grace period


class Reminder(StrEnum):
    LEAD = "lead"  # the configurable time before the start
    START = "start"  # at the start


def _refuse(code: Code, message: str) -> ParlorError:
    return ParlorError(400, code, message)


def clean_title(raw: str) -> str:
    title = clean_text(raw, "An event's title", max_len=TITLE_MAX)
    if not title:
        raise _refuse(Code.INVALID_INPUT, "An event needs a title.")
    return title


def clean_description(raw: str) -> str:
    return clean_text(raw, "An event's description", max_len=DESCRIPTION_MAX)


def parse_time(raw: str, what: str) -> float:
    """ISO 8601 with an offset → seconds since the epoch; anything else is a 400 `invalid_time`."""
    try:
        when = datetime.fromisoformat(raw.strip()) if len(raw) <= 40 else None
    except ValueError:
        when = None
    if when is None:
        raise _refuse(Code.INVALID_TIME, f"{what} is not a date and time (ISO 8601, e.g. 2027-03-21T19:00:00+01:00).")
    if when.tzinfo is None or when.utcoffset() is None:
        raise _refuse(Code.INVALID_TIME, f"{what} needs a UTC offset (e.g. +01:00 or Z).")
    return when.timestamp()


def check_time_zone(raw: str | None) -> str | None:
    """An IANA time zone name ("Europe/Berlin"), or None; unknown names are a 400 `unknown_time_zone`."""
    if raw is None or raw == "":
        return None
    name = raw.strip()
    if len(name) > TIME_ZONE_MAX or name.startswith(("/", ".")) or ".." in name:
        raise _refuse(Code.UNKNOWN_TIME_ZONE, "That is not a time zone name (e.g. Europe/Berlin).")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _refuse(
            Code.UNKNOWN_TIME_ZONE, f"{name[:40]!r} is not a time zone we know (e.g. Europe/Berlin)."
        ) from None
    return name


def check_times(starts_at: float, ends_at: float | None, now: float) -> None:
    """A new or moved event starts in the future, within AHEAD_MAX_S, and ends after it starts."""
    if starts_at <= now:
        raise _refuse(Code.TIME_IN_PAST, "An event must start in the future.")
    if starts_at > now + AHEAD_MAX_S:
        raise _refuse(Code.INVALID_TIME, "An event can be scheduled at most a year ahead.")
    if ends_at is not None:
        if ends_at <= starts_at:
            raise _refuse(Code.END_BEFORE_START, "An event must end after it starts.")
        if ends_at - starts_at > LENGTH_MAX_S:
            raise _refuse(Code.INVALID_TIME, "An event lasts at most 24 hours.")


def check_cohost_count(usernames: list[str]) -> None:
    if len(usernames) > COHOSTS_MAX:
        raise _refuse(Code.TOO_MANY_COHOSTS, f"An event has at most {COHOSTS_MAX} co-hosts.")


@dataclass(frozen=True)
class Due:
    """What the scheduler does for one event now: reminders to send (kind, late) and to skip."""

    send: tuple[tuple[Reminder, bool], ...] = ()
    skip: tuple[Reminder, ...] = ()


def over_at(starts_at: float, ends_at: float | None, grace_s: float) -> float:
    """When an event nobody started counts as over: its end, else its start plus the grace."""
    return ends_at if ends_at is not None else starts_at + grace_s


def due_reminders(
    *,
    state: State,
    starts_at: float,
    ends_at: float | None,
    done: frozenset[Reminder],
    now: float,
    lead_s: float,
    grace_s: float,
) -> Due:
    """Which reminders are due for an event at `now` (docs/API.md, Events: reminders).

    - the lead reminder is due at `starts_at - lead_s`, the start reminder at `starts_at`;
    - either is sent late (and marked late) when the node was down at its due time,
      as long as the event has not started yet (lead) or is not over (start);
    - the lead reminder is skipped when the start reminder is due too: one message, not two;
    - everything is skipped once the event is over, cancelled or missed;
    - a start reminder is skipped when the event is live already: its subscribers were
      told when it went live.
    """
    pending = [kind for kind in (Reminder.LEAD, Reminder.START) if kind not in done]
    if not pending:
        return Due()
    if state in (State.CANCELLED, State.MISSED, State.ENDED) or now >= over_at(starts_at, ends_at, grace_s):
        return Due(skip=tuple(pending))
    send: list[tuple[Reminder, bool]] = []
    skip: list[Reminder] = []
    lead_due, start_due = starts_at - lead_s, starts_at
    if Reminder.LEAD in pending and now >= lead_due:
        if now >= start_due:
            skip.append(Reminder.LEAD)
        elif state is State.LIVE:
            skip.append(Reminder.LEAD)
        else:
            send.append((Reminder.LEAD, now - lead_due > LATE_AFTER_S))
    if Reminder.START in pending and now >= start_due:
        if state is State.LIVE:
            skip.append(Reminder.START)
        else:
            send.append((Reminder.START, now - start_due > LATE_AFTER_S))
    return Due(send=tuple(send), skip=tuple(skip))
