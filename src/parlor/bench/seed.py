"""Members and bearer tokens written straight into a bench node's SQLite database.

Signing up through /api/signup costs ~50 ms of argon2 per member; a bench of 1,000
listeners seeds them instead, before the node starts: migrations first (`parlor
migrate`), then rows in the same schema (storage/tables.py) with one precomputed
argon2 hash for everyone. A bearer token is stored as the SHA-256 hex of the token,
kind "bearer", exactly as `actions.accounts.do_create_token` stores it.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher

from parlor.actions.ids import digest, new_id
from parlor.storage.tables import sessions, users

PASSWORD = "bench-password"


@dataclass(frozen=True)
class Member:
    user_id: str
    username: str
    token: str


def migrate(data_dir: Path) -> None:
    """`parlor migrate --data-dir` in a subprocess (the same code path an operator runs)."""
    subprocess.run(
        [sys.executable, "-m", "parlor.cli", "migrate", "--data-dir", str(data_dir)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def seed_members(data_dir: Path, count: int, prefix: str = "bench") -> list[Member]:
    """Insert `count` members with one bearer token each; return them in order."""
    password_hash = PasswordHasher().hash(PASSWORD)
    now = time.time()
    members = [
        Member(f"u_{prefix}{i:06d}", f"{prefix}{i:06d}", "pt_" + secrets.token_urlsafe(32)) for i in range(count)
    ]
    engine = sa.create_engine(f"sqlite:///{data_dir / 'parlor.db'}")
    try:
        with engine.begin() as conn:
            if members:
                conn.execute(
                    users.insert(),
                    [
                        {
                            "id": m.user_id,
                            "username": m.username,
                            "display_name": m.username.title(),
                            "password_hash": password_hash,
                            "is_admin": False,
                            "invited_by": None,
                            "created_at": now,
                        }
                        for m in members
                    ],
                )
                conn.execute(
                    sessions.insert(),
                    [
                        {
                            "secret_hash": digest(m.token),
                            "id": new_id("s"),
                            "user_id": m.user_id,
                            "kind": "bearer",
                            "name": "bench",
                            "created_at": now,
                            "expires_at": None,
                        }
                        for m in members
                    ],
                )
    finally:
        engine.dispose()
    return members
