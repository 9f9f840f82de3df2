"""The storage contract, on SQLite and on PostgreSQL (DESIGN §6).

Each test gets an empty database of each back end (`database_url` in conftest:
a temp file, or a fresh PostgreSQL database dropped afterwards) and migrates it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.storage import accounts, social, tables
from parlor.storage import rooms as room_store
from parlor.storage.db import Database, async_url
from parlor.storage.social import successor


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


async def add_user(conn: AsyncConnection, username: str, display_name: str | None = None, at: float = 1.0) -> str:
    user_id = f"u_{username}"
    await accounts.insert_user(
        conn,
        user_id=user_id,
        username=username,
        display_name=display_name or username.title(),
        password_hash="x",
        is_admin=False,
        invited_by=None,
        now=at,
    )
    return user_id


def test_async_url_picks_the_async_drivers() -> None:
    assert async_url("postgresql://u@/d?host=/run") == "postgresql+asyncpg://u@/d?host=/run"
    assert async_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert async_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert async_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    with pytest.raises(ValueError, match="unsupported"):
        Database("mysql://u@h/d")


def test_successor_bounds_exactly_the_strings_with_the_prefix() -> None:
    assert successor("ab") == "ac"
    assert successor("a_") == "a`"
    assert successor("z\U0010ffff") == "{"
    for text in ("ab", "abz", "ab\U0010ffff", "ab_"):
        assert "ab" <= text < successor("ab")
    for text in ("aa", "ac", "b", "a"):
        assert not ("ab" <= text < successor("ab"))


async def test_migrations_reach_head_and_are_idempotent(db: Database) -> None:
    await db.migrate()
    async with db.engine.connect() as conn:
        version = (await conn.execute(sa.text("select version_num from alembic_version"))).scalar_one()
        names = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert version == "0016"
    # Every table the code knows (storage/tables.py) is created by the migrations, and no other.
    assert names - {"alembic_version"} == set(tables.metadata.tables)


async def test_accounts_basics(db: Database) -> None:
    async with db.engine.begin() as conn:
        ann = await add_user(conn, "ann", at=5.5)
        await accounts.insert_invite(conn, "h1", ann, 6.0)
        bob = await add_user(conn, "bob")
        assert await accounts.claim_invite(conn, "h1", bob, 7.0) == ann
        assert await accounts.claim_invite(conn, "h1", bob, 7.0) is None  # rowcount works on both
        await room_store.audit(conn, now=8.0, actor_id=ann, action="test")
    async with db.engine.connect() as conn:
        user = await accounts.user_by_id(conn, ann)
        assert user is not None and (user.username, user.created_at, user.is_admin) == ("ann", 5.5, False)
        assert await accounts.username_taken(conn, "bob")


async def test_follow_unfollow_counts_and_relation(db: Database) -> None:
    async with db.engine.begin() as conn:
        ann, bob, cat = await add_user(conn, "ann"), await add_user(conn, "bob"), await add_user(conn, "cat")
        assert await social.follow(conn, ann, bob, 1.0) is True
        assert await social.follow(conn, ann, bob, 2.0) is False  # idempotent, first time kept
        assert await social.follow(conn, cat, bob, 3.0) is True
        assert await social.follow(conn, bob, ann, 4.0) is True
    async with db.engine.connect() as conn:
        assert await social.counts(conn, bob) == (2, 1)
        assert await social.counts(conn, ann) == (1, 1)
        assert await social.relation(conn, ann, bob) == {
            "followed_by_you": True,
            "follows_you": True,
            "blocked_by_you": False,
            "blocks_you": False,
        }
        assert await social.followed_among(conn, ann, [bob, cat, bob]) == {bob}
    async with db.engine.begin() as conn:
        assert await social.unfollow(conn, ann, bob) is True
        assert await social.unfollow(conn, ann, bob) is False
    async with db.engine.connect() as conn:
        assert await social.counts(conn, bob) == (1, 1)


async def test_block_removes_follows_both_ways(db: Database) -> None:
    async with db.engine.begin() as conn:
        ann, bob, cat = await add_user(conn, "ann"), await add_user(conn, "bob"), await add_user(conn, "cat")
        await social.follow(conn, ann, bob, 1.0)
        await social.follow(conn, bob, ann, 1.0)
        await social.follow(conn, cat, ann, 1.0)
        assert await social.block(conn, ann, bob, 2.0) is True
        assert await social.block(conn, ann, bob, 3.0) is False
    async with db.engine.connect() as conn:
        assert await social.counts(conn, ann) == (1, 0)  # cat still follows ann
        assert await social.counts(conn, bob) == (0, 0)
        assert await social.relation(conn, bob, ann) == {
            "followed_by_you": False,
            "follows_you": False,
            "blocked_by_you": False,
            "blocks_you": True,
        }
        assert await social.blocked_either_way(conn, bob, [cat, ann])
        assert await social.blocked_either_way(conn, ann, [bob])
        assert not await social.blocked_either_way(conn, cat, [ann, bob])
        assert not await social.blocked_either_way(conn, ann, [])
        assert await social.block_set(conn, bob) == {ann}
        assert await social.block_set(conn, ann) == {bob}
    async with db.engine.begin() as conn:
        await social.lock_pair(conn, ann, bob)
        assert await social.unblock(conn, ann, bob) is True
        assert await social.unblock(conn, ann, bob) is False
    async with db.engine.connect() as conn:
        assert await social.block_set(conn, ann) == set()


async def test_follow_lists_page_newest_first_through_ties(db: Database) -> None:
    async with db.engine.begin() as conn:
        star = await add_user(conn, "star")
        fans = [await add_user(conn, f"fan{i:02d}") for i in range(23)]
        for i, fan in enumerate(fans):
            # pairs of equal timestamps: the cursor must break ties by id
            await social.follow(conn, fan, star, 100.0 + i // 2)
            await social.follow(conn, star, fan, 200.0 + i // 3)
        viewer = await add_user(conn, "viewer")
        await social.block(conn, fans[5], viewer, 1.0)  # blocked with the viewer: left out of their lists
    for page_of, expected_total in ((social.followers_page, 22), (social.following_page, 22)):
        seen: list[tuple[float, str]] = []
        after = None
        async with db.engine.connect() as conn:
            while True:
                rows = await page_of(conn, star, viewer, 5, after)
                seen.extend((since, user.id) for user, since, _avatar in rows)
                if len(rows) < 5:
                    break
                after = (rows[-1][1], rows[-1][0].id)
        assert len(seen) == expected_total
        assert len(set(seen)) == len(seen)
        assert fans[5] not in {uid for _, uid in seen}
        times = [t for t, _ in seen]
        assert times == sorted(times, reverse=True)
    async with db.engine.connect() as conn:
        own = await social.followers_page(conn, star, star, 100, None)
    assert len(own) == 23


async def test_search_people_prefix_case_and_ranking(db: Database) -> None:
    async with db.engine.begin() as conn:
        me = await add_user(conn, "me", "Me Myself")
        ids = {
            name: await add_user(conn, name, shown)
            for name, shown in (
                ("ann", "Zed Ann"),
                ("anna_b", "Anna B"),
                ("annabel", "Annabel Lee"),
                ("anbob", "Bob Anbob"),
                ("zoe", "ANNIE Zoe"),
                ("xavier", "Xavier"),
                ("a_b", "Under Score"),
                ("abc", "Plain"),
            )
        }
        await social.follow(conn, me, ids["zoe"], 1.0)
        await social.follow(conn, me, ids["xavier"], 1.0)

    async def names(prefix: str, limit: int = 20, viewer: str = me) -> list[tuple[str, bool]]:
        async with db.engine.connect() as conn:
            found = await social.search_people(conn, viewer, prefix, prefix, limit)
        return [(user.username, followed) for user, followed, _avatar in found]

    # followed first; then usernames (exact first); then display names
    assert await names("ann") == [
        ("zoe", True),
        ("ann", False),
        ("anna_b", False),
        ("annabel", False),
    ]
    assert await names("an") == [
        ("zoe", True),
        ("anbob", False),
        ("ann", False),
        ("anna_b", False),
        ("annabel", False),
    ]
    assert await names("an", limit=2) == [("zoe", True), ("anbob", False)]
    # "_" is a character, not a wildcard
    assert await names("a_") == [("a_b", False)]
    # display names are matched lower-cased
    assert await names("annie") == [("zoe", True)]
    assert await names("under s") == [("a_b", False)]
    assert await names("me") == []  # never yourself
    assert await names("q") == []

    async with db.engine.begin() as conn:
        await social.block(conn, ids["ann"], me, 2.0)  # ann blocked me
        await social.block(conn, me, ids["annabel"], 2.0)  # I blocked annabel
    assert await names("ann") == [("zoe", True), ("anna_b", False)]
    assert [n for n, _ in await names("ann", viewer=ids["anna_b"])] == ["ann", "annabel", "zoe"]


async def test_prefix_searches_use_the_indexes(db: Database) -> None:
    async with db.engine.begin() as conn:
        await add_user(conn, "ann")
        if db.dialect == "postgresql":
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        compiled = {}
        for column in ("username", "display"):
            username = social.byte_order(conn, social.users.c.username)
            display = social.byte_order(conn, sa.func.lower(social.users.c.display_name))
            key = username if column == "username" else display
            query = sa.select(social.users.c.id).where(key >= "an", key < "ao").order_by(key).limit(20)
            compiled[column] = str(query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True}))
        plans = {}
        for column, sql in compiled.items():
            explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
            rows = await conn.execute(sa.text(explain + sql))
            plans[column] = " ".join(str(row[-1]) for row in rows)
    if db.dialect == "sqlite":
        assert (
            "USING COVERING INDEX sqlite_autoindex_users" in plans["username"]
            or "INDEX sqlite_autoindex_users" in (plans["username"])
        ), plans
        assert "ix_users_display_lower" in plans["display"], plans
        assert "TEMP B-TREE" not in plans["display"], plans
    else:
        assert "ix_users_username_c" in plans["username"], plans
        assert "ix_users_display_lower" in plans["display"], plans


async def test_relations_among_in_one_round_trip(db: Database) -> None:
    async with db.engine.begin() as conn:
        me, ann, bob, cat = [await add_user(conn, name) for name in ("me", "ann", "bob", "cat")]
        await social.follow(conn, me, ann, 1.0)
        await social.follow(conn, me, cat, 1.0)
        await social.block(conn, bob, me, 1.0)
    async with db.engine.connect() as conn:
        assert await social.relations_among(conn, me, [ann, bob, ann]) == ({ann}, {bob})
        assert await social.relations_among(conn, me, []) == (set(), {bob})
        assert await social.relations_among(conn, ann, [me]) == (set(), set())
