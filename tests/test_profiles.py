"""Profiles over HTTP: edit your own display name and bio; avatars (upload, refusals, serving).

Runs on SQLite, and on PostgreSQL with PARLOR_TEST_DATABASE=postgresql (conftest).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import ExifTags, Image
from playwright.async_api import async_playwright, expect
from tests.browser_helpers import PASSWORD, follow_name, launch, new_page, sign_in
from tests.conftest import Instance, Person, error_code, make_settings
from tests.live import live_server, make_member


async def profile(viewer: Person, username: str) -> dict[str, Any]:
    r = await viewer.http.get(f"/api/users/{username}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def image_bytes(fmt: str, size: tuple[int, int] = (300, 200), **save: Any) -> bytes:
    im = Image.new("RGB", size, (200, 30, 30))
    im.paste((30, 30, 200), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 64), color) for color in ((0, 200, 0), (200, 0, 0), (0, 0, 200))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    im = Image.new("RGB", (320, 240), (10, 120, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam"
    exif[ExifTags.Base.Model] = "Tracker 3000"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 17.25)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def forged_png(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims `width`×`height` (a bomb if decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


async def upload(who: Person, data: bytes, content_type: str = "image/png") -> Any:
    return await who.http.put("/api/me/avatar", content=data, headers={"content-type": content_type})


async def fetch_avatar(viewer: Person, url: str) -> Any:
    r = await viewer.http.get(url)
    assert r.status_code == 200, r.text
    return r


# -- profile edits -----------------------------------------------------------------------------


async def test_edit_your_display_name_and_bio(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    fresh = await profile(bob, "ann")
    assert (fresh["bio"], fresh["avatar_url"]) == ("", None)

    r = await ann.http.patch(
        "/api/me/profile", json={"display_name": "  Ann   Example ", "bio": "Hosts the\n\tmorning   show. 🎙️"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["bio"], r.json()["is_you"]) == (
        "Ann Example",
        "Hosts the morning show. 🎙️",
        True,
    )
    seen = await profile(bob, "ann")
    assert (seen["display_name"], seen["bio"]) == ("Ann Example", "Hosts the morning show. 🎙️")
    assert (await ann.http.get("/api/me")).json()["display_name"] == "Ann Example"
    # each field on its own; an emoji joined with ZWJ is not a control character
    r = await ann.http.patch("/api/me/profile", json={"bio": "👩\u200d💻 " + "x" * 156})
    assert r.status_code == 200 and r.json()["display_name"] == "Ann Example" and len(r.json()["bio"]) == 160
    r = await ann.http.patch("/api/me/profile", json={"bio": "   "})
    assert r.status_code == 200 and r.json()["bio"] == ""


async def test_a_new_display_name_shows_in_live_rooms(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    room = (await ann.post("/api/rooms", json={"title": "Names"})).json()
    assert (await ann.http.patch("/api/me/profile", json={"display_name": "Annie"})).status_code == 200
    r = await bob.post(f"/api/rooms/{room['id']}/join")
    names = {p["username"]: p["display_name"] for p in r.json()["participants"]}
    assert names == {"ann": "Annie", "bob": "Bob"}


BAD_PROFILE_BODIES = [
    {"bio": "x" * 161},
    {"bio": "null\x00byte"},
    {"bio": "escape \x1b[31m red"},
    {"bio": "right-to-left \u202e override"},
    {"bio": 42},
    {"display_name": ""},
    {"display_name": "   "},
    {"display_name": "x" * 51},
    {"display_name": "bell\x07"},
    {"display_name": None, "bio": None},
    {},
    {"bio": "ok", "username": "root"},
    {"bio": "ok", "id": "u_someone"},
    {"bio": "y" * 2001},
]


@pytest.mark.parametrize("body", BAD_PROFILE_BODIES)
async def test_bad_profile_input_is_400_and_changes_nothing(instance: Instance, body: dict[str, Any]) -> None:
    ann = await instance.member("ann")
    assert (await ann.http.patch("/api/me/profile", json={"bio": "Before"})).status_code == 200
    r = await ann.http.patch("/api/me/profile", json=body)
    assert r.status_code == 400 and error_code(r) == "invalid_input", r.text
    after = await profile(ann, "ann")
    assert (after["display_name"], after["bio"]) == ("Ann", "Before")


async def test_you_can_only_edit_your_own_profile_and_avatar(instance: Instance) -> None:
    admin, ann, bob = await instance.admin(), await instance.member("ann"), await instance.member("bob")
    assert (await bob.http.patch("/api/me/profile", json={"bio": "Bob's bio"})).status_code == 200
    assert (await upload(bob, image_bytes("PNG"))).status_code == 200
    bob_before = await profile(bob, "bob")

    # naming someone else in the body is refused, not ignored
    r = await ann.http.patch("/api/me/profile", json={"id": bob.id, "bio": "hijacked"})
    assert r.status_code == 400
    # there is no route that edits someone else, for members or admins
    for who in (ann, admin):
        for method, path in [
            ("PATCH", "/api/users/bob"),
            ("PATCH", f"/api/users/id/{bob.id}"),
            ("PATCH", "/api/users/bob/profile"),
            ("PUT", f"/api/users/id/{bob.id}/avatar"),
            ("DELETE", f"/api/users/id/{bob.id}/avatar"),
        ]:
            r = await who.http.request(method, path, json={"bio": "hijacked"})
            assert r.status_code in (404, 405), (method, path, r.status_code)
    # an admin editing and removing "their" profile and avatar touches only their own
    assert (await admin.http.patch("/api/me/profile", json={"bio": "Admin here"})).status_code == 200
    assert (await admin.http.delete("/api/me/avatar")).status_code == 200
    assert (await ann.http.delete("/api/me/avatar")).status_code == 200
    assert await profile(ann, "bob") == {**bob_before, "is_you": False}
    assert (await profile(bob, "root"))["bio"] == "Admin here"


async def test_anonymous_gets_401(instance: Instance) -> None:
    ann = await instance.member("ann")
    assert (await upload(ann, image_bytes("PNG"))).status_code == 200
    url = (await profile(ann, "ann"))["avatar_url"]
    anon = instance.client()
    for method, path, kwargs in [
        ("PATCH", "/api/me/profile", {"json": {"bio": "x"}}),
        ("PUT", "/api/me/avatar", {"content": image_bytes("PNG")}),
        ("DELETE", "/api/me/avatar", {}),
        ("GET", url, {}),
    ]:
        r = await anon.request(method, path, **kwargs)
        assert r.status_code == 401 and error_code(r) == "not_authenticated", (method, path)
    assert (await profile(ann, "ann"))["avatar_url"] == url


async def test_cross_origin_profile_writes_are_refused(instance: Instance) -> None:
    ann = await instance.member("ann")
    evil = {"origin": "https://evil.example"}
    r = await ann.http.patch("/api/me/profile", json={"bio": "pwned"}, headers=evil)
    assert r.status_code == 403 and error_code(r) == "cross_origin"
    r = await ann.http.put("/api/me/avatar", content=image_bytes("PNG"), headers=evil)
    assert r.status_code == 403 and error_code(r) == "cross_origin"
    after = await profile(ann, "ann")
    assert (after["bio"], after["avatar_url"]) == ("", None)


# -- avatars -------------------------------------------------------------------------------------


async def test_avatar_is_reencoded_and_served_safely(instance: Instance) -> None:
    ann, bob = await instance.member("ann"), await instance.member("bob")
    # the declared type is ignored: the bytes say PNG
    r = await upload(ann, image_bytes("PNG", (640, 480)), content_type="text/html")
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    assert url.startswith(f"/api/users/id/{ann.id}/avatar?v=")
    assert (await profile(bob, "ann"))["avatar_url"] == url

    served = await fetch_avatar(bob, url)
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("default-src 'none';")
    assert "script-src" not in served.headers["content-security-policy"]
    assert served.headers["cache-control"] == "private, max-age=31536000, immutable"
    with Image.open(io.BytesIO(served.content)) as im:
        assert (im.format, im.size) == ("WEBP", (256, 256))
        # cropped to the centre: red on the left, blue on the right
        rgb = im.convert("RGB")
        left, right = rgb.getpixel((20, 128)), rgb.getpixel((235, 128))
        assert isinstance(left, tuple) and isinstance(right, tuple)
        assert left[0] > 150 > left[2] and right[2] > 150 > right[0]
    # unversioned: revalidate; the ETag answers 304
    plain = await fetch_avatar(bob, f"/api/users/id/{ann.id}/avatar")
    assert plain.headers["cache-control"] == "private, no-cache"
    again = await bob.http.get(url, headers={"if-none-match": served.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

    # a new image, a new URL; the old version is not served as current
    r = await upload(ann, image_bytes("JPEG"))
    new_url = r.json()["avatar_url"]
    assert new_url != url
    stale = await fetch_avatar(bob, url)
    assert stale.headers["cache-control"] == "private, no-cache" and stale.content != served.content

    r = await ann.http.delete("/api/me/avatar")
    assert r.status_code == 200 and r.json()["avatar_url"] is None
    gone = await bob.http.get(new_url)
    assert gone.status_code == 404 and error_code(gone) == "no_avatar"
    assert (await ann.http.delete("/api/me/avatar")).status_code == 200  # idempotent


@pytest.mark.parametrize(
    "data",
    [image_bytes("PNG"), image_bytes("JPEG"), image_bytes("WEBP"), animated_gif(), image_bytes("PNG", (1, 1))],
    ids=["png", "jpeg", "webp", "animated-gif", "one-pixel"],
)
async def test_accepted_formats_become_one_still_webp(instance: Instance, data: bytes) -> None:
    ann = await instance.member("ann")
    r = await upload(ann, data, content_type="application/octet-stream")
    assert r.status_code == 200, r.text
    served = await fetch_avatar(ann, r.json()["avatar_url"])
    with Image.open(io.BytesIO(served.content)) as im:
        assert (im.format, im.size, getattr(im, "n_frames", 1)) == ("WEBP", (256, 256), 1)


async def test_avatar_from_an_animated_gif_is_its_first_frame(instance: Instance) -> None:
    ann = await instance.member("ann")
    r = await upload(ann, animated_gif())
    served = await fetch_avatar(ann, r.json()["avatar_url"])
    with Image.open(io.BytesIO(served.content)) as im:
        pixel = im.convert("RGB").getpixel((128, 128))
    assert isinstance(pixel, tuple) and pixel[1] > 150 > pixel[0]  # green, the first frame


async def test_exif_and_gps_are_gone_from_the_stored_avatar(instance: Instance) -> None:
    ann = await instance.member("ann")
    sent = jpeg_with_gps()
    with Image.open(io.BytesIO(sent)) as im:  # the upload does carry them
        assert im.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert b"SpyCam" in sent
    r = await upload(ann, sent, content_type="image/jpeg")
    assert r.status_code == 200, r.text
    served = await fetch_avatar(ann, r.json()["avatar_url"])
    with Image.open(io.BytesIO(served.content)) as im:
        assert len(im.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile"} & set(im.info)
    for marker in (b"Exif", b"SpyCam", b"Tracker", b"XMP", b"ICCP"):
        assert marker not in served.content


async def _too_large_streamed(instance: Instance, who: Person) -> Any:
    limit = instance.settings.avatar_max_bytes
    payload = image_bytes("PNG") + b"\x00" * limit

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    return await who.http.put("/api/me/avatar", content=chunks())


REFUSALS: dict[str, tuple[Any, int, str]] = {
    "text renamed .png": (b"just some text, not a picture\n" * 10, 400, "not_an_image"),
    "html": (b"<html><script>alert(1)</script></html>", 400, "not_an_image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 400, "not_an_image"),
    "bmp (not accepted)": (image_bytes("BMP"), 400, "not_an_image"),
    "empty": (b"", 400, "not_an_image"),
    "truncated png": (image_bytes("PNG", (400, 400))[:120], 400, "not_an_image"),
    "forged huge png (10^10 px)": (forged_png(100_000, 100_000), 400, "image_too_big"),
    "forged png over the limit, under Pillow's error": (forged_png(5000, 5000), 400, "image_too_big"),
    "forged png too wide": (forged_png(10_000, 10), 400, "image_too_big"),
    "oversize body": (None, 413, "image_too_large"),
    "oversize, streamed": (None, 413, "image_too_large"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_avatar_refusals_are_clear_and_change_nothing(instance: Instance, case: str) -> None:
    ann = await instance.member("ann")
    r = await upload(ann, image_bytes("PNG"))
    before = r.json()["avatar_url"]
    data, status, code = REFUSALS[case]
    if case == "oversize body":
        r = await upload(ann, image_bytes("PNG") + b"\x00" * instance.settings.avatar_max_bytes)
    elif case == "oversize, streamed":
        r = await _too_large_streamed(instance, ann)
    else:
        r = await ann.http.put(
            "/api/me/avatar", content=data, headers={"content-type": "image/png", "x-filename": "cat.png"}
        )
    assert r.status_code == status and error_code(r) == code, (case, r.status_code, r.text)
    assert (await profile(ann, "ann"))["avatar_url"] == before
    assert (await fetch_avatar(ann, before)).headers["content-type"] == "image/webp"


async def test_other_members_and_blocked_people_see_avatars_as_they_see_profiles(instance: Instance) -> None:
    ann, bob, cat = await instance.member("ann"), await instance.member("bob"), await instance.member("cat")
    url = (await upload(ann, image_bytes("PNG"))).json()["avatar_url"]
    assert (await ann.http.post("/api/users/bob/block")).status_code == 200
    # a profile stays readable across a block (it says blocks_you); so does its picture
    assert (await profile(bob, "ann"))["avatar_url"] == url
    assert (await bob.http.get(url)).status_code == 200
    assert (await cat.http.get(url)).status_code == 200
    # but bob cannot change it
    assert (await bob.http.delete("/api/me/avatar")).status_code == 200
    assert (await profile(cat, "ann"))["avatar_url"] == url


@pytest.mark.parametrize("user_id", ["u_nobody", "x" * 40, "%00"])
async def test_unknown_avatars_are_404(instance: Instance, user_id: str) -> None:
    ann = await instance.member("ann")
    r = await ann.http.get(f"/api/users/id/{user_id}/avatar")
    assert r.status_code == 404 and error_code(r) == "no_avatar"


# -- the web pages -------------------------------------------------------------------------------


@pytest.mark.browser
async def test_settings_and_profile_pages_in_a_browser(tmp_path: Path) -> None:
    """Edit the profile, upload an avatar, follow someone, download the export, delete the account."""
    picture = tmp_path / "me.jpg"
    picture.write_bytes(jpeg_with_gps())
    async with live_server(make_settings(tmp_path / "data")) as server, async_playwright() as pw:
        for name in ("ann", "bob"):
            async with httpx.AsyncClient(base_url=server.url) as http:
                await make_member(server, http, name)
        browser = await launch(pw)
        try:
            _, page = await new_page(browser, width=390, height=844)
            await sign_in(page, server.url, "ann")
            await page.goto(f"{server.url}/settings")
            await page.get_by_label("Display name").fill("Ann Browser")
            await page.get_by_label("Bio").fill("Hello   from the\nbrowser")
            await page.get_by_role("button", name="Save profile").click()
            saved = page.get_by_role("region", name="Your profile").get_by_role("status")
            await expect(saved).to_have_text("Profile saved.")
            await expect(page.get_by_label("Bio")).to_have_value("Hello from the browser")
            await page.get_by_label("Choose an image").set_input_files(str(picture))
            await page.get_by_role("button", name="Upload avatar").click()
            await expect(page.get_by_role("button", name="Remove avatar")).to_be_visible()
            await expect(page.locator("img.avatar")).to_have_attribute("src", re.compile("/avatar\\?v="))

            await page.get_by_role("link", name="See your profile").click()
            await expect(page.get_by_role("heading", name="Ann Browser")).to_be_visible()
            await expect(page.get_by_text("Hello from the browser")).to_be_visible()
            await expect(page.get_by_role("link", name="Edit profile")).to_be_visible()
            await expect(page.get_by_text("Nominated by")).to_contain_text("Root")

            await page.goto(f"{server.url}/people/bob")
            follow = page.get_by_role("button", name=follow_name("Bob"))
            await follow.click()
            await expect(follow).to_have_attribute("aria-pressed", "true")
            await expect(page.get_by_text("1 follower · 0 following")).to_be_visible()

            await page.goto(f"{server.url}/settings")
            async with page.expect_download() as download_info:
                await page.get_by_role("link", name="Download my data").click()
            download = await download_info.value
            assert download.suggested_filename == "parlor-ann.json"
            export = json.loads(await asyncio.to_thread(Path(await download.path()).read_text))
            assert export["tables"]["profiles"][0]["bio"] == "Hello from the browser"

            await page.get_by_label("Password").fill("not my password")
            await page.get_by_label("I understand this cannot be undone").check()
            await page.get_by_role("button", name="Delete my account").click()
            await expect(page.get_by_role("alert").filter(has_text="nothing was deleted")).to_be_visible()
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Delete my account").click()
            await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
            async with httpx.AsyncClient(base_url=server.url) as http:
                login = await http.post("/api/login", json={"username": "ann", "password": PASSWORD})
                assert login.status_code == 401
        finally:
            await browser.close()
