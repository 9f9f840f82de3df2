"""Settings, read once at start from `PARLOR_*` variables and CLI flags.

CLI flags win over the environment, the environment over the defaults.
Secrets generated on first run live in the data directory.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from parlor.domain.embedding import MAX_ORIGINS, parse_origins
from parlor.domain.topics import DEFAULT_TOPICS, parse_topic_list
from parlor.limits.policies import PolicyError
from parlor.limits.policies import parse as parse_limits


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "parlor"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=_default_data_dir)
    # Empty means SQLite in the data directory.
    database_url: str = field(default="", repr=False)  # may hold a password
    # Public URL printed and used for same-origin checks; derived from host:port if empty.
    public_url: str = ""
    # Addresses advertised as ICE host candidates; empty means the machine's own
    # non-loopback addresses (aioice's default). Tests use 127.0.0.1.
    ice_hosts: tuple[str, ...] = ()
    # UDP ports media peers bind to, (first, last) inclusive; None: any ephemeral port.
    # One port per peer connection and ICE host address (docs/DEPLOY.md).
    udp_ports: tuple[int, int] | None = None
    # One UDP socket per ICE host address for all of a media process's peers (one port
    # of udp_ports, if set); off: a socket per peer connection (media/udp_mux.py).
    udp_mux: bool = True
    # TURN for clients behind strict NATs: turn:/turns: URLs handed to clients with
    # short-lived credentials made from the shared secret (coturn's static-auth-secret).
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_ttl_s: int = 86400
    # Audio slots per listener (DESIGN §4).
    slots: int = 3
    # Ask speakers for Opus DTX (usedtx=1); docs/BENCHMARKS.md "Speech quality" has the choice.
    opus_dtx: bool = True
    # "fast": our own forwarding loop (DESIGN §4); "relay": aiortc's MediaRelay, the
    # benchmark baseline.
    media_engine: str = "fast"
    # The fast engine's inner loop: "auto" (C when built, media/_fanout.c), "c", "python".
    fanout: str = "auto"
    # Media worker processes; 0 (the default) means one per core. 1 keeps media in
    # the main process.
    workers: int = 0
    room_capacity: int = 5000
    # Seconds a client may be gone and come back with its role and hand kept.
    reconnect_grace_s: float = 30.0
    session_days: int = 30
    # Growth: invites each member may spend (admins: unlimited), and the sign-up mode
    # until an admin sets one ("open" | "invite_only" | "closed").
    invites_per_member: int = 5
    signup_mode: str = "invite_only"
    # Sites (origins) whose pages may frame /embed/room/<id>; empty: embedding is off
    # until an admin lists some (docs/API.md, Embedding).
    embed_origins: tuple[str, ...] = ()
    # Whether people without an account may come in as guests (guest rooms at /r/<name>,
    # members' rooms open to "anyone with the link") until an admin says otherwise.
    guest_rooms: bool = False
    # Topics rooms, events, clubs and people's interests may carry (domain/topics.py).
    topics: tuple[str, ...] = DEFAULT_TOPICS
    # Events: reminders go out this long before an event starts (and at its start); an
    # event nobody started this long after its start is marked missed.
    event_reminder_lead_s: float = 600.0
    event_grace_s: float = 3600.0
    # Profiles: the most bytes an avatar upload may have (before re-encoding).
    avatar_max_bytes: int = 2_000_000
    # The most bytes any other request body may have (JSON bodies are small; the
    # largest, a contact lookup of 1,000 prefixes, is under 10 kB).
    body_max_bytes: int = 65_536
    # Contact matching: the fewest findable identifiers an average hash bucket should
    # hold (sets the prefix length), and the hash prefixes one member may look up a day.
    contact_bucket_min: int = 32
    contact_prefix_budget: int = 5000
    # Redis, shared by several nodes (rate limits: docs/DESIGN.md); empty: kept in process.
    redis_url: str = field(default="", repr=False)  # may hold a password
    # Where the other nodes of a cluster reach this one (a room's requests go to the node
    # that runs it); empty: http://HOST:PORT, with the first ICE host for a wildcard HOST.
    node_url: str = ""
    # The UDP port (on node_url's host) where the other nodes send this one their
    # speakers' packets (media/node_relay.py); 0: any free port.
    relay_port: int = 0
    # Rate limits: NAME=COUNT/SECONDS overrides of the policies in parlor/limits/policies.py.
    limits: tuple[str, ...] = ()
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For/-Proto are believed;
    # empty: none, the peer's address is the client's (docs/DEPLOY.md).
    trusted_proxies: tuple[str, ...] = ()
    # Single sign-on with OpenID Connect (docs/DEPLOY.md, Single sign-on): the provider's
    # issuer URL (its discovery document is under it), this instance's client, the name the
    # sign-in button shows, and which value of which claim makes an admin.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_name: str = "your organisation"
    oidc_admin_group: str = ""
    oidc_groups_claim: str = "groups"
    # Accounts come only from the provider: no passwords, invites or waitlist.
    sso_only: bool = False
    log_level: str = "info"
    # Names of the settings given explicitly (environment or flag), not defaulted.
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "parlor.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def internal_url(self) -> str:
        if self.node_url:
            return self.node_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = self.ice_hosts[0] if self.ice_hosts else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)

    def secret(self, name: str) -> bytes:
        """A secret kept in the data directory, created on first use (mode 0600)."""
        path = self.data_dir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())


_ENV: dict[str, tuple[str, type]] = {
    "host": ("PARLOR_HOST", str),
    "port": ("PARLOR_PORT", int),
    "data_dir": ("PARLOR_DATA_DIR", Path),
    "database_url": ("PARLOR_DATABASE_URL", str),
    "public_url": ("PARLOR_PUBLIC_URL", str),
    "ice_hosts": ("PARLOR_ICE_HOSTS", tuple),
    "udp_ports": ("PARLOR_UDP_PORTS", range),
    "udp_mux": ("PARLOR_UDP_MUX", bool),
    "turn_urls": ("PARLOR_TURN_URLS", tuple),
    "turn_secret": ("PARLOR_TURN_SECRET", str),
    "turn_ttl_s": ("PARLOR_TURN_TTL_S", int),
    "slots": ("PARLOR_SLOTS", int),
    "opus_dtx": ("PARLOR_OPUS_DTX", bool),
    "media_engine": ("PARLOR_MEDIA_ENGINE", str),
    "fanout": ("PARLOR_FANOUT", str),
    "workers": ("PARLOR_WORKERS", int),
    "room_capacity": ("PARLOR_ROOM_CAPACITY", int),
    "reconnect_grace_s": ("PARLOR_RECONNECT_GRACE_S", float),
    "log_level": ("PARLOR_LOG_LEVEL", str),
    "contact_bucket_min": ("PARLOR_CONTACT_BUCKET_MIN", int),
    "contact_prefix_budget": ("PARLOR_CONTACT_PREFIX_BUDGET", int),
    "avatar_max_bytes": ("PARLOR_AVATAR_MAX_BYTES", int),
    "body_max_bytes": ("PARLOR_BODY_MAX_BYTES", int),
    "invites_per_member": ("PARLOR_INVITES_PER_MEMBER", int),
    "signup_mode": ("PARLOR_SIGNUP_MODE", str),
    "embed_origins": ("PARLOR_EMBED_ORIGINS", tuple),
    "guest_rooms": ("PARLOR_GUEST_ROOMS", bool),
    "topics": ("PARLOR_TOPICS", tuple),
    "event_reminder_lead_s": ("PARLOR_EVENT_REMINDER_LEAD_S", float),
    "event_grace_s": ("PARLOR_EVENT_GRACE_S", float),
    "redis_url": ("PARLOR_REDIS_URL", str),
    "node_url": ("PARLOR_NODE_URL", str),
    "relay_port": ("PARLOR_RELAY_PORT", int),
    "limits": ("PARLOR_LIMITS", tuple),
    "trusted_proxies": ("PARLOR_TRUSTED_PROXIES", tuple),
    "oidc_issuer": ("PARLOR_OIDC_ISSUER", str),
    "oidc_client_id": ("PARLOR_OIDC_CLIENT_ID", str),
    "oidc_client_secret": ("PARLOR_OIDC_CLIENT_SECRET", str),
    "oidc_name": ("PARLOR_OIDC_NAME", str),
    "oidc_admin_group": ("PARLOR_OIDC_ADMIN_GROUP", str),
    "oidc_groups_claim": ("PARLOR_OIDC_GROUPS_CLAIM", str),
    "sso_only": ("PARLOR_SSO_ONLY", bool),
}


class SettingsError(ValueError):
    pass


def _port_range(name: str, raw: Any) -> tuple[int, int]:
    if isinstance(raw, tuple):
        return (int(raw[0]), int(raw[1]))
    first, sep, last = str(raw).strip().partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise SettingsError(f"{name}: a UDP port range is FIRST-LAST, e.g. 50000-50199, not {raw!r}") from None
    if not 1024 <= low <= high <= 65535:
        raise SettingsError(f"{name}: ports must be 1024-65535 with FIRST <= LAST, got {raw!r}")
    return (low, high)


def _convert(name: str, kind: type, raw: Any) -> Any:
    if kind is range:
        return _port_range(name, raw)
    if kind is bool and isinstance(raw, str):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name}: cannot read {raw!r} as a yes/no")
    if kind is tuple:
        if isinstance(raw, str):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return tuple(raw)
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}: cannot read {raw!r} as {kind.__name__}") from exc


def load(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, then CLI overrides (None means unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (var, kind) in _ENV.items():
        if var in env and env[var] != "":
            values[name] = _convert(var, kind, env[var])
    for name, raw in overrides.items():
        if raw is not None:
            if name not in _ENV:
                raise SettingsError(f"unknown setting {name}")
            values[name] = _convert(name, _ENV[name][1], raw)
    settings = replace(Settings(), **values, explicit=frozenset(values))
    _validate(settings)
    return replace(
        settings,
        embed_origins=parse_origins(settings.embed_origins) or (),
        topics=parse_topic_list(settings.topics) or DEFAULT_TOPICS,
    )


def _validate(s: Settings) -> None:
    if not 0 < s.port < 65536:
        raise SettingsError(f"port out of range: {s.port}")
    if not 1 <= s.slots <= 16:
        raise SettingsError(f"slots must be 1..16, got {s.slots}")
    if s.media_engine not in ("fast", "relay"):
        raise SettingsError(f"media_engine must be fast or relay, got {s.media_engine!r}")
    if s.fanout not in ("auto", "c", "python"):
        raise SettingsError(f"fanout must be auto, c or python, got {s.fanout!r}")
    if s.workers < 0:
        raise SettingsError("workers must be 0 (one per core) or more")
    if s.room_capacity < 2:
        raise SettingsError("room_capacity must be at least 2")
    if s.reconnect_grace_s < 0:
        raise SettingsError("reconnect_grace_s must not be negative")
    if s.contact_bucket_min < 1:
        raise SettingsError("contact_bucket_min must be at least 1")
    if s.contact_prefix_budget < 1:
        raise SettingsError("contact_prefix_budget must be at least 1")
    if not 1024 <= s.avatar_max_bytes <= 50_000_000:
        raise SettingsError("avatar_max_bytes must be 1024 to 50000000")
    if not 4096 <= s.body_max_bytes <= 10_000_000:
        raise SettingsError("body_max_bytes must be 4096 to 10000000")
    if not 0 <= s.event_reminder_lead_s <= 7 * 86400:
        raise SettingsError("event_reminder_lead_s must be 0 to 604800 seconds")
    if not 60 <= s.event_grace_s <= 7 * 86400:
        raise SettingsError("event_grace_s must be 60 to 604800 seconds")
    if s.invites_per_member < 0:
        raise SettingsError("invites_per_member must not be negative")
    for url in s.turn_urls:
        if not url.startswith(("turn:", "turns:")):
            raise SettingsError(f"PARLOR_TURN_URLS: {url!r} is not a turn: or turns: URL")
    if s.turn_urls and not s.turn_secret:
        raise SettingsError("PARLOR_TURN_URLS needs PARLOR_TURN_SECRET (coturn's static-auth-secret)")
    if s.turn_secret and not s.turn_urls:
        raise SettingsError("PARLOR_TURN_SECRET is set but PARLOR_TURN_URLS is empty")
    if not 60 <= s.turn_ttl_s <= 7 * 86400:
        raise SettingsError("turn_ttl_s must be 60 to 604800 seconds")
    if s.signup_mode not in ("open", "invite_only", "closed"):
        raise SettingsError(f"signup_mode must be open, invite_only or closed, got {s.signup_mode!r}")
    try:
        parse_limits(s.limits)
    except PolicyError as exc:
        raise SettingsError(f"PARLOR_LIMITS: {exc}") from None
    for proxy in s.trusted_proxies:
        try:
            if proxy != "*":
                ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"PARLOR_TRUSTED_PROXIES: {proxy!r} is not an address or network (or *)") from None
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("PARLOR_REDIS_URL must start with redis://, rediss:// or unix://")
    _validate_sso(s)
    if parse_topic_list(s.topics) is None:
        raise SettingsError("PARLOR_TOPICS must be 1 to 200 lowercase slugs (a-z, 0-9, -), comma-separated")
    if parse_origins(s.embed_origins) is None:
        raise SettingsError(
            f"embed_origins must be at most {MAX_ORIGINS} origins like https://example.org, got {s.embed_origins!r}"
        )


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _validate_sso(s: Settings) -> None:
    """The OIDC section: all or nothing, an https issuer (plain http only on loopback,
    for a provider on the same machine), and SSO only with a provider to sign in with."""
    if s.sso_only and not s.oidc_issuer:
        raise SettingsError("PARLOR_SSO_ONLY needs PARLOR_OIDC_ISSUER (the provider people sign in with)")
    given = [var for name, var in _SSO_VARS.items() if getattr(s, name)]
    if not s.oidc_issuer:
        if given:
            raise SettingsError(f"{', '.join(given)} set but PARLOR_OIDC_ISSUER is empty")
        return
    issuer = urlsplit(s.oidc_issuer)
    secure = issuer.scheme == "https" or (issuer.scheme == "http" and _loopback(issuer.hostname))
    if not secure or not issuer.hostname or issuer.query or issuer.fragment:
        raise SettingsError(
            f"PARLOR_OIDC_ISSUER must be an https:// URL without query or fragment "
            f"(http:// only on loopback), not {s.oidc_issuer!r}"
        )
    if not s.oidc_client_id:
        raise SettingsError("PARLOR_OIDC_ISSUER needs PARLOR_OIDC_CLIENT_ID (this instance's client at the provider)")
    if not s.oidc_client_secret:
        raise SettingsError("PARLOR_OIDC_ISSUER needs PARLOR_OIDC_CLIENT_SECRET")
    if not 1 <= len(s.oidc_name.strip()) <= 60:
        raise SettingsError("PARLOR_OIDC_NAME must be 1 to 60 characters")
    if not s.oidc_groups_claim.strip():
        raise SettingsError("PARLOR_OIDC_GROUPS_CLAIM must not be empty")


# Settings that mean nothing without an issuer (the name and claim have defaults).
_SSO_VARS = {
    "oidc_client_id": "PARLOR_OIDC_CLIENT_ID",
    "oidc_client_secret": "PARLOR_OIDC_CLIENT_SECRET",
    "oidc_admin_group": "PARLOR_OIDC_ADMIN_GROUP",
}
