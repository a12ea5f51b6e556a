"""Posting forms like a browser: with the CSRF token the pages hand out."""

from __future__ import annotations

from typing import Any

import httpx

CSRF_COOKIE = "atelier_csrf"


async def csrf(http: httpx.AsyncClient) -> str:
    if CSRF_COOKIE not in http.cookies:
        await http.get("/accessibilite")  # any rendered page hands the token out
    return http.cookies[CSRF_COOKIE]


async def post_form(
    http: httpx.AsyncClient, path: str, data: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    return await http.post(path, data={**data, "csrf": await csrf(http)}, **kwargs)
