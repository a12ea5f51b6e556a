"""What the running application holds: settings, database, broker, hub, limiter.

Built and torn down by the lifespan in ``server.app``; handlers reach it through
``request.app.state.atelier``. Passing this one object explicitly replaces a service
locator (``HomeServer.get_*``) and keeps every dependency visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auth.models import User
from auth.sessions import find_session, needs_touch, touch_session
from server.broker import Broker
from server.config import Settings
from server.database import Database
from server.drafts import DraftHub
from server.hub import Hub
from server.mailer import Mailer
from server.oidc import OidcClient
from server.posting import Poster
from server.ratelimit import RateLimiter
from server.receipts import Receipts

SESSION_COOKIE = "atelier_session"
# Over HTTPS the cookie is ``__Host-`` prefixed: Secure, host-only, path /, so no
# subdomain or plain-HTTP page can set or overwrite it.
SECURE_SESSION_COOKIE = "__Host-atelier_session"


def session_token(cookies: Mapping[str, str]) -> str | None:
    return cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE)


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: Database
    broker: Broker
    hub: Hub
    rate_limiter: RateLimiter
    mailer: Mailer
    drafts: DraftHub
    poster: Poster
    receipts: Receipts
    oidc: OidcClient | None = None  # the OpenID provider, when one is configured

    async def authenticate(self, cookies: Mapping[str, str]) -> User | None:
        """The signed-in user for these cookies, or ``None``."""
        found = await self.authenticate_session(cookies)
        return found[0] if found else None

    async def authenticate_session(self, cookies: Mapping[str, str]) -> tuple[User, str] | None:
        """The signed-in user and their session id; records use for the idle timeout."""
        async with self.db.read() as session:
            found = await find_session(session, session_token(cookies))
        if found is None:
            return None
        user, login = found
        if needs_touch(login):
            async with self.db.transaction() as session:
                await touch_session(session, login.id)
        return user, login.id
