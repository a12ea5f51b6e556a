"""Polls over HTTP: the room's poll panel data, the result (JSON, markdown to paste into
a draft, CSV), and two pages: the room's votes and procurations, one poll's result."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from auth.errors import NotAuthenticated
from rooms.access import access_room
from rooms.actions.polls import closed_result, when_fr
from rooms.errors import RoomsError
from rooms.models import Group
from rooms.poll_queries import poll_history, poll_result, room_polls
from server.views.common import app_state, current_user, error_response, render, signed_in_id

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run: one starting like a formula is quoted."""
    return f"'{value}" if value.startswith(_FORMULA) else value


async def result_csv(request: Request) -> Response:
    """``GET /api/rooms/{room_id}/polls/{poll_id}/result.csv`` — a closed poll's result."""
    user = await current_user(request)
    try:
        if user is None:
            raise NotAuthenticated()
        room_id = request.path_params["room_id"]
        async with app_state(request).db.read() as session:
            await access_room(session, user.id, room_id)
            outcome = await closed_result(session, room_id, request.path_params["poll_id"])
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(outcome.result.summary_fr)])
    writer.writerow([_cell(outcome.result.rule_fr)])
    writer.writerow([])
    for row in outcome.rows():
        writer.writerow([_cell(str(cell)) for cell in row])
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM so spreadsheets read the accents as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": (
                f'attachment; filename="resultat-vote-{request.path_params["poll_id"]}.csv"'
            )
        },
    )


async def polls_json(request: Request) -> Response:
    """``GET /api/rooms/{room_id}/polls`` — open, scheduled and recently closed polls as
    the caller sees them, and the proxies in force."""
    try:
        user_id = await signed_in_id(request)
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, request.path_params["room_id"])
            data = await room_polls(session, access)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse(data)


async def _result(request: Request) -> dict[str, Any]:
    user_id = await signed_in_id(request)
    room_id = request.path_params["room_id"]
    async with app_state(request).db.read() as session:
        await access_room(session, user_id, room_id)
        return await poll_result(session, room_id, request.path_params["poll_id"])


async def result_json(request: Request) -> Response:
    """``GET /api/rooms/{room_id}/polls/{poll_id}/result`` — a closed poll's result, its
    chart and the markdown to paste into a draft."""
    try:
        data = await _result(request)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse(data)


async def result_md(request: Request) -> Response:
    """``GET /api/rooms/{room_id}/polls/{poll_id}/result.md`` — the result as markdown."""
    try:
        data = await _result(request)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return PlainTextResponse(data["markdown"], media_type="text/markdown; charset=utf-8")


def _when(value: str | None) -> str:
    """A moment of a poll shape, in French and in the assembly's time."""
    return when_fr(dt.datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else ""


async def _room_context(request: Request) -> tuple[int, Response | None]:
    user = await current_user(request)
    if user is None:
        return 0, RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    return user.id, None


async def polls_page(request: Request) -> Response:
    """``GET /salons/{room_id}/votes`` — every poll of the room and the proxies' log."""
    user_id, redirect = await _room_context(request)
    if redirect is not None:
        return redirect
    try:
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, request.path_params["room_id"])
            history = await poll_history(session, access.room.id)
            group = await session.get(Group, access.room.group_id) if access.room.group_id else None
    except RoomsError:
        return render(request, "not_found.html", status_code=404)
    return render(request, "polls.html", room=access.room, group=group, history=history, when=_when)


async def result_page(request: Request) -> Response:
    """``GET /salons/{room_id}/votes/{poll_id}`` — one closed poll's result, with a chart
    and the markdown a rapporteur copies into a draft; an open poll links to the room."""
    user_id, redirect = await _room_context(request)
    if redirect is not None:
        return redirect
    try:
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, request.path_params["room_id"])
            data = await poll_result(session, access.room.id, request.path_params["poll_id"])
    except RoomsError as exc:
        if exc.code == "poll_open":
            return RedirectResponse(
                f"/salons/{request.path_params['room_id']}#vote-{request.path_params['poll_id']}",
                status_code=303,
            )
        return render(request, "not_found.html", status_code=404)
    return render(request, "poll_result.html", room=access.room, data=data, when=_when)
