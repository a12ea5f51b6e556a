"""Room state and moderation over HTTP.

``GET /api/rooms/{id}/state`` (anyone who reads the room): description, agenda, lock,
slow mode, pins, announcements, and what the caller may do. ``GET
/api/rooms/{id}/moderation`` and the page ``/salons/{id}/moderation`` (``room.moderate``):
open flags, mutes, removals, blocks, acknowledgements and the moderation log.

The page's buttons are plain forms (``POST /salons/{id}/moderation/membres/{user_id}/…``:
lift a mute, readmit, unblock). Each runs the same action as the WebSocket frame
(``rooms.actions.moderation``), which checks the permission; the events go out after
commit, and the browser comes back to the page (303) with what was done.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from auth.base import as_id
from auth.errors import NotAuthenticated
from auth.roles import Permission
from rooms.access import RoomAccess, access_room
from rooms.actions import moderation
from rooms.errors import RoomsError
from rooms.models import Group
from rooms.moderation import moderation_log, moderation_report, names_of, room_state
from rooms.shapes import FORMER_MEMBER
from server import errors
from server.csrf import CsrfFailed
from server.templates import request_locale
from server.views.common import (
    app_state,
    checked_form,
    csrf_refused,
    current_user,
    error_response,
    int_param,
    render,
    signed_in_id,
)


async def room_state_json(request: Request) -> Response:
    """``GET /api/rooms/{id}/state``."""
    try:
        user_id = await signed_in_id(request)
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, request.path_params["room_id"])
            state = await room_state(session, access)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse(state)


async def moderation_json(request: Request) -> Response:
    """``GET /api/rooms/{id}/moderation?before=`` — ``before`` pages the log back."""
    try:
        user_id = await signed_in_id(request)
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
            outcome = await _outcome(session, request)
    except RoomsError as exc:
        if exc.code == "forbidden":
            message = errors.describe(exc, request_locale(request))[1]
            return render(request, "error.html", status_code=403, message=message)
        return render(request, "not_found.html", status_code=404)
    return render(
        request,
        "room_moderation.html",
        room=access.room,
        group=group,
        report=report,
        when=_when,
        # The matrix decides who sees "Débloquer"; the action checks it again on submit.
        can_unblock=access.allows(Permission.BLOCK_MEMBER),
        outcome=outcome,
    )


async def _outcome(session: AsyncSession, request: Request) -> dict[str, str] | None:
    """What the last form did (``?ok=<done>&membre=<id>``), said at the top of the page."""
    done, about = request.query_params.get("ok", ""), as_id(request.query_params.get("membre", ""))
    if (done not in LIFTS and done != UNCHANGED) or about is None:
        return None
    names = await names_of(session, {about})
    return {"done": done, "name": names.get(about, FORMER_MEMBER)}


# -- lifting a restriction from the page ---------------------------------------------------
Lift = Callable[[AsyncSession, RoomAccess, int], Awaitable[bool]]


async def _unmute(session: AsyncSession, access: RoomAccess, user_id: int) -> bool:
    return await moderation.check_unmute(session, access, user_id=user_id) is not None


async def _readmit(session: AsyncSession, access: RoomAccess, user_id: int) -> bool:
    return await moderation.check_readmit(session, access, user_id=user_id)


async def _unblock(session: AsyncSession, access: RoomAccess, user_id: int) -> bool:
    return await moderation.check_unblock(session, actor_id=access.user_id, user_id=user_id)


# The last segment of the form's path → the act; it is also the ``ok`` said afterwards.
LIFTS: dict[str, Lift] = {
    "sourdine-levee": _unmute,
    "readmission": _readmit,
    "deblocage": _unblock,
}
UNCHANGED = "inchange"  # nothing to lift: another moderator did it, or a double submit


async def lift(request: Request) -> Response:
    """``POST /salons/{id}/moderation/membres/{user_id}/{act}``: lift a mute
    (``sourdine-levee``), readmit a removed member (``readmission``) or lift an
    assembly-wide block (``deblocage``), then back to the page (303).

    Who may do it is the action's business (``room.moderate``; ``member.block`` for an
    unblock), exactly as for the WebSocket frame. A refusal is a French error page with
    the error's status (403 for a member); an unknown act or room is a 404.
    """
    room_id, user_id = request.path_params["room_id"], request.path_params["user_id"]
    act = LIFTS.get(request.path_params["act"])
    page = f"/salons/{room_id}/moderation"
    user = await current_user(request)
    if user is None:
        return RedirectResponse(f"/connexion?next={page}", status_code=303)
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    if act is None:
        return render(request, "not_found.html", status_code=404)
    try:
        async with app_state(request).db.transaction() as session:
            access = await access_room(session, user.id, room_id)
            changed = await act(session, access, user_id)
    except RoomsError as exc:
        if exc.code == "room_not_found":
            return render(request, "not_found.html", status_code=404)
        code, message, _ = errors.describe(exc, request_locale(request))
        return render(request, "error.html", status_code=errors.http_status(code), message=message)
    done = request.path_params["act"] if changed else UNCHANGED
    return RedirectResponse(f"{page}?{urlencode({'ok': done, 'membre': user_id})}", status_code=303)
