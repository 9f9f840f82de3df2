"""The database handle: engine, migrations at start, clean close.

SQLite (aiosqlite, WAL) by default; PostgreSQL through asyncpg. The few dialect
differences the queries need live here (`byte_order`, `insert_ignore`), so the
storage modules read the same on both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_MMAP_BYTES = 1 << 30

# Plain driver-less URLs an operator is likely to paste, and the async driver we use.
_DRIVERS = {
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "sqlite://": "sqlite+aiosqlite://",
}


def async_url(url: str) -> str:
    """`postgresql://…` → `postgresql+asyncpg://…`, `sqlite://…` → `sqlite+aiosqlite://…`."""
    for plain, driver in _DRIVERS.items():
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def private_dir(path: Path) -> None:
    """Create `path` (and parents) or take an existing one: either way, mode 0700.
    mkdir's mode says nothing about a directory that already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)


def private_sqlite_file(url: str) -> None:
    """The SQLite file (and its WAL and shared-memory files) readable by us only, 0600.

    Created here, empty and 0600, before SQLite opens it: SQLite would create it with
    0644 (0666 less the usual umask), and gives the -wal and -shm files the database
    file's mode. A file left 0644 by an older version is tightened."""
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    db = Path(path)
    private_dir(db.parent)
    # Only ever open a file that is not there yet: closing any descriptor of a file drops
    # every POSIX lock this process holds on it, SQLite's too. With its shared lock gone,
    # another process's connection takes itself for the last one, checkpoints and
    # removes the WAL, and this process's open connections go on reading the old one.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) != 0o600:
            file.chmod(0o600)


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class SchemaTooNew(Exception):
    """The database was migrated by a newer Parlor than this one."""

    def __init__(self, found: str, head: str) -> None:
        super().__init__(f"the database's schema revision {found} is unknown here (newest known: {head})")
        self.found, self.head = found, head


def schema_head() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Nodes of a cluster starting together: one migrates, the others wait, then find
        # nothing to do. Held until this transaction ends.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(72617)")
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    cfg = _alembic_config(connection)
    found = MigrationContext.configure(connection).get_current_revision()
    known = ScriptDirectory.from_config(cfg)
    if found is not None:
        try:
            known.get_revision(found)
        except CommandError:
            # Upgrading from an unknown revision would fail half-way, or worse: refuse.
            raise SchemaTooNew(found, schema_head()) from None
    command.upgrade(cfg, "head")


class Database:
    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.is_postgresql = self.url.startswith("postgresql")
        if not (self.is_sqlite or self.is_postgresql):
            raise ValueError(f"unsupported database URL (SQLite or PostgreSQL): {url.split(':', 1)[0]}:…")
        options: dict[str, Any] = {} if self.is_sqlite else {"pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            private_sqlite_file(self.url)
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)
        logger.info("database ready (%s)", self.engine.dialect.name)

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL: readers don't block the writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # deleted rows (an account deletion) are overwritten, not left in free pages
    cursor.execute("PRAGMA secure_delete=ON")
    # Reads straight from the OS page cache instead of copying pages into each
    # connection's small (2 MB) cache: prefix searches touch pages all over the indexes.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


# -- dialect differences -----------------------------------------------------------------


def byte_order(conn: AsyncConnection, expr: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """`expr` compared in code point order, as the prefix indexes of migration 0002 are.

    SQLite's default (BINARY) already is; PostgreSQL needs COLLATE "C" to match
    the index and to make a range a prefix whatever the database's collation.
    """
    if conn.dialect.name == "postgresql":
        return sa.collate(expr, "C")
    return expr


def insert_ignore(conn: AsyncConnection, table: sa.Table, **values: Any) -> sa.Executable:
    """INSERT that does nothing when the primary key exists (idempotent writes, no race)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_nothing()
