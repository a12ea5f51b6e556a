"""HTML pages: home (the assembly), a room, sign-in, accessibility statement."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth.actions import check_password_login, do_record_login_failure
from auth.errors import InvalidCredentials, TooManyAttempts
from auth.roles import Permission
from auth.sessions import SESSION_LIFETIME, open_session, revoke_session
from rooms.access import access_room, check_assembly, readable_room_ids, voting_member_ids
from rooms.errors import RoomsError
from rooms.limits import DEFAULT_TOPIC, MAX_MESSAGE_SOURCE_BYTES, MAX_TOPIC_CHARS
from rooms.models import Chantier, Group, Room, Saisine
from rooms.moderation import FLAG_REASONS, names_of, room_state
from rooms.queries import list_messages, list_topics, unread_counts
from server.csrf import CsrfFailed
from server.i18n import LOCALES, translate
from server.state import SECURE_SESSION_COOKIE, SESSION_COOKIE, session_token
from server.templates import request_locale
from server.views.common import app_state, checked_form, csrf_refused, current_user, render


def _safe_next(target: str | None) -> str:
    """Only same-site paths, never ``//host`` or a scheme (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _login_redirect(request: Request) -> Response:
    return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)


async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _login_redirect(request)
    async with app_state(request).db.read() as session:
        groups = list((await session.scalars(select(Group).order_by(Group.number))).all())
        chantiers = list(
            await session.scalars(select(Chantier).order_by(Chantier.group_id, Chantier.number))
        )
        rooms = list((await session.scalars(select(Room).order_by(Room.id))).all())
        saisines = list((await session.scalars(select(Saisine).order_by(Saisine.number))).all())
        readable = await readable_room_ids(session, user.id)
        counts = await unread_counts(session, user.id, sorted(readable))
        try:
            await check_assembly(session, user.id, Permission.ASSIGN_ROLE)
            can_admin = True
        except RoomsError:
            can_admin = False
    room_of_group = {r.group_id: r for r in rooms if r.chantier_id is None and r.group_id}
    room_of_chantier = {r.chantier_id: r for r in rooms if r.chantier_id}
    chantier_titles = {c.id: c.title for c in chantiers}
    tree: list[dict[str, Any]] = [
        {
            "group": g,
            "room": room_of_group.get(g.id),
            "chantiers": [
                {"chantier": c, "room": room_of_chantier.get(c.id)}
                for c in chantiers
                if c.group_id == g.id
            ],
        }
        for g in groups
    ]
    return render(
        request,
        "home.html",
        tree=tree,
        counts=counts,
        readable=readable,
        saisines=saisines,
        chantier_titles=chantier_titles,
        can_admin=can_admin,
    )


async def room_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _login_redirect(request)
    room_id = request.path_params["room_id"]
    state = app_state(request)
    try:
        async with state.db.read() as session:
            access = await access_room(session, user.id, room_id)
            room = access.room
            last_seq = room.last_seq
            messages = await list_messages(session, room_id, limit=50)
            topics = await list_topics(session, room_id)
            counts = (await unread_counts(session, user.id, [room_id]))[room_id]
            state = await room_state(session, access)
            group = await session.get(Group, room.group_id) if room.group_id else None
            chantier = await session.get(Chantier, room.chantier_id) if room.chantier_id else None
            # Who can carry a procuration here (the poll panel's "Donner procuration").
            voter_names = await names_of(session, set(await voting_member_ids(session, room)))
    except RoomsError:
        return render(request, "not_found.html", status_code=404)
    boot = {
        "room": {"id": room.id, "name": room.name},
        "me": {"id": user.id, "name": user.display_name},
        "roles": sorted(r.value for r in access.roles),
        "can_post": access.allows_post,
        "can_manage_topics": access.allows_manage_topics,
        "can_moderate": access.allows_moderate,
        # Assembly-wide (comité, administrators): the matrix only grants it there.
        "can_block": access.allows(Permission.BLOCK_MEMBER),
        "state": state,
        "flag_reasons": list(FLAG_REASONS),
        "last_seq": last_seq,
        "messages": messages,
        "topics": topics,
        "unread": counts,
        "default_topic": DEFAULT_TOPIC,
        "voters": [{"id": uid, "name": name} for uid, name in sorted(voter_names.items())],
        "limits": {"body_bytes": MAX_MESSAGE_SOURCE_BYTES, "topic_chars": MAX_TOPIC_CHARS},
    }
    return render(
        request,
        "room.html",
        room=room,
        group=group,
        chantier=chantier,
        boot_json=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
        can_post=access.allows_post,
        can_moderate=access.allows_moderate,
        state=state,
    )


async def login_form(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    email = str(form.get("email", ""))[:254]
    password = str(form.get("password", ""))[:1024]
    target = _safe_next(str(form.get("next", "/")))
    state = app_state(request)
    ip = client_ip(request)
    try:
        async with state.db.transaction() as session:
            user = await check_password_login(session, email, password, ip=ip)
            token = await open_session(
                session, user, user_agent=request.headers.get("user-agent"), ip=ip
            )
    except (InvalidCredentials, TooManyAttempts) as exc:
        throttled = isinstance(exc, TooManyAttempts)
        async with state.db.transaction() as session:
            await do_record_login_failure(session, email, ip, throttled=throttled)
        return render(
            request,
            "login.html",
            status_code=429 if throttled else 401,
            next=target,
            email=email,
            failed=True,
            error_message=translate(request_locale(request), f"error.{exc.code}", **exc.data),
        )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: ``__Host-`` prefixed and Secure over HTTPS, HttpOnly, Lax."""
    secure = request.url.scheme == "https"
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def logout(request: Request) -> Response:
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    token = session_token(request.cookies)
    if token:
        async with app_state(request).db.transaction() as session:
            await revoke_session(session, token)
    response = RedirectResponse("/connexion", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(SECURE_SESSION_COOKIE, path="/", secure=True)
    return response


async def accessibility(request: Request) -> Response:
    await current_user(request)
    return render(request, "accessibility.html")


async def set_language(request: Request) -> Response:
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    lang = str(form.get("lang", "fr"))
    response = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
    if lang in LOCALES:
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
