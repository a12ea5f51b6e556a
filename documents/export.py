"""Exports of a draft: Markdown, a standalone styled HTML file, and PDF (WeasyPrint).

The HTML and the PDF open with a title page (assembly, group, chantier, version, date,
authors) and render the body with the same safe renderer as chat (``render_markdown``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from documents.rendering import DOCUMENT_HEADING, render_markdown

STYLE = """
@page { size: A4; margin: 2.2cm 2cm; @bottom-center { content: counter(page); font-size: 9pt; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; line-height: 1.5;
       color: #161616; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
.title-page { page-break-after: always; margin-bottom: 3rem; }
.title-page .assembly { color: #000091; font-weight: bold; letter-spacing: .05em;
       text-transform: uppercase; font-size: 10pt; }
.title-page h1 { font-size: 24pt; margin: 1.5rem 0 .5rem; color: #000091; }
.title-page dl { margin-top: 2rem; } .title-page dt { font-weight: bold; margin-top: .6rem; }
.title-page dd { margin: 0; }
h1, h2, h3 { color: #000091; line-height: 1.25; } h2 { margin-top: 1.8rem; }
blockquote { border-left: 4px solid #000091; margin-left: 0; padding-left: 1rem; color: #3a3a3a; }
table { border-collapse: collapse; } th, td { border: 1px solid #929292; padding: .3rem .5rem; }
.align-left { text-align: left; } .align-center { text-align: center; }
.align-right { text-align: right; } code, pre { font-family: "DejaVu Sans Mono", monospace; }
"""


@dataclass(frozen=True, slots=True)
class TitlePage:
    title: str
    group: str
    chantier: str
    version: str
    date: str
    authors: list[str]
    assembly: str = "Assemblée des Territoires — Région Occitanie"


def to_html(markdown: str, page: TitlePage) -> str:
    """A complete HTML document (no external resource), ready to save or print."""
    esc = html.escape
    rows = [
        ("Groupe de travail", page.group),
        ("Chantier", page.chantier),
        ("Version", page.version),
        ("Date", page.date),
        ("Rédaction", ", ".join(page.authors) or "—"),
    ]
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v)
    body = render_markdown(markdown, top_heading=DOCUMENT_HEADING).html
    return (
        '<!doctype html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(page.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<section class="title-page"><p class="assembly">{esc(page.assembly)}</p>'
        f"<h1>{esc(page.title)}</h1><dl>{details}</dl></section>\n"
        f"<main>\n{body}</main>\n</body>\n</html>\n"
    )


def to_pdf(markdown: str, page: TitlePage) -> bytes:
    from weasyprint import HTML  # imported late: it loads Pango, only exports need it

    pdf: bytes = HTML(string=to_html(markdown, page)).write_pdf()
    return pdf
