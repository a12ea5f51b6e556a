"""What the browser tests share: demo accounts, viewports, screenshots, accessibility checks."""

from __future__ import annotations

from functools import cache
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
HELENE = "helene.marty@demo.atelier.test"  # comité d'animation (and a member of group 3)
OLIVIER = "olivier.gay@demo.atelier.test"  # a member of groups 3 and 1, no other role
ADMIN = "administration.atelier@demo.atelier.test"
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
AXE = ROOT / "node_modules/axe-core/axe.min.js"
# WCAG 2.1 levels A and AA, the level RGAA 4 transposes; axe's "best-practice" rules are
# advice, not the standard, and stay out.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE_RUN = """tags => axe.run(document, {runOnly: {type: "tag", values: tags}}).then(r =>
  r.violations.flatMap(v => v.nodes.map(n =>
    `${v.id} (${v.impact}): ${n.target.join(" ")} — ${n.failureSummary.replace(/\\s+/g, " ")}`)))"""


@cache
def _axe_source() -> str:
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (`make test` does)"
    return AXE.read_text(encoding="utf-8")


def a11y_problems(page: Any) -> list[str]:
    """The page as it is now, checked twice: the project's structural smoke (what a
    screen-reader user needs of every page: landmarks, one h1, names, labels) and
    axe-core's WCAG 2.1 A/AA rules (contrast, ARIA, focus, names…), which the page's
    Content-Security-Policy does not block since Playwright evaluates it, not a tag."""
    problems: list[str] = page.evaluate(A11Y_SMOKE)
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(_axe_source())
    problems += page.evaluate(_AXE_RUN, AXE_TAGS)
    return problems
