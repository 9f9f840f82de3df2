"""`parlor admin reports|people|signup-mode|waitlist|settings|end-room|remove-avatar|remove-club`:
the admin console's actions for the operator, as the API does them (the same actions,
with the operator, `None`, as the actor; audited as the operator).

A running instance applies what needs its live rooms (a room ended, a club's rooms,
a picture gone from snapshots) within a second of it being recorded (actions/admin.py).
Each command prints readable lines, or with `--json` one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from parlor.errors import Code, ParlorError

if TYPE_CHECKING:
    from parlor.actions.services import Services
    from parlor.domain.users import User

COMMANDS = ("reports", "people", "signup-mode", "waitlist", "settings", "end-room", "remove-avatar", "remove-club")
# How long `end-room` waits to see the running instance end the room.
END_WAIT_S = 5.0

def add_parsers(admin_sub: argparse._SubParsersAction[argparse.ArgumentParser], add_common: Any) -> None:
    who = "the member's username (or user id)"
    parsers = []

    reports = admin_sub.add_parser("reports", help="the report queue: list, resolve")
    rsub = reports.add_subparsers(dest="action", required=True)
    rlist = rsub.add_parser("list", help="open reports oldest first (or --state handled, newest first)")
    rlist.add_argument("--state", default="open", help="open (default) or handled")
    rlist.add_argument("--limit", type=int, default=50, help="how many (1-100, default 50)")
    resolve = rsub.add_parser("resolve", help="handle a report (its reporter is told the outcome)")
    resolve.add_argument("report_id")
    resolve.add_argument("--outcome", required=True, help="actioned or dismissed")
    resolve.add_argument("--note", help="for the admins (the reporter does not see it)")
    parsers += [rlist, resolve]

    people = admin_sub.add_parser("people", help="people: search, show")
    psub = people.add_subparsers(dest="action", required=True)
    search = psub.add_parser("search", help="by username or display-name prefix (none: the newest)")
    search.add_argument("query", nargs="?", default="")
    search.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    show = psub.add_parser("show", help="one person: standing, invites and whom they invited")
    show.add_argument("user", help=who)
    parsers += [search, show]

    mode = admin_sub.add_parser("signup-mode", help="print the sign-up mode, or set it")
    mode.add_argument("mode", nargs="?", choices=("open", "invite_only", "closed"))
    parsers.append(mode)

    waitlist = admin_sub.add_parser("waitlist", help="the waitlist: list, let-in, delete")
    wsub = waitlist.add_subparsers(dest="action", required=True)
    wlist = wsub.add_parser("list", help="everyone waiting or let in, oldest first")
    wlist.add_argument("--limit", type=int, default=50, help="how many (1-100, default 50)")
    let_in = wsub.add_parser("let-in", help="let a waiting person in (by entry id)")
    let_in.add_argument("entry_id")
    delete = wsub.add_parser("delete", help="take a place off the waitlist (by entry id)")
    delete.add_argument("entry_id")
    parsers += [wlist, let_in, delete]

    settings = admin_sub.add_parser("settings", help="instance settings: show, set KEY=VALUE …")
    ssub = settings.add_subparsers(dest="action", required=True)
    sshow = ssub.add_parser("show", help="print the instance settings")
    sset = ssub.add_parser("set", help="change some, e.g. guest_rooms=true invites_per_member=5")
    sset.add_argument("changes", nargs="+", metavar="KEY=VALUE")
    parsers += [sshow, sset]

    end = admin_sub.add_parser("end-room", help="end a live room now, whoever moderates it")
    end.add_argument("room_id")
    end.add_argument("--reason", required=True, help="why (kept in the audit log)")
    avatar = admin_sub.add_parser("remove-avatar", help="remove a member's profile picture")
    avatar.add_argument("user", help=who)
    avatar.add_argument("--reason", default="", help="why (kept in the audit log)")
    club = admin_sub.add_parser("remove-club", help="remove a club: its live rooms end, all of it goes")
    club.add_argument("club_id")
    club.add_argument("--reason", required=True, help="why (kept in the audit log)")
    parsers += [end, avatar, club]

    for p in parsers:
        p.add_argument("--json", action="store_true", help="print one JSON document")
        add_common(p)


# -- running one ---------------------------------------------------------------------------------


async def run(s: Services, args: argparse.Namespace) -> list[str]:
    """Run the command named by `args` as the operator; the lines to print."""
    command = args.admin_command
    action = getattr(args, "action", None)
    handler = _HANDLERS[(command, action) if (command, action) in _HANDLERS else (command, None)]
    answer, lines = await handler(s, args)
    return [json.dumps(answer, separators=(",", ":"))] if args.json else lines


def _utc(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _name(person: dict[str, Any] | None, fallback: str = "-") -> str:
    if not person:
        return fallback
    return f"@{person['username']}" if person.get("username") else str(person.get("display_name") or fallback)


async def _member(s: Services, ref: str) -> User:
    """A member by username (with or without @) or by id."""
    from parlor.actions import sanctions
    from parlor.storage import social as social_store

    name = ref.strip().lower().removeprefix("@")
    async with s.db.engine.connect() as conn:
        user = await social_store.user_by_username(conn, name) if 0 < len(name) <= 30 else None
    if user is not None:
        return user
    try:
        return await sanctions.find_user(s, ref.strip())
    except ParlorError:
        raise ParlorError(404, Code.USER_NOT_FOUND, f"There is no member {ref!r}.") from None


Answer = tuple[Any, list[str]]


async def _reports_list(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import reports

    page = await reports.queue(s, None, args.state, None, args.limit)
    lines = [
        f"{i['id']}  {_utc(i['created_at'])}  {i['target']['kind']}: {i['target']['label']}  "
        f"({i['reason']}) by {_name(i['reporter'])}" + (f" — {i['outcome']}" if i["outcome"] else "")
        for i in page["items"]
    ]
    return page, lines or [f"no {args.state} reports"]


async def _reports_resolve(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import reports

    item = await reports.do_resolve(s, None, args.report_id, args.outcome, args.note)
    return item, [f"report {item['id']} {item['outcome']}: {item['target']['kind']} {item['target']['label']}"]


async def _people_search(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import admin_people

    found = await admin_people.search(s, None, args.query, args.limit)
    lines = [
        f"@{p['username']}  {p['display_name']}  ({p['id']})  {p['state']}" + ("  admin" if p["is_admin"] else "")
        for p in found["people"]
    ]
    return found, lines or ["nobody"]


async def _people_show(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import admin_people

    target = await _member(s, args.user)
    view = await admin_people.person(s, None, target.id)
    user, standing = view["user"], view["standing"]
    lines = [
        f"@{user['username']}  {user['display_name']}  ({user['id']})  joined {_utc(user['created_at'])}",
        f"standing: {standing['state']}" + (f" until {_utc(standing['until'])}" if standing.get("until") else ""),
        f"invited by: {_name(view['invited_by'])}",
    ]
    for invite in view["invites"]:
        used = f"used by {_name(invite['used_by'])}" if invite["used_by"] else "unused"
        lines.append(f"invite {invite['id']}: {used}")
    return view, lines


async def _signup_mode(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import growth

    if args.mode is None:
        answer = await growth.signup_mode(s)
        return answer, [f"sign-up mode: {answer['mode']}"]
    answer = await growth.do_set_signup_mode(s, None, args.mode)
    return answer, [f"sign-up mode set to {answer['mode']}"]


def _entry_line(e: dict[str, Any]) -> str:
    let_in = ""
    if e["status"] == "admitted":
        let_in = f" by {_name(e['admitted_by'], 'the operator')} {_utc(e['admitted_at'])}"
    return f"{e['id']}  @{e['username']}  {e['display_name']}  {e['status']}{let_in}"


async def _waitlist_list(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import growth

    page = await growth.waitlist(s, None, args.limit, None)
    return page, [_entry_line(e) for e in page["entries"]] or ["nobody is waiting"]


async def _waitlist_let_in(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import growth

    answer = await growth.do_admit(s, None, None, args.entry_id)
    return answer, [f"let in {_entry_line(answer['entry'])}"]


async def _waitlist_delete(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import growth

    await growth.do_delete_waitlist_entry(s, None, args.entry_id)
    return {"id": args.entry_id, "deleted": True}, [f"deleted waitlist entry {args.entry_id}"]


def _setting_value(raw: str) -> Any:
    """What a KEY=VALUE's value means: true/false, a whole number, or text."""
    if raw.lower() in ("true", "false", "on", "off"):
        return raw.lower() in ("true", "on")
    try:
        return int(raw)
    except ValueError:
        return raw


