"""Drafts over HTTP: create from a saisine, versions, diff, restore, lock, exports."""

from __future__ import annotations

import datetime as dt
import io

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from documents import actions
from documents.models import Draft, DraftVersion
from rooms.actions.structure import do_create_saisine
from rooms.models import Chantier
from tests.conftest import LiveServer
from tests.factories import World
from tests.forms import post_form
from tests.yclient import YClient


async def client_for(server: LiveServer, world: World, who: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=server.base_url)
    http.cookies.set("atelier_session", world.cookies[who])
    return http


async def test_a_rapporteur_starts_the_report_from_the_saisine(
    server: LiveServer, world: World
) -> None:
    async with server.state.db.transaction() as session:
        chantier = await session.scalar(select(Chantier))
        assert chantier is not None
        saisine = await do_create_saisine(
            session,
            number=1,
            title="Bourgs-centres",
            questions=["Quel bilan ?", "Quelles priorités ?"],
            due_label="2027",
            chantier=chantier,
        )
    async with await client_for(server, world, "rapporteur") as http:
        listing = await http.get("/brouillons", params={"espace": "chantier:1"})
        assert listing.status_code == 200
        assert "Commencer un brouillon" in listing.text
        made = await post_form(
            http,
            "/brouillons",
            {"space": "chantier:1", "title": "Contribution", "saisine_id": saisine.id},
        )
        assert made.status_code == 303
        draft_id = int(made.headers["location"].rsplit("/", 1)[1])
        page = await http.get(f"/brouillons/{draft_id}")
        assert page.status_code == 200
        preview = (await http.get(f"/api/drafts/{draft_id}/preview")).json()
        # In the page, under its own h1 and the preview's h2: "#" is an h3.
        assert "<h3>Contribution</h3>" in preview["html"]
        assert "<h4>1. Quel bilan ?</h4>" in preview["html"]
        assert "<h4>2. Quelles priorités ?</h4>" in preview["html"]
        assert "<h1>" not in preview["html"]
    async with await client_for(server, world, "marie") as member:
        listing = await member.get("/brouillons", params={"espace": "chantier:1"})
        assert "Commencer un brouillon" not in listing.text  # members read, do not create
        refused = await post_form(member, "/brouillons", {"space": "chantier:1", "title": "X"})
        assert refused.status_code == 404
    async with await client_for(server, world, "other") as outsider:
        # Not in the assembly, not in the chantier: the draft does not exist for them.
        assert (await outsider.get(f"/brouillons/{draft_id}")).status_code == 404


async def test_versions_diff_attribution_and_restore(server: LiveServer, world: World) -> None:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport", author_id=None,
            initial_text="Premier paragraphe.\n",
        )  # fmt: skip
        draft_id = draft.id
    async with await client_for(server, world, "rapporteur") as http:
        named = await post_form(
            http, f"/brouillons/{draft_id}/versions", {"label": "soumise au comité"}
        )
        assert named.status_code == 303
        anne = await YClient.connect(
            f"{server.ws_url}/drafts/{draft_id}", world.cookies["rapporteur"]
        )
        await anne.wait_text("Premier paragraphe.\n")
        anne.text.insert(len(anne.text), "Ajout d'Anne.\n")
        sophie = await YClient.connect(
            f"{server.ws_url}/drafts/{draft_id}", world.cookies["copilote"]
        )
        await sophie.wait_text("Premier paragraphe.\nAjout d'Anne.\n")
        sophie.text.insert(0, "Résumé. ")
        await anne.wait_text("Résumé. Premier paragraphe.\nAjout d'Anne.\n")
        page = await http.get(f"/brouillons/{draft_id}/versions", params={"a": 1, "b": "courant"})
        assert page.status_code == 200
        assert "soumise au comité" in page.text
        assert "Ajout d&#39;Anne." in page.text or "Ajout d'Anne." in page.text
        assert "Anne Lafont (14 caractères)" in page.text
        assert "Sophie Vidal (8 caractères)" in page.text
        assert "+Ajout d" in page.text  # the unified diff
        restored = await post_form(http, f"/brouillons/{draft_id}/versions/1/restauration", {})
        assert restored.status_code == 303, restored.text
        async with server.state.db.read() as session:
            doc, _ = await actions.load_doc(session, draft_id)
        assert actions.crdt.markdown_of(doc) == "Premier paragraphe.\n", restored.headers
        await anne.wait_text("Premier paragraphe.\n")
        await sophie.wait_text("Premier paragraphe.\n")
        await anne.close()
        await sophie.close()
    async with await client_for(server, world, "observer") as reader:
        refused = await post_form(reader, f"/brouillons/{draft_id}/versions", {"label": "x"})
        assert refused.status_code == 403


