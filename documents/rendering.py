"""Markdown to safe HTML, once, on the server — for chat messages and, later, drafts.

Two layers, because either alone has failed in the wild:

1. ``MarkdownIt("js-default")``: raw HTML is off (the default preset of ``MarkdownIt()``
   passes it through) and ``validateLink`` refuses ``javascript:``, ``vbscript:``,
   ``file:`` and most ``data:`` URLs. We narrow links further to http(s) and mailto,
   and turn images off: a chat image would be a tracking pixel pointed at any server.
2. ``nh3`` (ammonia) sanitises the output against an allow-list of tags and attributes
   and sets ``rel="nofollow noopener noreferrer"`` on links, so a bug in a plugin or in
   our mention rule can still not reach a browser as live markup.

Mentions are written ``@**Prénom Nom**`` (Zulip's syntax, unambiguous with spaces in
names); a name that matches a member becomes ``<span class="mention" data-user-id>``
and the ids are returned so the caller can record unread mentions.

A member's ``# Titre`` is shown inside a page whose own ``<h1>`` names the room or the
draft and whose sections are ``<h2>``: rendered there as ``<h1>``, it would break the
outline a screen reader navigates by (RGAA 9.1). So headings start at ``<h3>`` in
everything shown in a page (``PAGE_HEADING``), down to ``<h6>``; only an export, a
document of its own, keeps ``#`` as ``<h1>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
PAGE_HEADING = 3  # what ``#`` becomes inside a page (under its h1 and its sections' h2)
DOCUMENT_HEADING = 1  # … and in an exported document
_MENTION = re.compile(r"@\*\*([^*\n]{1,120})\*\*")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th",
    "td", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"data-user-id"},
    "ol": {"start"},
}
_ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
_ALLOWED_CLASSES = {"span": {"mention"}, "th": _ALIGN_CLASSES, "td": _ALIGN_CLASSES}
# markdown-it aligns table cells with ``style``, which the strict CSP (no inline styles)
# would block: the alignment becomes a class the stylesheet knows.
_ALIGN_STYLE = re.compile(r' style="text-align:(left|center|right)"')


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    mentioned: frozenset[int]


def _validate_link(url: str) -> bool:
    """Only http(s), mailto and scheme-less (relative) links become links."""
    cleaned = re.sub(r"[\x00-\x20\x7f]", "", url)
    match = _SCHEME.match(cleaned)
    if match is None:
        return True
    return match.group(1).lower() in ALLOWED_SCHEMES


def _mention_rule(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "@" or not state.src.startswith("@**", state.pos):
        return False
    match = _MENTION.match(state.src, state.pos)
    if match is None:
        return False
    name = match.group(1).strip()
    user_id = state.env.get("mentions", {}).get(name)
    if user_id is None:
        return False
    if not silent:
        token = state.push("mention", "span", 0)
        token.meta = {"user_id": user_id, "name": name}
        state.env.setdefault("mentioned", set()).add(user_id)
    state.pos = match.end()
    return True


def _render_mention(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    meta = tokens[idx].meta
    name = meta["name"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<span class="mention" data-user-id="{int(meta["user_id"])}">@{name}</span>'


def _build() -> MarkdownIt:
    md = MarkdownIt("js-default", {"linkify": True, "typographer": False, "breaks": True})
    md.enable(["linkify", "strikethrough", "table"])
    md.disable(["image"])
    md.validateLink = _validate_link
    md.inline.ruler.before("emphasis", "mention", _mention_rule)
    md.add_render_rule("mention", _render_mention)
    return md


_MD = _build()


def sanitise(html: str) -> str:
    """The second layer: an allow-list pass over HTML we produced ourselves."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        allowed_classes=_ALLOWED_CLASSES,
    )


# One line of letters, digits, spaces and plain punctuation, starting with a letter: no
# block or inline rule of markdown can apply and no character needs escaping. Only a link
# could change it: a scheme (``https:``; so a colon must be followed by a space) or a
# bare domain (``laregion.fr``, ``//intranet``), which ``linkify.test`` tells — asked
# only when a dot is followed by a letter (a top-level domain starts with one: ``14.30``
# or ``3.5 %`` is never a link) or there is a slash.
_PLAIN = re.compile(r"[^\W\d_](?:[^\W_]|[ ,.;!?'’()«»…—–%/°€+=#-]|:(?= ))*")
_LINK_HINT = re.compile(r"\.[^\W\d_]|/")
_NO_MENTION: frozenset[int] = frozenset()


def plain_html(source: str) -> str | None:
    """The HTML of a message that is plain text, or ``None`` when markdown must render it.

    Most chat messages are a plain sentence, and markdown-it plus nh3 cost about 100 µs
    each time; the result is the same (``tests/documents/test_plain_text.py`` checks it
    against the full path).
    """
    if not _PLAIN.fullmatch(source) or source.endswith(" "):
        return None
    if _LINK_HINT.search(source) and _MD.linkify.test(source):
        return None
    return f"<p>{source}</p>\n"


def render_markdown(
    source: str,
    *,
    mentions: Mapping[str, int] | None = None,
    top_heading: int = PAGE_HEADING,
) -> Rendered:
    """Render member-written markdown to HTML that is safe to insert as-is.

    ``mentions`` maps display names to user ids; only those names become mentions.
    ``top_heading`` is the level of a ``#`` heading (``PAGE_HEADING`` in a page).
    """
    html = plain_html(source)
    if html is not None:
        return Rendered(html=html, mentioned=_NO_MENTION)
    return render_full(source, mentions=mentions, top_heading=top_heading)


def render_full(
    source: str,
    *,
    mentions: Mapping[str, int] | None = None,
    top_heading: int = PAGE_HEADING,
) -> Rendered:
    """:func:`render_markdown` without the plain-text shortcut."""
    env: dict[str, Any] = {"mentions": dict(mentions or {})}
    tokens = _MD.parse(source, env)
    if top_heading != 1:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{shifted_level(int(token.tag[1]), top_heading - 1)}"
    html = _MD.renderer.render(tokens, _MD.options, env)
    html = _ALIGN_STYLE.sub(r' class="align-\1"', html)
    return Rendered(html=sanitise(html), mentioned=frozenset(env.get("mentioned", ())))


def shifted_level(level: int, by: int) -> int:
    """A heading level moved ``by`` levels, kept within HTML's h1–h6."""
    return max(1, min(6, level + by))
