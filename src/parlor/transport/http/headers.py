"""Security headers on every HTTP response: the one place the page policy lives.

A strict Content-Security-Policy: scripts, styles, images, connections only from this
origin, no inline script and no inline style attribute (the pages build the DOM with
`dom.js`, which sets styles through the CSSOM), no plugins, no `<base>`. No page may be
framed (`frame-ancestors 'none'` and, for old browsers, `X-Frame-Options: DENY`), except
the embed page, whose route sets its own `frame-ancestors` (the sites the admin lists).

A route's own directives (a `Content-Security-Policy` header it sets) are kept and the
defaults fill in the rest; a route that sets its own `default-src` (an avatar:
`'none'`) keeps it for every fetch directive. `nosniff` and the referrer policy are
sent exactly once, whether or not the route set them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "content-security-policy"
XFO = "x-frame-options"

NOSNIFF = "x-content-type-options"
REFERRER = "referrer-policy"
REFERRER_POLICY = "strict-origin-when-cross-origin"

# directive -> sources; rendered in this order. 'self' in connect-src covers the
# socket (ws:/wss: on this host, CSP Level 3). Avatars are same-origin URLs; audio
# plays from a MediaStream (`srcObject`), which no fetch directive governs.
DEFAULT_CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
# Directives that fall back to default-src: a route setting its own default-src
# (stricter than ours) keeps it for all of them.
_FETCH = frozenset({"script-src", "style-src", "img-src", "connect-src", "media-src", "object-src", "font-src"})
_REPLACED = frozenset({CSP.encode(), XFO.encode(), NOSNIFF.encode(), REFERRER.encode()})


def parse_csp(text: str) -> dict[str, tuple[str, ...]]:
    policy: dict[str, tuple[str, ...]] = {}
    for part in text.split(";"):
        words = part.split()
        if words:
            policy.setdefault(words[0].lower(), tuple(words[1:]))
    return policy


def render_csp(policy: Mapping[str, Iterable[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in policy.items())


def frame_ancestors(origins: Iterable[str]) -> dict[str, str]:
    """Headers for a route that may be framed by these origins (none: by nobody)."""
    sources = tuple(origins) or ("'none'",)
    return {"Content-Security-Policy": render_csp({"frame-ancestors": sources})}


def merge(own: str | None, defaults: Mapping[str, tuple[str, ...]] = DEFAULT_CSP) -> tuple[str, bool]:
    """The response's CSP with the defaults filled in, and whether it lets the page be
    framed by someone (then X-Frame-Options, which cannot list origins, must not be sent)."""
    policy = parse_csp(own) if own else {}
    framable = policy.get("frame-ancestors", ("'none'",)) != ("'none'",)
    own_default = "default-src" in policy
    for name, sources in defaults.items():
        if not (own_default and name in _FETCH):
            policy.setdefault(name, sources)
    return render_csp(policy), framable


class SecurityHeaders:
    """ASGI middleware adding the policy headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                raw = [(k, v) for k, v in headers if k.lower() not in _REPLACED]
                own = next((v.decode("latin-1") for k, v in headers if k.lower() == CSP.encode()), None)
                csp, framable = merge(own)
                raw.append((CSP.encode(), csp.encode("latin-1")))
                if not framable:
                    raw.append((XFO.encode(), b"DENY"))
                raw.append((NOSNIFF.encode(), b"nosniff"))
                raw.append((REFERRER.encode(), REFERRER_POLICY.encode()))
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
