"""The operator's commands: migrate, admin invite, and settings errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.conftest import make_settings

from parlor.app import build_app
from parlor.cli import main


def test_admin_invite_prints_a_link_that_signs_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["migrate", "--data-dir", str(data)]) == 0
    assert main(["admin", "invite", "--data-dir", str(data)]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert "/invite/" in link
    code = link.rsplit("/invite/", 1)[1]

    import asyncio

    import httpx

    async def sign_up() -> int:
        app = build_app(make_settings(data))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                body = {"invite_code": code, "username": "ann", "display_name": "Ann", "password": "hunter2hunter2"}
                page = await c.get(urlsplit(link).path)  # the link opens the app's sign-up page
                assert page.status_code == 200 and "text/html" in page.headers["content-type"]
                first = await c.post("/api/signup", json=body)
                second = await c.post("/api/signup", json={**body, "username": "bob"})
                assert second.status_code == 403
                return first.status_code

    assert asyncio.run(sign_up()) == 201


def test_bad_settings_are_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "port out of range" in capsys.readouterr().err


def test_the_fanout_setting_chooses_the_inner_loop(tmp_path: Path) -> None:
    from parlor.media.sfu import C_FANOUT_BUILT, Sfu
    from parlor.settings import SettingsError, load

    assert C_FANOUT_BUILT  # `pip install` builds media/_fanout.c here; the C loop is the default
    assert load({"PARLOR_FANOUT": "python"}, data_dir=tmp_path).fanout == "python"
    with pytest.raises(SettingsError):
        load({"PARLOR_FANOUT": "rust"}, data_dir=tmp_path)
    assert Sfu().fanout == "c"
    assert Sfu(fanout="python").fanout == "python"
    with pytest.raises(ValueError):
        Sfu(fanout="c", slots=17)


# -- start-up errors: one readable line, no traceback, a non-zero exit ------------------------

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

SRC = str(Path(__file__).resolve().parent.parent / "src")


def run_parlor(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PARLOR_")}
    environ.update(PYTHONPATH=SRC, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "parlor.cli", *args], capture_output=True, text=True, timeout=timeout, env=environ
    )


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("parlor: ")
    assert "Traceback" not in result.stderr + result.stdout
    assert "serving at" not in result.stdout  # nothing claimed to serve
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_serve_on_a_busy_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_parlor("serve", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    one_line_error(result, f"port {port}", "already in use", "--port")


def test_serve_with_an_unwritable_data_dir_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should go")
    result = run_parlor("serve", "--data-dir", str(blocker / "data"))
    one_line_error(result, "cannot write to the data directory", str(blocker / "data"), "--data-dir")


@pytest.mark.parametrize("url", ["mysql://parlor@localhost/parlor", "::not a url::"])
def test_serve_with_a_bad_database_url_says_so(tmp_path: Path, url: str) -> None:
    result = run_parlor("serve", "--data-dir", str(tmp_path / "data"), "--database-url", url)
    one_line_error(result, "bad database URL", "--database-url")


def test_serve_with_unreachable_postgresql_says_so_without_the_password(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-postgres-here"
    nowhere.mkdir()
    url = f"postgresql://parlor:s3cret-pw@/parlor?host={nowhere}"
    result = run_parlor("serve", "--data-dir", str(tmp_path / "data"), "--database-url", url)
    one_line_error(result, "PostgreSQL", "--database-url")
    assert "s3cret-pw" not in result.stderr + result.stdout


# -- admin invite ------------------------------------------------------------------------------


def test_admin_invite_refuses_a_data_dir_with_no_instance(tmp_path: Path) -> None:
    typo = tmp_path / "prod-dta"
    result = run_parlor("admin", "invite", "--data-dir", str(typo))
    one_line_error(result, "no Parlor instance", str(typo), "--data-dir")
    assert not (typo / "parlor.db").exists()  # nothing was created


def test_admin_invite_links_to_where_the_instance_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from parlor.cli import SERVED_FILE, _print_ready
    from parlor.settings import load

    for name in [k for k in os.environ if k.startswith("PARLOR_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    assert main(["migrate", "--data-dir", str(data)]) == 0
    # `parlor serve --port 9123` records where it serves once it serves
    _print_ready(load({}, data_dir=str(data), port=9123), None)
    assert json.loads((data / SERVED_FILE).read_text()) == {"base_url": "http://127.0.0.1:9123"}
    capsys.readouterr()

    def link(*args: str) -> str:
        assert main(["admin", "invite", "--data-dir", str(data), *args]) == 0
        out: str = capsys.readouterr().out.strip().splitlines()[-1]
        assert "/invite/" in out
        return out.rsplit("/invite/", 1)[0]

    assert link() == "http://127.0.0.1:9123"  # the running node's address
    assert link("--port", "9200") == "http://127.0.0.1:9200"
    assert link("--host", "10.1.2.3", "--port", "9200") == "http://10.1.2.3:9200"
    assert link("--public-url", "https://rooms.example.org/") == "https://rooms.example.org"
    monkeypatch.setenv("PARLOR_PUBLIC_URL", "https://talk.example.net")
    assert link() == "https://talk.example.net"


def test_the_setup_link_is_printed_only_until_the_admin_is_claimed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    import httpx
    from tests.people import setup_body

    from parlor.cli import _print_ready

    async def start() -> str:
        """Start the instance once (as `parlor serve` does) and claim the admin if a link was printed."""
        app = build_app(make_settings(tmp_path / "data"), on_ready=_print_ready)
        async with app.router.lifespan_context(app):
            printed = capsys.readouterr().out
            found = [line for line in printed.splitlines() if "/setup?token=" in line]
            if found:
                token = found[0].rsplit("token=", 1)[1]
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                    assert (await c.post("/api/setup", json=setup_body(token))).status_code == 201
            return printed

    first, second = asyncio.run(start()), asyncio.run(start())
    assert "Parlor is serving at" in first and "/setup?token=" in first
    assert "Parlor is serving at" in second and "setup" not in second
