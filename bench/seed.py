"""The benchmark's assembly: accounts, sessions, rooms, a long history, drafts.

Built once per backend and size and kept (``var/bench/seed-*``): SQLite as a file that is
copied, PostgreSQL as a database used as ``TEMPLATE``. Each scenario then starts from a
fresh copy, so one scenario's messages never slow the next one's subscriptions. The
cache key covers the sizes, the migrations and ``SEED_VERSION`` (bump it when this file
changes what it builds), so a new migration reseeds by itself.

How it is built:

- the structure (groups and their rooms, the live draft) through the app's own actions
  (``do_create_group``, ``do_create_draft``);
- accounts, roles and sign-in sessions as ORM rows in bulk, with the same token scheme as
  ``auth.sessions.open_session`` (the cookie holds the token, the table its SHA-256);
  tokens come from a seeded generator: this database is for benchmarks only;
- the messages of the resume room (with their ``room_events`` frames, shaped by
  ``rooms.shapes.message_shape``) and of the history room (messages, mentions and
  reactions only: the history API reads no event) in bulk SQL — ``COPY`` on PostgreSQL;
- the big drafts as a real Yjs history (pycrdt updates of 200 characters) in
  ``draft_updates``, one of them with a ``draft_snapshots`` row as the server would have
  written.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import math
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from auth.models import LoginSession, User
from auth.roles import Role
from auth.sessions import ABSOLUTE_TIMEOUT, digest
from documents import crdt
from documents.actions import do_create_draft
from documents.models import DraftSnapshot, DraftUpdate
from rooms.actions.structure import do_create_group
from rooms.models import Membership, Mention, Message, Reaction, Room, RoomEvent
from rooms.shapes import message_shape
from server.broker.memory import MemoryBroker
from server.cli import MIGRATIONS, migrate_async
from server.database import Database, make_engine

SEED_VERSION = 2
EPOCH = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
TOPICS = ("Calendrier", "Auditions", "Logement", "Mobilités", "Avis final")


@dataclass(frozen=True, slots=True)
class Sizes:
    users: int = 10_000
    fanout_rooms: int = 10
    fanout_members: int = 50
    big_members: int = 500
    idle_room_members: int = 50
    resume_messages: int = 10_000
    history_messages: int = 1_000_000
    editors: int = 50
    big_draft_updates: int = 5_000  # x 200 characters: about 1 MB of text
    memory_drafts: int = 20
    memory_draft_updates: int = 200  # x 500 characters: about 100 kB each


QUICK = Sizes(
    users=60,
    fanout_rooms=2,
    fanout_members=5,
    big_members=20,
    idle_room_members=20,
    resume_messages=200,
    history_messages=2_000,
    editors=4,
    big_draft_updates=100,
    memory_drafts=2,
    memory_draft_updates=20,
)


def fingerprint(sizes: Sizes) -> str:
    migrations = sorted(
        f"{p.name}:{p.stat().st_size}" for p in (MIGRATIONS / "versions").glob("*.py")
    )
    key = json.dumps([SEED_VERSION, dataclasses.asdict(sizes), migrations])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def tokens(count: int) -> list[str]:
    rng = random.Random(20260105)
    return [base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode() for _ in range(count)]


async def seed(url: str, sizes: Sizes) -> dict[str, Any]:
    """Migrate the empty database at ``url`` and fill it; returns the world's ids."""
    await migrate_async(url)
    db = Database(make_engine(url), MemoryBroker())
    try:
        world = await _structure(db, sizes)
        async with db.engine.begin() as conn:
            await _bulk_history(conn, world["resume_room"], sizes.resume_messages, events=True)
            await _bulk_history(conn, world["history_room"], sizes.history_messages, events=False)
            await _big_drafts(conn, world, sizes)
            if conn.dialect.name == "postgresql":
                # Rows were written with explicit ids: move the sequences past them.
                for table in ("messages", "room_events", "draft_updates", "draft_snapshots"):
                    top = f"(SELECT max(id) FROM {table})"  # noqa: S608 - constant names
                    sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"
                    await conn.execute(text(sql))
                await conn.execute(text("ANALYZE"))
    finally:
        await db.dispose()
    return world


