"""Security headers on every HTTP response: the one place the page policy lives.

Today the policy is about framing: no page may be framed (`frame-ancestors 'none'`
and, for old browsers, `X-Frame-Options: DENY`), except the embed page, whose route
sets its own `frame-ancestors` (the sites the admin lists). A full Content Security
Policy goes here later: add directives to `DEFAULT_CSP`; a route's own directives
(a `Content-Security-Policy` header it sets) are kept and the defaults fill in the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "content-security-policy"
XFO = "x-frame-options"

# directive -> sources; rendered in this order.
DEFAULT_CSP: dict[str, tuple[str, ...]] = {"frame-ancestors": ("'none'",)}


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
    for name, sources in defaults.items():
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
                raw = [(k, v) for k, v in headers if k.lower() not in (CSP.encode(), XFO.encode())]
                own = next((v.decode("latin-1") for k, v in headers if k.lower() == CSP.encode()), None)
                csp, framable = merge(own)
                raw.append((CSP.encode(), csp.encode("latin-1")))
                if not framable:
                    raw.append((XFO.encode(), b"DENY"))
                raw.append((b"x-content-type-options", b"nosniff"))
                raw.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
