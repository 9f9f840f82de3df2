"""Every module imports on its own, first, in a fresh interpreter.

An import cycle (a imports b imports c imports a) can pass the suite, where some other
module happened to be imported first, and break `parlor serve`, which starts from
another one: that happened when actions/rooms.py took a helper from actions/hallway.py
(which imports actions/events.py, which imports actions/rooms.py).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import parlor

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(parlor.__path__, "parlor.")
    if not m.name.startswith(("parlor.web", "parlor.storage.migrations"))
)


def test_every_module_imports_first() -> None:
    # One interpreter per module (each must be the first import), a few at a time.
    script = "import importlib, sys; importlib.import_module(sys.argv[1])"
    failed = {}
    for start in range(0, len(MODULES), 8):
        batch = MODULES[start : start + 8]
        procs = {name: subprocess.Popen([sys.executable, "-c", script, name], stderr=subprocess.PIPE) for name in batch}
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failed[name] = err.decode()[-300:]
    assert len(MODULES) > 100
    assert not failed, failed