async def _structure(db: Database, sizes: Sizes) -> dict[str, Any]:
    idle_rooms = math.ceil(sizes.users / sizes.idle_room_members)
    names = [f"f{k}" for k in range(sizes.fanout_rooms)] + ["big", "resume", "history", "coedit"]
    names += [f"idle{k}" for k in range(idle_rooms)]
    async with db.transaction() as session:
        groups = {}
        for number, name in enumerate(names, start=1000):
            groups[name] = await do_create_group(
                session, number=number, slug=f"bench-{name}", title=f"Banc d'essai {name}"
            )
        rooms = dict(
            (
                await session.execute(
                    select(Room.group_id, Room.id).where(Room.chantier_id.is_(None))
                )
            )
            .tuples()
            .all()
        )
        cookies = tokens(sizes.users)
        users = [
            User(email=f"charge{i}@bench.atelier.test", display_name=f"Membre Charge {i}")
            for i in range(sizes.users)
        ]
        session.add_all(users)
        await session.flush()
        grants = [(u.id, "assembly", Role.MEMBER) for u in users]
        for i, user in enumerate(users):
            if i < sizes.fanout_rooms * sizes.fanout_members:
                grants.append(
                    (user.id, f"group:{groups[f'f{i // sizes.fanout_members}'].id}", Role.MEMBER)
                )
            if i < sizes.big_members:
                grants.append((user.id, f"group:{groups['big'].id}", Role.MEMBER))
            if i < sizes.editors:
                grants.append((user.id, f"group:{groups['coedit'].id}", Role.RAPPORTEUR))
        session.add_all(Membership(user_id=u, space=s, role=r.value) for u, s, r in grants)
        now = dt.datetime.now(dt.UTC)
        session.add_all(
            LoginSession(
                id=digest(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + ABSOLUTE_TIMEOUT,
                user_agent="bench",
            )
            for user, token in zip(users, cookies, strict=True)
        )
        space = f"group:{groups['coedit'].id}"
        live = await do_create_draft(session, space=space, title="Frappe", author_id=users[0].id)
        drafts = [
            await do_create_draft(session, space=space, title=f"Brouillon {k}", author_id=None)
            for k in range(2 + sizes.memory_drafts)
        ]
    return {
        "fanout_room_members": sizes.fanout_members,
        "big_room_members": sizes.big_members,
        "idle_room_members": sizes.idle_room_members,
        "user_ids": [u.id for u in users],
        "tokens": cookies,
        "fanout_rooms": [rooms[groups[f"f{k}"].id] for k in range(sizes.fanout_rooms)],
        "big_room": rooms[groups["big"].id],
        "resume_room": rooms[groups["resume"].id],
        "history_room": rooms[groups["history"].id],
        "idle_rooms": [rooms[groups[f"idle{k}"].id] for k in range(idle_rooms)],
        "coedit_draft": live.id,
        "log_draft": drafts[0].id,
        "snapshot_draft": drafts[1].id,
        "memory_drafts": [d.id for d in drafts[2:]],
    }


async def _insert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = (await conn.get_raw_connection()).driver_connection
        assert isinstance(raw, asyncpg.Connection)
        columns = list(rows[0])
        await raw.copy_records_to_table(
            table.name, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
        )
    else:
        await conn.execute(table.insert(), rows)


def _chunks(count: int, size: int = 50_000) -> Iterator[range]:
    for start in range(0, count, size):
        yield range(start, min(count, start + size))


async def _bulk_history(conn: AsyncConnection, room_id: int, count: int, *, events: bool) -> None:
    """``count`` messages in ``room_id`` by the first fifty members, one every 10 s; a
    mention every 50 messages, a reaction every 20 (so history pages shape real rows)."""
    first_id = int(await conn.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0) + 1
    authors = list(await conn.scalars(select(User.id).order_by(User.id).limit(50)))
    name_of = {uid: f"Membre Charge {k}" for k, uid in enumerate(authors)}
    for chunk in _chunks(count):
        messages, mentions, reactions, frames = [], [], [], []
        for n in chunk:
            seq, author = n + 1, authors[n % len(authors)]
            mentioned = authors[(n + 1) % len(authors)] if n % 50 == 0 else None
            note = f" @**{name_of[mentioned]}**" if mentioned else ""
            row = {
                "id": first_id + n,
                "room_id": room_id,
                "seq": seq,
                "topic": TOPICS[(n // 200) % len(TOPICS)],
                "author_id": author,
                "client_id": f"seed-{room_id}-{seq}",
                "source": f"Message d’historique n° {seq} : point d’étape.{note}",
                "html": f"<p>Message d’historique n° {seq} : point d’étape.{note}</p>\n",
                "reply_to_id": None,
                "created_at": EPOCH + dt.timedelta(seconds=10 * n),
                "edited_at": None,
                "deleted_at": None,
                "hidden_at": None,
            }
            messages.append(row)
            if mentioned:
                mentions.append(
                    {"message_id": row["id"], "user_id": mentioned, "room_id": room_id, "seq": seq}
                )
            if n % 20 == 0:
                reactions.append(
                    {
                        "message_id": row["id"],
                        "user_id": authors[(n + 7) % len(authors)],
                        "emoji": "👍",
                    }
                )
            if events:
                shape = message_shape(
                    Message(**row),
                    author_name=name_of[author],
                    mentions=[mentioned] if mentioned else [],
                )
                frames.append(
                    {
                        "room_id": room_id,
                        "seq": seq,
                        "type": "message.posted",
                        "message_id": row["id"],
                        "data": json.dumps(
                            {
                                "type": "message.posted",
                                "room_id": room_id,
                                "seq": seq,
                                "message": shape,
                            },
                            ensure_ascii=False,
                            separators=(",", ":"),
                        ),
                        "created_at": row["created_at"],
                    }
                )
        await _insert(conn, Message.__table__, messages)
        await _insert(conn, Mention.__table__, mentions)
        await _insert(conn, Reaction.__table__, reactions)
        await _insert(conn, RoomEvent.__table__, frames)
    await conn.execute(update(Room).where(Room.id == room_id).values(last_seq=count))


def _typed_history(updates: int, chunk: int, seed: int) -> tuple[list[bytes], bytes, int]:
    """A document typed ``chunk`` characters at a time, at the end or in the middle."""
    rng = random.Random(seed)
    doc = crdt.new_doc()
    text_ = crdt.text_of(doc)
    out = []
    for n in range(updates):
        before = doc.get_state()
        words = " ".join(
            rng.choice(("avis", "bourg", "centre", "commerce", "habitat")) for _ in range(40)
        )
        piece = f"{n}. {words}\n"[:chunk].ljust(chunk)
        position = len(text_) if n % 4 else rng.randint(0, len(text_))
        text_.insert(position, piece)
        out.append(doc.get_update(before))
    return out, doc.get_update(), len(str(text_))


async def _big_drafts(conn: AsyncConnection, world: dict[str, Any], sizes: Sizes) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    next_id = int(await conn.scalar(select(func.coalesce(func.max(DraftUpdate.id), 0))) or 0) + 1
    plans = [(world["log_draft"], sizes.big_draft_updates, 200, False)]
    plans.append((world["snapshot_draft"], sizes.big_draft_updates, 200, True))
    plans += [(d, sizes.memory_draft_updates, 500, True) for d in world["memory_drafts"]]
    sizes_chars = {}
    for draft_id, count, chunk, snapshot in plans:
        updates, state, chars = _typed_history(count, chunk, seed=draft_id)
        rows = [
            {
                "id": next_id + k,
                "draft_id": draft_id,
                "author_id": None,
                "data": u,
                "created_at": old,
            }
            for k, u in enumerate(updates)
        ]
        next_id += len(rows)
        await _insert(conn, DraftUpdate.__table__, rows)
        if snapshot:
            last = rows[-1]["id"]
            snap = {"draft_id": draft_id, "upto_update_id": last, "state": state, "created_at": old}
            await conn.execute(DraftSnapshot.__table__.insert(), [snap])
        sizes_chars[str(draft_id)] = chars
    world["draft_chars"] = sizes_chars


# -- the cache ---------------------------------------------------------------------------


async def refresh_sessions(url: str) -> None:
    """Make every session recently used, as for a member back within minutes."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            await conn.execute(
                update(LoginSession).values(last_seen_at=now, expires_at=now + ABSOLUTE_TIMEOUT)
            )
    finally:
        await engine.dispose()


async def _pg_admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _copy_sqlite(source: Path, target: Path) -> None:
    _remove_sqlite(target)
    shutil.copyfile(source, target)


def _pg_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


class SeedCache:
    """Seeded databases per backend and size, and fresh copies of them for each scenario.

    Seeds are named by size class (``full``, ``quick`` or ``custom``) and key: building a
    new one removes the older seeds of its class (files, and ``atelier_bench_seed_*``
    databases), never the other classes' — a quick run keeps the full seed.
    """

    def __init__(self, var: Path, sizes: Sizes, *, pg_admin_url: str = "") -> None:
        self.var = var
        self.sizes = sizes
        self.pg_admin_url = pg_admin_url
        kind = "full" if sizes == Sizes() else "quick" if sizes == QUICK else "custom"
        self.stem = f"{kind}-{fingerprint(sizes)}"
        self.pg_seed = f"atelier_bench_seed_{self.stem.replace('-', '_')}"
        self.kind = kind
        var.mkdir(parents=True, exist_ok=True)

    def _path(self, backend: str, suffix: str) -> Path:
        return self.var / f"seed-{backend}-{self.stem}{suffix}"

    async def world(self, backend: str, announce: Any = print) -> dict[str, Any]:
        """The world of ``backend``'s seed, building the seed when it is missing."""
        path = self._path(backend, ".json")
        if path.exists():
            return dict(json.loads(path.read_text()))
        await self.drop_seeds(backend, keep_current=False)
        announce(f"seeding the {backend} database (once per size and schema)…")
        if backend == "sqlite":
            world = await seed(f"sqlite+aiosqlite:///{self._path('sqlite', '.db')}", self.sizes)
        else:
            await _pg_admin(self.pg_admin_url, f'CREATE DATABASE "{self.pg_seed}"')
            world = await seed(_pg_url(self.pg_admin_url, self.pg_seed), self.sizes)
        path.write_text(json.dumps(world))
        return world

    async def drop_seeds(self, backend: str, *, keep_current: bool = True) -> None:
        """Remove the seeds of this size class (the older ones only, by default)."""
        if backend == "sqlite" or not keep_current:
            for stale in self.var.glob(f"seed-{backend}-{self.kind}-*"):
                if not keep_current or self.stem not in stale.name:
                    stale.unlink()
        if backend == "postgres":
            prefix = f"atelier_bench_seed_{self.kind}_"
            conn = await asyncpg.connect(self.pg_admin_url.replace("+asyncpg", "", 1))
            try:
                names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database")]
            finally:
                await conn.close()
            for name in names:
                if name.startswith(prefix) and not (keep_current and name == self.pg_seed):
                    await _pg_admin(
                        self.pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                    )

    async def fresh_copy(self, backend: str, label: str) -> str:
        """A new database copied from the seed; returns its SQLAlchemy URL."""
        if backend == "sqlite":
            target = self.var / f"run-{label}.db"
            await asyncio.to_thread(_copy_sqlite, self._path("sqlite", ".db"), target)
            url = f"sqlite+aiosqlite:///{target}"
        else:
            name = f"atelier_bench_run_{label}"
            await _pg_admin(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await _pg_admin(
                self.pg_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_seed}"'
            )
            url = _pg_url(self.pg_admin_url, name)
        await refresh_sessions(url)
        return url

    async def drop_copy(self, backend: str, label: str) -> None:
        if backend == "sqlite":
            await asyncio.to_thread(_remove_sqlite, self.var / f"run-{label}.db")
        else:
            name = f"atelier_bench_run_{label}"
            await _pg_admin(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