async def test_lock_freezes_the_draft_for_everyone(server: LiveServer, world: World) -> None:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport", author_id=None, initial_text="Fini."
        )
        draft_id = draft.id
    async with await client_for(server, world, "copilote") as http:
        assert (
            await post_form(http, f"/brouillons/{draft_id}/verrou", {"locked": "1"})
        ).status_code == 303
        anne = await YClient.connect(
            f"{server.ws_url}/drafts/{draft_id}", world.cookies["rapporteur"]
        )
        await anne.wait_text("Fini.")
        anne.text.insert(0, "Encore ")
        assert await anne.wait_closed() == 4003
        restored = await post_form(http, f"/brouillons/{draft_id}/versions", {"label": "v"})
        assert restored.status_code == 303  # naming a version of a frozen draft is fine
        await post_form(http, f"/brouillons/{draft_id}/verrou", {"locked": "0"})
    async with server.state.db.read() as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        assert draft.locked_at is None


async def test_exports(server: LiveServer, world: World) -> None:
    text = "# Rapport\n\nLes **bourgs-centres** d'Occitanie.\n\n- logement\n- commerces\n"
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Rapport final", author_id=world.id("rapporteur"),
            initial_text=text,
        )  # fmt: skip
        draft_id = draft.id
    async with await client_for(server, world, "marie") as http:
        md = await http.get(f"/brouillons/{draft_id}/export.md")
        assert md.text == text
        assert "attachment" in md.headers["content-disposition"]
        page = await http.get(f"/brouillons/{draft_id}/export.html")
        assert "<strong>bourgs-centres</strong>" in page.text
        assert "<h1>Rapport</h1>" in page.text  # a document of its own: "#" is its h1
        assert "Assemblée des Territoires" in page.text
        assert "Chantier 1.1" in page.text
        assert "Anne Lafont" in page.text
        pdf = await http.get(f"/brouillons/{draft_id}/export.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(pdf.content))
        all_text = " ".join(p.extract_text() for p in reader.pages)
        assert "Rapport final" in all_text
        assert "Anne Lafont" in all_text
        assert "bourgs-centres" in all_text
        assert len(reader.pages) >= 2  # a title page, then the text
        assert (await http.get(f"/brouillons/{draft_id}/export.exe")).status_code == 404


async def test_automatic_versions_while_edited(server: LiveServer, world: World) -> None:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Notes", author_id=None, initial_text="a"
        )
        first = await actions.maybe_auto_version(session, draft.id)
        assert first is not None
        assert first.automatic
        assert await actions.maybe_auto_version(session, draft.id) is None  # nothing new
        await actions.store_update(
            session, draft, actions.crdt.edit_to(actions.crdt.load([first.state]), "ab"),
            author_id=None,
        )  # fmt: skip
        assert await actions.maybe_auto_version(session, draft.id) is None  # too soon
        later = await actions.maybe_auto_version(session, draft.id, every=dt.timedelta(0))
        assert later is not None
        numbers = list(await session.scalars(select(DraftVersion.number)))
    assert numbers == [1, 2]


async def test_a_draft_opened_to_members_lets_them_edit(server: LiveServer, world: World) -> None:
    async with server.state.db.transaction() as session:
        draft = await actions.do_create_draft(
            session, space="chantier:1", title="Notes", author_id=None, initial_text="Début"
        )
        draft_id = draft.id
    marie = await YClient.connect(f"{server.ws_url}/drafts/{draft_id}", world.cookies["marie"])
    await marie.wait_text("Début")
    async with await client_for(server, world, "rapporteur") as http:
        opened = await post_form(http, f"/brouillons/{draft_id}/ouverture", {"open": "1"})
        assert opened.status_code == 303
    async with await client_for(server, world, "marie") as http:
        refused = await post_form(http, f"/brouillons/{draft_id}/ouverture", {"open": "0"})
        assert refused.status_code == 403  # members do not decide who edits
    await marie.close()
    marie = await YClient.connect(f"{server.ws_url}/drafts/{draft_id}", world.cookies["marie"])
    await marie.wait_text("Début")
    marie.text.insert(len(marie.text), " — ajout de Marie")
    anne = await YClient.connect(f"{server.ws_url}/drafts/{draft_id}", world.cookies["rapporteur"])
    await anne.wait_text("Début — ajout de Marie")
    await marie.close()
    await anne.close()
