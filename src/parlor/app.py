"""The composition root: `build_app(settings)` picks every implementation once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from parlor import __version__
from parlor.actions import accounts, admin, cluster_media, events, room_ops, room_owner, room_takeover, rooms, sanctions
from parlor.actions.services import Services
from parlor.bus.base import Bus
from parlor.cluster.base import Cluster, NodeInfo
from parlor.cluster.local import LocalCluster
from parlor.errors import Code
from parlor.limits import policies
from parlor.limits.base import Limiter
from parlor.media.base import MediaServer
from parlor.media.node_relay import NodeRelay
from parlor.oidc import OidcClient
from parlor.settings import Settings
from parlor.storage.db import Database, private_dir
from parlor.transport.http import account_safety as account_safety_routes
from parlor.transport.http import accounts as account_routes
from parlor.transport.http import admin as admin_routes
from parlor.transport.http import body_limit, errors, headers, node_hop, openapi, pages
from parlor.transport.http import chat as chat_routes
from parlor.transport.http import clubs as club_routes
from parlor.transport.http import contacts as contact_routes
from parlor.transport.http import embed as embed_routes
from parlor.transport.http import events as event_routes
from parlor.transport.http import growth as growth_routes
from parlor.transport.http import guests as guest_routes
from parlor.transport.http import media as media_routes
from parlor.transport.http import notifications as notification_routes
from parlor.transport.http import profiles as profile_routes
from parlor.transport.http import reports as report_routes
from parlor.transport.http import rooms as room_routes
from parlor.transport.http import social as social_routes
from parlor.transport.http import sso as sso_routes
from parlor.transport.http import your_data as your_data_routes
from parlor.transport.http.auth import optional_user
from parlor.transport.ws import endpoint
from parlor.transport.ws import guest as guest_socket
from parlor.transport.ws.feeds import Feeds
from parlor.transport.ws.queues import QueueRegistry

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "web" / "static"
PAGES = (
    "/",
    "/setup",
    "/signup",
    "/login",
    "/rooms/{room_id}",
    # growth
    "/invite/{code}",
    "/waitlist",
    "/invites",
    # profiles and your data
    "/people/{username}",
    "/settings",
    "/settings/security",
    # contacts
    "/contacts",
    # notifications
    "/inbox",
    # people
    "/search",
    "/people/{username}/followers",
    "/people/{username}/following",
    # clubs
    "/clubs",
    "/clubs/{club_id}",
    # reports: the admins' queue on its own, until the admin console (/admin) shows it
    "/admin/reports",
    # events: the schedule form and an event's page
    "/events/new",
    "/events/{event_id}",
    # what the server can and cannot see (docs/PRIVACY.md)
    "/privacy",
)
# The admin console: the page for admins, the not-found page for other members.
ADMIN_PAGES = ("/admin", "/admin/{section}", "/admin/people/{user_id}")

# Called once the instance serves: (settings, setup token or None once claimed).
ReadyCallback = Callable[[Settings, str | None], None]


def _build_bus(settings: Settings, node_id: str) -> Bus:
    if settings.redis_url:
        from parlor.bus.redis import RedisBus

        return RedisBus(settings.redis_url, node_id)
    from parlor.bus.memory import MemoryBus

    return MemoryBus()


def _build_cluster(settings: Settings, node_id: str) -> Cluster:
    if settings.redis_url:
        from parlor.cluster.redis import RedisCluster

        return RedisCluster(settings.redis_url, node_id)
    return LocalCluster(node_id)


def _node_info(s: Services) -> NodeInfo:
    from parlor.storage.db import schema_head

    return NodeInfo(
        node_id=s.cluster.node_id,
        version=__version__,
        schema=schema_head(),
        public_url=s.settings.base_url,
        ice_hosts=tuple(s.settings.ice_hosts),
        started_at=s.clock(),
        node_url=s.settings.internal_url,
    )


def _build_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        from parlor.limits.redis import RedisLimiter

        return RedisLimiter(settings.redis_url)
    from parlor.limits.memory import MemoryLimiter

    return MemoryLimiter()


def _build_media(settings: Settings, services: Callable[[], Services]) -> tuple[MediaServer, NodeRelay | None]:
    """The media plane, and in a cluster with media in this process, its relay to the
    other nodes (actions/cluster_media.py; with worker processes a room's media stays on
    the room's node)."""
    def on_levels(room_id: str, levels: dict[str, float]) -> None:
        rooms.publish_levels(services(), room_id, levels)

    def on_peer_lost(room_id: str, user_id: str) -> None:
        rooms.publish_media_restart(services(), room_id, user_id)

    if settings.media_engine == "relay":
        from parlor.media.relay_engine import RelayEngine

        return RelayEngine(ice_hosts=settings.ice_hosts, on_levels=on_levels, udp_ports=settings.udp_ports), None
    if settings.worker_count > 1:
        from parlor.media.workers import WorkerPool

        return WorkerPool(settings, on_levels=on_levels, on_peer_lost=on_peer_lost), None
    from parlor.media.sfu import Sfu

    # Speakers' packets go to the other nodes with peers of the room; theirs come in
    # through `deliver`.
    relay = NodeRelay(lambda room_id, user_id, rtp: sfu.deliver(room_id, user_id, rtp)) if settings.redis_url else None
    sfu = Sfu(
        ice_hosts=settings.ice_hosts,
        slots=settings.slots,
        on_levels=on_levels,
        on_upstream=relay.send if relay is not None else None,
        fanout=settings.fanout,
        udp_ports=settings.udp_ports,
        udp_mux=settings.udp_mux,
        dtx=settings.opus_dtx,
    )
    return sfu, relay


def _build_oidc(settings: Settings) -> OidcClient | None:
    # Authlib is imported only here, when an issuer is configured (the `sso` extra).
    return OidcClient(settings) if settings.sso_enabled else None


def build_services(settings: Settings) -> Services:
    holder: list[Services] = []
    media, relay = _build_media(settings, lambda: holder[0])
    node_id = secrets.token_hex(6)  # this process, among the nodes of a cluster
    s = Services(
        settings=settings,
        db=Database(settings.effective_database_url),
        bus=_build_bus(settings, node_id),
        cluster=_build_cluster(settings, node_id),
        media=media,
        limiter=_build_limiter(settings),
        limits=policies.table(settings.limits, settings.contact_prefix_budget),
        oidc=_build_oidc(settings),
        node_relay=relay,
    )
    holder.append(s)
    return s


def build_app(settings: Settings, on_ready: ReadyCallback | None = None) -> FastAPI:
    private_dir(settings.data_dir)
    s = build_services(settings)

    def client_gone(queue_user: str, room_id: str, since: float) -> None:
        room_ops.do_detach(s, queue_user, room_id, since)

    registry = QueueRegistry(
        settings.reconnect_grace_s,
        lambda q, room_id: client_gone(q.user_id, room_id, q.detached_at or s.clock()),
        Feeds(s.bus),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await s.db.migrate()
        await room_owner.do_load_node_key(s)
        await cluster_media.do_start(s)
        await s.bus.start()
        await s.limiter.start()
        await s.cluster.join(_node_info(s))
        await rooms.do_close_stale_rooms(s)
        await sanctions.do_enforce_recorded(s)  # notes where the log stands (nothing to apply yet)
        await admin.do_apply_operator_actions(s)  # the same for the operator's other actions
        await s.media.start()
        token = await accounts.do_issue_setup_token(s)
        housekeeping = asyncio.create_task(_housekeeping(s, registry))
        # Event reminders, missed and ended events: derived from the database each time.
        scheduler = asyncio.create_task(events.run_forever(s))
        if on_ready is not None:
            on_ready(settings, token)
        try:
            yield
        finally:
            for task in (housekeeping, scheduler):
                await _stop(task)
            await room_takeover.do_hand_off_or_end(s)
            await s.media.close()
            cluster_media.do_stop(s)
            with contextlib.suppress(Exception):  # Redis may be gone: the node's entry expires
                await s.cluster.leave()
            await s.cluster.close()
            await s.nodes.close()
            await s.bus.close()
            await s.limiter.close()
            await s.db.close()
            logger.info("stopped cleanly")

    app = FastAPI(title="Parlor", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = s
    app.state.queues = registry
    # Inside the body limit: a request for a room another node runs is forwarded there.
    app.add_middleware(node_hop.NodeHop, services=lambda: s)
    app.add_middleware(
        body_limit.BodyLimit,
        default=body_limit.Limit(settings.body_max_bytes),
        routes={
            ("PUT", "/api/me/avatar"): body_limit.Limit(settings.avatar_max_bytes, Code.IMAGE_TOO_LARGE, "An avatar"),
            ("PUT", "/api/clubs/*/avatar"): body_limit.Limit(
                settings.avatar_max_bytes, Code.IMAGE_TOO_LARGE, "A club avatar"
            ),
        },
    )
    # Added last, so outermost: even a refused body's 413 carries the policy headers.
    app.add_middleware(headers.SecurityHeaders)
    if settings.public_url.startswith("https://") and not settings.trusted_proxies:
        logger.warning(
            "PARLOR_PUBLIC_URL is https but PARLOR_TRUSTED_PROXIES is empty: behind a TLS proxy, "
            "list it (docs/DEPLOY.md), or sign-ins through it are refused as cross-origin"
        )
    if settings.trusted_proxies:
        # The client's address and scheme from X-Forwarded-For/-Proto, believed only from
        # these peers (`parlor serve` turns uvicorn's own handling off: this is the one place).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    errors.install(app)
    openapi.install(app, auth=optional_user)
    # Unknown paths: the not-found page for browsers, JSON for the API and other clients.
    app.add_exception_handler(404, pages.not_found)
    app.include_router(account_routes.router)
    app.include_router(account_safety_routes.router)
    app.include_router(sso_routes.router)
    app.include_router(room_routes.router)
    app.include_router(chat_routes.router)
    app.include_router(social_routes.router)
    app.include_router(growth_routes.router)
    app.include_router(profile_routes.router)
    app.include_router(contact_routes.router)
    app.include_router(notification_routes.router)
    app.include_router(your_data_routes.router)
    app.include_router(report_routes.router)
    app.include_router(event_routes.router)
    app.include_router(media_routes.router)
    app.include_router(embed_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(guest_routes.router)
    app.include_router(club_routes.router)
    app.include_router(endpoint.router)
    app.include_router(node_hop.router)
    app.include_router(guest_socket.router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "node": s.cluster.node_id,  # which node of a cluster answered
                "live_rooms": len(s.live.rooms),
                "peers": s.media.peer_count(),
            }
        )

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> str:
        """Prometheus text format."""
        totals = s.media.totals()
        lines = [
            "# TYPE parlor_live_rooms gauge",
            f"parlor_live_rooms {len(s.live.rooms)}",
            "# TYPE parlor_media_peers gauge",
            f"parlor_media_peers {s.media.peer_count()}",
            "# TYPE parlor_media_packets_forwarded_total counter",
            f"parlor_media_packets_forwarded_total {totals.get('forwarded', 0)}",
            "# TYPE parlor_media_packets_dropped_total counter",
            f"parlor_media_packets_dropped_total {totals.get('dropped', 0)}",
            "# HELP parlor_media_packets_malformed_total speaker packets dropped: not RTP, not Opus, wrong type",
            "# TYPE parlor_media_packets_malformed_total counter",
            f"parlor_media_packets_malformed_total {totals.get('malformed', 0)}",
        ]
        if s.node_relay is not None:  # a cluster's media relay (media/node_relay.py)
            lines += [
                "# TYPE parlor_node_relay_sent_total counter",
                f"parlor_node_relay_sent_total {s.node_relay.sent}",
                "# TYPE parlor_node_relay_received_total counter",
                f"parlor_node_relay_received_total {s.node_relay.received}",
                "# HELP parlor_node_relay_refused_total datagrams at the relay port without the node key's MAC",
                "# TYPE parlor_node_relay_refused_total counter",
                f"parlor_node_relay_refused_total {s.node_relay.refused}",
            ]
        return "\n".join(lines) + "\n"

    index = STATIC / "index.html"

    async def page() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    for path in ADMIN_PAGES:
        app.add_api_route(path, pages.admin_page, methods=["GET"], include_in_schema=False)

    # The service worker lives at the root so that its scope is the whole app.
    worker = pages.service_worker()

    async def service_worker() -> Response:
        return pages.service_worker_response(worker)

    app.add_api_route("/sw.js", service_worker, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel until it takes: on Python 3.11 a cancellation landing as a Redis call's own
    timeout expires is turned into a TimeoutError by asyncio.timeout (fixed in 3.12), which
    the loops below log and carry on from."""
    for _ in range(50):
        if task.done():
            break
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    if task.done() and not task.cancelled() and task.exception() is not None:
        logger.error("%s ended with %r", task.get_name(), task.exception())


async def _housekeeping(s: Services, registry: QueueRegistry) -> None:
    while True:
        await asyncio.sleep(1.0)
        try:
            registry.collect(s.clock())
            await s.cluster.heartbeat()
            await rooms.do_renew_leases(s)
            await room_takeover.do_take_over(s)
            await room_ops.do_forget_gone_nodes(s)
            await cluster_media.do_keep(s)
            await rooms.do_reap_absent(s)
            # Suspensions and bans made by the CLI (another process) take effect here.
            await sanctions.do_enforce_recorded(s)
            await admin.do_apply_operator_actions(s)
        except Exception:
            logger.exception("housekeeping failed")
