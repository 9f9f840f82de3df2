"""`parlor serve | migrate | admin invite | admin reset-password | admin suspend|ban|lift|warn|audit`,
and the console's other actions (`parlor admin reports|people|waitlist|…`, parlor/cli_admin.py).

Mistakes an operator can make (a busy port, an unwritable data dir, a bad or unreachable
database, a data dir with no instance) end the command with one line on stderr that
says what to do, and exit status 2 (parlor.preflight).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from parlor import cli_admin, logs, preflight
from parlor import settings as settings_module
from parlor.errors import Code, ParlorError
from parlor.preflight import StartupError
from parlor.settings import Settings, SettingsError

if TYPE_CHECKING:
    from parlor.actions.services import Services

# Written in the data dir by `parlor serve` once it serves: the URL it printed, which
# `parlor admin invite` uses for its links unless told otherwise.
SERVED_FILE = "served.json"

logger = logging.getLogger("parlor")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where the database and secrets live (PARLOR_DATA_DIR)")
    p.add_argument("--database-url", help="SQLAlchemy URL; default SQLite in the data dir (PARLOR_DATABASE_URL)")


def _add_address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (PARLOR_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (PARLOR_PORT, default 8080)")
    p.add_argument("--public-url", help="the URL people use to reach this instance (PARLOR_PUBLIC_URL)")
    p.add_argument(
        "--node-url",
        help="the URL the other nodes of a cluster reach this one at (PARLOR_NODE_URL; default from host and port)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parlor", description="Self-hostable live audio rooms.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    _add_address(serve)
    serve.add_argument(
        "--ice-host",
        action="append",
        dest="ice_hosts",
        help="address to advertise for media (repeatable; PARLOR_ICE_HOSTS, comma-separated)",
    )
    serve.add_argument(
        "--udp-ports", help="UDP port range for media, e.g. 50000-50199 (PARLOR_UDP_PORTS; default: any)"
    )
    serve.add_argument("--workers", type=int, help="media worker processes, 0 = one per core (PARLOR_WORKERS)")
    serve.add_argument("--media-engine", choices=("fast", "relay"), help="forwarding engine (PARLOR_MEDIA_ENGINE)")
    serve.add_argument("--redis-url", help="the cluster's Redis: bus, leases, rate limits (PARLOR_REDIS_URL)")
    _add_common(serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the database, then exit")
    _add_common(migrate)

    admin = sub.add_parser("admin", help="operator chores")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    invite = admin_sub.add_parser(
        "invite",
        help="print a new invite link (to the URL the instance last served at, unless --public-url, "
        "--host or --port say otherwise)",
    )
    _add_common(invite)
    _add_address(invite)
    reset = admin_sub.add_parser(
        "reset-password",
        help="set a new password for a user (asked twice, or one line on stdin); ends all their sessions and tokens",
    )
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    _add_common(reset)
    _add_sanction_parsers(admin_sub)
    cli_admin.add_parsers(admin_sub, _add_common)

    from parlor.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return parser


def _add_sanction_parsers(admin_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The operator's sanctions, as an admin would make them in the console (audited as
    the operator); a running instance applies them within a second."""
    who = "the member's username (or user id)"
    suspend = admin_sub.add_parser("suspend", help="suspend a member for some days")
    suspend.add_argument("user", help=who)
    suspend.add_argument("--days", type=int, required=True, help="how long, in days (1-3650)")
    suspend.add_argument("--reason", required=True, help="why (kept in the audit log)")
    ban = admin_sub.add_parser("ban", help="ban a member")
    ban.add_argument("user", help=who)
    ban.add_argument("--reason", required=True, help="why (kept in the audit log)")
    lift = admin_sub.add_parser("lift", help="lift a member's suspension or ban")
    lift.add_argument("user", help=who)
    lift.add_argument("--reason", default="", help="why (kept in the audit log)")
    warn = admin_sub.add_parser("warn", help="warn a member (they get the message as a notification)")
    warn.add_argument("user", help=who)
    warn.add_argument("--message", "--reason", dest="message", required=True, help="what they read")
    audit = admin_sub.add_parser("audit", help="print the admin audit log, newest first")
    audit.add_argument("--limit", type=int, default=50, help="how many entries (1-200, default 50)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    for p in (suspend, ban, lift, warn, audit):
        _add_common(p)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name, None)
        for name in (
            "host",
            "port",
            "data_dir",
            "database_url",
            "ice_hosts",
            "public_url",
            "node_url",
            "workers",
            "media_engine",
            "udp_ports",
            "redis_url",
        )
    }
    return settings_module.load(**overrides)


