"""The application: the one route table, middleware, and the lifespan that owns resources.

Request flow: a view or WebSocket frame handler opens ``db.transaction()``, checks access
with ``rooms.access``, runs one action, and the outbox is published after commit; the
hub relays it to every connection following the room.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from server.broker import create_broker
from server.config import Settings, load_settings
from server.database import Database, make_engine
from server.drafts import DraftHub, draft_endpoint
from server.gateway import chat_endpoint
from server.hub import Hub
from server.mailer import create_mailer
from server.oidc import create_oidc_client
from server.posting import Poster
from server.ratelimit import RateLimiter
from server.receipts import Receipts
from server.reminders import mail_reminders
from server.state import AppState
from server.templates import STATIC_DIR
from server.views import account, admin, api, drafts, moderation, notifications, oidc, pages, polls
from server.wire import RAW_SEND

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITER_SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005


class SecurityMiddleware:
    """Security headers on every response, and no cross-site state change.

    A state-changing HTTP request whose ``Origin`` (or, failing that, ``Referer``) is
    another site is refused: with SameSite=Lax cookies this closes CSRF for forms.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                # The server's own send, before Starlette wraps it: server/wire.py writes
                # room events through its transport.
                scope[RAW_SEND] = send
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method in UNSAFE_METHODS and not self._same_site(request):
            response = PlainTextResponse("Requête refusée : origine inconnue.", status_code=403)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _same_site(request: Request) -> bool:
        host = request.headers.get("host", "")
        source = request.headers.get("origin") or request.headers.get("referer")
        if source is None:
            return True
        return source.rstrip("/") in (f"http://{host}", f"https://{host}") or source.startswith(
            (f"http://{host}/", f"https://{host}/")
        )


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


