"""The app shell over HTTP: the not-found page, framing headers, the service worker,
the manifest, and embedding (admin list, preview, sign-in inside an embed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Instance, running_instance
from tests.people import ADMIN, MEMBER_PASSWORD

from parlor.settings import SettingsError, load
from parlor.transport.http import headers

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
OTHER_SITE = "https://blog.example.org"


# -- not found ------------------------------------------------------------------------------


async def test_a_browser_gets_the_not_found_page_and_the_api_keeps_json(instance: Instance) -> None:
    c = instance.client()
    page = await c.get("/no/such/page", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text and 'href="/"' in page.text
    assert '<link rel="stylesheet" href="/static/style.css">' in page.text  # the app's look

    for accept in ("application/json", "*/*", ""):
        other = await c.get("/no/such/page", headers={"Accept": accept})
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"
    api = await c.get("/api/no/such/thing", headers=HTML)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    missing_file = await c.get("/static/nope.js")
    assert missing_file.status_code == 404 and missing_file.json()["error"]["code"] == "not_found"
    # A room page is the app (it says "Room not found" itself, from the API's 404).
    assert (await c.get("/rooms/r_nope", headers=HTML)).status_code == 200
    assert (await (await instance.admin()).http.get("/api/rooms/r_nope")).json()["error"]["code"] == "room_not_found"


# -- framing headers ------------------------------------------------------------------------


async def test_no_page_may_be_framed_but_the_embed(instance: Instance) -> None:
    c = instance.client()
    for path in ("/", "/login", "/rooms/r_x", "/no/such/page", "/api/me", "/static/app.js", "/sw.js"):
        r = await c.get(path, headers=HTML)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff", path


def test_a_routes_own_directives_win_and_the_defaults_fill_in() -> None:
    own = headers.render_csp({"frame-ancestors": ("https://a.example",)})
    merged, framable = headers.merge(own, {"frame-ancestors": ("'none'",), "default-src": ("'self'",)})
    assert headers.parse_csp(merged) == {"frame-ancestors": ("https://a.example",), "default-src": ("'self'",)}
    assert framable
    merged, framable = headers.merge(None)
    assert headers.parse_csp(merged) == headers.DEFAULT_CSP and not framable
    # A route's own default-src (an avatar: 'none') is not loosened by our fetch directives.
    merged, _ = headers.merge("default-src 'none'")
    policy = headers.parse_csp(merged)
    assert policy["default-src"] == ("'none'",) and "script-src" not in policy and "img-src" not in policy
    assert policy["frame-ancestors"] == ("'none'",) and policy["base-uri"] == ("'none'",)


# -- service worker and manifest ------------------------------------------------------------


async def test_the_service_worker_is_served_from_the_root_with_the_shell_list(instance: Instance) -> None:
    c = instance.client()
    r = await c.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    first, second = r.text.splitlines()[:2]
    assert first.startswith('const VERSION = "') and len(json.loads(first.split("=", 1)[1].rstrip(";"))) == 16
    shell = json.loads(second.split("=", 1)[1].rstrip(";"))
    assert "/" in shell and "/static/app.js" in shell and "/static/style.css" in shell
    assert "/static/views/room.js" in shell and "/static/offline.html" in shell and "/static/icon-192.png" in shell
    assert not [u for u in shell if u.startswith(("/api", "/ws")) or u.endswith("sw.js")]
    for url in shell:
        assert (await c.get(url)).status_code == 200, url


async def test_the_manifest_names_the_app_and_its_icons_load(instance: Instance) -> None:
    c = instance.client()
    r = await c.get("/static/manifest.webmanifest")
    assert r.headers["content-type"].startswith("application/manifest+json")
    manifest = r.json()
    assert manifest["name"] == "Parlor" and manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        got = await c.get(icon["src"])
        assert got.status_code == 200 and got.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            assert got.content[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = int.from_bytes(got.content[16:20], "big"), int.from_bytes(got.content[20:24], "big")
            assert f"{width}x{height}" == icon["sizes"]


# -- embedding ------------------------------------------------------------------------------


def test_embed_origins_setting_is_checked_and_normalised(tmp_path: Path) -> None:
    s = load({"PARLOR_EMBED_ORIGINS": "https://Blog.Example.org/, http://localhost:8000,https://a.example:443"})
    assert s.embed_origins == ("https://blog.example.org", "http://localhost:8000", "https://a.example")
    for bad in ("blog.example.org", "https://a.example/path", "https://*.example.org", "ftp://a.example"):
        with pytest.raises(SettingsError):
            load({"PARLOR_EMBED_ORIGINS": bad})
    assert load({}).embed_origins == ()


async def test_embedding_is_off_until_an_admin_lists_sites(instance: Instance) -> None:
    admin = await instance.admin()
    room = (await admin.post("/api/rooms", json={"title": "Embeddable"})).json()
    page = await instance.client().get(f"/embed/room/{room['id']}", headers=HTML)
    assert page.status_code == 200
    assert headers.parse_csp(page.headers["content-security-policy"])["frame-ancestors"] == ("'none'",)
    off = await instance.client().get(f"/api/embed/rooms/{room['id']}")
    assert off.status_code == 403 and off.json()["error"]["code"] == "embedding_off"

    r = await admin.http.put("/api/admin/embed-origins", json={"origins": [OTHER_SITE, "http://localhost:8123"]})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "origins": [OTHER_SITE, "http://localhost:8123"],
        "source": "admin",
        "setting": [],
    }
    page = await instance.client().get(f"/embed/room/{room['id']}", headers=HTML)
    assert headers.parse_csp(page.headers["content-security-policy"])["frame-ancestors"] == (
        OTHER_SITE,
        "http://localhost:8123",
    )
    assert "x-frame-options" not in page.headers
    preview = (await instance.client().get(f"/api/embed/rooms/{room['id']}")).json()  # signed out
    assert preview["origins"] == [OTHER_SITE, "http://localhost:8123"]
    assert preview["room"]["title"] == "Embeddable" and preview["room"]["listener_count"] == 0
    assert [p["user_id"] for p in preview["room"]["stage"]] == [admin.id]

    # An empty list turns it off again; null goes back to the setting (empty here).
    r = await admin.http.put("/api/admin/embed-origins", json={"origins": []})
    assert r.json()["origins"] == [] and r.json()["source"] == "admin"
    assert (await instance.client().get(f"/api/embed/rooms/{room['id']}")).status_code == 403
    r = await admin.http.put("/api/admin/embed-origins", json={"origins": None})
    assert r.json()["source"] == "setting"


async def test_bad_embed_origins_change_nothing_and_members_cannot_set_them(instance: Instance) -> None:
    admin = await instance.admin()
    await admin.http.put("/api/admin/embed-origins", json={"origins": [OTHER_SITE]})
    too_many = [f"https://s{i}.example" for i in range(21)]
    for bad in (["https://a.example/page"], ["javascript:alert(1)"], ["*"], too_many):
        r = await admin.http.put("/api/admin/embed-origins", json={"origins": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input", bad
    member = await instance.member("mia")
    r = await member.http.put("/api/admin/embed-origins", json={"origins": ["https://evil.example"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_admin"
    assert (await member.http.get("/api/admin/embed-origins")).status_code == 403
    assert (await admin.http.get("/api/admin/embed-origins")).json()["origins"] == [OTHER_SITE]


async def test_an_embed_of_a_missing_or_ended_room_says_so(instance: Instance) -> None:
    admin = await instance.admin()
    await admin.http.put("/api/admin/embed-origins", json={"origins": [OTHER_SITE]})
    room = (await admin.post("/api/rooms", json={"title": "Short"})).json()
    await admin.post(f"/api/rooms/{room['id']}/end")
    c = instance.client()
    missing = await c.get("/embed/room/r_nope", headers=HTML)
    assert missing.status_code == 404 and 'src="/static/views/embed.js"' in missing.text
    assert headers.parse_csp(missing.headers["content-security-policy"])["frame-ancestors"] == (OTHER_SITE,)
    assert (await c.get(f"/embed/room/{room['id']}", headers=HTML)).status_code == 410
    assert (await c.get("/api/embed/rooms/r_nope")).json()["error"]["code"] == "room_not_found"
    assert (await c.get(f"/api/embed/rooms/{room['id']}")).json()["error"]["code"] == "room_ended"


async def test_only_rooms_anyone_may_join_can_be_embedded(tmp_path: Path) -> None:
    """The preview is public: a members-only club room, a closed or a social room must not
    show its title or who is on stage to a page that is not signed in."""
    async with running_instance(tmp_path / "data", embed_origins=OTHER_SITE) as inst:
        admin = await inst.admin()
        await admin.http.patch("/api/admin/settings", json={"clubs_rule": "members"})
        ann = await inst.member("ann")
        club = (await ann.post("/api/clubs", json={"name": "Chess Club", "mode": "open"})).json()["id"]
        made = [
            await ann.post("/api/rooms", json={"title": "Secret blitz", "club_id": club, "members_only": True}),
            await ann.post("/api/rooms", json={"title": "Secret closed", "kind": "closed"}),
            await ann.post("/api/rooms", json={"title": "Secret social", "kind": "social"}),
        ]
        c = inst.client()
        for r in made:
            assert r.status_code == 201, r.text
            room = r.json()
            preview = await c.get(f"/api/embed/rooms/{room['id']}")
            assert preview.status_code == 403, room["title"]
            assert preview.json()["error"]["code"] == "room_not_embeddable"
            assert "Secret" not in preview.text and "Ann" not in preview.text
            page = await c.get(f"/embed/room/{room['id']}", headers=HTML)
            assert page.status_code == 403 and "Secret" not in page.text
        # A club room open to everyone still embeds.
        public = (await ann.post("/api/rooms", json={"title": "Open blitz", "club_id": club})).json()
        assert (await c.get(f"/api/embed/rooms/{public['id']}")).json()["room"]["title"] == "Open blitz"


async def test_signing_in_inside_an_embed_sets_only_a_partitioned_cookie(instance: Instance) -> None:
    await instance.member("mia")
    c = instance.client()
    r = await c.post("/api/embed/login", json={"username": "mia", "password": MEMBER_PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("parlor_embed=")
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie, attribute
    assert "parlor_session" not in cookie
    # Requests carrying it are the member's; writes with it are held to the same-origin rule.
    secret = cookie.split(";", 1)[0].split("=", 1)[1]
    c2 = instance.client()
    c2.cookies.set("parlor_embed", secret)
    assert (await c2.get("/api/me")).json()["username"] == "mia"
    admin = await instance.admin()
    room = (await admin.post("/api/rooms", json={"title": "Cross"})).json()
    refused = await c2.post(f"/api/rooms/{room['id']}/join", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_origin"
    assert (await c2.post(f"/api/rooms/{room['id']}/join", headers={"Origin": "http://testserver"})).status_code == 200
    # A sign-in posted from another site's page is refused, and sets nothing.
    other = instance.client()
    r = await other.post(
        "/api/embed/login", json={"username": "mia", "password": MEMBER_PASSWORD}, headers={"Origin": OTHER_SITE}
    )
    assert r.status_code == 403 and "set-cookie" not in r.headers
    out = await c2.post("/api/embed/logout", headers={"Origin": "http://testserver"})
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await c2.get("/api/me")).status_code == 401


async def test_a_guest_room_embeds_on_the_listed_sites_with_a_partitioned_guest_cookie(tmp_path: Path) -> None:
    async with running_instance(tmp_path / "data", embed_origins=OTHER_SITE) as inst:
        c = inst.client()
        # Guest rooms off: the page says so (403), the preview and coming in are refused.
        page = await c.get("/embed/r/tea-time", headers=HTML)
        assert page.status_code == 403 and 'src="/static/views/embed.js"' in page.text
        assert (await c.get("/api/embed/guest-rooms/tea-time")).json()["error"]["code"] == "guest_rooms_off"
        admin = await inst.admin()
        await admin.http.patch("/api/admin/settings", json={"guest_rooms": True})

        page = await c.get("/embed/r/tea-time", headers=HTML)
        assert page.status_code == 200 and "x-frame-options" not in page.headers
        assert headers.parse_csp(page.headers["content-security-policy"])["frame-ancestors"] == (OTHER_SITE,)
        assert (await c.get("/embed/r/x", headers=HTML)).status_code == 400  # not a room name
        before = (await c.get("/api/embed/guest-rooms/Tea-Time")).json()
        assert before["origins"] == [OTHER_SITE]
        assert before["room"] == {
            "id": None, "title": "Tea-Time", "hand_raise": "everyone", "encrypted": False, "listener_count": 0,
            "stage": [], "name": "tea-time", "live": False,
        }

        entered = await c.post("/api/embed/guest-rooms/tea-time/enter", json={"display_name": "Gus"})
        assert entered.status_code == 200, entered.text
        cookie = entered.headers["set-cookie"]
        assert cookie.startswith("parlor_embed_guest=") and "parlor_guest=" not in cookie
        for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
            assert attribute in cookie, attribute
        room_id = entered.json()["room"]["id"]
        live = (await c.get("/api/embed/guest-rooms/tea-time")).json()["room"]
        assert live["live"] and live["id"] == room_id and [p["display_name"] for p in live["stage"]] == ["Gus"]

        # The cookie is the guest's on the room's routes; a write from another site is refused.
        token = cookie.split(";", 1)[0].split("=", 1)[1]
        framed = inst.client()
        framed.cookies.set("parlor_embed_guest", token)
        assert (await framed.get("/api/guest/me")).json()["display_name"] == "Gus"
        refused = await framed.post(f"/api/rooms/{room_id}/mute", json={"muted": False},
                                    headers={"Origin": OTHER_SITE})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_origin"
        cross = await c.post("/api/embed/guest-rooms/tea-time/enter", json={"display_name": "Eve"},
                             headers={"Origin": OTHER_SITE})
        assert cross.status_code == 403 and "set-cookie" not in cross.headers
        left = await framed.post(f"/api/rooms/{room_id}/leave", headers={"Origin": "http://testserver"})
        assert left.status_code == 200, left.text
        assert (await c.get("/api/embed/guest-rooms/tea-time")).json()["room"]["live"] is False

        # Embedding off: no preview, nobody comes in through an embed.
        await admin.http.put("/api/admin/embed-origins", json={"origins": []})
        off = await c.post("/api/embed/guest-rooms/tea-time/enter", json={"display_name": "Gus"})
        assert off.status_code == 403 and off.json()["error"]["code"] == "embedding_off"
        assert "set-cookie" not in off.headers


async def test_the_admin_list_is_kept_by_both_back_ends(tmp_path: Path, database_url: str) -> None:
    async with running_instance(tmp_path / "data", database_url=database_url, embed_origins=OTHER_SITE) as inst:
        admin = await inst.admin()
        assert (await admin.http.get("/api/admin/embed-origins")).json() == {
            "origins": [OTHER_SITE],
            "source": "setting",
            "setting": [OTHER_SITE],
        }
        await admin.http.put("/api/admin/embed-origins", json={"origins": ["http://localhost:9000"]})
    async with running_instance(tmp_path / "data", database_url=database_url, embed_origins=OTHER_SITE) as inst:
        admin_http = inst.client()
        await admin_http.post("/api/login", json={"username": ADMIN["username"], "password": ADMIN["password"]})
        got = (await admin_http.get("/api/admin/embed-origins")).json()
        assert got["origins"] == ["http://localhost:9000"] and got["source"] == "admin"
