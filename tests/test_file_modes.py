"""The data directory is 0700 and the SQLite database (with its WAL and shared-memory
files) 0600, whether the directory is new or already there, under a lax umask too."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import running_instance


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """A umask that lets group and others read (022), as on many systems."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("existing", [False, True], ids=["new dir", "existing dir"])
async def test_the_database_is_0600_and_the_data_dir_0700(tmp_path: Path, lax_umask: None, existing: bool) -> None:
    data = tmp_path / "data"
    if existing:
        data.mkdir(mode=0o755)
        data.chmod(0o755)
    async with running_instance(data) as inst:
        admin = await inst.admin()
        assert (await admin.post("/api/rooms", {"title": "Written"})).status_code == 201
        db = inst.settings.sqlite_path
        assert mode(data) == 0o700
        assert mode(db) == 0o600
        # SQLite removes -wal and -shm when a file's last connection closes (the node opens
        # one per use): hold one open to see the modes SQLite gives them
        with contextlib.closing(sqlite3.connect(db)) as held:
            held.execute("SELECT count(*) FROM users").fetchone()
            for extra in ("-wal", "-shm"):
                side = db.with_name(db.name + extra)
                assert side.exists() and mode(side) == 0o600, extra


async def test_a_database_left_readable_is_tightened(tmp_path: Path, lax_umask: None) -> None:
    data = tmp_path / "data"
    async with running_instance(data) as inst:
        db = inst.settings.sqlite_path
    db.chmod(0o644)
    data.chmod(0o755)
    async with running_instance(data):
        assert mode(db) == 0o600 and mode(data) == 0o700
