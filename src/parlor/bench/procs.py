"""What the kernel says about a process tree: CPU (utime+stime) and RSS, from /proc."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every live descendant process."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (their own, not their reaped children's)."""
    user, system = cpu_split(pids)
    return user + system


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """(utime, stime) of these processes: in Python and libraries, in the kernel."""
    user = system = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            user += int(fields[11])  # utime (field 14)
            system += int(fields[12])  # stime (field 15)
    return user / CLK_TCK, system / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_cpu_seconds(root: int) -> float:
    return cpu_seconds(descendants(root))


def tree_rss_bytes(root: int) -> int:
    return rss_bytes(descendants(root))


async def stop_generators(workers: list[tuple[Any, Any]], timeout: float) -> None:
    """Tell each generator process (process, pipe) to exit; kill the ones that don't."""
    loop = asyncio.get_running_loop()
    for _proc, pipe in workers:
        try:
            pipe.send("exit")
        except OSError:
            pass
    for proc, _pipe in workers:
        await loop.run_in_executor(None, proc.join, timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
