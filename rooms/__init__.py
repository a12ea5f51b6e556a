"""The assembly's social structure and its live rooms.

Groups, chantiers, saisines, rooms and memberships (``models``); who may do what in a room
(``access``, on top of ``auth.roles``); and each room's message stream.

The stream is a log: every change to a room (message posted, edited, deleted, reaction,
topic renamed, messages moved) is an event with the room's next ``seq``, assigned in the
writing transaction (``events.record``). Messages keep their current state in
``messages``; the log keeps what happened, as the exact frames clients receive. Clients
resume by position and the server replays the log, so the broker that carries live events
is only a doorbell: anything it loses is read back from the database.

This package never imports ``server`` and no I/O framework: actions take an
``AsyncSession`` and plain values, raise ``RoomsError`` subclasses, and queue broker
messages with ``auth.base.emit`` for the edge to publish after commit.
"""