def _print_ready(settings: Settings, setup_token: str | None) -> None:
    print(f"Parlor is serving at {settings.base_url}/", flush=True)
    # The setup token exists only until the admin is claimed: a claimed instance prints no link.
    if setup_token:
        print(f"Claim the admin account (one-time link): {settings.base_url}/setup?token={setup_token}", flush=True)
    elif settings.sso_only:
        print(f"People sign in with {settings.oidc_name} only (PARLOR_SSO_ONLY).", flush=True)
    try:
        (settings.data_dir / SERVED_FILE).write_text(json.dumps({"base_url": settings.base_url}) + "\n")
    except OSError:
        logging.getLogger("parlor").warning("could not record the served URL in %s", settings.data_dir)


def serve(settings: Settings) -> None:
    import uvicorn

    from parlor.app import build_app

    preflight.check_data_dir(settings.data_dir)
    asyncio.run(preflight.check_cluster(settings))
    asyncio.run(preflight.migrate(settings))
    sock = preflight.bind(settings.host, settings.port)
    app = build_app(settings, on_ready=_print_ready)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        log_config=None,  # keep ours (parlor.logs), which strips secrets from access lines
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
        # X-Forwarded-For is believed only from PARLOR_TRUSTED_PROXIES, in the app (parlor.app).
        proxy_headers=False,
    )
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, then runs our lifespan's
    # shutdown (rooms ended, peers closed, database closed).
    uvicorn.Server(config).run(sockets=[sock])


async def _migrate(settings: Settings) -> None:
    preflight.check_data_dir(settings.data_dir)
    await preflight.migrate(settings)


