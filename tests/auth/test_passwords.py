"""Password rules: length over complexity, no common or personal passwords."""

from __future__ import annotations

import pytest

from auth.errors import WeakPassword
from auth.passwords import check_password_policy, hash_password, verify_password


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("court", "too_short"),
        ("onze-lettre", "too_short"),
        ("x" * 257, "too_long"),
        ("azertyuiop123", "common"),
        ("MotDePasse2026", "common"),
        ("aaaaaaaaaaaaaa", "repetitive"),
        ("marie.dupont-1234", "personal"),
        ("dupont et compagnie", "personal"),
    ],
)
def test_refused(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(
            password, email="marie.dupont@exemple.fr", display_name="Marie Dupont"
        )
    assert refused.value.data["reason"] == reason


@pytest.mark.parametrize(
    "password",
    ["le causse au petit matin", "Tramontane & cers 2026", "douze lettre", "ŒUVRE-été-ñandú"],
)
def test_accepted_without_composition_rules(password: str) -> None:
    check_password_policy(password, email="marie.dupont@exemple.fr", display_name="Marie Dupont")


def test_argon2id_hashes_verify() -> None:
    hashed = hash_password("le causse au petit matin")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "le causse au petit matin")
    assert not verify_password(hashed, "le causse au petit soir")
    assert not verify_password(None, "anything")
