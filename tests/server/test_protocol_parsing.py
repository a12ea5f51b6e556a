"""``parse_frame`` on arbitrary JSON: a command, or a ``ProtocolError`` — nothing else.

The gateway answers any other exception with ``internal_error`` and logs it as a bug;
the parser is the first thing untrusted text meets, so whatever JSON a client sends,
well-formed or not, must come out as one of the two — and what comes out must hold
nothing PostgreSQL would refuse (a NUL character, an integer beyond 32 bits). The frames
are built from the schema (``FRAMES``), each field's value mostly of its own JSON type,
so that many get past the type checks to what comes after them.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auth.base import INT_MAX, INT_MIN, has_nul
from server.protocol import FRAMES, Command, Field, ProtocolError, parse_frame

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


# Mostly ids a room could have, then the edges of an INTEGER column, then anything.
WIDE_INTS = (
    st.integers(min_value=-10, max_value=10**6)
    | st.sampled_from([INT_MAX, INT_MAX + 1, INT_MIN, INT_MIN - 1, 2**62, -(2**63)])
    | st.integers(min_value=-(2**70), max_value=2**70)
)
KINDS: dict[type, st.SearchStrategy[Any]] = {
    int: WIDE_INTS,
    str: st.text(max_size=30) | st.text(st.sampled_from("a\x00é "), max_size=8),  # NULs too
    bool: st.booleans(),
    float: st.floats(allow_nan=False, allow_infinity=False),
    list: st.lists(WIDE_INTS | st.text(max_size=10), max_size=5),
    dict: st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4),
}


def _of_kind(spec: Field) -> st.SearchStrategy[Any]:
    """Mostly a value of the field's own JSON type (so that frames get past the type
    check to what comes after it), sometimes anything."""
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    return st.one_of(*(KINDS[kind] for kind in kinds)) | JSON_VALUES


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    frame_type = draw(st.sampled_from(sorted(FRAMES)) | st.text(max_size=12))
    frame: dict[str, Any] = {"type": frame_type}
    for name, spec in FRAMES.get(frame_type, {}).items():
        if spec.required or draw(st.booleans()):
            frame[name] = draw(_of_kind(spec))
    if frame_type == "subscribe":
        entry = st.fixed_dictionaries({"room_id": WIDE_INTS}, optional={"after_seq": WIDE_INTS})
        frame["rooms"] = draw(st.lists(entry | JSON_VALUES, max_size=3))
    return frame


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [n for item in value for n in _ints(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _ints(item)]
    return []


@settings(max_examples=400, deadline=None)
@given(frames())
def test_any_json_frame_parses_or_is_refused_with_a_protocol_error(frame: dict) -> None:
    text = json.dumps(frame, ensure_ascii=False)
    try:
        command = parse_frame(text)
    except ProtocolError as exc:
        refused = exc.code
    else:
        refused = None
    if refused is not None:
        assert refused in {"bad_json", "unknown_type", "bad_frame", "frame_too_large"}
        return
    assert isinstance(command, Command)
    assert command.type in FRAMES
    # What gets through holds nothing PostgreSQL would refuse: no NUL, no wide integer
    # where the schema asks for one.
    assert not has_nul(command.fields)
    for name, spec in FRAMES[command.type].items():
        if spec.kind is int and name in command.fields:
            assert INT_MIN <= command.fields[name] <= INT_MAX
    for key in ("room_ids", "message_ids", "rooms"):
        ints = _ints([list(v) if isinstance(v, tuple) else v for v in command.fields.get(key, [])])
        assert all(INT_MIN <= n <= INT_MAX for n in ints)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_protocol_error(text: str) -> None:
    try:
        parse_frame(text)
    except ProtocolError:
        pass
