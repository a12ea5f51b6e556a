"""The renderer against a hostile corpus: nothing executable ever comes out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from documents.rendering import DOCUMENT_HEADING, render_markdown

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<a href=\"javascript:alert(1)\">x</a>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    "[clic](java\tscript:alert(1))",
    "[clic](&#106;avascript:alert(1))",
    "[clic](%6Aavascript:alert(1))",
    "[clic](vbscript:msgbox(1))",
    "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[clic](file:///etc/passwd)",
    "![img](javascript:alert(1))",
    '![img](x" onerror="alert(1))',
    "<javascript:alert(1)>",
    "[a]: javascript:alert(1)\n\n[ref][a]",
    '[x](https://ok.example "title" onmouseover="alert(1)")',
    "<style>body{display:none}</style>",
    "<form action=https://evil.example><input name=p></form>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "`<script>` in code is text",
    "```html\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "@**<img src=x onerror=alert(1)>**",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "> <script>alert(1)</script>",
    "[x](  javascript:alert(1)  )",
    "<object data=\"javascript:alert(1)\"></object>",
    "<base href=\"https://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
]  # fmt: skip

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th",
    "td", "span",
}  # fmt: skip


class Elements(HTMLParser):
    """The real elements and attributes of a fragment (escaped text is not markup)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_inert(source: str) -> None:
    html = render_markdown(source, mentions={"Marie Dupont": 1}).html
    for tag, attrs in Elements(html).found:
        assert tag in ALLOWED_TAGS, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name in {"href", "rel", "title", "class", "data-user-id", "start"}
            if name == "href":
                # A scheme, when there is one, is http(s) or mailto; "%6Aavascript:" has
                # none (``%`` cannot start a scheme), so browsers resolve it as a path.
                scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", value or "")
                assert scheme is None or scheme.group(1) in {"http", "https", "mailto"}, html


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown("<b>gras</b> & <script>x</script>").html
    assert html == "<p>&lt;b&gt;gras&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;</p>\n"


def test_links_get_rel_and_safe_schemes_survive() -> None:
    html = render_markdown("[site](https://www.laregion.fr) et contact@laregion.fr").html
    assert '<a href="https://www.laregion.fr" rel="nofollow noopener noreferrer">site</a>' in html
    assert 'href="mailto:contact@laregion.fr"' in html


def test_markdown_features_members_use() -> None:
    source = "# Titre\n\n**gras** *italique* ~~barré~~\n\n- un\n- deux\n\n> citation\n\n`code`"
    html = render_markdown(source).html
    for fragment in (
        "<h3>Titre</h3>",
        "<strong>gras</strong>",
        "<em>italique</em>",
        "<s>barré</s>",
        "<li>un</li>",
        "<blockquote>",
        "<code>code</code>",
    ):
        assert fragment in html
    # A single newline is a line break, as in every chat.
    assert render_markdown("ligne 1\nligne 2").html == "<p>ligne 1<br>\nligne 2</p>\n"


def test_images_are_not_loaded_from_anywhere() -> None:
    html = render_markdown("![pixel](https://tracker.example/p.gif)").html
    assert "<img" not in html


def test_mentions_resolve_only_known_members() -> None:
    rendered = render_markdown(
        "@**Marie Dupont** et @**Inconnu** et @**Paul Sicard**",
        mentions={"Marie Dupont": 7, "Paul Sicard": 9},
    )
    assert rendered.mentioned == frozenset({7, 9})
    assert '<span class="mention" data-user-id="7">@Marie Dupont</span>' in rendered.html
    assert "@<strong>Inconnu</strong>" in rendered.html
    # In code, a mention is text.
    assert render_markdown("`@**Marie Dupont**`", mentions={"Marie Dupont": 7}).mentioned == (
        frozenset()
    )


def test_table_alignment_is_a_class_not_an_inline_style() -> None:
    html = render_markdown("| a | b | c |\n|:-|:-:|-:|\n| 1 | 2 | 3 |").html
    assert "style=" not in html  # the CSP forbids inline styles
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-center">2</td>' in html
    assert '<td class="align-right">3</td>' in html


def test_headings_sit_under_the_pages_own() -> None:
    """In a page, whose h1 names the room or the draft and whose sections are h2, a
    member's "#" is an h3, and deeper levels follow down to h6; an export keeps h1."""
    source = "# Un\n\n## Deux\n\n### Trois\n\n#### Quatre\n\n##### Cinq\n\n###### Six"
    in_page = render_markdown(source).html
    assert re.findall(r"<(h\d)>", in_page) == ["h3", "h4", "h5", "h6", "h6", "h6"]
    exported = render_markdown(source, top_heading=DOCUMENT_HEADING).html
    assert re.findall(r"<(h\d)>", exported) == ["h1", "h2", "h3", "h4", "h5", "h6"]
    assert re.findall(r"</(h\d)>", in_page) == ["h3", "h4", "h5", "h6", "h6", "h6"]
    # Text that only looks like a heading tag stays text.
    assert render_markdown("`<h1>` et <h2>x</h2>").html == (
        "<p><code>&lt;h1&gt;</code> et &lt;h2&gt;x&lt;/h2&gt;</p>\n"
    )
