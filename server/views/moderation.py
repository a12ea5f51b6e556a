"""Room state and moderation over HTTP.

``GET /api/rooms/{id}/state`` (anyone who reads the room): description, agenda, lock,
slow mode, pins, announcements, and what the caller may do. ``GET
/api/rooms/{id}/moderation`` and the page ``/salons/{id}/moderation`` (``room.moderate``):
open flags, mutes, removals, blocks, acknowledgements and the moderation log.
"""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from auth.errors import NotAuthenticated
from auth.roles import Permission
from rooms.access import access_room
from rooms.errors import RoomsError
from rooms.models import Group
from rooms.moderation import moderation_log, moderation_report, room_state
from server import errors
from server.templates import request_locale
from server.views.common import app_state, current_user, error_response, int_param, render


async def _user_id(request: Request) -> int:
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated()
    return user.id


async def room_state_json(request: Request) -> Response:
    """``GET /api/rooms/{id}/state``."""
    try:
        user_id = await _user_id(request)
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, request.path_params["room_id"])
            state = await room_state(session, access)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse(state)


async def moderation_json(request: Request) -> Response:
    """``GET /api/rooms/{id}/moderation?before=`` — ``before`` pages the log back."""
    try:
        user_id = await _user_id(request)
        before = int_param(request, "before")
        async with app_state(request).db.read() as session:
            access = await access_room(
                session, user_id, request.path_params["room_id"], Permission.MODERATE_ROOM
            )
            report = await moderation_report(session, access)
            if before is not None:
                report["log"] = await moderation_log(session, access.room.id, before=before)
    except (RoomsError, NotAuthenticated, errors.BadRequest) as exc:
        return error_response(request, exc)
    return JSONResponse(report)


def _when(value: str | None) -> str:
    if not value:
        return ""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).strftime("%d/%m/%Y %H:%M UTC")


async def moderation_page(request: Request) -> Response:
    """``GET /salons/{id}/moderation`` — the same report, as a page in French."""
    user = await current_user(request)
    if user is None:
        return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    try:
        async with app_state(request).db.read() as session:
            access = await access_room(
                session, user.id, request.path_params["room_id"], Permission.MODERATE_ROOM
            )
            report = await moderation_report(session, access)
            group = await session.get(Group, access.room.group_id) if access.room.group_id else None
    except RoomsError as exc:
        if exc.code == "forbidden":
            message = errors.describe(exc, request_locale(request))[1]
            return render(request, "error.html", status_code=403, message=message)
        return render(request, "not_found.html", status_code=404)
    return render(
        request, "room_moderation.html", room=access.room, group=group, report=report, when=_when
    )
