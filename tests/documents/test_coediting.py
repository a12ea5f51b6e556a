"""Co-editing over the real WebSocket: sync, persistence, rights, bad input, offline merge."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random

import pytest
from pycrdt import Decoder, Doc, Text, write_var_uint
from sqlalchemy import func, select

from auth.models import User
from documents import actions, crdt
from documents.models import DraftUpdate
from rooms.actions.structure import do_revoke_role
from tests.conftest import LiveServer, live_server
from tests.factories import World, build_world
from tests.yclient import YClient


async def make_draft(server: LiveServer, text: str = "") -> int:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport du chantier 1.1", author_id=None,
            initial_text=text,
        )  # fmt: skip
        return draft.id


def url(server: LiveServer, draft_id: int) -> str:
    return f"{server.ws_url}/drafts/{draft_id}"


async def test_two_editors_converge(server: LiveServer, world: World) -> None:
    draft_id = await make_draft(server, "# Rapport\n")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    sophie = await YClient.connect(url(server, draft_id), world.cookies["copilote"])
    await anne.wait_text("# Rapport\n")
    await sophie.wait_text("# Rapport\n")
    anne.text.insert(len(anne.text), "Introduction.\n")
    await sophie.wait_text("# Rapport\nIntroduction.\n")
    sophie.text.insert(0, "Brouillon — ")
    await anne.wait_text("Brouillon — # Rapport\nIntroduction.\n")
    # Every accepted update is in the log with its author.
    async with server.state.db.read() as session:
        authors = set(
            await session.scalars(
                select(DraftUpdate.author_id).where(DraftUpdate.draft_id == draft_id)
            )
        )
    assert {world.id("rapporteur"), world.id("copilote")} <= authors
    await anne.close()
    await sophie.close()


async def test_each_update_reaches_each_other_editor_once(server: LiveServer, world: World) -> None:
    """An update is sent once to every other socket of the draft, and not back to its
    sender: the process that stored it must not forward it again when the broker's
    relay of the same update comes back to it."""
    draft_id = await make_draft(server)
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    sophie = await YClient.connect(url(server, draft_id), world.cookies["copilote"])
    await anne.synced.wait()
    await sophie.synced.wait()
    for letter in "abcdefghij":
        anne.text.insert(len(anne.text), letter)
        await asyncio.sleep(0.01)  # one update per transaction, each its own batch or not
    await sophie.wait_text("abcdefghij")
    await asyncio.sleep(0.5)  # room for a second copy or an echo to arrive
    assert sophie.updates_received == 10
    assert anne.updates_received == 0
    await anne.close()
    await sophie.close()


async def test_edits_survive_a_restart(database_url: str) -> None:
    async with live_server(database_url) as server:
        world = await build_world(server.state.db)
        draft_id = await make_draft(server)
        anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
        await anne.synced.wait()
        anne.text.insert(0, "Texte acquitté")
        await asyncio.sleep(0.5)
        await anne.close()
    async with live_server(database_url) as again:
        reader = await YClient.connect(url(again, draft_id), world.cookies["marie"])
        await reader.wait_text("Texte acquitté")
        await reader.close()


async def test_readers_cannot_write(server: LiveServer, world: World) -> None:
    draft_id = await make_draft(server, "Version officielle")
    for who in ("observer", "marie"):  # an observer; a member of a draft not opened to them
        reader = await YClient.connect(url(server, draft_id), world.cookies[who])
        await reader.wait_text("Version officielle")
        reader.text.insert(0, "Vandalisme ")
        assert await reader.wait_closed() == 4003, who
    async with server.state.db.read() as session:
        doc, _ = await actions.load_doc(session, draft_id)
    assert crdt.markdown_of(doc) == "Version officielle"
    outsider = await YClient.connect(url(server, draft_id), world.cookies["other"])
    assert await outsider.wait_closed() == 4404


async def test_bad_updates_are_refused_without_touching_the_draft(
    server: LiveServer, world: World
) -> None:
    draft_id = await make_draft(server, "Intact")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Intact")
    await anne.send_raw_update(b"\x07\x99\x01garbage")
    assert await anne.wait_closed() == 4400
    big = Doc()
    big.get("markdown", type=Text).insert(0, "x" * (actions.MAX_UPDATE_BYTES + 10))
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Intact")
    await anne.send_raw_update(big.get_update())
    assert await anne.wait_closed() in (1009, 4400)
    async with server.state.db.read() as session:
        count = await session.scalar(
            select(func.count(DraftUpdate.id)).where(DraftUpdate.draft_id == draft_id)
        )
        doc, _ = await actions.load_doc(session, draft_id)
    assert count == 1
    assert crdt.markdown_of(doc) == "Intact"


def _undecodable_messages() -> list[bytes]:
    """Truncated and garbled Yjs messages of each kind, and awareness updates whose
    state is not JSON (the server used to record their client ids before applying them,
    and then failed to say they left: an error and a draft that never unloaded)."""
    rng = random.Random(7)
    messages = [b"\x01", b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01\x05", b"\x00\x02\x05ab"]
    for _ in range(12):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
        for kind in (b"\x01", b"\x00\x00", b"\x00\x02"):
            messages.append(kind + write_var_uint(len(body)) + body)
    for state in (b"pas du json", b"\xff\xfe", b"{"):
        update = write_var_uint(1) + write_var_uint(99) + write_var_uint(1)
        update += write_var_uint(len(state)) + state
        messages.append(b"\x01" + write_var_uint(len(update)) + update)
    return messages


async def test_undecodable_messages_close_the_socket_and_nothing_else(
    server: LiveServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    draft_id = await make_draft(server, "Intact")
    with caplog.at_level(logging.WARNING):
        for message in _undecodable_messages():
            anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
            await anne.wait_text("Intact")
            await anne.ws.send(message)
            assert await anne.wait_closed() == 4400, message
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    room = server.state.drafts.rooms[draft_id]
    assert not room.sockets
    assert room.unload is not None  # every socket's leave ran to its end
    assert set(room.awareness.states) == {room.awareness.client_id}  # the server's own
    # The draft is as it was, and still editable.
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Intact")
    anne.text.insert(6, " et vivant")
    marie = await YClient.connect(url(server, draft_id), world.cookies["marie"])
    await marie.wait_text("Intact et vivant")
    await anne.close()
    await marie.close()


def _awareness_message(client: int, clock: int, state: object) -> bytes:
    text = json.dumps(state).encode()
    update = write_var_uint(1) + write_var_uint(client) + write_var_uint(clock)
    update += write_var_uint(len(text)) + text
    return b"\x01" + write_var_uint(len(update)) + update


def _states(client: YClient) -> dict[int, object]:
    """The last state the server sent ``client`` for each awareness client id."""
    states: dict[int, object] = {}
    for payload in client.awareness_received:
        decoder = Decoder(payload)
        for _ in range(decoder.read_var_uint()):
            client_id, _clock = decoder.read_var_uint(), decoder.read_var_uint()
            states[client_id] = json.loads(decoder.read_var_string())
    return states


async def test_awareness_names_the_member_and_nobody_speaks_for_another(
    server: LiveServer, world: World
) -> None:
    """The presence list and the carets show ``user.name`` from the awareness states:
    a member cannot appear under another name, nor remove another member's caret."""
    draft_id = await make_draft(server, "Texte")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    marie = await YClient.connect(url(server, draft_id), world.cookies["marie"])
    watcher = await YClient.connect(url(server, draft_id), world.cookies["paul"])
    for client in (anne, marie, watcher):
        await client.wait_text("Texte")
    await anne.ws.send(_awareness_message(111, 1, {"user": {"name": "Anne Lafont"}}))
    await marie.ws.send(
        _awareness_message(222, 1, {"user": {"id": world.id("admin"), "name": "La Présidente"}})
    )
    # Marie speaks for Anne's client: dropped, whatever its state.
    await marie.ws.send(_awareness_message(111, 2, {"user": {"name": "Anne (pour rire)"}}))
    await marie.ws.send(_awareness_message(111, 3, None))
    await marie.ws.send(_awareness_message(222, 2, {"user": {"name": "Encore"}, "cursor": None}))
    async with asyncio.timeout(10):
        while _states(watcher).get(222, {}).get("cursor", 0) is not None:  # type: ignore[union-attr]
            watcher.changed.clear()
            await watcher.changed.wait()
    states = _states(watcher)
    assert states[111] == {"user": {"name": "Anne Lafont", "id": world.id("rapporteur")}}
    assert states[222] == {
        "user": {"name": "Marie Dupont", "id": world.id("marie")},
        "cursor": None,
    }
    room = server.state.drafts.rooms[draft_id]
    assert room.awareness.states[111]["user"]["name"] == "Anne Lafont"
    # Marie leaves: her client goes, Anne's stays.
    await marie.close()
    async with asyncio.timeout(10):
        while 222 in room.awareness.states:
            await asyncio.sleep(0.02)
    assert 111 in room.awareness.states
    # The same member's new socket may take over a client id it held (a page
    # reconnecting before the server noticed the old socket closing).
    again = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await again.wait_text("Texte")
    await again.ws.send(_awareness_message(111, 5, {"user": {"name": "Anne Lafont"}}))
    async with asyncio.timeout(10):
        while room.awareness.meta[111]["clock"] != 5:
            await asyncio.sleep(0.02)
    await anne.close()
    assert 111 in room.awareness.states  # the old socket's leave no longer speaks for it
    for client in (again, watcher):
        await client.close()


