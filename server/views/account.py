"""Account pages: invitation acceptance, password reset, the member's own profile.

Every POST starts with the CSRF check; every state change runs in one transaction and
its audit record with it. Mails (reset links) go out after the commit.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth.accounts import (
    check_reset_token,
    do_change_password,
    do_request_password_reset,
    do_reset_password,
    export_account,
)
from auth.errors import AuthError, InvalidCredentials, InvalidToken, NotAuthenticated
from auth.models import User
from auth.passwords import MIN_PASSWORD_CHARS
from auth.sessions import list_sessions, open_session, revoke_all_sessions
from rooms.actions.members import (
    CIVILITIES,
    check_invitation,
    clean_name,
    do_accept_invitation,
    do_anonymise_member,
)
from rooms.queries import export_messages
from server import errors
from server.csrf import CsrfFailed
from server.i18n import LOCALES
from server.mailer import Mail
from server.state import session_token
from server.templates import request_locale
from server.views.common import app_state, checked_form, csrf_refused, current_user, render
from server.views.pages import client_ip, set_session_cookie


def public_url(request: Request) -> str:
    configured = app_state(request).settings.public_url
    return configured or str(request.base_url).rstrip("/")


def _message(request: Request, exc: Exception) -> str:
    return errors.describe(exc, request_locale(request))[1]


async def _member(session: AsyncSession, user: User) -> User:
    """The signed-in member's row in this transaction (it may have gone meanwhile)."""
    member = await session.get(User, user.id)
    if member is None:
        raise NotAuthenticated()
    return member


def _login(request: Request) -> Response:
    return RedirectResponse(f"/connexion?next={request.url.path}", status_code=303)


# -- invitation ----------------------------------------------------------------------
async def invitation(request: Request) -> Response:
    token = request.path_params["token"]
    state = app_state(request)
    try:
        async with state.db.read() as session:
            invited = await check_invitation(session, token)
    except InvalidToken as exc:
        return render(request, "error.html", status_code=410, message=_message(request, exc))
    context: dict[str, Any] = {
        "invitation": invited,
        "min_chars": MIN_PASSWORD_CHARS,
        "oidc_enabled": state.settings.oidc_enabled,
        "oidc_name": state.settings.oidc_display_name,
    }
    if request.method == "GET":
        return render(request, "invitation.html", **context)
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    password = str(form.get("password", ""))[:1024]
    if password != str(form.get("password_confirm", ""))[:1024]:
        return render(request, "invitation.html", status_code=422, mismatch=True, **context)
    try:
        async with state.db.transaction() as session:
            user = await do_accept_invitation(session, token, password)
            session_token_value = await open_session(
                session, user, user_agent=request.headers.get("user-agent"), ip=client_ip(request)
            )
    except AuthError as exc:
        return render(
            request, "invitation.html", status_code=422, error=_message(request, exc), **context
        )
    response = RedirectResponse("/?bienvenue=1", status_code=303)
    set_session_cookie(request, response, session_token_value)
    return response


# -- password reset ------------------------------------------------------------------
async def reset_request(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "reset_request.html")
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    email = str(form.get("email", ""))[:254]
    state = app_state(request)
    async with state.db.transaction() as session:
        found = await do_request_password_reset(session, email, ip=client_ip(request))
    if found is not None:
        user, token = found
        locale = user.locale if user.locale in LOCALES else "fr"
        link = f"{public_url(request)}/mot-de-passe/nouveau/{token}"
        await state.mailer.send(
            Mail(
                to=user.email,
                subject=_t(locale, "mail.reset.subject"),
                text=_t(locale, "mail.reset.body", name=user.display_name, link=link),
            )
        )
    # The same answer whether or not the address is known.
    return render(request, "reset_request.html", sent=True)


def _t(locale: str, key: str, **values: object) -> str:
    from server.i18n import translate

    return translate(locale, key, **values)


