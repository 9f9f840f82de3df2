"""`parlor serve | admin invite | admin reset-password | migrate`.

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

from parlor import logs, preflight
from parlor import settings as settings_module
from parlor.preflight import StartupError
from parlor.settings import Settings, SettingsError

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
    serve.add_argument("--redis-url", help="Redis shared by several nodes, for rate limits (PARLOR_REDIS_URL)")
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

    from parlor.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return parser


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
    try:
        (settings.data_dir / SERVED_FILE).write_text(json.dumps({"base_url": settings.base_url}) + "\n")
    except OSError:
        logging.getLogger("parlor").warning("could not record the served URL in %s", settings.data_dir)


def serve(settings: Settings) -> None:
    import uvicorn

    from parlor.app import build_app

    preflight.check_data_dir(settings.data_dir)
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


async def _invite(settings: Settings) -> str:
    from parlor.actions import accounts
    from parlor.app import build_services

    await _require_instance(settings)
    s = build_services(settings)
    try:
        return await accounts.do_create_invite(s, None)
    finally:
        await s.media.close()
        await s.db.close()


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
            password = _new_password(args.password_stdin)
            ended = asyncio.run(_reset_password(settings, args.username, password))
            print(f"Password reset for {args.username.strip().lower()}; {ended} sessions and tokens ended.")
    except StartupError as exc:
        print(f"parlor: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
