"""actions/background.py: unawaited work runs to its end and a failure is logged once."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from parlor.actions import background


async def test_spawned_work_is_held_until_it_ends_though_nobody_else_holds_it() -> None:
    go, done = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        await go.wait()
        done.set()

    before = set(background._running)  # (other tests' work may still be there)
    background.spawn(work())
    [held] = [id(t) for t in background._running - before]  # the loop keeps only a weak reference
    gc.collect()  # slow in a process with many objects: no deadline before the next line
    go.set()
    await asyncio.wait_for(done.wait(), 30.0)
    for _ in range(5):
        await asyncio.sleep(0)
    assert held not in {id(t) for t in background._running}  # let go once done


async def test_a_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("the bus is down")

    before = set(background._running)
    with caplog.at_level(logging.ERROR, logger="parlor.actions.background"):
        background.spawn(broken())
        for _ in range(5):
            await asyncio.sleep(0)
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("the bus is down",)]
    assert background._running <= before
