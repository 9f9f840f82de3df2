"""The README's first command, run as written in a copy of the tracked tree, serves.

It runs offline (inside the test namespace), so pip may use only what is installed:
a venv that sees the system's site-packages, no index, no build isolation. Then the
instance must answer, the setup link must claim the admin, and SIGTERM must stop
it cleanly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def test_readme_has_exactly_two_commands_run_then_test() -> None:
    first, second = readme_commands()[:2]
    assert "parlor serve" in first
    assert "scripts/test" in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert second in ci  # CI runs the README's test command


def test_readme_first_command_serves_and_stops_cleanly(tmp_path: Path) -> None:
    clone = tracked_copy(tmp_path / "clone")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling for "don't isolate the build"
        "PARLOR_PORT": str(port),
        "PARLOR_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    first = readme_commands()[0]
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {first}" if "&&" not in first else first.replace("&& parlor", "&& exec parlor")],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        link = None
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while link is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            found = re.search(r"(http://\S+/setup\?token=\S+)", line)
            link = found.group(1) if found else None
        assert link, "".join(output)
        assert f":{port}/" in link
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/healthz").json()["status"] == "ok"
            page = http.get(link.split(f":{port}", 1)[1])
            assert page.status_code == 200 and "<html" in page.text.lower()
            token = link.split("token=", 1)[1]
            claimed = http.post(
                "/api/setup",
                json={"token": token, "username": "admin", "display_name": "Admin", "password": "long enough"},
            )
            assert claimed.status_code == 201, claimed.text
            room = http.post("/api/rooms", json={"title": "Before shutdown"})
            assert room.status_code == 201
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
        output.append(rest)
        # uvicorn re-raises the signal once shutdown is done
        assert proc.returncode in (0, -signal.SIGTERM), "".join(output)
        assert "stopped cleanly" in rest
        assert "Traceback" not in "".join(output)
        # the one-time link is printed once; logs never repeat the secret (access lines drop queries)
        assert "".join(output).count(token) == 1
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