def routes() -> list[Route | Mount | WebSocketRoute]:
    return [
        Route("/", pages.home, name="home"),
        Route("/connexion", pages.login_form, methods=["GET"], name="login"),
        Route("/connexion", pages.login, methods=["POST"]),
        Route("/connexion/oidc", oidc.oidc_login, methods=["GET"], name="oidc_login"),
        Route("/connexion/oidc/retour", oidc.oidc_callback, methods=["GET"], name="oidc_callback"),
        Route("/deconnexion", pages.logout, methods=["POST"], name="logout"),
        Route("/salons/{room_id:int}", pages.room_page, name="room"),
        Route("/salons/{room_id:int}/moderation", moderation.moderation_page),
        Route("/salons/{room_id:int}/votes", polls.polls_page),
        Route("/salons/{room_id:int}/votes/{poll_id:int}", polls.result_page),
        Route(
            "/salons/{room_id:int}/moderation/membres/{user_id:int}/{act:str}",
            moderation.lift,
            methods=["POST"],
        ),
        Route("/accessibilite", pages.accessibility, name="accessibility"),
        Route("/langue", pages.set_language, methods=["POST"], name="language"),
        Route("/invitation/{token}", account.invitation, methods=["GET", "POST"]),
        Route("/mot-de-passe/oublie", account.reset_request, methods=["GET", "POST"]),
        Route("/mot-de-passe/nouveau/{token}", account.reset_password, methods=["GET", "POST"]),
        Route("/profil", account.profile, methods=["GET", "POST"], name="profile"),
        Route("/profil/mot-de-passe", account.change_password, methods=["POST"]),
        Route("/profil/sessions/fin", account.end_other_sessions, methods=["POST"]),
        Route("/profil/export.json", account.export),
        Route("/profil/suppression", account.delete_account, methods=["POST"]),
        Route("/admin/membres", admin.members, name="admin_members"),
        Route("/admin/invitations", admin.invite, methods=["POST"]),
        Route("/admin/roles", admin.assign_role, methods=["POST"]),
        Route("/admin/roles/retrait", admin.remove_role, methods=["POST"]),
        Route("/admin/membres/{user_id:int}/desactivation", admin.deactivate, methods=["POST"]),
        Route("/admin/journal", admin.audit_log),
        Route("/notifications", notifications.notifications),
        Route("/notifications/lues", notifications.mark_read, methods=["POST"]),
        Route("/brouillons", drafts.space_drafts, name="drafts"),
        Route("/brouillons", drafts.create, methods=["POST"]),
        Route("/brouillons/{draft_id:int}", drafts.editor, name="draft"),
        Route("/brouillons/{draft_id:int}/verrou", drafts.set_lock, methods=["POST"]),
        Route(
            "/brouillons/{draft_id:int}/ouverture", drafts.set_members_can_edit, methods=["POST"]
        ),
        Route("/brouillons/{draft_id:int}/versions", drafts.versions),
        Route("/brouillons/{draft_id:int}/versions", drafts.name_version, methods=["POST"]),
        Route(
            "/brouillons/{draft_id:int}/versions/{number:int}/restauration",
            drafts.restore,
            methods=["POST"],
        ),
        Route("/brouillons/{draft_id:int}/export.{fmt:str}", drafts.export),
        Route("/api/drafts/{draft_id:int}/preview", drafts.preview),
        Route("/api/drafts/{draft_id:int}/comments", drafts.list_comments),
        Route("/api/drafts/{draft_id:int}/comments", drafts.add_comment, methods=["POST"]),
        Route(
            "/api/drafts/{draft_id:int}/comments/{comment_id:int}/resolve",
            drafts.resolve_comment,
            methods=["POST"],
        ),
        Route(
            "/api/drafts/{draft_id:int}/comments/{comment_id:int}/decision",
            drafts.decide_suggestion,
            methods=["POST"],
        ),
        Route("/api/rooms/{room_id:int}/messages", api.room_messages),
        Route("/api/rooms/{room_id:int}/events", api.room_events),
        Route("/api/rooms/{room_id:int}/topics", api.room_topics),
        Route("/api/rooms/{room_id:int}/state", moderation.room_state_json),
        Route("/api/rooms/{room_id:int}/moderation", moderation.moderation_json),
        Route("/api/unread", api.unread),
        Route("/api/rooms/{room_id:int}/polls", polls.polls_json),
        Route("/api/rooms/{room_id:int}/polls/{poll_id:int}/result", polls.result_json),
        Route("/api/rooms/{room_id:int}/polls/{poll_id:int}/result.md", polls.result_md),
        Route("/api/rooms/{room_id:int}/polls/{poll_id:int}/result.csv", polls.result_csv),
        Route("/api/messages/{message_id:int}/history", api.message_history),
        Route("/healthz", healthz),
        WebSocketRoute("/ws", chat_endpoint),
        WebSocketRoute("/ws/drafts/{draft_id:int}", draft_endpoint),
        Mount(
            "/static", app=StaticFiles(directory=str(STATIC_DIR), check_dir=False), name="static"
        ),
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app; resources open and close in its lifespan."""
    settings = settings or load_settings()
    oidc_client = create_oidc_client(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        broker = create_broker(settings.redis_url, settings.broker_prefix)
        await broker.connect()
        db = Database(make_engine(settings.database_url), broker)
        mailer = create_mailer(settings.smtp_url, settings.mail_from, settings.mail_outbox_dir)
        hub = Hub(
            db,
            broker,
            replay_limit=settings.replay_limit,
            poll_secs=settings.hub_poll_secs,
            session_check_secs=settings.session_check_secs,
            on_reminders=mail_reminders(db, mailer, settings.site_url),
        )
        await hub.start()
        drafts = DraftHub(
            db,
            broker,
            poll_secs=settings.hub_poll_secs,
            session_check_secs=settings.session_check_secs,
        )
        hub.control_listeners.append(drafts.on_control)
        await drafts.start()
        # What start-up built (modules, mappers, SQLAlchemy's caches) lives as long as
        # the process: out of the collector's full scans, which otherwise stop the loop
        # for ~140 ms under load (docs/performance.md, finding 5).
        gc.collect()
        gc.freeze()
        if db.sqlite_writer is not None:
            # Threads working for the loop (aiosqlite's, the writer's checkpoints and
            # fallbacks) take the GIL back after each SQLite call; while the loop is busy
            # each would wait the default 5 ms switch interval every time, i.e. tens of ms
            # per batch (docs/performance.md, finding 14).
            sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
        poster = Poster(db)
        receipts = Receipts(db)
        app.state.atelier = AppState(
            settings=settings,
            db=db,
            broker=broker,
            hub=hub,
            rate_limiter=RateLimiter(settings.rate_limit_messages, settings.rate_limit_window_secs),
            mailer=mailer,
            oidc=oidc_client,
            drafts=drafts,
            poster=poster,
            receipts=receipts,
        )
        try:
            yield
        finally:
            await poster.stop()
            await receipts.stop()
            await drafts.stop()
            await hub.stop()
            await broker.disconnect()
            await db.dispose()

    return Starlette(
        routes=routes(), middleware=[Middleware(SecurityMiddleware)], lifespan=lifespan
    )
