"""Comments and suggestions through the JSON API, anchored with relative positions."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pycrdt import Assoc
from sqlalchemy import select

from documents import actions, comments
from documents.models import Notification
from tests.conftest import LiveServer
from tests.factories import World
from tests.forms import csrf
from tests.yclient import YClient


@asynccontextmanager
async def api(server: LiveServer, world: World, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in client that sends the CSRF token header, as the editor's script does."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.set("atelier_session", world.cookies[who])
        http.headers["X-CSRF-Token"] = await csrf(http)
        yield http


async def new_draft(server: LiveServer, text: str) -> int:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport", author_id=None, initial_text=text
        )
        return draft.id


async def test_comments_follow_their_passage_through_edits(
    server: LiveServer, world: World
) -> None:
    draft_id = await new_draft(server, "Les bourgs-centres revivent.\n")
    async with api(server, world, "marie") as marie:
        made = await marie.post(
            f"/api/drafts/{draft_id}/comments",
            json={"range": [4, 17], "body": "Lesquels ? @**Anne Lafont** a des chiffres."},
        )
        assert made.status_code == 201, made.text
        comment = made.json()
        assert comment["quote"] == "bourgs-centres"[:13]
        assert comment["range"] == [4, 17]
        reply = await marie.post(
            f"/api/drafts/{draft_id}/comments",
            json={"parent_id": comment["id"], "body": "Je précise demain."},
        )
        assert reply.status_code == 201
    # An editor inserts text before the passage: the anchor moves with it.
    anne = await YClient.connect(f"{server.ws_url}/drafts/{draft_id}", world.cookies["rapporteur"])
    await anne.wait_text("Les bourgs-centres revivent.\n")
    anne.text.insert(0, "Résumé : ")
    async with api(server, world, "marie") as marie:
        async with asyncio.timeout(10):
            while "Résumé" not in (await marie.get(f"/api/drafts/{draft_id}/preview")).text:
                await asyncio.sleep(0.05)
    await anne.close()
    async with api(server, world, "observer") as reader:
        listed = (await reader.get(f"/api/drafts/{draft_id}/comments")).json()["comments"]
        assert [c["parent_id"] for c in listed] == [None, comment["id"]]
        assert listed[0]["range"] == [13, 26]
        assert "Anne Lafont" in listed[0]["html"]
        refused = await reader.post(
            f"/api/drafts/{draft_id}/comments", json={"range": [0, 1], "body": "Je lis"}
        )
        assert refused.status_code == 403  # observers read comments, do not write them
    async with server.state.db.read() as session:
        told = {(n.user_id, n.kind) for n in await session.scalars(select(Notification))}
    assert (world.id("rapporteur"), "mention") in told
    assert (world.id("copilote"), "comment") in told  # the draft's writers hear of it
    async with api(server, world, "marie") as marie:
        closed = await marie.post(
            f"/api/drafts/{draft_id}/comments/{comment['id']}/resolve", json={"resolved": True}
        )
        assert closed.json()["state"] == "resolved"


async def test_a_member_suggests_and_a_rapporteur_accepts(server: LiveServer, world: World) -> None:
    draft_id = await new_draft(server, "Il faut des commerces.\n")
    editor = await YClient.connect(
        f"{server.ws_url}/drafts/{draft_id}", world.cookies["rapporteur"]
    )
    await editor.wait_text("Il faut des commerces.\n")
    # The browser anchors with Yjs relative positions; a pycrdt client makes the same bytes.
    start = editor.text.sticky_index(12, Assoc.AFTER).encode()
    end = editor.text.sticky_index(21, Assoc.BEFORE).encode()
    anchor = {"start": base64.b64encode(start).decode(), "end": base64.b64encode(end).decode()}
    async with api(server, world, "marie") as marie:
        proposed = await marie.post(
            f"/api/drafts/{draft_id}/comments",
            json={"anchor": anchor, "body": "Plus précis", "replacement": "commerces de proximité"},
        )
        assert proposed.status_code == 201, proposed.text
        suggestion = proposed.json()
        assert suggestion["quote"] == "commerces"
        not_hers = await marie.post(
            f"/api/drafts/{draft_id}/comments/{suggestion['id']}/decision", json={"accept": True}
        )
        assert not_hers.status_code == 403
    async with api(server, world, "rapporteur") as anne:
        decision = f"/api/drafts/{draft_id}/comments/{suggestion['id']}/decision"
        # A request that does not say true or false decides nothing.
        for unclear in ({}, {"accept": "false"}, {"accept": 0}):
            refused = await anne.post(decision, json=unclear)
            assert refused.status_code == 400, (unclear, refused.text)
            assert refused.json()["error"]["field"] == "accept"
        unclear_resolve = await anne.post(
            f"/api/drafts/{draft_id}/comments/{suggestion['id']}/resolve",
            json={"resolved": "false"},
        )
        assert unclear_resolve.status_code == 400
        accepted = await anne.post(decision, json={"accept": True})
        assert accepted.json()["state"] == "accepted"
        again = await anne.post(
            f"/api/drafts/{draft_id}/comments/{suggestion['id']}/decision", json={"accept": True}
        )
        assert again.status_code == 422
    await editor.wait_text("Il faut des commerces de proximité.\n")
    await editor.close()


async def test_bad_comment_requests(server: LiveServer, world: World) -> None:
    draft_id = await new_draft(server, "Texte.\n")
    async with api(server, world, "marie") as marie:
        for body, status in [
            ({"range": [0, 99], "body": "hors texte"}, 422),
            ({"body": "sans ancre"}, 422),
            ({"range": [0, 1], "body": ""}, 422),
            ({"anchor": {"start": "!!", "end": "??"}, "body": "x"}, 422),
            ({"parent_id": 10**6, "body": "x"}, 404),
            # Fields of the wrong JSON type are named, not turned into text or ignored.
            ({"range": [0, 1], "body": ["une", "liste"]}, 400),
            ({"range": [0, 1], "body": "x", "replacement": 5}, 400),
            ({"parent_id": True, "body": "x"}, 400),
            ({"parent_id": "1", "body": "x"}, 400),
            ({"range": [False, True], "body": "x"}, 400),
        ]:
            answer = await marie.post(f"/api/drafts/{draft_id}/comments", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert answer.json()["error"]["message"]
        async with server.state.db.read() as session:
            assert not (await comments.list_comments(session, draft_id))
        garbage = await marie.post(f"/api/drafts/{draft_id}/comments", content=b"{not json")
        assert garbage.status_code == 400
        del marie.headers["X-CSRF-Token"]
        forged = await marie.post(
            f"/api/drafts/{draft_id}/comments", json={"range": [0, 1], "body": "x"}
        )
        assert forged.status_code == 403


async def test_notifications_page(server: LiveServer, world: World) -> None:
    draft_id = await new_draft(server, "Texte.\n")
    async with api(server, world, "marie") as marie:
        await marie.post(
            f"/api/drafts/{draft_id}/comments", json={"range": [0, 5], "body": "À revoir"}
        )
    async with api(server, world, "rapporteur") as anne:
        page = await anne.get("/notifications")
        assert "Nouveau commentaire sur « Rapport »" in page.text
        assert f"/brouillons/{draft_id}#commentaire-" in page.text
        assert '#commentaire-"' not in page.text  # the link names the comment
        marked = await anne.post("/notifications/lues", data={"csrf": anne.headers["X-CSRF-Token"]})
        assert marked.status_code == 303
        assert "Nouveau :" not in (await anne.get("/notifications")).text
