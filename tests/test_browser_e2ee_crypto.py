"""web/static/e2ee_crypto.js in Chromium gives the bytes of tests/e2ee_vectors.json
(the same vectors parlor.e2ee is held to), and what each side seals the other opens.

The module is served to the page from the source tree through Playwright's router at
http://localhost (a secure context, so WebCrypto is there): no server, no network."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Route, async_playwright
from tests.browser_helpers import CHROMIUM

from parlor import e2ee

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src/parlor/web/static"
ORIGIN = "http://localhost:8765"
VECTORS = json.loads((ROOT / "tests/e2ee_vectors.json").read_text())
# scripts/make_e2ee_vectors.py's private scalars
ALICE = 0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA98765432110203040506070
BOB = 0x0A1B2C3D4E5F60718293A4B5C6D7E8F9123456789ABCDEF00112233445566778


async def _serve(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN)
    if path.startswith("/static/"):
        file = STATIC / path.removeprefix("/static/")
        if file.is_file() and file.suffix == ".js":
            await route.fulfill(body=file.read_bytes(), content_type="text/javascript")
            return
        await route.fulfill(status=404)
        return
    await route.fulfill(body="<!doctype html><title>e2ee</title>", content_type="text/html")


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
            ],
        )
        try:
            context = await browser.new_context()
            await context.route(f"{ORIGIN}/**", _serve)
            p = await context.new_page()
            await p.goto(f"{ORIGIN}/")
            await p.evaluate("async () => { window.E = await import('/static/e2ee_crypto.js'); }")
            yield p
        finally:
            await browser.close()


async def js(page: Page, body: str, arg: Any = None) -> Any:
    """Run `body` (an async function body with `E` the module and `arg`) in the page."""
    return await page.evaluate(f"async (arg) => {{ const E = window.E; {body} }}", arg)


def d_of(scalar: int) -> str:
    return e2ee.b64e(scalar.to_bytes(32, "big"))


async def test_it_reproduces_every_vector(page: Page) -> None:
    v = VECTORS
    got = await js(
        page,
        """
        const v = arg.v, hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
        const unhex = (s) => new Uint8Array(s.match(/../g).map((x) => parseInt(x, 16)));
        const alice = await E.importKeyPair(E.b64d(arg.alice_d), E.b64d(v.alice.public));
        const bob = await E.importKeyPair(E.b64d(arg.bob_d), E.b64d(v.bob.public));
        const common = {roomId: v.room_id, epoch: v.wrap.epoch, sender: 'u_alice', recipient: 'u_bob'};
        const wrapped = await E.wrapRoomKey(alice, bob.public,
            {...common, roomKey: E.b64d(v.wrap.room_key), nonce: E.b64d(v.wrap.nonce)});
        const unwrapped = await E.unwrapRoomKey(bob, alice.public, {...common, wrapped: E.b64d(v.wrap.wrapped)});
        let wrongRecipient = null;
        try {
          await E.unwrapRoomKey(bob, alice.public, {...common, recipient: 'u_eve', wrapped: E.b64d(v.wrap.wrapped)});
        } catch (err) { wrongRecipient = err.code; }
        const s = v.sframe, K = E.b64d(v.wrap.room_key);
        const base = await E.senderBaseKey(K, s.sender_tag);
        const ks = await E.sframeKeyAndSalt(base, s.kid);
        const sender = await E.SFrameSender.create(K, s.epoch, s.sender_tag);
        const frames = [];
        for (let i = 0; i < 3; i++) frames.push(hex(await sender.encrypt(unhex(s.plaintext))));
        const rx = new E.SFrameReceiver();
        rx.addKey(s.epoch, K);
        const opened = [];
        for (const f of s.frames) opened.push(hex(await rx.decrypt(unhex(f))));
        let replay = null;
        try { await rx.decrypt(unhex(s.frames[1])); } catch (err) { replay = err.code; }
        const headers = {}, parsed = {};
        for (const name of Object.keys(v.headers)) {
          const [kid, ctr] = name.split(':').map(Number);
          headers[name] = hex(E.sframeHeader(kid, ctr));
          const p = E.parseSframeHeader(unhex(v.headers[name]));
          parsed[name] = `${p.kid}:${p.ctr}`;
        }
        const c = v.chat;
        const line = await E.encryptChat(K, c.epoch, v.room_id, c.text, E.b64d(c.nonce));
        const text = await E.decryptChat(new Map([[c.epoch, K]]), v.room_id, c.line);
        return {
          alice_public: E.b64e(alice.public), bob_public: E.b64e(bob.public),
          alice_code: await E.safetyCode(v.room_id, alice.public),
          bob_code: await E.safetyCode(v.room_id, bob.public),
          wrapped: E.b64e(wrapped), unwrapped: E.b64e(unwrapped), wrong_recipient: wrongRecipient,
          kid: E.kidFor(s.epoch, s.sender_tag), base_key: hex(base), key: hex(ks.key), salt: hex(ks.salt),
          frames, opened, replay, headers, parsed, line, text,
          passphrase: E.b64e(await E.passphraseKey(v.passphrase.passphrase, v.passphrase.room_name)),
          dtx: hex(await rx.decrypt(Uint8Array.of(0xf8, 0xff))),
        };
        """,
        {"v": v, "alice_d": d_of(ALICE), "bob_d": d_of(BOB)},
    )
    assert got["alice_public"] == v["alice"]["public"]
    assert got["bob_public"] == v["bob"]["public"]
    assert got["alice_code"] == v["alice"]["safety_code"]
    assert got["bob_code"] == v["bob"]["safety_code"]
    assert got["wrapped"] == v["wrap"]["wrapped"]
    assert got["unwrapped"] == v["wrap"]["room_key"]
    assert got["wrong_recipient"] == "bad_key"
    s = v["sframe"]
    assert got["kid"] == s["kid"]
    assert (got["base_key"], got["key"], got["salt"]) == (s["base_key"], s["key"], s["salt"])
    assert got["frames"] == s["frames"]
    assert got["opened"] == [s["plaintext"]] * 3
    assert got["replay"] == "replayed"
    assert got["headers"] == v["headers"]
    assert got["parsed"] == {name: name for name in v["headers"]}
    assert got["line"] == v["chat"]["line"]
    assert got["text"] == v["chat"]["text"]
    assert got["passphrase"] == v["passphrase"]["key"]
    assert got["dtx"] == "f8ff"  # a DTX frame passes as is


async def test_python_opens_what_the_browser_seals_with_fresh_keys(page: Page) -> None:
    room_id = "r_fresh"
    python = e2ee.KeyPair.generate()
    got = await js(
        page,
        """
        const me = await E.generateKeyPair();
        const K = E.randomBytes(16);
        const wrapped = await E.wrapRoomKey(me, E.b64d(arg.python_public),
            {roomId: arg.room_id, epoch: 7, sender: 'u_js', recipient: 'u_py', roomKey: K});
        const sender = await E.SFrameSender.create(K, 7);
        const frames = [];
        for (let i = 0; i < 200; i++) frames.push(E.b64e(await sender.encrypt(Uint8Array.of(0xfc, i % 256, 1, 2, 3))));
        const line = await E.encryptChat(K, 7, arg.room_id, 'secret words 🔑');
        return {public: E.b64e(me.public), key: E.b64e(K), wrapped: E.b64e(wrapped), frames, line,
                code: await E.safetyCode(arg.room_id, me.public), tag: sender.senderTag};
        """,
        {"python_public": e2ee.b64e(python.public), "room_id": room_id},
    )
    js_public = e2ee.b64d(got["public"])
    assert len(js_public) == 65 and js_public[0] == 4
    assert got["code"] == e2ee.safety_code(room_id, js_public)
    room_key = e2ee.unwrap_room_key(
        python,
        js_public,
        room_id=room_id,
        epoch=7,
        sender="u_js",
        recipient="u_py",
        wrapped=e2ee.b64d(got["wrapped"]),
    )
    assert e2ee.b64e(room_key) == got["key"]
    rx = e2ee.SFrameReceiver()
    rx.add_key(7, room_key)
    kids = set()
    for i, frame in enumerate(got["frames"]):
        raw = e2ee.b64d(frame)
        kids.add(e2ee.parse_sframe_header(raw)[0])
        assert rx.decrypt(raw) == bytes([0xFC, i % 256, 1, 2, 3])
    assert kids == {e2ee.kid_for(7, got["tag"])}
    assert e2ee.decrypt_chat({7: room_key}, room_id, got["line"]) == "secret words 🔑"


async def test_the_browser_opens_what_python_seals_and_drops_bad_frames(page: Page) -> None:
    room_id = "r_fresh"
    python = e2ee.KeyPair.generate()
    room_key = os.urandom(16)
    tx = e2ee.SFrameSender(room_key, 5)
    frames = [tx.encrypt(bytes([0xFC, i])) for i in range(5)]
    tampered = bytearray(frames[4])
    tampered[-1] ^= 1
    old = e2ee.SFrameSender(room_key, 1).encrypt(b"\xfc\x00old")
    got = await js(
        page,
        """
        const me = await E.generateKeyPair();
        const out = {public: E.b64e(me.public)};
        window.__me = me;
        return out;
        """,
    )
    wrapped = e2ee.wrap_room_key(
        python,
        e2ee.b64d(got["public"]),
        room_id=room_id,
        epoch=5,
        sender="u_py",
        recipient="u_js",
        room_key=room_key,
    )
    result = await js(
        page,
        """
        const K = await E.unwrapRoomKey(window.__me, E.b64d(arg.py), {roomId: arg.room_id, epoch: 5,
            sender: 'u_py', recipient: 'u_js', wrapped: E.b64d(arg.wrapped)});
        const rx = new E.SFrameReceiver();
        const outcome = async (f) => {
          try { return E.b64e(await rx.decrypt(E.b64d(f))); } catch (err) { return 'error:' + err.code; }
        };
        const before = await outcome(arg.frames[0]);  // no key yet
        rx.addKey(5, E.randomBytes(16));  // a wrong key for epoch 5 ...
        const wrong = await outcome(arg.frames[0]);
        rx.addKey(5, K);  // ... replaced by the right one: what was derived from it goes
        const opened = [];
        for (const f of arg.frames.slice(0, 4)) opened.push(await outcome(f));
        const replayed = await outcome(arg.frames[2]);
        const tampered = await outcome(arg.tampered);
        const truncated = await outcome(arg.frames[3].slice(0, 12));
        const garbage = await outcome(E.b64e(Uint8Array.of(0xff, 0, 0)));  // header runs past the frame
        const oldEpoch = await outcome(arg.old);
        for (const e of [6, 7, 8, 9]) rx.addKey(e, E.randomBytes(16));
        const forgotten = await outcome(arg.frames[4]);
        let badChat = null;
        try { await E.decryptChat(new Map(), arg.room_id, 'e2ee:1:5:AAAA'); } catch (err) { badChat = err.code; }
        return {before, wrong, opened, replayed, tampered, truncated, garbage, oldEpoch, forgotten, badChat,
                epochs: rx.epochs};
        """,
        {
            "py": e2ee.b64e(python.public),
            "room_id": room_id,
            "wrapped": e2ee.b64e(wrapped),
            "frames": [e2ee.b64e(f) for f in frames],
            "tampered": e2ee.b64e(bytes(tampered)),
            "old": e2ee.b64e(old),
        },
    )
    assert result["before"] == "error:no_key"
    assert result["wrong"] == "error:bad_frame"
    assert result["opened"] == [e2ee.b64e(bytes([0xFC, i])) for i in range(4)]
    assert result["replayed"] == "error:replayed"
    assert result["tampered"] == "error:bad_frame"
    assert result["truncated"] == "error:bad_frame"
    assert result["garbage"] == "error:bad_frame"
    assert result["oldEpoch"] == "error:no_key"
    assert result["forgotten"] == "error:no_key"  # epoch 5 fell out of the last 4
    assert result["epochs"] == [6, 7, 8, 9]
    assert result["badChat"] == "no_key"


async def test_key_leader_matches_python(page: Page) -> None:
    people = [
        {"user_id": "u_c", "public_key": "x", "keyed_since": 20.5},
        {"user_id": "u_b", "public_key": "x", "keyed_since": 10.0},
        {"user_id": "u_a", "public_key": "x", "keyed_since": 10.0},
        {"user_id": "u_0", "public_key": None, "keyed_since": None},
    ]
    for group in (people, people[:1], people[3:], []):
        got = await js(page, "return E.keyLeader(arg);", group)
        assert got == e2ee.key_leader(group)


def test_the_privacy_page_serves_docs_privacy() -> None:
    """/privacy draws static/privacy.md (views/privacy.js): a copy of docs/PRIVACY.md."""
    assert (STATIC / "privacy.md").read_text() == (ROOT / "docs/PRIVACY.md").read_text()
