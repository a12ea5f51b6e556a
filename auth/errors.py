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


class WeakPassword(AuthError):
    """A new password breaks the rules (``data['reason']``)."""

    code = "weak_password"


class TooManyAttempts(AuthError):
    """Sign-in throttled for this account or address (``data['retry_after']`` seconds)."""

    code = "too_many_attempts"


class InvalidToken(AuthError):
    """An invitation or reset link that is unknown, used, revoked or expired."""

    code = "invalid_token"


class NotAMember(AuthError):
    """An OpenID identity that matches no invited member."""

    code = "not_a_member"


class ParityError(AuthError):
    """A binôme copilote (or the comité) would break parity (``data`` explains)."""

    code = "parity"


class InvalidAccountInput(AuthError):
    """A field of an account form is wrong (``data['field']``, ``data['reason']``)."""

    code = "invalid_account_input"
