"""The pure CRDT helpers: edits towards a text, attribution, diffs (accents included)."""

from __future__ import annotations

import pytest

from documents import crdt
from documents.attribution import attribute
from documents.diff import side_by_side, unified


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "Bonjour"),
        ("Résumé. Premier paragraphe.\nAjout d'Anne.\n", "Premier paragraphe.\n"),
        ("été", "hiver à Sète 😀"),
        ("ligne 1\nligne 2\n", "ligne 0\nligne 1\nligne 2 modifiée\n"),
    ],
)
def test_edit_to_reaches_the_target_and_replays_elsewhere(before: str, after: str) -> None:
    doc = crdt.new_doc()
    crdt.edit_to(doc, before)
    other = crdt.load([doc.get_update()])
    update = crdt.edit_to(doc, after)
    assert crdt.markdown_of(doc) == after
    other.apply_update(update)
    assert crdt.markdown_of(other) == after


def test_attribution_follows_each_authors_insertions() -> None:
    doc = crdt.new_doc()
    crdt.edit_to(doc, "Été.\n")
    version = doc.get_update()
    first = crdt.edit_to(doc, "Été. Anne écrit.\n")
    second = crdt.edit_to(doc, "Résumé — Été. Anne écrit.\n")
    spans = attribute(version, [(1, first), (2, second)])
    assert "".join(s.text for s in spans) == "Résumé — Été. Anne écrit.\n"
    by_author = {}
    for span in spans:
        by_author[span.author_id] = by_author.get(span.author_id, "") + span.text
    assert by_author[2] == "Résumé — "
    # Where the inserted sentence starts is the diff's choice ("." before or after it).
    assert by_author[1].strip(" .") == "Anne écrit"
    assert len(by_author[1]) == len(" Anne écrit.")
    assert by_author[None].startswith("Été")


def test_diffs() -> None:
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [r.kind for r in rows] == ["equal", "changed", "equal", "added"]
    text = unified("a\nb\n", "a\nc\n", old_label="v1", new_label="v2")
    assert "-b\n" in text
    assert "+c\n" in text


def test_bad_updates_are_detected_without_a_document() -> None:
    with pytest.raises(crdt.BadUpdate):
        crdt.check_update(b"\x07\x99garbage")
    crdt.check_update(crdt.EMPTY_UPDATE)
