"""A bench node: `parlor serve` in its own process group on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# With `--no-subscribed`, bench peers close their socket once media is up (the media
# plane alone is measured). A participant whose client never subscribed counts as
# absent and is reaped after the grace period, so that node gets a grace period longer
# than any run. Subscribed peers (the default) keep a socket as browsers do, and the
# node keeps its default grace: a peer whose socket dropped would be reaped and show.
BENCH_GRACE_S = "86400"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Node:
    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int,
        engine: str,
        long_grace: bool = True,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        redis_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "node.log"
        env = {**os.environ, **(env or {})}
        env.update(PARLOR_LOG_LEVEL="warning")
        if long_grace:
            env.update(PARLOR_RECONNECT_GRACE_S=BENCH_GRACE_S)
        if database_url:  # a node of a cluster: the first node's database, a shared Redis
            env.update(PARLOR_DATABASE_URL=database_url)
        if redis_url:
            env.update(PARLOR_REDIS_URL=redis_url)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "parlor.cli", "serve",
                "--ice-host", "127.0.0.1",
                "--port", str(self.port),
                "--data-dir", str(data_dir),
                "--workers", str(workers),
                "--media-engine", engine,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node not ready after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format, unlabelled samples only."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        if "{" not in name:
            try:
                values[name] = float(value)
            except ValueError:
                continue
    return values


async def metrics(http: httpx.AsyncClient) -> dict[str, float]:
    r = await http.get("/metrics")
    r.raise_for_status()
    return parse_metrics(r.text)
