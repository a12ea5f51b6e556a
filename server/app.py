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
from starlette.convertors import Convertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from auth.base import INT_MAX
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
NUL_IN_QUERY = (b"%00", b"\x00")
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
        if any(nul in scope["query_string"] for nul in NUL_IN_QUERY):
            # No link or form puts one there, and PostgreSQL cannot compare text with it.
            response = PlainTextResponse("Requête incorrecte.", status_code=400)
            await response(scope, receive, send)
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


def up_to(limit: int) -> str:
    """A regular expression of the decimal numbers from 0 to ``limit`` (leading zeros
    allowed on shorter ones): the shorter numbers, then for each position of ``limit``
    those equal to it so far and lower there, then ``limit`` itself."""
    digits = str(limit)
    size = len(digits)
    branches = [f"[0-9]{{1,{size - 1}}}"] if size > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 and size > 1 else 0  # no leading zero, except 0 itself
        if int(digit) > low:
            rest = f"[0-9]{{{size - i - 1}}}" if i < size - 1 else ""
            branches.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{rest}")
    branches.append(digits)
    return "|".join(branches)


class IdConvertor(Convertor[int]):
    """``{name:id}``: a row id in a path. Only numbers an ``INTEGER`` column can hold
    match, so a path with a larger one is a plain 404 instead of an error from
    PostgreSQL's driver (``auth.base.INT_MAX``)."""

    regex = f"(?:{up_to(INT_MAX)})"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())


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
        Route("/salons/{room_id:id}", pages.room_page, name="room"),
        Route("/salons/{room_id:id}/moderation", moderation.moderation_page),
        Route("/salons/{room_id:id}/votes", polls.polls_page),
        Route("/salons/{room_id:id}/votes/{poll_id:id}", polls.result_page),
        Route(
            "/salons/{room_id:id}/moderation/membres/{user_id:id}/{act:str}",
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
        Route("/admin/membres/{user_id:id}/desactivation", admin.deactivate, methods=["POST"]),
        Route("/admin/journal", admin.audit_log),
        Route("/notifications", notifications.notifications),
        Route("/notifications/lues", notifications.mark_read, methods=["POST"]),
        Route("/brouillons", drafts.space_drafts, name="drafts"),
        Route("/brouillons", drafts.create, methods=["POST"]),
        Route("/brouillons/{draft_id:id}", drafts.editor, name="draft"),
        Route("/brouillons/{draft_id:id}/verrou", drafts.set_lock, methods=["POST"]),
        Route("/brouillons/{draft_id:id}/ouverture", drafts.set_members_can_edit, methods=["POST"]),
        Route("/brouillons/{draft_id:id}/versions", drafts.versions),
        Route("/brouillons/{draft_id:id}/versions", drafts.name_version, methods=["POST"]),
        Route(
            "/brouillons/{draft_id:id}/versions/{number:id}/restauration",
            drafts.restore,
            methods=["POST"],
        ),
        Route("/brouillons/{draft_id:id}/export.{fmt:str}", drafts.export),
        Route("/api/drafts/{draft_id:id}/preview", drafts.preview),
        Route("/api/drafts/{draft_id:id}/comments", drafts.list_comments),
        Route("/api/drafts/{draft_id:id}/comments", drafts.add_comment, methods=["POST"]),
        Route(
            "/api/drafts/{draft_id:id}/comments/{comment_id:id}/resolve",
            drafts.resolve_comment,
            methods=["POST"],
        ),
        Route(
            "/api/drafts/{draft_id:id}/comments/{comment_id:id}/decision",
            drafts.decide_suggestion,
            methods=["POST"],
        ),
        Route("/api/rooms/{room_id:id}/messages", api.room_messages),
        Route("/api/rooms/{room_id:id}/events", api.room_events),
        Route("/api/rooms/{room_id:id}/topics", api.room_topics),
        Route("/api/rooms/{room_id:id}/state", moderation.room_state_json),
        Route("/api/rooms/{room_id:id}/moderation", moderation.moderation_json),
        Route("/api/unread", api.unread),
        Route("/api/rooms/{room_id:id}/polls", polls.polls_json),
        Route("/api/rooms/{room_id:id}/polls/{poll_id:id}/result", polls.result_json),
        Route("/api/rooms/{room_id:id}/polls/{poll_id:id}/result.md", polls.result_md),
        Route("/api/rooms/{room_id:id}/polls/{poll_id:id}/result.csv", polls.result_csv),
        Route("/api/messages/{message_id:id}/history", api.message_history),
        Route("/healthz", healthz),
        WebSocketRoute("/ws", chat_endpoint),
        WebSocketRoute("/ws/drafts/{draft_id:id}", draft_endpoint),
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
