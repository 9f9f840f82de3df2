"""A real redis-server for one test module: Debian's binary, a free loopback port, no
persistence, stopped afterwards. Never the machine's 127.0.0.1:6379."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server on a port of its own that a test may stop and start again (an outage)."""

    def __init__(self, work_dir: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (Debian package redis-server; .ci/run installs it)"
        self.binary = binary
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.work_dir = work_dir
        self.proc: subprocess.Popen[bytes] | None = None
        work_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        proc = self.proc = subprocess.Popen(
            [self.binary, *args, "--dir", str(self.work_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return
            assert proc.poll() is None, f"redis-server exited ({proc.returncode})"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        """Gone at once, as a crash: its clients' connections break."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextlib.contextmanager
def redis_process(work_dir: Path) -> Iterator[RedisServer]:
    """A started server, stopped afterwards (a test may stop and start it meanwhile)."""
    server = RedisServer(work_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def redis_server(work_dir: Path) -> Iterator[str]:
    """Yields the server's URL (redis://127.0.0.1:PORT/0)."""
    with redis_process(work_dir) as server:
        yield server.url