def _settings_lines(settings: dict[str, Any]) -> list[str]:
    return [f"{key} = {json.dumps(value)}" for key, value in settings.items()]


async def _settings_show(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import instance_settings

    answer = await instance_settings.settings(s, None)
    return answer, _settings_lines(answer)


async def _settings_set(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import instance_settings
    from parlor.errors import bad_input

    changes = {}
    for pair in args.changes:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise bad_input(f"Write each change as KEY=VALUE, not {pair!r}.")
        changes[key.strip()] = _setting_value(value.strip())
    answer = await instance_settings.do_change(s, None, changes)
    return answer, _settings_lines(answer)


async def _end_room(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import admin
    from parlor.storage import rooms as room_store

    answer = await admin.do_end_room(s, None, args.room_id, args.reason)
    # Recorded here; the instance holding the room ends it on its next look.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + END_WAIT_S
    while not answer["ended"] and loop.time() < deadline:
        await asyncio.sleep(0.1)
        async with s.db.engine.connect() as conn:
            answer["ended"] = await room_store.open_room_title(conn, answer["id"]) is None
    if answer["ended"]:
        return answer, [f"ended room “{answer['title']}” ({answer['id']})"]
    return answer, [f"asked to end room “{answer['title']}” ({answer['id']}): no running instance has ended it yet"]


async def _remove_avatar(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import admin

    target = await _member(s, args.user)
    answer = await admin.do_remove_avatar(s, None, target.id, args.reason)
    return answer, [f"removed the profile picture of @{target.username} ({target.id})"]


async def _remove_club(s: Services, args: argparse.Namespace) -> Answer:
    from parlor.actions import clubs

    answer = await clubs.do_remove(s, None, args.club_id, args.reason)
    return answer, [f"removed club “{answer['name']}” ({answer['id']})"]


_HANDLERS = {
    ("reports", "list"): _reports_list,
    ("reports", "resolve"): _reports_resolve,
    ("people", "search"): _people_search,
    ("people", "show"): _people_show,
    ("signup-mode", None): _signup_mode,
    ("waitlist", "list"): _waitlist_list,
    ("waitlist", "let-in"): _waitlist_let_in,
    ("waitlist", "delete"): _waitlist_delete,
    ("settings", "show"): _settings_show,
    ("settings", "set"): _settings_set,
    ("end-room", None): _end_room,
    ("remove-avatar", None): _remove_avatar,
    ("remove-club", None): _remove_club,
}
