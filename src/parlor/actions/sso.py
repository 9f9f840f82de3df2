"""Single sign-on with OpenID Connect: start a sign-in, finish it when the provider sends
the browser back.

The flow's state (OAuth `state`, OIDC `nonce`, the PKCE verifier, the redirect URI and
where to go afterwards) rides in a short-lived cookie sealed with an instance secret, so
any node can finish a sign-in another started. Finishing: the state in the URL must be
the cookie's, Authlib exchanges the code and verifies the ID token (parlor/oidc.py), and
the (issuer, subject) pair finds the account, or makes one on first sign-in. Admin is
the provider's to say when PARLOR_OIDC_ADMIN_GROUP is set: re-read at every sign-in.
A suspended or banned account is refused as at password sign-in (actions/standing.py),
and every attempt on an existing account goes in its sign-in history.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from parlor.actions import limits, sign_ins
from parlor.actions.ids import new_id
from parlor.actions.services import Services
from parlor.actions.standing import check_standing
from parlor.domain import sso as rules
from parlor.domain.text import has_bad_characters
from parlor.domain.users import User
from parlor.errors import Code, ParlorError
from parlor.oidc import OidcClient
from parlor.storage import accounts as account_store
from parlor.storage import admin_audit
from parlor.storage import growth as growth_store
from parlor.storage import rooms as room_store
from parlor.storage import sso as store

logger = logging.getLogger(__name__)

# How long a started sign-in may take at the provider.
FLOW_S = 600
SECRET_NAME = "sso_state_key"
# No password: argon2 cannot parse it, so no password ever matches (actions/accounts.py).
NO_PASSWORD = "!sso"
_SUBJECT_MAX = 255
_DISPLAY_NAME_MAX = 50


@dataclass(frozen=True)
class Started:
    url: str
    sealed: str


def _off() -> ParlorError:
    return ParlorError(404, Code.SSO_OFF, "Single sign-on is not set up on this instance.")


def bad_state() -> ParlorError:
    return ParlorError(
        400, Code.SSO_BAD_STATE, "This sign-in link is not the one this browser started, or it expired. Try again."
    )


def _client(s: Services) -> OidcClient:
    if s.oidc is None:
        raise _off()
    return s.oidc


def _key(s: Services) -> bytes:
    return s.settings.secret(SECRET_NAME)


def safe_next(path: str | None) -> str:
    """Where to land afterwards: a path on this site, else the hallway."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path and len(path) <= 500:
        return path
    return "/"


async def do_start(s: Services, redirect_uri: str, next_path: str | None, address: str | None = None) -> Started:
    """The provider's authorization URL, and the sealed state for the browser's cookie."""
    client = _client(s)
    await limits.check(s, "sso", address=address)
    made = await client.authorization(redirect_uri)
    flow = {
        "state": made.state,
        "nonce": made.nonce,
        "verifier": made.code_verifier,
        "redirect_uri": redirect_uri,
        "next": safe_next(next_path),
    }
    return Started(made.url, rules.seal(_key(s), flow, s.clock() + FLOW_S))


def flow_next(s: Services, sealed: str | None) -> str:
    """Where the sign-in this cookie belongs to meant to land, if it is still valid."""
    flow = rules.unseal(_key(s), sealed, s.clock()) if sealed else None
    return safe_next(flow.get("next")) if flow else "/"


