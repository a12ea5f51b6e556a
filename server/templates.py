"""Jinja2 templates from ``web/templates`` with the catalogue's ``t()`` and asset URLs."""

from __future__ import annotations

import hashlib
from functools import cache

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from server.config import ROOT
from server.i18n import catalogue, pick_locale, translate

STATIC_DIR = ROOT / "web" / "static"
templates = Jinja2Templates(directory=str(ROOT / "web" / "templates"))


@cache
def _asset_version(path: str) -> str:
    file = STATIC_DIR / path
    if not file.exists():
        return "0"
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10]


def asset(path: str) -> str:
    """URL of a static file with a content hash, so browsers never run a stale bundle."""
    return f"/static/{path}?v={_asset_version(path)}"


def request_locale(request: Request) -> str:
    user = getattr(request.state, "user", None)
    if user is not None and request.cookies.get("lang") is None:
        return str(user.locale)
    return pick_locale(request.cookies.get("lang"), request.headers.get("accept-language"))


def js_catalogue(locale: str) -> dict[str, str]:
    """The strings the browser needs (``js.*`` and ``error.*``)."""
    return {k: v for k, v in catalogue(locale).items() if k.startswith(("js.", "error."))}


templates.env.globals["asset"] = asset
templates.env.globals["translate"] = translate
templates.env.globals["js_catalogue"] = js_catalogue
