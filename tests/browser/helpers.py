"""What the browser tests share: demo accounts, viewports, screenshots, an a11y smoke."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.processes import ROOT

ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}

MARIE = "marie.dupont@demo.atelier.test"
PAUL = "paul.sicard@demo.atelier.test"
LOUISE = "louise.fournier@demo.atelier.test"
SOPHIE = "sophie.vidal@demo.atelier.test"
PIERRE = "pierre.rouquette@demo.atelier.test"  # copilote of group 3 (chantier 3.2's group)
BOURGS_CENTRES = "La politique des bourgs-centres"


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def open_chantier_room(page: Any, title: str = BOURGS_CENTRES) -> None:
    """From the home page, follow the chantier's link in its group card."""
    page.goto("/")
    page.locator(".group-card").get_by_role("link", name=title, exact=True).click()
    page.wait_for_url("**/salons/*")
    page.locator("#messages[aria-busy='false']").wait_for()


A11Y_SMOKE = (Path(__file__).parent / "a11y_smoke.js").read_text(encoding="utf-8")


def a11y_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(A11Y_SMOKE)
    return problems
