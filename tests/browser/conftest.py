"""Browser fixtures: the real ``atelier run --demo`` process and Debian's Chromium.

One server per session (a SQLite file in a temporary directory, the demo assembly
loaded by the CLI) and one browser per module; each test opens its own browser contexts
(one per member), signed in with a real session cookie from the login form. Pages record
uncaught script errors and Content-Security-Policy violations, and a test fails if any
occurred. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import DESKTOP
from tests.processes import ROOT, ServerProcess, login_cookie
from tests.services import unavailable

CHROMIUM = Path(os.environ.get("ATELIER_CHROMIUM", "/usr/bin/chromium"))
BUNDLES = (ROOT / "web/static/build/chat.js", ROOT / "web/static/build/home.js")


def _bundles_stale() -> bool:
    newest_source = max(p.stat().st_mtime for p in (ROOT / "web/src").glob("*.js"))
    return any(not b.exists() or b.stat().st_mtime < newest_source for b in BUNDLES)


@pytest.fixture(scope="session")
def built_assets() -> None:
    """Build the JavaScript bundles if they are missing or older than their sources."""
    if not _bundles_stale():
        return
    npm = shutil.which("npm")
    if npm is None or not (ROOT / "node_modules/.bin/esbuild").exists():
        unavailable("the browser bundle is missing or stale and npm/esbuild is absent")
    subprocess.run([npm, "run", "--silent", "build"], cwd=ROOT, check=True)  # type: ignore[list-item]


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, built_assets: None
) -> Iterator[ServerProcess]:
    """``python -m server run --demo`` on a free port, with its own SQLite file."""
    database = tmp_path_factory.mktemp("browser") / "atelier.db"
    process = ServerProcess(f"sqlite+aiosqlite:///{database}").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def cookies(app_server: ServerProcess) -> Callable[[str], str]:
    """The session cookie of a demo member (signed in once per session)."""
    cache: dict[str, str] = {}

    def cookie(email: str) -> str:
        if email not in cache:
            cache[email] = login_cookie(app_server.base_url, email)
        return cache[email]

    return cookie


class PageProblems:
    """Script errors and CSP violations seen by the pages of one test."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.items.append(f"{page.url}: {error}"))
        page.on("console", self._console(page))

    def _console(self, page: Any) -> Callable[[Any], None]:
        def on_message(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                self.items.append(f"{page.url}: {message.text}")

        return on_message


@pytest.fixture
def open_page(
    browser: Any, app_server: ServerProcess, cookies: Callable[[str], str]
) -> Iterator[Callable[..., Any]]:
    """``open_page(email=None, viewport=DESKTOP)``: a new context (a separate person),
    signed in as ``email``, in French, on Paris time."""
    contexts: list[Any] = []
    problems = PageProblems()

    def open_(email: str | None = None, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = browser.new_context(
            viewport=viewport,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            base_url=app_server.base_url,
            **options,
        )
        contexts.append(context)
        if email is not None:
            context.add_cookies(
                [{"name": "atelier_session", "value": cookies(email), "url": app_server.base_url}]
            )
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems.items, "\n".join(problems.items)
