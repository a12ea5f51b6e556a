"""What the running application holds: settings, database, broker, hub, limiter.

Built and torn down by the lifespan in ``server.app``; handlers reach it through
``request.app.state.atelier``. Passing this one object explicitly replaces a service
locator (``HomeServer.get_*``) and keeps every dependency visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auth.models import User
from auth.sessions import find_user_by_token
from server.broker import Broker
from server.config import Settings
from server.database import Database
from server.hub import Hub
from server.ratelimit import RateLimiter

SESSION_COOKIE = "atelier_session"


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: Database
    broker: Broker
    hub: Hub
    rate_limiter: RateLimiter

    async def authenticate(self, cookies: Mapping[str, str]) -> User | None:
        """The signed-in user for these cookies, or ``None``."""
        async with self.db.read() as session:
            return await find_user_by_token(session, cookies.get(SESSION_COOKIE))
