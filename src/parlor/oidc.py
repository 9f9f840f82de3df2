"""The OpenID provider as this instance sees it, through Authlib (the `sso` extra).

Authlib does the protocol: discovery (`/.well-known/openid-configuration`), the
authorization URL with state, nonce and a PKCE S256 challenge, the code exchange over
httpx, and the ID token's checks (signature against the provider's JWKS, `iss`, `aud`,
`exp`, `iat`, `nonce`, `at_hash`). This module only maps its failures onto our error
codes. Authlib is imported when SSO is configured, so the default install runs without it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

from parlor.errors import Code, ParlorError
from parlor.settings import Settings

logger = logging.getLogger(__name__)

SCOPE = "openid profile email"
# Clock skew allowed on `exp`, `iat` and `nbf`.
LEEWAY_S = 60


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what must come back with it."""

    url: str
    state: str
    nonce: str
    code_verifier: str


def provider_error(message: str) -> ParlorError:
    return ParlorError(502, Code.SSO_PROVIDER_ERROR, message)


def invalid_token() -> ParlorError:
    return ParlorError(401, Code.SSO_INVALID_TOKEN, "The identity provider's answer could not be verified.")


def _import_authlib() -> Any:
    try:
        import authlib.deprecate  # noqa: F401  (installs its warning filter before ours)
    except ImportError as exc:
        raise RuntimeError(
            "PARLOR_OIDC_ISSUER is set but Authlib is not installed: pip install 'parlor[sso]'"
        ) from exc
    with warnings.catch_warnings():
        # Authlib 1.7+ prefers httpx2 and warns when it falls back to httpx, which this
        # package already depends on; the fallback works the same.
        warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
        from authlib.integrations.starlette_client import OAuth
    return OAuth


class OidcClient:
    """One provider, one client registration; the discovery document and JWKS are
    fetched on first use and kept (a key the JWKS lacks makes Authlib fetch it again)."""

    def __init__(self, settings: Settings) -> None:
        oauth = _import_authlib()()
        self.issuer = settings.oidc_issuer
        self._app = oauth.register(
            name="sso",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10.0},
        )

    async def _metadata(self) -> dict[str, Any]:
        import httpx

        try:
            metadata: dict[str, Any] = await self._app.load_server_metadata()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("OIDC discovery failed: %s", type(exc).__name__)
            raise provider_error("The identity provider could not be reached.") from exc
        # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer we asked.
        if metadata.get("issuer") != self.issuer:
            logger.warning("OIDC discovery names issuer %r, not the configured one", metadata.get("issuer"))
            raise provider_error("The identity provider's configuration does not match this instance's.")
        return metadata

    async def authorization(self, redirect_uri: str) -> Authorization:
        await self._metadata()
        made = await self._app.create_authorization_url(redirect_uri)
        return Authorization(made["url"], made["state"], made["nonce"], made["code_verifier"])

    async def id_claims(self, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code and return the verified ID token's claims."""
        import httpx
        from authlib.common.errors import AuthlibBaseError
        from joserfc.errors import JoseError

        await self._metadata()
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
            )
        except (AuthlibBaseError, httpx.HTTPError, ValueError) as exc:
            # Never the exception's text: it may carry what the provider sent back.
            logger.warning("OIDC code exchange failed: %s", type(exc).__name__)
            raise provider_error("The identity provider refused the sign-in.") from exc
        if not isinstance(token, dict) or "id_token" not in token:
            raise invalid_token()
        try:
            claims = await self._app.parse_id_token(
                token,
                nonce=nonce,
                claims_options={"iss": {"essential": True, "values": [self.issuer]}},
                leeway=LEEWAY_S,
            )
        except (JoseError, AuthlibBaseError, ValueError) as exc:
            logger.warning("OIDC ID token refused: %s", type(exc).__name__)
            raise invalid_token() from exc
        except httpx.HTTPError as exc:
            logger.warning("OIDC JWKS fetch failed: %s", type(exc).__name__)
            raise provider_error("The identity provider could not be reached.") from exc
        return dict(claims)
