"""Helpers shared by the HTTP views: who is signing in, rendering, JSON errors."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.base import has_nul, in_int_range, without_nul
from auth.errors import NotAuthenticated
from auth.models import User
from server import errors
from server.csrf import check_csrf, csrf_token, set_csrf_cookie
from server.i18n import translate
from server.state import AppState
from server.templates import js_catalogue, request_locale, templates


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.atelier
    return state


async def current_user(request: Request) -> User | None:
    if not hasattr(request.state, "user"):
        request.state.user = await app_state(request).authenticate(request.cookies)
    user: User | None = request.state.user
    return user


async def signed_in_id(request: Request) -> int:
    """The signed-in member's id for a JSON endpoint; ``not_authenticated`` (401) else."""
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated()
    return user.id


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    locale = request_locale(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "t": lambda key, **kw: translate(locale, key, **kw),
            "locale": locale,
            "user": getattr(request.state, "user", None),
            "js_strings": js_catalogue(locale),
            "csrf_token": csrf_token(request),
            "show_demo_hint": app_state(request).settings.demo,
            "oidc_enabled": app_state(request).settings.oidc_enabled,
            "oidc_name": app_state(request).settings.oidc_display_name,
            **context,
        },
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    return response


def error_response(request: Request, exc: Exception) -> JSONResponse:
    code, message, data = errors.describe(exc, request_locale(request))
    return JSONResponse(
        {"error": {"code": code, "message": message, **data}}, status_code=errors.http_status(code)
    )


def int_param(request: Request, name: str, default: int | None = None) -> int | None:
    """An optional integer query parameter; a malformed one is a 400 via ``BadParam``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.BadRequest(field=name) from None
    if not in_int_range(value):
        raise errors.BadRequest(field=name, reason="range")
    return value


async def checked_form(request: Request) -> Any:
    """The posted form, once its CSRF token is checked (every POST view starts here).

    NUL characters are taken out of its text: no member types one, and PostgreSQL's
    text columns cannot hold one (``auth.base.has_nul``).

    Raises:
        CsrfFailed: see :func:`server.csrf.check_csrf`.
    """
    form = await request.form()
    if any(has_nul(key) or has_nul(value) for key, value in form.multi_items()):
        form = FormData(
            [(without_nul(key), without_nul(value)) for key, value in form.multi_items()]
        )
    check_csrf(request, form)
    return form


def csrf_refused(request: Request) -> Response:
    return render(
        request,
        "error.html",
        status_code=403,
        message=translate(request_locale(request), "error.csrf_failed"),
    )
