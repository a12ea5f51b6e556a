"""JSON endpoints: history pages, the event log, topics, unread counts, edit history."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.errors import NotAuthenticated
from auth.roles import Permission
from rooms.access import access_room, readable_room_ids
from rooms.errors import MessageNotFound, RoomsError
from rooms.models import Message, MessageEdit
from rooms.queries import MAX_PAGE, list_events, list_messages, list_topics, unread_counts
from rooms.shapes import iso
from server import errors
from server.views.common import app_state, error_response, int_param, signed_in_id


async def room_messages(request: Request) -> Response:
    """``GET /api/rooms/{id}/messages?before=&after=&topic=&limit=`` — current state."""
    try:
        user_id = await signed_in_id(request)
        room_id = request.path_params["room_id"]
        limit = int_param(request, "limit", 50) or 50
        async with app_state(request).db.read() as session:
            access = await access_room(session, user_id, room_id, Permission.READ_ROOM)
            last_seq = access.room.last_seq
            page = await list_messages(
                session,
                room_id,
                before=int_param(request, "before"),
                after=int_param(request, "after"),
                topic=request.query_params.get("topic") or None,
                limit=limit,
            )
    except (RoomsError, NotAuthenticated, errors.BadRequest) as exc:
        return error_response(request, exc)
    return JSONResponse({"room_id": room_id, "last_seq": last_seq, "messages": page})


async def room_events(request: Request) -> Response:
    """``GET /api/rooms/{id}/events?after=&limit=`` — the log, as the frames sent live."""
    try:
        user_id = await signed_in_id(request)
        room_id = request.path_params["room_id"]
        after = int_param(request, "after", 0) or 0
        limit = max(1, min(int_param(request, "limit", MAX_PAGE) or MAX_PAGE, 1000))
        async with app_state(request).db.read() as session:
            await access_room(session, user_id, room_id)
            rows = await list_events(session, room_id, after=after, limit=limit)
    except (RoomsError, NotAuthenticated, errors.BadRequest) as exc:
        return error_response(request, exc)
    # The stored frames are already JSON: joined, not decoded and re-encoded.
    body = f'{{"room_id":{int(room_id)},"events":[{",".join(frame for _, frame in rows)}]}}'
    return Response(body, media_type="application/json")


async def room_topics(request: Request) -> Response:
    try:
        user_id = await signed_in_id(request)
        room_id = request.path_params["room_id"]
        async with app_state(request).db.read() as session:
            await access_room(session, user_id, room_id)
            topics = await list_topics(session, room_id)
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse({"room_id": room_id, "topics": topics})


async def unread(request: Request) -> Response:
    """``GET /api/unread`` — unread messages and mentions in every readable room."""
    try:
        user_id = await signed_in_id(request)
        async with app_state(request).db.read() as session:
            ids = sorted(await readable_room_ids(session, user_id))
            counts = await unread_counts(session, user_id, ids)
    except NotAuthenticated as exc:
        return error_response(request, exc)
    return JSONResponse({"rooms": {str(k): v for k, v in counts.items()}})


async def message_history(request: Request) -> Response:
    """``GET /api/messages/{id}/history`` — former texts of an edited message."""
    try:
        user_id = await signed_in_id(request)
        message_id = request.path_params["message_id"]
        async with app_state(request).db.read() as session:
            message = await session.get(Message, message_id)
            if message is None:
                raise MessageNotFound(message_id=message_id)
            await access_room(session, user_id, message.room_id)
            edits = await session.scalars(
                select(MessageEdit)
                .where(MessageEdit.message_id == message_id)
                .order_by(MessageEdit.id)
            )
            # A hidden message keeps its history for a restore, but shows none.
            history = [
                {"source": e.source, "edited_at": iso(e.edited_at)}
                for e in edits
                if message.deleted_at is None
            ]
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    return JSONResponse({"message_id": message_id, "history": history})
