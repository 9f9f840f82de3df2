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
