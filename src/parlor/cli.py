"""`parlor serve | admin invite | migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from parlor import logs
from parlor import settings as settings_module
from parlor.settings import Settings, SettingsError

logger = logging.getLogger("parlor")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="where the database and secrets live (PARLOR_DATA_DIR)")
    p.add_argument("--database-url", help="SQLAlchemy URL; default SQLite in the data dir (PARLOR_DATABASE_URL)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parlor", description="Self-hostable live audio rooms.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", help="address to bind (PARLOR_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (PARLOR_PORT, default 8080)")
    serve.add_argument(
        "--ice-host",
        action="append",
        dest="ice_hosts",
        help="address to advertise for media (repeatable; PARLOR_ICE_HOSTS, comma-separated)",
    )
    serve.add_argument("--public-url", help="the URL people use to reach this instance (PARLOR_PUBLIC_URL)")
    serve.add_argument("--workers", type=int, help="media worker processes, 0 = one per core (PARLOR_WORKERS)")
    serve.add_argument("--media-engine", choices=("fast", "relay"), help="forwarding engine (PARLOR_MEDIA_ENGINE)")
    _add_common(serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the database, then exit")
    _add_common(migrate)

    admin = sub.add_parser("admin", help="operator chores")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    invite = admin_sub.add_parser("invite", help="print a new invite link")
    _add_common(invite)

    from parlor.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name, None)
        for name in ("host", "port", "data_dir", "database_url", "ice_hosts", "public_url", "workers", "media_engine")
    }
    return settings_module.load(**overrides)


def _print_ready(settings: Settings, setup_token: str | None) -> None:
    print(f"Parlor is serving at {settings.base_url}/", flush=True)
    if setup_token:
        print(f"Claim the admin account (one-time link): {settings.base_url}/setup?token={setup_token}", flush=True)


def serve(settings: Settings) -> None:
    import uvicorn

    from parlor.app import build_app

    app = build_app(settings, on_ready=_print_ready)
    # uvicorn handles SIGINT/SIGTERM: it stops accepting, then runs our lifespan's
    # shutdown (rooms ended, peers closed, database closed).
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # keep ours (parlor.logs), which strips secrets from access lines
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
    )


async def _migrate(settings: Settings) -> None:
    from parlor.storage.db import Database

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database(settings.effective_database_url)
    try:
        await db.migrate()
    finally:
        await db.close()


async def _invite(settings: Settings) -> str:
    from parlor.actions import accounts
    from parlor.app import build_services

    await _migrate(settings)
    s = build_services(settings)
    try:
        return await accounts.do_create_invite(s, None)
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
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
        print(f"database ready: {settings.data_dir}")
    elif args.command == "admin" and args.admin_command == "invite":
        code = asyncio.run(_invite(settings))
        print(f"{settings.base_url}/invite/{code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
