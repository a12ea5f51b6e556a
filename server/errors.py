"""The only place domain errors become HTTP statuses and WebSocket error frames.

Domain code raises ``RoomsError`` / ``AuthError`` / ``ProtocolError`` with a stable code;
here the code picks an HTTP status and a French (or English) sentence from the catalogue
(``error.<code>``). WebSocket close codes used by the gateway are listed here too.
"""

from __future__ import annotations

import math
from typing import Any

from auth.errors import AuthError
from documents.errors import DocumentsError
from rooms.errors import RoomsError
from server.csrf import CsrfFailed
from server.i18n import translate
from server.protocol import ProtocolError

HTTP_STATUS: dict[str, int] = {
    "not_authenticated": 401,
    "invalid_credentials": 401,
    "forbidden": 403,
    "not_author": 403,
    "room_not_found": 404,
    "message_not_found": 404,
    "message_deleted": 409,
    "invalid_input": 422,
    "bad_frame": 400,
    "rate_limited": 429,
    "too_many_attempts": 429,
    "csrf_failed": 403,
    "weak_password": 422,
    "invalid_token": 410,
    "not_a_member": 403,
    "parity": 409,
    "invalid_account_input": 422,
    "draft_not_found": 404,
    "draft_locked": 409,
    "version_not_found": 404,
    "update_too_large": 413,
    "invalid_update": 400,
    "invalid_draft_input": 422,
    "comment_not_found": 404,
    "poll_open": 409,
    "room_excluded": 403,
    "room_locked": 409,
    "muted": 403,
    "slow_mode": 429,
    "blocked": 403,
    "announcement_not_found": 404,
    "bad_request": 400,
    "poll_not_found": 404,
    "poll_closed": 409,
    "not_eligible": 403,
    "already_voted": 409,
    "ballot_invalid": 422,
    "poll_invalid": 422,
    "poll_not_open": 409,
    "proxy_invalid": 422,
    "proxy_not_found": 404,
    "proxy_used": 409,
    "proxy_given": 409,
    "no_proxy": 403,
}

# WebSocket close codes (4000–4999 are the application's).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_SLOW_CONSUMER = 4008
CLOSE_ABUSE = 1008
CLOSE_SESSION_ENDED = 4001


class RateLimited(Exception):
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__("rate_limited")
        # Whole seconds: "0.3 s" reads badly in French, and one more second is harmless.
        self.data = {"retry_after": max(1, math.ceil(retry_after))}


class BadRequest(Exception):
    """A malformed HTTP parameter (``data['field']`` names it)."""

    code = "bad_request"

    def __init__(self, **data: Any) -> None:
        super().__init__("bad_request")
        self.data = data


def describe(exc: Exception, locale: str = "fr") -> tuple[str, str, dict[str, Any]]:
    """``(code, sentence, data)`` for a known error; ``internal_error`` otherwise."""
    if isinstance(exc, ProtocolError):
        code, data = exc.code, exc.data
    elif isinstance(
        exc, RoomsError | AuthError | DocumentsError | RateLimited | BadRequest | CsrfFailed
    ):
        code, data = exc.code, dict(exc.data)
    else:
        code, data = "internal_error", {}
    # A ``reason`` may have its own sentence (``error.<code>.<reason>``): used in the
    # code's sentence as ``{reason_text}``, or in its place when that sentence has none.
    reason_text = ""
    if "reason" in data:
        reason_key = f"error.{code}.{data['reason']}"
        reason_text = translate(locale, reason_key, **data)
        if reason_text == reason_key:
            reason_text = str(data["reason"])
        elif "{reason_text}" not in translate(locale, f"error.{code}"):
            return code, reason_text, data
    return code, translate(locale, f"error.{code}", reason_text=reason_text, **data), data


def http_status(code: str) -> int:
    return HTTP_STATUS.get(code, 500 if code == "internal_error" else 400)