def _invite_base_url(settings: Settings) -> str:
    """The link's base: as told (flags, PARLOR_*), else where the instance last served."""
    if settings.explicit & {"public_url", "host", "port"}:
        return settings.base_url
    try:
        served = json.loads((settings.data_dir / SERVED_FILE).read_text())
        return str(served["base_url"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError):
        return settings.base_url


async def _require_instance(settings: Settings) -> None:
    if not await preflight.database_exists(settings):
        where = preflight.sqlite_file(settings) or preflight.safe_url(settings.effective_database_url)
        raise StartupError(
            f"no Parlor instance at {where}: check --data-dir / PARLOR_DATA_DIR (or --database-url), "
            "or start the instance once with `parlor serve`"
        )
    await preflight.migrate(settings)


async def _services(settings: Settings) -> Services:
    """The instance's services for a chore, once its database is found and migrated."""
    from parlor.app import build_services

    await _require_instance(settings)
    return build_services(settings)


async def _close(s: Services) -> None:
    await s.media.close()
    await s.db.close()


async def _invite(settings: Settings) -> str:
    from parlor.actions import growth

    s = await _services(settings)
    try:
        return str((await growth.do_create_invite(s, None))["code"])
    finally:
        await _close(s)


async def _sanction(settings: Settings, args: argparse.Namespace) -> str:
    """Run one sanction as the operator; the line to print."""
    from parlor.actions import sanctions
    from parlor.storage import accounts as account_store
    from parlor.storage import social as social_store

    s = await _services(settings)
    try:
        ref = args.user.strip().lower().removeprefix("@")
        async with s.db.engine.connect() as conn:
            target = await social_store.user_by_username(conn, ref) if len(ref) <= 30 else None
            if target is None and len(args.user.strip()) <= 32:
                target = await account_store.user_by_id(conn, args.user.strip())
        if target is None:
            raise ParlorError(404, Code.USER_NOT_FOUND, f"There is no member {args.user!r}.")
        command = args.admin_command
        if command == "suspend":
            done = await sanctions.do_suspend(s, None, target.id, args.days, args.reason)
        elif command == "ban":
            done = await sanctions.do_ban(s, None, target.id, args.reason)
        elif command == "lift":
            done = await sanctions.do_lift(s, None, target.id, args.reason)
        else:
            done = await sanctions.do_warn(s, None, target.id, args.message)
    finally:
        await _close(s)
    until = done["standing"]["until"]
    past = {"suspend": "suspended", "ban": "banned", "lift": "lifted the sanction of", "warn": "warned"}[command]
    line = f"{past} @{target.username} ({target.id})"
    return line + (f" until {_utc(until)}" if command == "suspend" and until else "")


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _audit(settings: Settings, limit: int, as_json: bool) -> list[str]:
    from parlor.actions import admin

    s = await _services(settings)
    try:
        page = await admin.audit_log(s, None, limit, None)
    finally:
        await _close(s)
    lines = []
    for e in page["entries"]:
        if as_json:
            lines.append(json.dumps(e, separators=(",", ":")))
            continue
        by = "operator" if e["by_operator"] else _who(e["by"], "a former admin")
        about = _who(e["target"], "") if e["target"] else (e["room"]["title"] if e["room"] else "")
        detail = f" — {e['detail']}" if e["detail"] else ""
        lines.append(f"{_utc(e['at'])}  {by}  {e['action']}  {about}{detail}".rstrip())
    return lines


async def _console(settings: Settings, args: argparse.Namespace) -> list[str]:
    s = await _services(settings)
    try:
        return await cli_admin.run(s, args)
    finally:
        await _close(s)


def _who(person: dict[str, Any] | None, fallback: str) -> str:
    if not person:
        return fallback
    return f"@{person['username']}" if person.get("username") else str(person.get("display_name") or fallback)


def _new_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt that does not echo.
    It is never printed or logged."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("New password again: ") != first:
        raise StartupError("the two passwords differ: nothing changed")
    return first


async def _reset_password(settings: Settings, username: str, password: str) -> int:
    from parlor.actions import passwords
    from parlor.app import build_services
    from parlor.errors import ParlorError

    await _require_instance(settings)
    s = build_services(settings)
    try:
        return await passwords.do_reset_password(s, username, password)
    except ParlorError as exc:
        raise StartupError(f"{exc.message} Nothing changed.") from None
    finally:
        await s.media.close()
        await s.db.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"parlor: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    if args.command == "bench":
        from parlor.bench.cli import main as bench_main

        return bench_main(args)
    try:
        if args.command == "serve":
            serve(settings)
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
            print(f"database ready: {settings.data_dir}")
        elif args.command == "admin" and args.admin_command == "invite":
            code = asyncio.run(_invite(settings))
            print(f"{_invite_base_url(settings)}/invite/{code}")
        elif args.command == "admin" and args.admin_command == "reset-password":
            from parlor.actions.sign_in_methods import check_passwords_on

            check_passwords_on(settings)  # before asking for a password nobody could use
            password = _new_password(args.password_stdin)
            ended = asyncio.run(_reset_password(settings, args.username, password))
            print(f"Password reset for {args.username.strip().lower()}; {ended} sessions and tokens ended.")
        elif args.command == "admin" and args.admin_command == "audit":
            for line in asyncio.run(_audit(settings, args.limit, args.json)):
                print(line)
        elif args.command == "admin" and args.admin_command in cli_admin.COMMANDS:
            for line in asyncio.run(_console(settings, args)):
                print(line)
        elif args.command == "admin" and args.admin_command != "invite":
            print(asyncio.run(_sanction(settings, args)))
    except StartupError as exc:
        print(f"parlor: {exc}", file=sys.stderr)
        return 2
    except ParlorError as exc:
        # Refused (no such member, an admin, nothing to lift…): nothing was changed.
        print(f"parlor: {exc.message} ({exc.code.value})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
