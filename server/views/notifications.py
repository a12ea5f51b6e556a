"""A member's notifications: mentions in comments, comments and suggestions on drafts."""

from __future__ import annotations

from sqlalchemy import func, select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth.base import utcnow
from documents.models import Notification
from server.csrf import CsrfFailed
from server.views.common import app_state, checked_form, csrf_refused, current_user, render


async def unread_notifications(request: Request, user_id: int) -> int:
    async with app_state(request).db.read() as session:
        count = await session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
    return int(count or 0)


async def notifications(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/connexion?next=/notifications", status_code=303)
    async with app_state(request).db.read() as session:
        items = list(
            await session.scalars(
                select(Notification)
                .where(Notification.user_id == user.id)
                .order_by(Notification.id.desc())
                .limit(200)
            )
        )
    return render(request, "notifications.html", items=items)


async def mark_read(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/connexion", status_code=303)
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    async with app_state(request).db.transaction() as session:
        await session.execute(
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
    return RedirectResponse("/notifications", status_code=303)
