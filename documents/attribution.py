"""Who wrote what since a version: replay the log after it and follow each insertion.

Each logged update carries its author; applying the updates one by one to the version's
state and reading the text's change deltas tells, for every character of today's text,
who inserted it after the version (or nobody: it was already there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pycrdt import TextEvent

from documents import crdt


@dataclass(frozen=True, slots=True)
class Span:
    author_id: int | None  # None: unchanged since the version
    text: str


def attribute(version_state: bytes, updates: Iterable[tuple[int | None, bytes]]) -> list[Span]:
    doc = crdt.load([version_state])
    text = crdt.text_of(doc)
    # One owner per UTF-8 byte: pycrdt's deltas count bytes ("é" is two).
    owners: list[int | None] = [None] * len(str(text).encode())
    current: list[int | None] = [None]

    def on_change(event: TextEvent) -> None:
        index = 0
        for op in event.delta:
            if "retain" in op:
                index += int(op["retain"])
            elif "insert" in op:
                size = len(str(op["insert"]).encode())
                owners[index:index] = [current[0]] * size
                index += size
            elif "delete" in op:
                del owners[index : index + int(op["delete"])]

    subscription = text.observe(on_change)
    try:
        for author_id, update in updates:
            current[0] = author_id
            doc.apply_update(update)
    finally:
        text.unobserve(subscription)
    final = str(text)
    per_char: list[int | None] = []
    offset = 0
    for char in final:
        per_char.append(owners[offset])
        offset += len(char.encode())
    spans: list[Span] = []
    for char, owner in zip(final, per_char, strict=True):
        if spans and spans[-1].author_id == owner:
            spans[-1] = Span(owner, spans[-1].text + char)
        else:
            spans.append(Span(owner, char))
    return spans
