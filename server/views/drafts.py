"""Draft pages: the editor, the list of a space's drafts, versions and diffs, exports.

The live editing itself is the Yjs WebSocket (``server.drafts``); these views create,
lock, version, compare, restore and export, each checked against the permission matrix
(``rooms.access.access_draft``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from auth.base import as_id, has_nul, in_int_range, is_int, without_nul
from auth.models import User
from auth.roles import Permission, allows
from documents import actions, comments, crdt
from documents.attribution import attribute
from documents.diff import side_by_side, unified
from documents.errors import DocumentsError
from documents.export import TitlePage, to_html, to_pdf
from documents.models import Draft, DraftUpdate
from documents.rendering import render_markdown
from rooms.access import access_draft, held_in_space, space_chain
from rooms.actions.messages import mentionable
from rooms.errors import NotAllowed, RoomsError
from rooms.models import Chantier, Group, Membership, Saisine
from rooms.shapes import iso
from server import errors
from server.csrf import CsrfFailed, check_csrf, csrf_token
from server.templates import request_locale
from server.views.common import (
    app_state,
    checked_form,
    csrf_refused,
    current_user,
    error_response,
    render,
)

T = TypeVar("T")

# Dark enough for text on white (contrast ≥ 4.5:1), different enough to tell apart.
COLORS = [
    "#000091", "#8a3b12", "#18753c", "#6a2e8c", "#b34000", "#00666b", "#a60e60",
    "#3558a2", "#716043", "#c3135f", "#2f6f4f", "#5e2a84",
]  # fmt: skip


def color_of(user_id: int) -> str:
    return COLORS[user_id % len(COLORS)]


async def space_labels(session: AsyncSession, space: str) -> tuple[str, str, str]:
    """``(full label, group label, chantier label)`` of a group or chantier space."""
    kind, _, raw = space.partition(":")
    group = chantier = None
    space_id = as_id(raw)
    if kind == "chantier" and space_id is not None:
        chantier = await session.get(Chantier, space_id)
        group = await session.get(Group, chantier.group_id) if chantier else None
    elif kind == "group" and space_id is not None:
        group = await session.get(Group, space_id)
    group_label = f"Groupe {group.number} — {group.title}" if group else ""
    chantier_label = (
        f"Chantier {group.number}.{chantier.number} — {chantier.title}"
        if chantier and group
        else ""
    )
    return chantier_label or group_label, group_label, chantier_label


def _message(request: Request, exc: Exception) -> str:
    return errors.describe(exc, request_locale(request))[1]


async def _access(
    request: Request, permission: Permission = Permission.READ_DRAFT
) -> tuple[User, Any] | Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    try:
        async with app_state(request).db.read() as session:
            access = await access_draft(
                session, user.id, request.path_params["draft_id"], permission
            )
    except (RoomsError, DocumentsError) as exc:
        status = 403 if exc.code == "forbidden" else 404
        return render(request, "error.html", status_code=status, message=_message(request, exc))
    return user, access


async def editor(request: Request) -> Response:
    found = await _access(request)
    if isinstance(found, Response):
        return found
    user, access = found
    draft = access.draft
    async with app_state(request).db.read() as session:
        label, _, _ = await space_labels(session, draft.space)
    draft.space_label = label
    boot = {
        "draft": {"id": draft.id, "title": draft.title, "locked": draft.locked_at is not None},
        "me": {"id": user.id, "name": user.display_name, "color": color_of(user.id)},
        "can_edit": access.can_edit,
        "ws_url": "/ws/drafts",
        "room": str(draft.id),
        "limits": {"update_bytes": actions.MAX_UPDATE_BYTES},
        "can_comment": access.allows(Permission.COMMENT_DRAFT),
        "csrf": csrf_token(request),
    }
    return render(
        request,
        "draft.html",
        draft=draft,
        can_edit=access.can_edit,
        can_lock=access.allows(Permission.LOCK_DRAFT),
        boot_json=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
    )


async def preview(request: Request) -> Response:
    found = await _access(request)
    if isinstance(found, Response):
        return JSONResponse({"error": {"code": "draft_not_found"}}, status_code=404)
    _, access = found
    async with app_state(request).db.read() as session:
        doc, _ = await actions.load_doc(session, access.draft.id)
    return JSONResponse({"html": render_markdown(crdt.markdown_of(doc)).html})


async def space_drafts(request: Request) -> Response:
    """``/brouillons?espace=chantier:6`` — a space's drafts, and a form to start one."""
    user = await current_user(request)
    if user is None:
        return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    space = request.query_params.get("espace", "")
    async with app_state(request).db.read() as session:
        held = await held_in_space(session, user.id, space) if space else frozenset()
        if not space or not allows(held, Permission.READ_DRAFT):
            return render(request, "not_found.html", status_code=404)
        label, _, _ = await space_labels(session, space)
        drafts = list(
            await session.scalars(
                select(Draft).where(Draft.space == space).order_by(Draft.updated_at.desc())
            )
        )
        saisines = list(await session.scalars(select(Saisine).order_by(Saisine.number)))
    return render(
        request,
        "drafts.html",
        space=space,
        space_label=label,
        drafts=drafts,
        saisines=saisines,
        can_create=allows(held, Permission.CREATE_DRAFT),
    )


