"""The plain-text shortcut of rendering gives exactly what markdown-it + nh3 give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from documents.rendering import plain_html, render_full, render_markdown

# The shortcut's own alphabet, plus what would make it wrong if it let it through.
_ALPHABET = st.sampled_from(
    list("abcXYZéÉàçœß0129 ,.;:!?'’()«»…—–%/°€+=#-")
    + list('*_~`#>+=|[]<>&"\\@\t\n\u00a0\u200b🎉')
    + ["www.", ".fr", ".com", "http:", "https://", "//", "localhost", "192.168.", "1.", "- "]
    + ["mailto:", "ftp:", " : ", "é.", ". "]
    + ["14.30", "10.0.0.1", ".5", "a.1b", "127.0.0.1:8000", "xn--", ".рф"]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_ALPHABET, min_size=1, max_size=30).map("".join))
def test_the_shortcut_matches_the_full_rendering(source: str) -> None:
    html = plain_html(source)
    if html is not None:
        assert html == render_full(source).html


def test_sentences_take_the_shortcut() -> None:
    for sentence in (
        "Bonjour à tous.",
        "Réunion jeudi à 14h30, salle 2 (Toulouse) ; qui vient ?",
        "L’ordre du jour — version 3/4 : validé à 80 % !",
        "Message de charge n° 12 de l'émetteur 3, envoyé à 1733500000123.456",
        "Budget 2027 : 1,5 M€ + 10 % = voté (point #4)",
    ):
        assert plain_html(sentence) == f"<p>{sentence}</p>\n"
        assert render_markdown(sentence).html == render_full(sentence).html


def test_markup_links_and_escapes_do_not() -> None:
    for source in (
        "voir laregion.fr",
        "https://www.laregion.fr",
        "1. premier",
        "**gras**",
        "snake_case",
        "a < b",
        "Tom & Jerry",
        '"cité"',
        "fin ",
        "ligne\nsuivante",
        "a\u00a0?",
        "@**Paul Sicard**",
    ):
        assert plain_html(source) is None, source
