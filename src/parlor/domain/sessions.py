"""Sessions and tokens as a member sees them, and the coarse client label.

Privacy: of the User-Agent only a browser family and an operating system are kept
("Firefox on Windows"), never the string itself; no address is kept at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A session's or token's last use is written at most this often: not a write per request.
TOUCH_INTERVAL_S = 3600.0
# Token lifetimes a member may choose, as GitHub offers them: 30 days unless they say
# otherwise; "no expiration" (None) is allowed, and the page warns about it.
TOKEN_DAYS_DEFAULT = 30
TOKEN_DAYS_MAX = 366
# Sign-in history: how long attempts are kept, and failures merged into one entry when the
# same thing happens again from the same kind of client within this window.
SIGN_IN_KEEP_DAYS = 30
SIGN_IN_MERGE_S = 600.0


@dataclass(frozen=True)
class Session:
    """A browser session (kind "cookie") or a bearer token (kind "bearer")."""

    id: str
    user_id: str
    kind: str
    name: str | None
    client: str | None
    created_at: float
    last_used_at: float | None
    expires_at: float | None

    def needs_touch(self, now: float) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= TOUCH_INTERVAL_S


# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", Android says "Linux".
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"\bparlor\.client\b", "Parlor Python client"),
    (r"\bEdgA?/|\bEdgiOS/", "Edge"),
    (r"\bOPR/|\bOpera\b", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bFirefox/|\bFxiOS/", "Firefox"),
    (r"\bChromium/", "Chromium"),
    (r"\bChrome/|\bCriOS/|\bHeadlessChrome/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
    (r"^python-httpx/|^python-requests/|^Python-urllib/|\bwebsockets/|^aiohttp/", "Python"),
    (r"^curl/", "curl"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"\bAndroid\b", "Android"),
    (r"\biPhone\b|\biPad\b|\biPod\b", "iOS"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bWindows\b", "Windows"),
    (r"\bMacintosh\b|\bMac OS X\b", "macOS"),
    (r"\bLinux\b|\bX11\b", "Linux"),
)


def client_label(user_agent: str | None) -> str | None:
    """A coarse label, e.g. "Firefox on Windows", "Chrome on Android", "Python"; None if unknown."""
    ua = (user_agent or "")[:512]
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, ua)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, ua)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    return system
