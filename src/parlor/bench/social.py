"""`parlor bench social`: people search and the hallway at 100,000 users, 1,000,000
follows, 10,000 clubs and 50,000 upcoming events.

Fills a fresh database (a temp SQLite file, or a new PostgreSQL database next to
the one `--database-url` names, dropped afterwards) with bulk inserts, puts some
live rooms in memory (some of them clubs' rooms, most with topics), then times, as
random users, searches with random 1–4 character prefixes of real names
(`actions.social.search`) and whole hallway pages, live rooms and upcoming events
(`actions.hallway.hallway_page`, what `GET /api/rooms` answers).

    python -m parlor.bench.social --json
    python -m parlor.bench.social --backend postgresql --json
    python -m parlor.bench.social --database-url postgresql://postgres@/test?host=/var/run/postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.actions import hallway, social
from parlor.actions.services import Services
from parlor.domain import rooms as room_domain
from parlor.domain.topics import DEFAULT_TOPICS
from parlor.domain.users import User
from parlor.settings import load
from parlor.storage.db import async_url
from parlor.storage.tables import club_members, clubs, events, follows, interests, user_blocks, users

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@/test?host=/var/run/postgresql"

FIRST = (
    "Ada Alan Alice Amara Anna Arjun Ben Bianca Carlos Chen Chloe Dana David Elena Emma Farah Felix Grace Hana Hugo "
    "Ines Ivan Jade Jonas Kai Karin Leo Lina Luca Maya Mei Nadia Noah Olga Omar Paula Pedro Quinn Rosa Sam Sara "
    "Tariq Tom Uma Vera Wei Xavier Yara Yusuf Zoe"
).split()
LAST = (
    "Abbott Baker Costa Dubois Evans Fischer Garcia Haddad Ito Jensen Kowalski Lopez Moreau Nakamura Novak Okafor "
    "Petrov Quispe Rossi Silva Tanaka Umar Varga Weber Xu Yilmaz Zhang Andersen Bernard Castillo Dimitrov Eriksson"
).split()
TITLE_WORDS = "coffee morning jazz startup python music books founders night talk chill crypto art design".split()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default=None, help="default: sqlite")
    p.add_argument(
        "--database-url",
        dest="target_url",
        default=None,
        help="a PostgreSQL server to use (a fresh database is created next to this one and dropped after)",
    )
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--follows", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=2_000)
    p.add_argument("--rooms", type=int, default=200, help="live rooms held in memory")
    p.add_argument("--clubs", type=int, default=10_000)
    p.add_argument("--events", type=int, default=50_000, help="upcoming events")
    p.add_argument("--hallways", type=int, default=2_000, help="hallway pages to time")
    p.add_argument("--limit", type=int, default=social.SEARCH_DEFAULT, help="results per search")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print only the JSON result")


def run(args: argparse.Namespace) -> int:
    backend = args.backend or ("postgresql" if args.target_url else "sqlite")
    result = asyncio.run(
        bench(
            backend=backend,
            target_url=args.target_url,
            n_users=args.users,
            n_follows=args.follows,
            n_queries=args.queries,
            n_rooms=args.rooms,
            n_clubs=args.clubs,
            n_events=args.events,
            n_hallways=args.hallways,
            limit=args.limit,
            seed=args.seed,
            verbose=not args.json,
        )
    )
    print(json.dumps(result, indent=None if args.json else 2), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parlor bench social", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


# -- the database -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(backend: str, target_url: str | None) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="parlor-bench-social-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(async_url(target_url or DEFAULT_POSTGRES))
    admin = await asyncpg.connect(
        host=url.query.get("host") or url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    name = f"parlor_bench_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def make_people(n: int, rng: random.Random) -> list[dict[str, Any]]:
    people = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first.lower()}{last.lower()[: rng.randint(0, 4)]}{i}"[:30]
        people.append(
            {
                "id": f"u_{secrets.token_urlsafe(12)}",
                "username": username,
                "display_name": f"{first} {last}",
                "password_hash": "-",  # nobody signs in
                "is_admin": False,
                "invited_by": None,
                "created_at": 1.7e9 + i,
            }
        )
    return people


def make_follows(ids: list[str], n: int, rng: random.Random) -> list[tuple[str, str, float]]:
    """`n` distinct follows; followees skewed (a few people have many followers)."""
    popular = ids[:]
    rng.shuffle(popular)
    seen: set[tuple[int, int]] = set()
    count = len(ids)
    rows: list[tuple[str, str, float]] = []
    while len(rows) < n:
        a = rng.randrange(count)
        b = int(count * rng.random() ** 3)
        if a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        rows.append((ids[a], popular[b], 1.75e9 + len(rows)))
    return rows


async def _bulk(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]], chunk: int = 50_000) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        columns = [c.name for c in table.columns]
        records = [tuple(row[c] for c in columns) for row in rows]
        await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)  # type: ignore[union-attr]
        return
    # A bigger page cache for the load only: the follows indexes are written all over.
    await conn.exec_driver_sql("PRAGMA cache_size=-524288")
    for start in range(0, len(rows), chunk):
        await conn.execute(table.insert(), rows[start : start + chunk])


def make_clubs(
    ids: list[str], n: int, rng: random.Random, now: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`n` clubs, each founded by someone (its admin), and their people: a person is in
    0–5 clubs, popular clubs (the first ones) drawing more of them."""
    rows = []
    people = []
    for i in range(n):
        name = f"{rng.choice(TITLE_WORDS).capitalize()} club {i}"
        founder = rng.choice(ids)
        topics = rng.sample(DEFAULT_TOPICS, rng.randint(0, 3))
        rows.append(
            {
                "id": f"c_bench{i}",
                "name": name,
                "name_key": name.lower(),
                "description": "",
                "rules": "",
                "topics": "," + ",".join(topics) + "," if topics else "",
                "mode": rng.choice(("open", "approval", "invite")),
                "created_by": founder,
                "created_at": now - 86400,
                "archived_at": None,
            }
        )
        people.append({"club_id": f"c_bench{i}", "user_id": founder, "role": "admin", "since": now - 86400})
    taken = {(p["club_id"], p["user_id"]) for p in people}
    if n:
        for user_id in ids:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 5))):
                club_id = f"c_bench{int(n * rng.random() ** 2)}"
                if (club_id, user_id) in taken:
                    continue
                taken.add((club_id, user_id))
                role = rng.choice(("member", "member", "follower", "leader"))
                people.append({"club_id": club_id, "user_id": user_id, "role": role, "since": now - 3600})
    return rows, people


