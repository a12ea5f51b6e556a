"""The message catalogue: every user-visible string, French first, English available.

Catalogues are flat JSON files in ``web/i18n/<locale>.json`` (``fr`` is the reference;
a key missing in another locale falls back to French). Templates use ``t(key)``; the
browser receives the ``js.*`` keys in the page; errors are phrased from ``error.<code>``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from server.config import ROOT

CATALOGUE_DIR = ROOT / "web" / "i18n"
LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


@cache
def catalogue(locale: str, directory: Path = CATALOGUE_DIR) -> dict[str, str]:
    """The merged catalogue of ``locale`` (French underneath, so nothing is missing)."""
    base: dict[str, str] = json.loads((directory / "fr.json").read_text(encoding="utf-8"))
    if locale != DEFAULT_LOCALE and (directory / f"{locale}.json").exists():
        base = {**base, **json.loads((directory / f"{locale}.json").read_text(encoding="utf-8"))}
    return base


def translate(locale: str, key: str, **values: object) -> str:
    """The text for ``key`` in ``locale``, formatted with ``values``; the key if unknown."""
    text = catalogue(locale if locale in LOCALES else DEFAULT_LOCALE).get(key, key)
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def pick_locale(cookie: str | None, accept_language: str | None) -> str:
    """The ``lang`` cookie if valid, else the first supported language asked, else French."""
    if cookie in LOCALES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LOCALES:
            return tag
    return DEFAULT_LOCALE
