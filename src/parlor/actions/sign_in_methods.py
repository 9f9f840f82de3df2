"""How people get in: passwords (with invites and the waitlist) and, when configured,
single sign-on. In "SSO only" mode (PARLOR_SSO_ONLY) the provider is the only door:
every password and invite path refuses with `sso_only`.

Its own module, below accounts.py, growth.py and passwords.py (which ask it) and sso.py.
"""

from __future__ import annotations

from typing import Any

from parlor.actions.services import Services
from parlor.errors import Code, ParlorError
from parlor.settings import Settings

START_PATH = "/auth/sso/start"


def check_passwords_on(settings: Settings) -> None:
    """Refuse (403 `sso_only`) when accounts come only from the identity provider."""
    if settings.sso_only:
        who = settings.oidc_name
        message = f"This instance signs people in with {who} only: no passwords, no invites."
        raise ParlorError(403, Code.SSO_ONLY, message)


def methods(s: Services) -> dict[str, Any]:
    """What the sign-in page offers (anyone may ask)."""
    sso = {"name": s.settings.oidc_name, "start": START_PATH} if s.settings.sso_enabled else None
    return {"password": not s.settings.sso_only, "sso": sso}
