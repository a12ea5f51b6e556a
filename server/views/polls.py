"""Poll results over HTTP: the CSV a copilot files or pastes into a draft."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import Response

from auth.errors import NotAuthenticated
from rooms.access import access_room
from rooms.actions.polls import closed_result
from rooms.errors import RoomsError
from server.views.common import app_state, current_user, error_response

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
            result = await closed_result(session, room_id, request.path_params["poll_id"])
    except (RoomsError, NotAuthenticated) as exc:
        return error_response(request, exc)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_cell(result.summary_fr)])
    writer.writerow([_cell(result.rule_fr)])
    writer.writerow([])
    for row in result.to_rows():
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