async def test_offline_edits_merge_on_reconnect(server: LiveServer, world: World) -> None:
    draft_id = await make_draft(server, "Ligne commune\n")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Ligne commune\n")
    offline_doc = anne.doc
    await anne.close()  # the network drops
    offline_doc.get("markdown", type=Text).insert(0, "Écrit hors ligne\n")
    sophie = await YClient.connect(url(server, draft_id), world.cookies["copilote"])
    await sophie.wait_text("Ligne commune\n")
    sophie.text.insert(len(sophie.text), "Écrit en ligne\n")
    await asyncio.sleep(0.3)
    back = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"], offline_doc)
    merged = "Écrit hors ligne\nLigne commune\nÉcrit en ligne\n"
    await back.wait_text(merged)
    await sophie.wait_text(merged)
    await back.close()
    await sophie.close()


async def test_lock_and_role_changes_apply_to_open_sockets(
    server: LiveServer, world: World
) -> None:
    draft_id = await make_draft(server, "Avant")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Avant")
    async with server.state.db.transaction() as session:
        draft = await actions.get_draft(session, draft_id)
        await actions.do_set_lock(session, draft, locked=True, user_id=world.id("copilote"))
    await asyncio.sleep(0.3)
    anne.text.insert(0, "Figé ? ")
    assert await anne.wait_closed() == 4003
    async with server.state.db.transaction() as session:
        draft = await actions.get_draft(session, draft_id)
        await actions.do_set_lock(session, draft, locked=False, user_id=world.id("copilote"))
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Avant")
    async with server.state.db.transaction() as session:
        await do_revoke_role(session, world.id("rapporteur"), "chantier:1")
    await asyncio.sleep(0.3)
    anne.text.insert(0, "Plus rapporteure ")
    assert await anne.wait_closed() == 4003
    async with server.state.db.read() as session:
        doc, _ = await actions.load_doc(session, draft_id)
        assert await session.get(User, world.id("rapporteur")) is not None
    assert crdt.markdown_of(doc) == "Avant"


