"""actions/background.py: unawaited work runs to its end and a failure is logged once."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from parlor.actions import background


async def test_spawned_work_runs_to_its_end_though_nobody_holds_it() -> None:
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.05)
        gc.collect()  # a task held only by the loop's weak reference would be gone by now
        await asyncio.sleep(0.05)
        done.set()

    background.spawn(work())
    gc.collect()
    await asyncio.wait_for(done.wait(), 2.0)
    await asyncio.sleep(0)
    assert not background._running  # let go once done


async def test_a_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("the bus is down")

    with caplog.at_level(logging.ERROR, logger="parlor.actions.background"):
        background.spawn(broken())
        for _ in range(5):
            await asyncio.sleep(0)
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("the bus is down",)]
    assert not background._running
