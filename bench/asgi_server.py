"""The ASGI reference: the baseline's broadcast, but as a Starlette app under uvicorn.

Same frames and same in-memory rooms as ``bench/baseline_server.py``; the only difference
is the stack Atelier runs on — uvicorn's ``websockets-sansio`` protocol, the ASGI
``send`` coroutine and Starlette's ``WebSocket`` — with the simplest broadcast that stack
allows (``await ws.send_text(frame)`` for each follower, in the sender's handler, no
queue, no task). The distance baseline → asgi is the price of ASGI itself; asgi → Atelier
is Atelier's own (hub, per-connection queues and writer tasks, the database).

Run: ``python -m bench.asgi_server --port 8766`` (the bench's ``asgi`` target).
"""

from __future__ import annotations

import argparse
import json
import socket
from collections import defaultdict

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.baseline_server import FRAME_BYTES, Baseline, Room, dumps

state = Baseline()
followers: dict[int, set[WebSocket]] = defaultdict(set)


async def chat(ws: WebSocket) -> None:
    await ws.accept()
    state.next_user += 1
    user_id, name = state.next_user, f"Membre {state.next_user}"
    hello = {"type": "hello", "user": {"id": user_id, "name": name}}
    await ws.send_text(dumps({**hello, "limits": {"frame_bytes": FRAME_BYTES}}))
    followed: set[int] = set()
    try:
        while True:
            frame = json.loads(await ws.receive_text())
            kind, request_id = frame.get("type"), frame.get("id")
            if kind == "send":
                room_id = frame["room_id"]
                room: Room = state.rooms[room_id]
                event = state.post(
                    room, room_id, user_id, name, frame["topic"], frame["body"], frame["client_id"]
                )
                for follower in tuple(followers[room_id]):
                    try:
                        await follower.send_text(event)
                    except (WebSocketDisconnect, RuntimeError):
                        followers[room_id].discard(follower)
                ack = {"client_id": frame["client_id"], "seq": len(room.log)}
                await ws.send_text(
                    dumps({"type": "ack", "id": request_id, "room_id": room_id, **ack})
                )
            elif kind == "subscribe":
                for entry in frame["rooms"]:
                    room_id = entry["room_id"]
                    followers[room_id].add(ws)
                    followed.add(room_id)
                    room = state.rooms[room_id]
                    if entry.get("after_seq") is not None:
                        for logged in room.log[entry["after_seq"] :]:
                            await ws.send_text(logged)
                    await ws.send_text(
                        dumps({"type": "live", "room_id": room_id, "seq": len(room.log)})
                    )
                await ws.send_text(dumps({"type": "ack", "id": request_id}))
            elif kind == "ping":
                await ws.send_text(dumps({"type": "pong", "id": request_id}))
    except WebSocketDisconnect:
        pass
    finally:
        for room_id in followed:
            followers[room_id].discard(ws)


app = Starlette(routes=[WebSocketRoute("/ws", chat)])


class Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        print(f"baseline: ws://{self.config.host}:{self.config.port}/ws (asgi)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed-room", action="append", default=[], metavar="ROOM:COUNT")
    args = parser.parse_args()
    for seed in args.seed_room:
        room_id, _, count = seed.partition(":")
        state.seed(int(room_id), int(count))
    # The same uvicorn settings as ``atelier run`` (server/cli.py).
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        ws="websockets-sansio",
        ws_max_size=1024 * 1024,
        log_level="warning",
    )
    Server(config).run()