@pytest.mark.parametrize("count", [3])
async def test_restore_is_a_new_edit(server: LiveServer, world: World, count: int) -> None:
    draft_id = await make_draft(server, "Version A")
    async with server.state.db.transaction() as session:
        draft = await actions.get_draft(session, draft_id)
        first = await actions.do_name_version(
            session, draft, label="soumise au comité", author_id=world.id("rapporteur")
        )
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("Version A")
    del anne.text[8:9]
    anne.text.insert(8, "B, bien plus longue")
    await anne.wait_text("Version B, bien plus longue")
    await asyncio.sleep(0.3)
    async with server.state.db.transaction() as session:
        draft = await actions.get_draft(session, draft_id)
        version = await actions.get_version(session, draft_id, first.number)
        assert await actions.do_restore(session, draft, version, author_id=world.id("copilote"))
    # The open editor receives the restore as an edit, without duplicated text.
    await anne.wait_text("Version A")
    async with server.state.db.read() as session:
        rows = await session.scalar(
            select(func.count(DraftUpdate.id)).where(DraftUpdate.draft_id == draft_id)
        )
    assert rows >= count  # history kept: the restore added to the log
    await anne.close()


async def test_snapshots_shortcut_loading_and_idle_drafts_leave_memory(
    server: LiveServer, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from documents.models import DraftSnapshot
    from server import drafts as draft_server

    monkeypatch.setattr(actions, "SNAPSHOT_EVERY", 5)
    monkeypatch.setattr(actions, "SETTLE", dt.timedelta(0))
    monkeypatch.setattr(draft_server, "UNLOAD_GRACE_SECS", 0.2)
    monkeypatch.setattr(draft_server, "SNAPSHOT_CHECK_SECS", 0.0)
    draft_id = await make_draft(server, "0")
    anne = await YClient.connect(url(server, draft_id), world.cookies["rapporteur"])
    await anne.wait_text("0")
    for i in range(1, 12):
        anne.text.insert(len(anne.text), str(i))
        await asyncio.sleep(0.02)
    expected = "".join(str(i) for i in range(12))
    async with asyncio.timeout(10):
        while True:
            async with server.state.db.read() as session:
                doc, _ = await actions.load_doc(session, draft_id)
            if crdt.markdown_of(doc) == expected:
                break
            await asyncio.sleep(0.05)
    async with server.state.db.read() as session:
        snapshots = list(
            await session.scalars(select(DraftSnapshot).where(DraftSnapshot.draft_id == draft_id))
        )
    assert snapshots  # written along the way; loading above went through the newest
    assert draft_id in server.state.drafts.rooms
    await anne.close()
    await asyncio.sleep(0.6)
    assert draft_id not in server.state.drafts.rooms  # nobody left: unloaded
    again = await YClient.connect(url(server, draft_id), world.cookies["marie"])
    await again.wait_text(expected)  # reloaded from the snapshot and the log
    await again.close()


async def test_a_batch_of_updates_is_stored_or_refused_update_by_update(
    server: LiveServer, world: World
) -> None:
    """The drafts' group commit (``sqlite3`` directly, or the session elsewhere): a
    bad update is refused alone; a locked draft refuses the whole batch, writing nothing."""
    from documents.errors import DraftLocked, InvalidUpdate
    from documents.models import Draft

    draft_id = await make_draft(server, "Base")
    hub, db = server.state.drafts, server.state.db
    editor = Doc()
    editor.get("markdown", type=Text).insert(0, "Ajout")
    good = editor.get_update()
    author = world.id("rapporteur")

    class Room:  # what ``_store_updates`` reads of a draft room
        def __init__(self) -> None:
            self.draft_id = draft_id

    told: list[list[object]] = []  # what ``committed`` heard, once durable
    results = await hub._store_updates(
        Room(), [(good, author), (b"\x07\x99\x01garbage", author)], told.append
    )
    assert isinstance(results[0], int)
    assert isinstance(results[1], InvalidUpdate)
    assert told == [results]
    async with db.transaction() as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        await actions.do_set_lock(session, draft, locked=True, user_id=world.id("copilote"))
    (locked,) = await hub._store_updates(Room(), [(good, author)], told.append)
    assert isinstance(locked, DraftLocked)
    async with db.read() as session:
        ids = list(
            await session.scalars(
                select(DraftUpdate.id)
                .where(DraftUpdate.draft_id == draft_id)
                .order_by(DraftUpdate.id)
            )
        )
        doc, _ = await actions.load_doc(session, draft_id)
    assert ids[-1] == results[0]
    assert len(ids) == 2  # the draft's first text, and the good update
    assert "Ajout" in crdt.markdown_of(doc)
