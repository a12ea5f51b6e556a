"""Authentication and authorisation errors, each with a stable ``code``.

The French message shown to people is chosen at the edge (``server/errors.py``) from the
code and ``data``; domain code never formats user-facing text.
"""

from __future__ import annotations

from typing import Any


class AuthError(Exception):
    """Root of the auth error tree."""

    code = "auth_error"

    def __init__(self, detail: str = "", **data: Any) -> None:
        super().__init__(detail or self.code)
        self.data = data


class NotAuthenticated(AuthError):
    code = "not_authenticated"


class InvalidCredentials(AuthError):
    code = "invalid_credentials"


class Forbidden(AuthError):
    """The caller is known but their roles do not allow the action (``data['permission']``)."""

    code = "forbidden"