async def do_finish(
    s: Services, sealed: str | None, query: dict[str, str], client_label: str | None, address: str | None = None
) -> User:
    """The account the provider's answer signs in to; raises with nothing changed if the
    answer is refused (bad state, the provider's error, an unverifiable token, a sanction)."""
    client = _client(s)
    flow = rules.unseal(_key(s), sealed, s.clock()) if sealed else None
    state = query.get("state", "")
    if flow is None or not state or not hmac.compare_digest(state.encode(), str(flow.get("state", "")).encode()):
        raise bad_state()
    if "error" in query:
        # The provider's own refusal (the person said no, or is not allowed this app).
        logger.info("OIDC provider answered with an error: %s", query["error"][:60])
        raise ParlorError(403, Code.SSO_PROVIDER_ERROR, f"{s.settings.oidc_name} did not sign you in.")
    code = query.get("code", "")
    if not code or len(code) > 2000:
        raise bad_state()
    await limits.check(s, "sso", address=address)  # before asking the provider for a token
    claims = await client.id_claims(code, flow["redirect_uri"], flow["verifier"], flow["nonce"])
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 1 <= len(subject) <= _SUBJECT_MAX:
        raise ParlorError(401, Code.SSO_INVALID_TOKEN, "The identity provider's answer names nobody.")
    admin = _admin_from(s, claims)
    async with s.db.engine.connect() as conn:
        user_id = await store.linked_user_id(conn, client.issuer, subject)
        user = await account_store.user_by_id(conn, user_id) if user_id else None
    if user is None:
        user = await _create(s, client.issuer, subject, claims, admin)
    else:
        try:
            await check_standing(s, user)
        except ParlorError as exc:
            await sign_ins.record(s, user.id, client_label, exc.code.value)
            raise
        if admin is not None and admin != user.is_admin:
            user = await _set_admin(s, user, admin)
    await sign_ins.record(s, user.id, client_label, sign_ins.OK)
    return user


def _admin_from(s: Services, claims: dict[str, Any]) -> bool | None:
    """Admin or not by the group claim; None when no admin group is set (then admins
    are made as without SSO, and a sign-in leaves the flag alone)."""
    group = s.settings.oidc_admin_group
    if not group:
        return None
    return rules.in_group(claims, s.settings.oidc_groups_claim, group)


def _display_name(claims: dict[str, Any], username: str) -> str:
    shown = " ".join(rules.display_name(claims, username).split())[:_DISPLAY_NAME_MAX]
    return username if not shown or has_bad_characters(shown) else shown


async def _create(s: Services, issuer: str, subject: str, claims: dict[str, Any], admin: bool | None) -> User:
    """A new account for a first sign-in, under the first free username. A sign-in racing
    this one for the same person links to the account it made instead."""
    base = rules.username_base(claims)
    for _attempt in range(3):
        now = s.clock()
        try:
            async with s.db.engine.begin() as conn:
                linked = await store.linked_user_id(conn, issuer, subject)
                if linked is not None:
                    found = await account_store.user_by_id(conn, linked)
                    if found is not None:
                        return found
                name = await _free_username(conn, base)
                user = await account_store.insert_user(
                    conn,
                    user_id=new_id("u"),
                    username=name,
                    display_name=_display_name(claims, name),
                    password_hash=NO_PASSWORD,
                    is_admin=bool(admin),
                    invited_by=None,
                    now=now,
                )
                await store.link(conn, issuer, subject, user.id, now)
                await room_store.audit(conn, now=now, actor_id=user.id, action="signup.sso")
                if admin:
                    await admin_audit.record(conn, now=now, actor_id=None, action="sso.admin.grant", target_id=user.id)
        except sa.exc.IntegrityError:
            continue  # a name or the link was taken meanwhile: look again
        logger.info("account made by single sign-on: %s", user.id)
        return user
    raise ParlorError(409, Code.USERNAME_TAKEN, "No free username could be found for you. Try again.")


async def _free_username(conn: Any, base: str) -> str:
    for name in rules.username_candidates(base):
        if not await account_store.username_taken(conn, name) and not await growth_store.username_waiting(conn, name):
            return name
    raise ParlorError(409, Code.USERNAME_TAKEN, "No free username could be found for you.")


async def _set_admin(s: Services, user: User, admin: bool) -> User:
    now = s.clock()
    async with s.db.engine.begin() as conn:
        if await store.set_admin(conn, user.id, admin):
            action = "sso.admin.grant" if admin else "sso.admin.revoke"
            await admin_audit.record(conn, now=now, actor_id=None, action=action, target_id=user.id)
            logger.info("%s by the identity provider's group claim: %s", action, user.id)
        found = await account_store.user_by_id(conn, user.id)
    return found or user
