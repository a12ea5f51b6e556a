"""CSRF protection for forms: a double-submit token on top of SameSite and Origin checks.

Each browser gets a random token in the ``atelier_csrf`` cookie (SameSite=Strict,
HttpOnly); every form carries the same value in a hidden ``csrf`` field (or, for a
script, the ``X-CSRF-Token`` header). Another site can make the browser send the cookie
in some cases, but cannot read it to fill the field, so a forged form is refused.
``SecurityMiddleware`` also refuses foreign ``Origin``/``Referer`` headers: either check
alone stops CSRF; both are cheap.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "atelier_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class CsrfFailed(Exception):
    code = "csrf_failed"
    data: dict[str, Any] = {}  # noqa: RUF012 - read-only, shared by every instance


def csrf_token(request: Request) -> str:
    """The browser's token, made (and remembered for this request) if it has none."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = cookie if 20 <= len(cookie) <= 100 else secrets.token_urlsafe(32)
        request.state.csrf_token = token
    return str(token)


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the cookie when the token was made for this request."""
    token = getattr(request.state, "csrf_token", None)
    if token is not None and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=365 * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


def check_csrf(request: Request, form: Mapping[str, Any] | None) -> None:
    """Refuse a state-changing request whose token does not match the cookie.

    Raises:
        CsrfFailed: missing or different token.
    """
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER) or str((form or {}).get(CSRF_FIELD, ""))
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise CsrfFailed()