def make_events(ids: list[str], n: int, n_clubs: int, rng: random.Random, now: float) -> list[dict[str, Any]]:
    """`n` upcoming events over the next 30 days (a few live now); hosts skewed to the
    popular, a third of them clubs' events."""
    count = len(ids)
    rows = []
    for i in range(n):
        live = rng.random() < 0.002
        starts = now - rng.uniform(0, 3600) if live else now + rng.uniform(60, 30 * 86400)
        topics = rng.sample(DEFAULT_TOPICS, rng.randint(0, 3))
        rows.append(
            {
                "id": f"e_bench{i}",
                "host_id": ids[int(count * rng.random() ** 2)],
                "club_id": f"c_bench{rng.randrange(n_clubs)}" if n_clubs and rng.random() < 1 / 3 else None,
                "title": " ".join(rng.sample(TITLE_WORDS, 3)).capitalize(),
                "description": "",
                "starts_at": starts,
                "ends_at": None,
                "time_zone": None,
                "topics": ",".join(topics),
                "state": "live" if live else "scheduled",
                "room_id": None,
                "reminders_done": "",
                "created_at": now - 86400,
                "updated_at": now - 86400,
                "sequence": 0,
            }
        )
    return rows


async def fill(
    s: Services, n_users: int, n_follows: int, n_rooms: int, n_clubs: int, n_events: int, rng: random.Random
) -> list[dict[str, Any]]:
    now = time.time()
    people = make_people(n_users, rng)
    ids = [p["id"] for p in people]
    edges = sorted(make_follows(ids, n_follows, rng))  # in primary key order: a faster load
    club_rows, club_people = make_clubs(ids, n_clubs, rng, now)
    blocks = {(rng.choice(ids), rng.choice(ids)) for _ in range(n_users // 10)}
    liked = [
        {"user_id": user_id, "topic": topic}
        for user_id in ids
        if rng.random() < 1 / 3
        for topic in rng.sample(DEFAULT_TOPICS, rng.randint(1, 3))
    ]
    async with s.db.engine.begin() as conn:
        await _bulk(conn, users, people)
        await _bulk(conn, follows, [{"follower_id": a, "followee_id": b, "created_at": at} for a, b, at in edges])
        await _bulk(
            conn, user_blocks, [{"blocker_id": a, "blocked_id": b, "created_at": now} for a, b in blocks if a != b]
        )
        await _bulk(conn, interests, liked)
        await _bulk(conn, clubs, club_rows)
        await _bulk(conn, club_members, club_people)
        await _bulk(conn, events, make_events(ids, n_events, n_clubs, rng, now))
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("PRAGMA cache_size=-2000")  # back to the default for the searches
    # Statistics for the planner; on PostgreSQL also the visibility map (index-only
    # scans), and no autovacuum pass over the fresh million rows during the searches.
    async with s.db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(sa.text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    for i in range(n_rooms):
        host = people[rng.randrange(n_users)]
        title = " ".join(rng.sample(TITLE_WORDS, 3)).capitalize()
        topics = tuple(rng.sample(DEFAULT_TOPICS, rng.randint(0, 3)))
        club = club_rows[rng.randrange(n_clubs)] if n_clubs and rng.random() < 0.2 else None
        room = room_domain.create(
            f"r_bench{i}",
            title,
            host["id"],
            now,
            capacity=5000,
            topics=topics,
            club_id=club["id"] if club else None,
            club_name=club["name"] if club else "",
            members_only=club is not None and rng.random() < 0.5,
        )
        for guest in rng.sample(ids, 5):
            if guest not in room.participants:
                room = room_domain.join(room, guest, now, club_member=True)
        s.live.put(room)
    return people


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(
    *,
    backend: str,
    target_url: str | None,
    n_users: int,
    n_follows: int,
    n_queries: int,
    n_rooms: int,
    n_clubs: int,
    n_events: int,
    n_hallways: int,
    limit: int,
    seed: int,
    verbose: bool,
) -> dict[str, Any]:
    from parlor.app import build_services

    rng = random.Random(seed)
    async with fresh_database(backend, target_url) as url:
        with tempfile.TemporaryDirectory(prefix="parlor-bench-social-data-") as data_dir:
            s = build_services(load({}, data_dir=data_dir, database_url=url))
            try:
                started = time.perf_counter()
                await s.db.migrate()
                if verbose:
                    print(
                        f"# {backend}: inserting {n_users} users, {n_follows} follows, {n_clubs} clubs, "
                        f"{n_events} events ...",
                        file=sys.stderr,
                    )
                people = await fill(s, n_users, n_follows, n_rooms, n_clubs, n_events, rng)
                setup_s = time.perf_counter() - started
                # The bench's own million objects are not the server's: keep them out of GC passes.
                gc.collect()
                gc.freeze()
                if verbose:
                    print(f"# setup {setup_s:.1f} s; {n_queries} searches ...", file=sys.stderr)
                viewers = [
                    User(p["id"], p["username"], p["display_name"], False, p["created_at"])
                    for p in rng.sample(people, min(len(people), 500))
                ]
                timings: list[float] = []
                found = 0
                warmup = min(100, n_queries)
                for i in range(warmup + n_queries):
                    source = rng.choice(people)
                    text = source["username"] if rng.random() < 0.5 else source["display_name"]
                    q = text[: rng.randint(1, 4)].strip() or text[0]
                    t0 = time.perf_counter()
                    result = await social.search(s, rng.choice(viewers), q, limit)
                    elapsed = (time.perf_counter() - t0) * 1000
                    if i >= warmup:
                        timings.append(elapsed)
                        found += len(result["people"]) + len(result["rooms"])
                if verbose:
                    print(f"# {n_hallways} hallway pages ...", file=sys.stderr)
                pages: list[float] = []
                shown = {"rooms": 0, "events": 0}
                warmup = min(100, n_hallways)
                for i in range(warmup + n_hallways):
                    p = rng.choice(people)
                    viewer = User(p["id"], p["username"], p["display_name"], False, p["created_at"])
                    t0 = time.perf_counter()
                    page = await hallway.hallway_page(s, viewer)
                    elapsed = (time.perf_counter() - t0) * 1000
                    if i >= warmup:
                        pages.append(elapsed)
                        for key in shown:
                            shown[key] += len(page[key])
            finally:
                await s.media.close()
                await s.db.close()
    return {
        "bench": "social",
        "backend": backend,
        "users": n_users,
        "follows": n_follows,
        "live_rooms": n_rooms,
        "clubs": n_clubs,
        "events": n_events,
        "queries": n_queries,
        "limit": limit,
        "search_ms_p50": round(_percentile(timings, 0.50), 3),
        "search_ms_p99": round(_percentile(timings, 0.99), 3),
        "search_ms_max": round(max(timings), 3),
        "search_ms_mean": round(statistics.fmean(timings), 3),
        "results_mean": round(found / max(1, n_queries), 2),
        "hallways": n_hallways,
        "hallway_ms_p50": round(_percentile(pages, 0.50), 3),
        "hallway_ms_p99": round(_percentile(pages, 0.99), 3),
        "hallway_ms_max": round(max(pages), 3),
        "hallway_ms_mean": round(statistics.fmean(pages), 3),
        "hallway_rooms_mean": round(shown["rooms"] / max(1, n_hallways), 2),
        "hallway_events_mean": round(shown["events"] / max(1, n_hallways), 2),
        "setup_s": round(setup_s, 1),
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
