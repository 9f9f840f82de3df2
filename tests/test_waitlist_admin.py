"""Admins delete waitlist entries (a squatted name, say): DELETE /api/admin/waitlist/{id}.

Runs on SQLite and PostgreSQL (the storage changes: the entry, its findable
identifiers, a let-in it held, the audit log).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import Instance, error_code, running_instance

from parlor.storage import tables


@pytest.fixture
async def inst(tmp_path: Path, database_url: str) -> AsyncIterator[Instance]:
    async with running_instance(tmp_path / "data", database_url=database_url) as made:
        yield made


async def join(inst: Instance, name: str) -> dict[str, Any]:
    r = await inst.client().post("/api/waitlist", json={"username": name, "display_name": name.title()})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def rows(inst: Instance, table: sa.Table, **where: Any) -> list[Any]:
    query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
    async with inst.services.db.engine.connect() as conn:
        return list(await conn.execute(query))


async def test_an_admin_deletes_an_entry_and_the_name_is_free_again(inst: Instance) -> None:
    admin = await inst.admin()
    squat = await join(inst, "squatted")
    other = await join(inst, "keeper")
    entry_id = squat["entry"]["id"]
    r = await inst.client().post(
        "/api/contacts/waitlist/identifiers",
        json={"kind": "email", "hash": "a" * 64},
        headers={"X-Waitlist-Token": squat["token"]},
    )
    assert r.status_code == 201, r.text

    r = await admin.http.delete(f"/api/admin/waitlist/{entry_id}")
    assert r.status_code == 204, r.text
    listed = (await admin.http.get("/api/admin/waitlist")).json()["entries"]
    assert [e["username"] for e in listed] == ["keeper"]
    assert await rows(inst, tables.contact_identifiers, waitlist_id=entry_id) == []
    # the holder's token is gone with it
    r = await inst.client().get("/api/waitlist/me", headers={"X-Waitlist-Token": squat["token"]})
    assert r.status_code == 401 and error_code(r) == "invalid_waitlist_token"
    # audited, naming the admin and the entry
    [audit] = await rows(inst, tables.audit_log, action="waitlist.delete")
    assert (audit.actor_id, audit.target_id) == (admin.id, entry_id)
    # the name can be taken again
    await join(inst, "squatted")
    assert other["entry"]["id"] in {e["id"] for e in (await admin.http.get("/api/admin/waitlist")).json()["entries"]}


async def test_deleting_an_admitted_entry_gives_the_let_in_back(inst: Instance) -> None:
    ann = await inst.member("ann")
    await join(inst, "zed")
    r = await ann.post("/api/waitlist/admit", {"username": "zed"})
    assert r.status_code == 200, r.text
    before = (await ann.http.get("/api/invites")).json()["remaining"]
    admin = await inst.admin()
    r = await admin.http.delete(f"/api/admin/waitlist/{r.json()['entry']['id']}")
    assert r.status_code == 204
    assert (await ann.http.get("/api/invites")).json()["remaining"] == before + 1


@pytest.mark.parametrize("entry_id", ["w_nobody", "x" * 40, "w%00x"])
async def test_deleting_an_unknown_entry_is_not_found_and_changes_nothing(inst: Instance, entry_id: str) -> None:
    admin = await inst.admin()
    await join(inst, "zed")
    r = await admin.http.delete(f"/api/admin/waitlist/{entry_id}")
    assert r.status_code == 404 and error_code(r) == "not_on_waitlist"
    assert len((await admin.http.get("/api/admin/waitlist")).json()["entries"]) == 1
    assert await rows(inst, tables.audit_log, action="waitlist.delete") == []


async def test_only_admins_delete_entries(inst: Instance) -> None:
    entry_id = (await join(inst, "zed"))["entry"]["id"]
    ann = await inst.member("ann")
    r = await ann.http.delete(f"/api/admin/waitlist/{entry_id}")
    assert r.status_code == 403 and error_code(r) == "not_admin"
    r = await inst.client().delete(f"/api/admin/waitlist/{entry_id}")
    assert r.status_code == 401 and error_code(r) == "not_authenticated"
    admin = await inst.admin()
    assert [e["id"] for e in (await admin.http.get("/api/admin/waitlist")).json()["entries"]] == [entry_id]
    assert await rows(inst, tables.audit_log, action="waitlist.delete") == []
