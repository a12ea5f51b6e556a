"""The CRDT side of a draft, pure: build a document from stored updates, read its text,
and turn a wished-for text into edits.

The shared type is a ``Y.Text`` named ``markdown`` (what the browser binds CodeMirror
to). A restore or a template is always applied as *edits* to the live document, never
by rebuilding it from plain text: clients hold CRDT state, and a rebuilt document would
duplicate their content on the next sync.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pycrdt import Doc, Text

TEXT_NAME = "markdown"
EMPTY_UPDATE = b"\x00\x00"


class BadUpdate(ValueError):
    """Bytes that are not a Yjs update."""


def new_doc() -> Doc:
    doc: Doc = Doc()
    doc.get(TEXT_NAME, type=Text)
    return doc


def text_of(doc: Doc) -> Text:
    text: Text = doc.get(TEXT_NAME, type=Text)
    return text


def markdown_of(doc: Doc) -> str:
    return str(text_of(doc))


def load(updates: Iterable[bytes]) -> Doc:
    """A document from a snapshot and the updates after it (order does not matter)."""
    doc = new_doc()
    for update in updates:
        doc.apply_update(update)
    return doc


def check_update(update: bytes) -> None:
    """Decode ``update`` on a scratch document, so a bad one never touches the real one.

    Raises:
        BadUpdate: not a decodable Yjs update.
    """
    try:
        Doc().apply_update(update)
    except (ValueError, RuntimeError) as exc:
        raise BadUpdate(str(exc)) from None


def utf8_offset(text: str, index: int) -> int:
    """The offset pycrdt uses for character ``index`` of ``text`` (UTF-8 bytes)."""
    return len(text[:index].encode())


def edit_to(doc: Doc, target: str) -> bytes:
    """Change the document's text into ``target`` with the fewest edits; returns the
    update those edits make (to store and broadcast like any member's update)."""
    text = text_of(doc)
    current = str(text)
    if current == target:
        return EMPTY_UPDATE
    before = doc.get_state()
    matcher = difflib.SequenceMatcher(a=current, b=target, autojunk=False)
    with doc.transaction():
        # From the end, so earlier offsets stay valid. pycrdt's offsets count UTF-8
        # bytes, not characters: "é" is two.
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                continue
            start = utf8_offset(current, i1)
            if i2 > i1:
                del text[start : utf8_offset(current, i2)]
            if j2 > j1:
                text.insert(start, target[j1:j2])
    return doc.get_update(before)
