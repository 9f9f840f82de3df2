"""SQLite shared with other processes: a commit made elsewhere (`parlor admin …`, its
own process) is what this process's pooled connections read next, even after a second
handle on the same file was opened here (a CLI command run in-process, as tests do).

Found as: after `parlor admin reset-password` the server still took the ended session.
Opening and closing the database file from Python dropped SQLite's POSIX locks in this
process; the other process then took its connection for the last one, checkpointed
and removed the WAL, and the pooled connections here read the removed one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from parlor.storage.db import Database


def elsewhere(path: Path, sql: str) -> None:
    """`sql` committed by another process, which then closes its connection."""
    script = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit(); c.close()"
    subprocess.run([sys.executable, "-c", script, str(path), sql], check=True, timeout=30)


async def read(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT x FROM t"))).scalar_one())


async def test_another_process_s_commit_is_read_after_a_second_handle_opened_here(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert await read(db) == 1  # a connection now waits in the pool, the file open
        second = Database(url)  # as `parlor admin …` run in this process does
        await second.close()
        for x in (2, 3, 4):
            async with db.engine.begin() as conn:  # this process writes, then another
                await conn.execute(sa.text(f"UPDATE t SET x = {x}"))
            elsewhere(tmp_path / "parlor.db", "UPDATE t SET x = x * 10")
            assert await read(db) == x * 10
    finally:
        await db.close()
