"""Start-up checks that turn an operator's mistake into one readable line.

`parlor serve` (and `migrate`, `admin invite`) check, before anything starts: that the
data directory is writable, that the database URL names a database Parlor can use and
that the database answers, and that the port is free (the socket is bound here and
handed to the server, so nothing is printed as "serving" before it is). Each failure
is a `StartupError` whose message says what is wrong and what to do.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from pathlib import Path

from parlor import __version__
from parlor.settings import Settings


class StartupError(Exception):
    """A problem the operator must fix; its message is one line."""


def check_data_dir(data_dir: Path) -> None:
    from parlor.storage.db import private_dir  # sqlalchemy: only once serving

    try:
        private_dir(data_dir)
        probe = data_dir / f".parlor-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"cannot write to the data directory {data_dir} ({exc.strerror or exc}): "
            "fix its owner or permissions, or choose another with --data-dir / PARLOR_DATA_DIR"
        ) from None


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://…"


def _root(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def open_database(settings: Settings) -> object:
    """The Database for the settings' URL, or a StartupError for a URL that names none."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from parlor.storage.db import Database

    url = settings.effective_database_url
    try:
        return Database(url)
    except (ValueError, ArgumentError, NoSuchModuleError) as exc:
        raise StartupError(
            f"bad database URL {safe_url(url)!s}: {_one_line(exc)}; use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST/DB (--database-url / PARLOR_DATABASE_URL)"
        ) from None
    except ModuleNotFoundError as exc:
        raise StartupError(
            f"the database URL needs the {exc.name} module: pip install 'parlor[postgres]'"
        ) from None


async def migrate(settings: Settings, *, timeout: float = 15.0) -> None:
    """Reach the database and bring its schema up to date, or raise StartupError."""
    from parlor.storage.db import Database, SchemaTooNew

    db = open_database(settings)
    assert isinstance(db, Database)
    try:
        async with asyncio.timeout(timeout):
            await db.migrate()
    except SchemaTooNew as exc:
        raise StartupError(
            f"the database at {safe_url(db.url)} has schema revision {exc.found}, newer than this Parlor "
            f"{__version__} knows (up to {exc.head}): a newer version migrated it; run that version here "
            "too (every node of a cluster runs the same one). Nothing was changed"
        ) from None
    except TimeoutError:
        raise StartupError(
            f"the database at {safe_url(db.url)} did not answer in {timeout:.0f} s: is it running and reachable?"
        ) from None
    except Exception as exc:
        root = _root(exc)
        if settings.database_url and db.is_postgresql:
            raise StartupError(
                f"cannot use the PostgreSQL database at {safe_url(db.url)}: {_one_line(root)}; "
                "check that PostgreSQL runs and that --database-url / PARLOR_DATABASE_URL is right"
            ) from None
        raise StartupError(f"cannot open the database {safe_url(db.url)}: {_one_line(root)}") from None
    finally:
        await db.close()


def safe_redis_url(url: str) -> str:
    """The Redis URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = f"{parts.username}:" if parts.username else ":"
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{user}***@{parts.hostname}{port}"))
    except ValueError:
        return url.split("://", 1)[0] + "://…"


async def check_cluster(settings: Settings, *, timeout: float = 5.0) -> None:
    """With a Redis URL: that Redis answers, and the live nodes of the cluster it names run
    this version on this schema. Run before anything is written."""
    if not settings.redis_url:
        return
    try:
        import redis.asyncio
        from redis.exceptions import RedisError
    except ModuleNotFoundError:
        raise StartupError("a Redis URL needs the redis module: pip install 'parlor[redis]'") from None
    from parlor.cluster.base import ClusterError, NodeInfo, check_compatible
    from parlor.cluster.redis import RedisCluster
    from parlor.storage.db import schema_head

    where = safe_redis_url(settings.redis_url)
    try:
        client = redis.asyncio.Redis.from_url(settings.redis_url, socket_connect_timeout=timeout)
    except ValueError as exc:
        raise StartupError(f"bad Redis URL {where}: {_one_line(exc)} (--redis-url / PARLOR_REDIS_URL)") from None
    try:
        async with asyncio.timeout(timeout + 1):
            await client.ping()
        cluster = RedisCluster(settings.redis_url, "preflight")
        try:
            others = await cluster.nodes()
        finally:
            await cluster.close()
        me = NodeInfo(node_id="starting", version=__version__, schema=schema_head(), public_url=settings.base_url)
        check_compatible(me, others)
    except ClusterError as exc:
        raise StartupError(f"{exc}. Nothing was changed") from None
    except (RedisError, OSError, TimeoutError) as exc:
        raise StartupError(
            f"cannot reach Redis at {where}: {_one_line(exc) if not isinstance(exc, TimeoutError) else 'no answer'}; "
            "check that it runs and that --redis-url / PARLOR_REDIS_URL is right"
        ) from None
    finally:
        await client.aclose()


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the settings name, or None for another database."""
    from sqlalchemy.engine import make_url

    from parlor.storage.db import async_url

    if not settings.database_url:
        return settings.sqlite_path
    url = async_url(settings.database_url)
    if not url.startswith("sqlite"):
        return None
    name = make_url(url).database
    return Path(name) if name else None


def _has_schema(conn: object) -> bool:
    import sqlalchemy as sa

    return bool(sa.inspect(conn).has_table("alembic_version"))


async def database_exists(settings: Settings) -> bool:
    """Whether a Parlor database is already there (never creates one)."""
    from parlor.storage.db import Database

    path = sqlite_file(settings)
    if path is not None:
        # Asked before a Database is made: making one creates the (private, empty) file,
        # which is no instance either.
        file = path
        return await asyncio.to_thread(lambda: file.is_file() and file.stat().st_size > 0)
    db = open_database(settings)
    assert isinstance(db, Database)
    try:
        if db.is_sqlite:
            path = sqlite_file(settings)
            return path is not None and await asyncio.to_thread(path.is_file)
        async with asyncio.timeout(15), db.engine.connect() as conn:
            return await conn.run_sync(_has_schema)
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(f"cannot reach the database at {safe_url(db.url)}: {_one_line(_root(exc))}") from None
    finally:
        await db.close()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a busy port is reported before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another Parlor, or another server?): "
                "stop it, or choose another port with --port / PARLOR_PORT"
            ) from None
        if exc.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to listen on port {port}: use a port above 1023 (--port) and a reverse proxy for 80/443"
            ) from None
        raise StartupError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): check --host / PARLOR_HOST"
        ) from None
    sock.set_inheritable(True)
    return sock