async def reset_password(request: Request) -> Response:
    token = request.path_params["token"]
    state = app_state(request)
    try:
        async with state.db.read() as session:
            await check_reset_token(session, token)
    except InvalidToken as exc:
        return render(request, "error.html", status_code=410, message=_message(request, exc))
    context = {"min_chars": MIN_PASSWORD_CHARS}
    if request.method == "GET":
        return render(request, "reset.html", **context)
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    password = str(form.get("password", ""))[:1024]
    if password != str(form.get("password_confirm", ""))[:1024]:
        return render(request, "reset.html", status_code=422, mismatch=True, **context)
    try:
        async with state.db.transaction() as session:
            user = await do_reset_password(session, token, password, ip=client_ip(request))
            fresh = await open_session(
                session, user, user_agent=request.headers.get("user-agent"), ip=client_ip(request)
            )
    except AuthError as exc:
        return render(
            request, "reset.html", status_code=422, error=_message(request, exc), **context
        )
    response = RedirectResponse("/profil?mot-de-passe=1", status_code=303)
    set_session_cookie(request, response, fresh)
    return response


# -- profile -------------------------------------------------------------------------
async def _profile_context(request: Request, user: User) -> dict[str, Any]:
    async with app_state(request).db.read() as session:
        sessions = await list_sessions(session, user.id)
    return {
        "sessions": sessions,
        "civilities": CIVILITIES,
        "min_chars": MIN_PASSWORD_CHARS,
        "saved": request.query_params.get("enregistre") == "1",
        "password_changed": request.query_params.get("mot-de-passe") == "1",
        "signed_out_others": request.query_params.get("sessions") == "1",
    }


async def profile(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _login(request)
    if request.method == "GET":
        return render(request, "profile.html", **await _profile_context(request, user))
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    civility = str(form.get("civility", ""))
    locale = str(form.get("locale", "fr"))
    try:
        name = clean_name(str(form.get("display_name", ""))[:200])
    except AuthError as exc:
        context = await _profile_context(request, user)
        return render(
            request, "profile.html", status_code=422, error=_message(request, exc), **context
        )
    async with app_state(request).db.transaction() as session:
        member = await _member(session, user)
        member.display_name = name
        member.civility = civility if civility in CIVILITIES else None
        member.territory = str(form.get("territory", "")).strip()[:200] or None
        member.locale = locale if locale in LOCALES else "fr"
        member.notify_mentions = form.get("notify_mentions") == "on"
        member.notify_digest = form.get("notify_digest") == "on"
    return RedirectResponse("/profil?enregistre=1", status_code=303)


async def change_password(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _login(request)
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    new = str(form.get("new_password", ""))[:1024]
    if new != str(form.get("new_password_confirm", ""))[:1024]:
        context = await _profile_context(request, user)
        return render(request, "profile.html", status_code=422, mismatch=True, **context)
    try:
        async with app_state(request).db.transaction() as session:
            member = await _member(session, user)
            await do_change_password(
                session,
                member,
                str(form.get("current_password", ""))[:1024],
                new,
                keep_token=session_token(request.cookies),
                ip=client_ip(request),
            )
    except (AuthError, InvalidCredentials) as exc:
        context = await _profile_context(request, user)
        return render(
            request,
            "profile.html",
            status_code=422,
            password_error=_message(request, exc),
            **context,
        )
    return RedirectResponse("/profil?mot-de-passe=1", status_code=303)


async def end_other_sessions(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _login(request)
    try:
        await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    async with app_state(request).db.transaction() as session:
        await revoke_all_sessions(session, user.id, keep_token=session_token(request.cookies))
    return RedirectResponse("/profil?sessions=1", status_code=303)


async def export(request: Request) -> Response:
    """The member's data as JSON: account, sessions, audit entries, their messages."""
    user = await current_user(request)
    if user is None:
        return _login(request)
    async with app_state(request).db.read() as session:
        member = await _member(session, user)
        data = await export_account(session, member)
        data["messages"] = await export_messages(session, member.id)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="atelier-mes-donnees.json"'},
    )


async def delete_account(request: Request) -> Response:
    """Anonymise one's own account after typing one's address to confirm."""
    user = await current_user(request)
    if user is None:
        return _login(request)
    try:
        form = await checked_form(request)
    except CsrfFailed:
        return csrf_refused(request)
    if str(form.get("confirm_email", "")).strip().lower() != user.email:
        context = await _profile_context(request, user)
        return render(request, "profile.html", status_code=422, delete_mismatch=True, **context)
    async with app_state(request).db.transaction() as session:
        member = await _member(session, user)
        await do_anonymise_member(session, actor_id=user.id, user=member)
    return RedirectResponse("/connexion?compte-supprime=1", status_code=303)
