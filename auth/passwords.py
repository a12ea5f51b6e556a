"""Password hashing (argon2id) and the password rules.

The rules follow current guidance (NIST SP 800-63B, CNIL): length over complexity —
at least 12 characters, no composition rules, any character allowed (spaces too, so
passphrases work), refused when it is a well-known password or contains the member's
own email or name. Hashing uses argon2-cffi's defaults, which follow RFC 9106.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth.errors import WeakPassword

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"

_hasher = PasswordHasher()
# Verified against when the account is unknown, so that the answer takes as long as for a
# known account (no enumeration by timing).
_DUMMY_HASH = _hasher.hash("atelier-dummy-password")


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same work when there is no hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def check_password_policy(password: str, *, email: str = "", display_name: str = "") -> None:
    """Refuse a password that is too short, too long, common or personal.

    Raises:
        WeakPassword: with ``reason`` ``too_short``, ``too_long``, ``common``,
            ``personal`` or ``repetitive`` and the ``min`` length.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise WeakPassword(reason="too_short", min=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassword(reason="too_long", max=MAX_PASSWORD_CHARS)
    folded = password.lower()
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise WeakPassword(reason="common", min=MIN_PASSWORD_CHARS)
    if len(set(folded)) <= 3:
        raise WeakPassword(reason="repetitive", min=MIN_PASSWORD_CHARS)
    personal = [email.lower(), email.split("@")[0].lower(), *display_name.lower().split()]
    if any(len(part) >= 4 and part in folded for part in personal if part):
        raise WeakPassword(reason="personal", min=MIN_PASSWORD_CHARS)
