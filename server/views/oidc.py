"""Sign-in with the organisation's OpenID provider (ProConnect): the two HTTP routes.

``GET /connexion/oidc?next=/…`` sends the browser to the provider; the provider sends it
back to ``GET /connexion/oidc/retour``, where ``server.oidc`` verifies the answer,
``auth.oidc_link`` finds the member, and a session opens exactly as after a password
sign-in. Non-members get ``not_member.html`` (403) and every refusal is audited.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from auth.errors import NotAMember
from auth.oidc_link import (
    REASON_EMAIL_NOT_VERIFIED,
    REASON_INACTIVE,
    do_oidc_sign_in,
    do_record_oidc_refusal,
)
from auth.sessions import open_session
from rooms.actions.members import apply_invitation_grants
from server.oidc import ACCESS_DENIED, OidcClient, OidcFailure
from server.views.common import app_state, current_user, render
from server.views.pages import _safe_next, client_ip, set_session_cookie

log = logging.getLogger(__name__)


def callback_url(request: Request) -> str:
    """The redirect URI registered at the provider: ``PUBLIC_URL`` or this request's site."""
    base = app_state(request).settings.public_url or str(request.base_url).rstrip("/")
    return base + request.app.url_path_for("oidc_callback")


def _client(request: Request) -> OidcClient:
    client = app_state(request).oidc
    if client is None:
        raise HTTPException(status_code=404)
    return client


def _page(
    request: Request, client: OidcClient, problem: str, status_code: int, **context: object
) -> Response:
    response = render(
        request,
        "not_member.html",
        status_code=status_code,
        problem=problem,
        oidc_name=client.display_name,
        contact_email=app_state(request).settings.contact_email,
        **context,
    )
    client.clear_pending(response)
    return response


async def oidc_login(request: Request) -> Response:
    client = _client(request)
    target = _safe_next(request.query_params.get("next"))
    if await current_user(request) is not None:
        return RedirectResponse(target, status_code=303)
    redirect_uri = callback_url(request)
    try:
        return await client.start(request, redirect_uri, target)
    except OidcFailure as exc:
        return _page(request, client, "failed", exc.status_code)


async def oidc_callback(request: Request) -> Response:
    client = _client(request)
    state = app_state(request)
    ip = client_ip(request)
    try:
        claims = await client.finish(request)
    except OidcFailure as exc:
        log.info("OpenID Connect sign-in refused: %s", exc)
        if exc.reason == ACCESS_DENIED:  # the person cancelled at the provider
            target = _safe_next(client.pending_next(request))
            response: Response = RedirectResponse(
                "/connexion?" + urlencode({"next": target}), status_code=303
            )
            client.clear_pending(response)
            return response
        async with state.db.transaction() as session:
            await do_record_oidc_refusal(
                session, exc.reason, issuer=client.issuer, ip=ip, detail=exc.detail
            )
        return _page(request, client, "failed", exc.status_code)

    target = _safe_next(client.pending_next(request))
    try:
        for attempt in (1, 2):
            try:
                async with state.db.transaction() as session:
                    signed_in = await do_oidc_sign_in(
                        session, claims, ip=ip, on_invitation_accepted=apply_invitation_grants
                    )
                    token = await open_session(
                        session,
                        signed_in.user,
                        user_agent=request.headers.get("user-agent"),
                        ip=ip,
                    )
                break
            except IntegrityError:
                # Two first sign-ins of one identity at once (a double click): the other
                # one linked it; this attempt now finds the link.
                if attempt == 2:
                    raise
    except NotAMember as exc:
        reason = str(exc.data.get("reason", "not_a_member"))
        async with state.db.transaction() as session:
            await do_record_oidc_refusal(
                session,
                reason,
                issuer=claims.issuer,
                subject=claims.subject,
                email=claims.email,
                ip=ip,
            )
        problem = {REASON_EMAIL_NOT_VERIFIED: "not_verified", REASON_INACTIVE: "inactive"}
        return _page(request, client, problem.get(reason, "not_member"), 403, email=claims.email)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    client.clear_pending(response)
    return response