async def create(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/connexion", status_code=303)
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    space = str(form.get("space", ""))
    try:
        async with app_state(request).db.transaction() as session:
            held = await held_in_space(session, user.id, space)
            if not space.startswith(("group:", "chantier:")) or not allows(
                held, Permission.CREATE_DRAFT
            ):
                return render(request, "not_found.html", status_code=404)
            initial = ""
            saisine_id = None
            raw_saisine = as_id(str(form.get("saisine_id", "")))
            if raw_saisine is not None:
                saisine = await session.get(Saisine, raw_saisine)
                if saisine is not None:
                    saisine_id = saisine.id
                    initial = actions.template_from_questions(
                        str(form.get("title", "")) or saisine.title,
                        [str(q) for q in saisine.questions or []],
                    )
            draft = await actions.do_create_draft(
                session,
                space=space,
                title=str(form.get("title", "")),
                author_id=user.id,
                kind=str(form.get("kind", "report")),
                initial_text=initial,
                saisine_id=saisine_id,
            )
    except DocumentsError as exc:
        return render(request, "error.html", status_code=422, message=_message(request, exc))
    return RedirectResponse(f"/brouillons/{draft.id}", status_code=303)


async def set_lock(request: Request) -> Response:
    found = await _access(request, Permission.LOCK_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    async with app_state(request).db.transaction() as session:
        draft = await actions.get_draft(session, access.draft.id)
        await actions.do_set_lock(session, draft, locked=form.get("locked") == "1", user_id=user.id)
    return RedirectResponse(f"/brouillons/{access.draft.id}", status_code=303)


async def set_members_can_edit(request: Request) -> Response:
    """Open the draft's editing to the space's members, or close it again."""
    found = await _access(request, Permission.LOCK_DRAFT)
    if isinstance(found, Response):
        return found
    _, access = found
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    async with app_state(request).db.transaction() as session:
        draft = await actions.get_draft(session, access.draft.id)
        await actions.do_set_members_can_edit(session, draft, form.get("open") == "1")
    return RedirectResponse(f"/brouillons/{access.draft.id}", status_code=303)


async def versions(request: Request) -> Response:
    found = await _access(request)
    if isinstance(found, Response):
        return found
    _, access = found
    draft_id = access.draft.id
    async with app_state(request).db.read() as session:
        listed = await actions.list_versions(session, draft_id)
        names = {u.id: u.display_name for u in await session.scalars(select(User))}
        comparison = await _comparison(request, session, draft_id, listed, names)
    return render(
        request,
        "versions.html",
        draft=access.draft,
        versions=listed,
        names=names,
        can_edit=access.can_edit,
        comparison=comparison,
    )


async def _comparison(
    request: Request,
    session: AsyncSession,
    draft_id: int,
    listed: list[Any],
    names: dict[int, str],
) -> dict[str, Any] | None:
    """The diff asked for by ``?a=<n>&b=<n|courant>``, and who wrote what since ``a``."""
    a, b = as_id(request.query_params.get("a", "")), as_id(request.query_params.get("b", ""))
    if a is None:
        return None
    old = await actions.get_version(session, draft_id, a)
    if b is not None:
        new = await actions.get_version(session, draft_id, b)
        new_text, new_label = new.text, f"v{new.number} — {new.label}"
    else:
        doc, _ = await actions.load_doc(session, draft_id)
        new_text, new_label = crdt.markdown_of(doc), "version en cours"
    old_label = f"v{old.number} — {old.label}"
    since = await session.execute(
        select(DraftUpdate.author_id, DraftUpdate.data)
        .where(DraftUpdate.draft_id == draft_id, DraftUpdate.id > old.upto_update_id)
        .order_by(DraftUpdate.id)
    )
    spans = attribute(old.state, [(a_id, bytes(d)) for a_id, d in since])
    written: dict[str, int] = {}
    for span in spans:
        if span.author_id is not None:
            name = names.get(span.author_id, "Ancien membre")
            written[name] = written.get(name, 0) + len(span.text)
    return {
        "old_label": old_label,
        "new_label": new_label,
        "rows": side_by_side(old.text, new_text),
        "unified": unified(old.text, new_text, old_label=old_label, new_label=new_label),
        "spans": spans,
        "written": sorted(written.items(), key=lambda kv: -kv[1]),
        "a": a,
        "b": b or "courant",
    }


async def name_version(request: Request) -> Response:
    found = await _access(request, Permission.EDIT_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    try:
        async with app_state(request).db.transaction() as session:
            draft = await actions.get_draft(session, access.draft.id)
            await actions.do_name_version(
                session, draft, label=str(form.get("label", "")), author_id=user.id
            )
    except DocumentsError as exc:
        return render(request, "error.html", status_code=422, message=_message(request, exc))
    return RedirectResponse(f"/brouillons/{access.draft.id}/versions", status_code=303)


async def restore(request: Request) -> Response:
    found = await _access(request, Permission.EDIT_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    try:
        async with app_state(request).db.transaction() as session:
            draft = await actions.get_draft(session, access.draft.id)
            version = await actions.get_version(session, draft.id, request.path_params["number"])
            await actions.do_restore(session, draft, version, author_id=user.id)
    except DocumentsError as exc:
        return render(request, "error.html", status_code=409, message=_message(request, exc))
    return RedirectResponse(f"/brouillons/{access.draft.id}", status_code=303)


async def export(request: Request) -> Response:
    found = await _access(request)
    if isinstance(found, Response):
        return found
    _, access = found
    draft = access.draft
    fmt = request.path_params["fmt"]
    if fmt not in ("md", "html", "pdf"):
        return render(request, "not_found.html", status_code=404)
    async with app_state(request).db.read() as session:
        number = as_id(request.query_params.get("version", ""))
        if number is not None:
            version = await actions.get_version(session, draft.id, number)
            text, version_label = version.text, f"v{version.number} — {version.label}"
            moment = version.created_at
        else:
            doc, _ = await actions.load_doc(session, draft.id)
            text, version_label, moment = (
                crdt.markdown_of(doc),
                "version en cours",
                draft.updated_at,
            )
        _, group, chantier = await space_labels(session, draft.space)
        author_ids = set(
            await session.scalars(
                select(DraftUpdate.author_id).where(DraftUpdate.draft_id == draft.id)
            )
        )
        authors = sorted(
            u.display_name
            for u in await session.scalars(select(User).where(User.id.in_(author_ids)))
            if u.anonymised_at is None
        )
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    page = TitlePage(
        title=draft.title,
        group=group,
        chantier=chantier,
        version=version_label,
        date=moment.strftime("%d/%m/%Y"),
        authors=authors,
    )
    filename = f"brouillon-{draft.id}"
    if fmt == "md":
        return Response(
            text,
            media_type="text/markdown; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}.md"'},
        )
    if fmt == "html":
        return Response(
            to_html(text, page),
            media_type="text/html; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}.html"'},
        )
    pdf = await asyncio.to_thread(to_pdf, text, page)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}.pdf"'},
    )


# -- comments and suggestions (JSON, for the editor's comments panel) --------------------
def _shape(comment: Any, names: dict[int, str], doc: Any) -> dict[str, Any]:
    span = comments.resolve(doc, comment.anchor_start, comment.anchor_end)
    return {
        "id": comment.id,
        "parent_id": comment.parent_id,
        "author": {"id": comment.author_id, "name": names.get(comment.author_id, "Ancien membre")},
        "quote": comment.quote,
        "source": comment.source,
        "html": comment.html,
        "replacement": comment.replacement,
        "state": comment.state,
        "range": list(span) if span else None,
        # The browser resolves these itself (Yjs), exactly, in its own copy of the text.
        "anchor": (
            {
                "start": base64.b64encode(comment.anchor_start).decode(),
                "end": base64.b64encode(comment.anchor_end).decode(),
            }
            if comment.anchor_start is not None and comment.anchor_end is not None
            else None
        ),
        "created_at": iso(comment.created_at),
    }


async def _json_access(request: Request, permission: Permission) -> tuple[User, Any] | JSONResponse:
    user = await current_user(request)
    if user is None:
        return JSONResponse({"error": {"code": "not_authenticated"}}, status_code=401)
    try:
        async with app_state(request).db.read() as session:
            access = await access_draft(
                session, user.id, request.path_params["draft_id"], permission
            )
    except (RoomsError, DocumentsError) as exc:
        return error_response(request, exc)
    if request.method == "POST":
        try:
            check_csrf(request, None)
        except CsrfFailed as exc:
            return error_response(request, exc)
    return user, access


async def list_comments(request: Request) -> Response:
    found = await _json_access(request, Permission.READ_DRAFT)
    if isinstance(found, Response):
        return found
    _, access = found
    async with app_state(request).db.read() as session:
        doc, _ = await actions.load_doc(session, access.draft.id)
        listed = await comments.list_comments(session, access.draft.id)
        ids = {c.author_id for c in listed}
        names = {
            u.id: u.display_name
            for u in await session.scalars(select(User).where(User.id.in_(ids)))
        }
    return JSONResponse({"comments": [_shape(c, names, doc) for c in listed]})


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise errors.BadRequest(field="body") from None
    if not isinstance(data, dict):
        raise errors.BadRequest(field="body")
    return without_nul(data) if has_nul(data) else data


def _optional(data: dict[str, Any], name: str, kind: type[T]) -> T | None:
    """``data[name]`` when it is of ``kind``, ``None`` when absent or null; anything else
    is a ``400`` naming the field (a list as a comment's text, ``true`` as an id)."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and not is_int(value)):
        raise errors.BadRequest(field=name)
    return value


async def add_comment(request: Request) -> Response:
    found = await _json_access(request, Permission.COMMENT_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        data = await _body(request)
        async with app_state(request).db.transaction() as session:
            draft = await actions.get_draft(session, access.draft.id)
            doc, _ = await actions.load_doc(session, draft.id)
            anchor = None
            if isinstance(data.get("anchor"), dict):
                anchor = comments.anchor_from_client(
                    doc, str(data["anchor"].get("start", "")), str(data["anchor"].get("end", ""))
                )
            elif isinstance(data.get("range"), list) and len(data["range"]) == 2:
                start, end = data["range"]
                if not is_int(start) or not is_int(end):
                    raise errors.BadRequest(field="range")
                anchor = comments.anchor_range(doc, start, end)
            body = _optional(data, "body", str) or ""
            parent = _optional(data, "parent_id", int)
            if parent is not None and not in_int_range(parent):
                raise errors.BadRequest(field="parent_id", reason="range")
            comment = await comments.do_comment(
                session,
                draft,
                doc,
                author_id=user.id,
                body=body,
                anchor=anchor,
                parent_id=parent,
                replacement=_optional(data, "replacement", str),
                mentions=await mentionable(session, body),
                writers=await _writers(session, draft.space),
                link=f"/brouillons/{draft.id}#commentaire-",
            )
            names = {user.id: user.display_name}
            shaped = _shape(comment, names, doc)
    except (DocumentsError, errors.BadRequest) as exc:
        return error_response(request, exc)
    return JSONResponse(shaped, status_code=201)


async def _writers(session: AsyncSession, space: str) -> list[int]:
    """The draft's rapporteurs, co-rapporteurs and copilots (told of new comments)."""
    chain = await space_chain(session, space)
    rows = await session.scalars(
        select(Membership.user_id).where(
            Membership.space.in_(chain[1:]),
            Membership.role.in_(["rapporteur", "co_rapporteur", "copilote"]),
        )
    )
    return sorted(set(rows))


async def resolve_comment(request: Request) -> Response:
    found = await _json_access(request, Permission.COMMENT_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        data = await _body(request)
        # ``"false"`` is truthy: only JSON's booleans say what to do.
        resolved = _optional(data, "resolved", bool)
        async with app_state(request).db.transaction() as session:
            comment = await comments.get_comment(
                session, access.draft.id, request.path_params["comment_id"]
            )
            if comment.author_id != user.id and not access.allows(Permission.EDIT_DRAFT):
                raise NotAllowed(permission=Permission.EDIT_DRAFT.value)
            await comments.do_resolve(
                session, comment, user_id=user.id, resolved=True if resolved is None else resolved
            )
    except (DocumentsError, RoomsError, errors.BadRequest) as exc:
        return error_response(request, exc)
    return JSONResponse({"id": comment.id, "state": comment.state})


async def decide_suggestion(request: Request) -> Response:
    found = await _json_access(request, Permission.EDIT_DRAFT)
    if isinstance(found, Response):
        return found
    user, access = found
    try:
        data = await _body(request)
        accept = _optional(data, "accept", bool)
        if accept is None:  # a request that says nothing must not reject a suggestion
            raise errors.BadRequest(field="accept")
        async with app_state(request).db.transaction() as session:
            draft = await actions.get_draft(session, access.draft.id)
            doc, _ = await actions.load_doc(session, draft.id)
            comment = await comments.get_comment(
                session, draft.id, request.path_params["comment_id"]
            )
            await comments.do_decide_suggestion(
                session, draft, doc, comment, user_id=user.id, accept=accept
            )
    except (DocumentsError, errors.BadRequest) as exc:
        return error_response(request, exc)
    return JSONResponse({"id": comment.id, "state": comment.state})
