"""Member administration for admins and the comité d'animation.

Invite people with their roles, assign and withdraw roles with mandate dates (the
binôme's parity is checked; an admin may override it with a recorded reason), see the
parity of every binôme and of the comité, deactivate accounts, read the audit log.
Every action is checked against the permission matrix (``auth.roles``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth import audit
from auth.base import as_id
from auth.errors import AuthError, InvalidAccountInput
from auth.models import Invitation, User
from auth.roles import ROLE_LABELS, Permission, Role
from rooms.access import check_assembly
from rooms.actions.members import (
    CIVILITIES,
    Grant,
    do_assign_role,
    do_deactivate,
    do_invite,
    do_remove_role,
    parity_report,
    pending,
)
from rooms.errors import NotAllowed
from rooms.models import Chantier, Group, Membership, Room
from server import errors
from server.csrf import CsrfFailed
from server.mailer import Mail
from server.templates import request_locale
from server.views.account import public_url
from server.views.common import app_state, checked_form, csrf_refused, current_user, render


def _message(request: Request, exc: Exception) -> str:
    return errors.describe(exc, request_locale(request))[1]


async def _spaces(session: AsyncSession) -> list[tuple[str, str]]:
    """Every space a role can be held in, labelled for a select list."""
    out = [("assembly", "Assemblée des Territoires")]
    groups = {g.id: g for g in await session.scalars(select(Group).order_by(Group.number))}
    for group in groups.values():
        out.append((f"group:{group.id}", f"Groupe {group.number} — {group.title}"))
    for chantier in await session.scalars(
        select(Chantier).order_by(Chantier.group_id, Chantier.number)
    ):
        number = f"{groups[chantier.group_id].number}.{chantier.number}"
        out.append((f"chantier:{chantier.id}", f"Chantier {number} — {chantier.title}"))
    return out


async def _allowed(request: Request, permission: Permission) -> User | Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)
    try:
        async with app_state(request).db.read() as session:
            await check_assembly(session, user.id, permission)
    except NotAllowed:
        return render(
            request,
            "error.html",
            status_code=403,
            message=_message(request, NotAllowed(permission=permission.value)),
        )
    return user


async def _members_context(request: Request, user: User) -> dict[str, Any]:
    async with app_state(request).db.read() as session:
        members = list(await session.scalars(select(User).order_by(User.display_name)))
        memberships = list(await session.scalars(select(Membership).order_by(Membership.id)))
        spaces = await _spaces(session)
        invitations = [
            i
            for i in await session.scalars(select(Invitation).order_by(Invitation.id.desc()))
            if pending(i)
        ]
        parity = await parity_report(session)
        can_override = True
        try:
            await check_assembly(session, user.id, Permission.OVERRIDE_PARITY)
        except NotAllowed:
            can_override = False
        rooms = {r.id: r.name for r in await session.scalars(select(Room))}
    labels = dict(spaces) | {f"room:{rid}": f"Salon — {name}" for rid, name in rooms.items()}
    roles_of: dict[int, list[dict[str, Any]]] = {}
    for m in memberships:
        roles_of.setdefault(m.user_id, []).append(
            {
                "space": m.space,
                "space_label": labels.get(m.space, m.space),
                "role": m.role,
                "role_label": ROLE_LABELS[Role(m.role)],
                "starts_on": m.starts_on,
                "ends_on": m.ends_on,
                "override": m.parity_override,
            }
        )
    return {
        "members": [m for m in members if m.anonymised_at is None],
        "roles_of": roles_of,
        "spaces": spaces,
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "civilities": CIVILITIES,
        "invitations": invitations,
        "parity": parity,
        "can_override": can_override,
        "notice": request.query_params.get("ok"),
    }


async def members(request: Request) -> Response:
    user = await _allowed(request, Permission.ASSIGN_ROLE)
    if isinstance(user, Response):
        return user
    return render(request, "admin_members.html", **await _members_context(request, user))


def _date(value: Any, field: str) -> dt.date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidAccountInput(field=field, reason="date") from None


def _grant(form: Any) -> Grant:
    try:
        role = Role(str(form.get("role", "")))
    except ValueError:
        raise InvalidAccountInput(field="role", reason="unknown") from None
    return Grant(
        space=str(form.get("space", "")),
        role=role,
        starts_on=_date(form.get("starts_on"), "starts_on"),
        ends_on=_date(form.get("ends_on"), "ends_on"),
    )


async def _failed(request: Request, user: User, exc: Exception) -> Response:
    context = await _members_context(request, user)
    return render(
        request, "admin_members.html", status_code=422, error=_message(request, exc), **context
    )


async def invite(request: Request) -> Response:
    user = await _allowed(request, Permission.INVITE_MEMBER)
    if isinstance(user, Response):
        return user
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    state = app_state(request)
    try:
        grants = [_grant(form)] if form.get("space") and form.get("role") else []
        async with state.db.transaction() as session:
            invitation, token = await do_invite(
                session,
                actor_id=user.id,
                email=str(form.get("email", "")),
                display_name=str(form.get("display_name", "")),
                civility=str(form.get("civility", "")) or None,
                territory=str(form.get("territory", "")),
                grants=grants,
            )
    except AuthError as exc:
        return await _failed(request, user, exc)
    link = f"{public_url(request)}/invitation/{token}"
    await state.mailer.send(
        Mail(
            to=invitation.email,
            subject="Invitation à rejoindre l'Assemblée des Territoires sur Atelier",
            text=(
                f"Bonjour {invitation.display_name},\n\n"
                f"{user.display_name} vous invite à rejoindre Atelier, l'espace de travail "
                "en ligne de l'Assemblée des Territoires de la Région Occitanie.\n\n"
                f"Pour créer votre accès, ouvrez ce lien (valable 14 jours) :\n{link}\n\n"
                "Si vous ne vous attendiez pas à ce message, vous pouvez l'ignorer.\n"
            ),
        )
    )
    return RedirectResponse("/admin/membres?ok=invitation", status_code=303)


async def assign_role(request: Request) -> Response:
    user = await _allowed(request, Permission.ASSIGN_ROLE)
    if isinstance(user, Response):
        return user
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    override = str(form.get("parity_override", "")).strip() or None
    try:
        grant = _grant(form)
        async with app_state(request).db.transaction() as session:
            if override:
                await check_assembly(session, user.id, Permission.OVERRIDE_PARITY)
            member_id = as_id(str(form.get("user_id", "")))
            member = await session.get(User, member_id) if member_id is not None else None
            if member is None:
                raise InvalidAccountInput(field="user_id", reason="unknown")
            await do_assign_role(
                session, actor_id=user.id, user=member, grant=grant, parity_override=override
            )
    except (AuthError, NotAllowed, ValueError) as exc:
        return await _failed(request, user, exc)
    return RedirectResponse("/admin/membres?ok=role", status_code=303)


async def remove_role(request: Request) -> Response:
    user = await _allowed(request, Permission.ASSIGN_ROLE)
    if isinstance(user, Response):
        return user
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    try:
        role = Role(str(form.get("role", "")))
        member_id = as_id(str(form.get("user_id", "")))
        if member_id is None:
            raise ValueError("user_id")
        async with app_state(request).db.transaction() as session:
            await do_remove_role(
                session,
                actor_id=user.id,
                user_id=member_id,
                space=str(form.get("space", "")),
                role=role,
            )
    except ValueError as exc:
        return await _failed(request, user, InvalidAccountInput(field="role", reason=str(exc)[:40]))
    return RedirectResponse("/admin/membres?ok=retrait", status_code=303)


async def deactivate(request: Request) -> Response:
    user = await _allowed(request, Permission.DEACTIVATE_MEMBER)
    if isinstance(user, Response):
        return user
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    async with app_state(request).db.transaction() as session:
        member = await session.get(User, request.path_params["user_id"])
        if member is not None and member.id != user.id:
            await do_deactivate(session, actor_id=user.id, user=member)
    return RedirectResponse("/admin/membres?ok=desactivation", status_code=303)


async def audit_log(request: Request) -> Response:
    user = await _allowed(request, Permission.READ_AUDIT)
    if isinstance(user, Response):
        return user
    async with app_state(request).db.read() as session:
        events = await audit.recent(session, limit=300)
        names = {u.id: u.display_name for u in await session.scalars(select(User))}
    return render(request, "admin_audit.html", events=events, names=names)
