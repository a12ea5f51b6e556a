"""Comparing two texts of a draft: unified (for the record) and side by side (to read)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the side-by-side view; ``kind`` is equal, changed, added or removed."""

    kind: str
    left_number: int | None
    left: str
    right_number: int | None
    right: str


def unified(old: str, new: str, *, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def side_by_side(old: str, new: str) -> list[Row]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[Row] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs = zip(range(i1, i2), range(j1, j2), strict=True)
            rows += [Row("equal", i + 1, a[i], j + 1, b[j]) for i, j in pairs]
            continue
        left = list(range(i1, i2))
        right = list(range(j1, j2))
        for k in range(max(len(left), len(right))):
            li = left[k] if k < len(left) else None
            rj = right[k] if k < len(right) else None
            kind = (
                "changed"
                if li is not None and rj is not None
                else ("removed" if rj is None else "added")
            )
            rows.append(
                Row(
                    kind,
                    li + 1 if li is not None else None,
                    a[li] if li is not None else "",
                    rj + 1 if rj is not None else None,
                    b[rj] if rj is not None else "",
                )
            )
    return rows
