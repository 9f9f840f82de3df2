"""The README's first block of commands, run exactly as written, from a clean clone.

`git clone URL` clones this repository (git's `url.<here>.insteadOf=URL`, set in the
environment, points the README's URL at it), then the block makes a virtual
environment, `pip install .` and `parlor serve`. The setup link it prints must claim
the admin; SIGTERM must stop it cleanly.

pip resolves the dependencies as configured on the machine (PyPI when it is
reachable). The tests run in a network namespace without it, so pip also gets
`PIP_FIND_LINKS`: wheels of the very versions installed here, repacked from the
installed distributions (`wheelhouse`). The commands themselves are not changed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import tomllib
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import httpx
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def readme() -> str:
    return (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", readme(), flags=re.S)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readme_has_exactly_two_commands_run_then_test() -> None:
    first, second = readme_commands()[:2]
    lines = first.splitlines()
    assert lines[0].startswith("git clone ")
    assert "python3 -m venv .venv" in lines and ". .venv/bin/activate" in lines
    assert lines.index("pip install .") > lines.index(". .venv/bin/activate")
    assert lines[-1] == "parlor serve"
    assert "scripts/test" in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert second in ci  # CI runs the README's test command


def test_readme_links_stay_inside_the_repository() -> None:
    links = re.findall(r"\]\(([^)]+)\)", readme())
    assert "docs/DESIGN.md" in links and "docs/DEPLOY.md" in links
    for link in links:
        if "://" in link:
            continue
        assert not link.startswith(("/", "..")), link
        assert (ROOT / link.split("#", 1)[0]).exists(), link
    assert "../" not in readme() and "shared/DESIGN" not in readme()


# -- a wheelhouse of what is installed here ------------------------------------------------------


def _needed(requirements: list[str]) -> list[Distribution]:
    """The installed distributions these requirements pull in (extras followed)."""
    found: dict[str, tuple[Distribution, set[str]]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue  # pip finds it elsewhere, or says what is missing
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        extras = set(req.extras) | (found[key][1] if key in found else set())
        if key in found and extras == found[key][1]:
            continue
        found[key] = (dist, extras)
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ["", *extras]):
                todo.append(Requirement(str(sub).split(";", 1)[0]))
    return [dist for dist, _ in found.values()]


def _repack(dist: Distribution, dest: Path) -> None:
    """An installed distribution back into a wheel (its files, a fresh RECORD)."""
    meta = dist.read_text("WHEEL")
    if not meta:
        return
    tag = next(line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Tag:"))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    files = [str(f) for f in dist.files or [] if not str(f).startswith("..") and "__pycache__" not in str(f)]
    info = next(f.split("/")[0] for f in files if f.count("/") == 1 and ".dist-info/" in f)
    skip = {f"{info}/{n}" for n in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    written = []
    with zipfile.ZipFile(dest / f"{name}-{dist.version}-{tag}.whl", "w", zipfile.ZIP_STORED) as wheel:
        for path in files:
            source = Path(str(dist.locate_file(path)))
            if path in skip or not source.is_file():
                continue
            wheel.write(source, path)
            written.append(path)
        wheel.writestr(f"{info}/RECORD", "".join(f"{p},,\n" for p in [*written, f"{info}/RECORD"]))


def wheelhouse(dest: Path) -> Path:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dest.mkdir()
    for dist in _needed(project["project"]["dependencies"] + project["build-system"]["requires"]):
        _repack(dist, dest)
    return dest


# -- the README, as written ------------------------------------------------------------------------


def test_readme_commands_from_a_clean_clone_serve_and_stop_cleanly(tmp_path: Path) -> None:
    block = readme_commands()[0]
    url = block.splitlines()[0].split()[2]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLOR_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.{ROOT}.insteadOf",
        GIT_CONFIG_VALUE_0=url,
        PIP_FIND_LINKS=str(wheelhouse(tmp_path / "wheels")),
        PIP_RETRIES="0",
        PIP_TIMEOUT="5",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PARLOR_PORT=str(port),
        PARLOR_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        ["bash", "-e", "-c", block],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        link = None
        deadline = time.monotonic() + 540
        assert proc.stdout is not None
        while link is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            found = re.search(r"(http://\S+/setup\?token=\S+)", line)
            link = found.group(1) if found else None
        assert link, "".join(output[-40:])
        assert (work / "parlor" / ".venv" / "bin" / "parlor").exists()  # installed in the venv, from the clone
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
        os.killpg(proc.pid, signal.SIGTERM)  # as a terminal's Ctrl-C or systemd's stop would
        rest, _ = proc.communicate(timeout=30)
        output.append(rest)
        assert "stopped cleanly" in rest, rest
        assert "Traceback" not in "".join(output)
        # the one-time link is printed once; logs never repeat the secret (access lines drop queries)
        assert "".join(output).count(token) == 1
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
