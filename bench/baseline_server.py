"""The raw baseline: a minimal broadcast server written directly on ``websockets``.

It speaks the subset of Atelier's chat protocol that the load generator uses, with the
same frame shapes (``docs/protocol.md``): ``hello`` on connect; ``subscribe`` (with
``after_seq`` replayed from an in-memory log) answered by ``live`` and ``ack``; ``send``
answered by ``ack`` and broadcast to the room as ``message.posted`` with a per-room
``seq``; ``ping``/``pong``. On ``/ws/drafts/<id>`` it is a plain Yjs relay: it answers a
sync step 1 with an empty step 2 and forwards every update to the draft's other sockets
and every awareness message to all of them — no CRDT, no storage.

No database, no authentication, no access checks, no per-connection queue: one
``json.dumps`` per event and ``websockets.broadcast``. That is the practical ceiling of a
Python WebSocket server on this machine, which is what Atelier's ratios are measured
against. Compression is websockets' default (permessage-deflate, the same parameters as
uvicorn's), so both servers negotiate the same extension with the generator.

Run: ``python -m bench.baseline_server --port 8765 [--seed-room 1:10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import signal
from collections import defaultdict
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

FRAME_BYTES = 65_536
# Yjs sync protocol (y-protocols/sync): message type 0, then step 1 / step 2 / update.
Y_SYNC, Y_STEP1, Y_STEP2, Y_UPDATE, Y_AWARENESS = 0, 0, 1, 2, 1
EMPTY_STEP2 = bytes([Y_SYNC, Y_STEP2, 2, 0, 0])  # a step 2 carrying the empty update


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class Room:
    __slots__ = ("followers", "log")

    def __init__(self) -> None:
        self.followers: set[ServerConnection] = set()
        self.log: list[str] = []  # frame of seq n at index n - 1


class Baseline:
    def __init__(self) -> None:
        self.rooms: dict[int, Room] = defaultdict(Room)
        self.drafts: dict[str, set[ServerConnection]] = defaultdict(set)
        self.next_user = 0
        self.next_message = 0

    def seed(self, room_id: int, count: int) -> None:
        room = self.rooms[room_id]
        for _ in range(count):
            self.post(room, room_id, 0, "Membre 0", "Amorce", "Message d'amorce", None)

    def post(
        self,
        room: Room,
        room_id: int,
        user_id: int,
        name: str,
        topic: str,
        body: str,
        client_id: str | None,
    ) -> str:
        self.next_message += 1
        seq = len(room.log) + 1
        message = {
            "id": self.next_message,
            "room_id": room_id,
            "seq": seq,
            "topic": topic,
            "author": {"id": user_id, "name": name},
            "client_id": client_id or f"seed-{seq}",
            "source": body,
            "html": f"<p>{html.escape(body)}</p>\n",
            "reply_to": None,
            "created_at": now_iso(),
            "edited_at": None,
            "deleted": False,
            "hidden": False,
            "reactions": {},
            "mentions": [],
        }
        frame = dumps(
            {"type": "message.posted", "room_id": room_id, "seq": seq, "message": message}
        )
        room.log.append(frame)
        return frame

    async def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else "/ws"
        if path.startswith("/ws/drafts/"):
            await self.relay(ws, path.rsplit("/", 1)[-1])
        else:
            await self.chat(ws)

    async def chat(self, ws: ServerConnection) -> None:
        self.next_user += 1
        user_id, name = self.next_user, f"Membre {self.next_user}"
        limits = {"frame_bytes": FRAME_BYTES}
        await ws.send(
            dumps({"type": "hello", "user": {"id": user_id, "name": name}, "limits": limits})
        )
        followed: set[int] = set()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind, request_id = frame.get("type"), frame.get("id")
                if kind == "send":
                    room_id = frame["room_id"]
                    room = self.rooms[room_id]
                    event = self.post(
                        room,
                        room_id,
                        user_id,
                        name,
                        frame["topic"],
                        frame["body"],
                        frame["client_id"],
                    )
                    broadcast(room.followers, event)
                    ack = {"client_id": frame["client_id"], "seq": len(room.log)}
                    await ws.send(
                        dumps({"type": "ack", "id": request_id, "room_id": room_id, **ack})
                    )
                elif kind == "subscribe":
                    for entry in frame["rooms"]:
                        await self.subscribe(ws, entry["room_id"], entry.get("after_seq"))
                        followed.add(entry["room_id"])
                    await ws.send(dumps({"type": "ack", "id": request_id}))
                elif kind == "unsubscribe":
                    for room_id in frame["room_ids"]:
                        self.rooms[room_id].followers.discard(ws)
                    await ws.send(dumps({"type": "ack", "id": request_id}))
                elif kind == "read":  # a receipt: nothing kept, as a raw server would
                    answer = {"type": "ack", "id": request_id, "room_id": frame["room_id"]}
                    await ws.send(dumps(answer))
                elif kind == "ping":
                    await ws.send(dumps({"type": "pong", "id": request_id}))
        except ConnectionClosed:
            pass
        finally:
            for room_id in followed:
                self.rooms[room_id].followers.discard(ws)

    async def subscribe(self, ws: ServerConnection, room_id: int, after_seq: int | None) -> None:
        room = self.rooms[room_id]
        room.followers.add(ws)
        if after_seq is not None:
            for frame in room.log[after_seq:]:
                await ws.send(frame)
        await ws.send(dumps({"type": "live", "room_id": room_id, "seq": len(room.log)}))

    async def relay(self, ws: ServerConnection, draft: str) -> None:
        sockets = self.drafts[draft]
        sockets.add(ws)
        try:
            await ws.send(bytes([Y_SYNC, Y_STEP1, 1, 0]))  # an empty state vector
            async for message in ws:
                if not isinstance(message, bytes) or len(message) < 2:
                    continue
                if message[0] == Y_SYNC and message[1] == Y_STEP1:
                    await ws.send(EMPTY_STEP2)
                elif message[0] == Y_SYNC and message[2:] != b"\x02\x00\x00":
                    update = bytes([Y_SYNC, Y_UPDATE]) + message[2:]
                    broadcast((s for s in sockets if s is not ws), update)
                elif message[0] == Y_AWARENESS:
                    broadcast(sockets, message)
        except ConnectionClosed:
            pass
        finally:
            sockets.discard(ws)


async def main(port: int, seeds: list[str]) -> None:
    baseline = Baseline()
    for seed in seeds:
        room_id, _, count = seed.partition(":")
        baseline.seed(int(room_id), int(count))
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(baseline.handler, "127.0.0.1", port, max_size=1024 * 1024):
        print(f"baseline: ws://127.0.0.1:{port}/ws", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed-room", action="append", default=[], metavar="ROOM:COUNT")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.seed_room))
