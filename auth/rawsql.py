"""Core statements run by a database driver directly (``sqlite3``, asyncpg).

The hot paths — posting messages (``rooms.actions.sqlite_posting``, ``pg_posting``) and
storing draft updates (``documents.sqlite_store``, ``pg_store``) — skip SQLAlchemy's
execution but not its statements: each is written once in Core, then compiled here once
per dialect, so the SQL stays in one place. (In ``auth``, the lowest layer, because both
``rooms`` and ``documents`` use it.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

Convert = Callable[[Any], Any]


class Compiled:
    """A Core statement as a driver runs it: its SQL text, and its parameters in order."""

    __slots__ = ("_defaults", "_get", "_keys", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect, *, many: bool = False) -> None:
        # ``many``: for ``executemany`` (an insert then returns nothing, not even its id).
        compiled = statement.compile(dialect=dialect, for_executemany=many)
        if compiled.post_compile_params:
            # Expanding parameters (``IN``) take the values bound to the statement:
            # compile such a statement per call, ``statement.params(...)``.
            expanded = compiled.construct_expanded_state()
            self.sql = expanded.statement
            self._keys = tuple(expanded.positiontup or ())
            self._defaults = dict(expanded.parameters)
        else:
            self.sql = str(compiled)
            self._keys = tuple(compiled.positiontup or ())
            self._defaults = compiled.params
        # Per row of a hot insert: one C call when every parameter is given.
        get = itemgetter(*self._keys) if self._keys else lambda _: ()
        self._get = (lambda values: (get(values),)) if len(self._keys) == 1 else get

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters; those not given keep the statement's own values."""
        try:
            return self._get(values)  # type: ignore[no-any-return]
        except KeyError:
            return self._get({**self._defaults, **values})  # type: ignore[no-any-return]


def datetime_conversions(dialect: Dialect) -> tuple[Convert, Convert]:
    """``(to_db, from_db)`` for the project's dates (``DateTime(timezone=True)``) on
    ``dialect``, as SQLAlchemy converts them — SQLite stores them as text."""
    impl = DateTime(timezone=True).dialect_impl(dialect)
    unchanged: Convert = lambda value: value  # noqa: E731
    return (
        impl.bind_processor(dialect) or unchanged,
        impl.result_processor(dialect, None) or unchanged,
    )
