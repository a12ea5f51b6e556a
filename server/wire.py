"""One room event, many sockets: frame it once, write the same bytes to every socket.

Through the ASGI ``send`` path, each recipient costs an ASGI message, a UTF-8 encode of
the same text, a WebSocket frame built around it and a task switch to the connection's
writer — about twice the work of a raw ``websockets`` broadcast (see
docs/performance.md). A room event is the same bytes for all its recipients, so
``Outgoing`` carries its text with its frame built once, and ``direct_writer`` writes
that frame straight to the socket's transport when nothing is queued before it.

The direct path is taken only when it is exactly what the ASGI path would do: the
connection is served by uvicorn's ``websockets-sansio`` protocol (what ``atelier run``
uses), the socket is open, no close was sent, the transport is not paused (flow control)
and compression is not negotiated (``ws_per_message_deflate`` is off). Anything else —
another server, a test client — falls back to ``send``, unchanged.
"""

from __future__ import annotations

import struct
from functools import cached_property
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

_FIN_TEXT = 0x81
_FIN_BINARY = 0x82
# The ASGI scope key where the app's outer middleware keeps the server's own ``send``.
RAW_SEND = "atelier.raw_send"


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2): what a server sends."""
    return _frame(_FIN_TEXT, payload)


def binary_frame(payload: bytes) -> bytes:
    """The same for a binary message (the drafts' Yjs protocol)."""
    return _frame(_FIN_BINARY, payload)


def _frame(first: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


class Outgoing(str):
    """A frame's text, with its wire bytes built on first use and then shared by every
    recipient. It is a ``str``, so everything that queues or logs frames is unchanged."""

    @cached_property
    def wire(self) -> bytes:
        return text_frame(self.encode())


class OutgoingBytes(bytes):
    """A binary message (a draft's update or awareness) framed once for every socket."""

    @cached_property
    def wire(self) -> bytes:
        return binary_frame(self)


_FRAMED = (Outgoing, OutgoingBytes)  # a tuple: ``Outgoing | OutgoingBytes`` is built per call


def wire_of(frame: str | bytes) -> bytes:
    if isinstance(frame, _FRAMED):
        return frame.wire
    if isinstance(frame, bytes):
        return binary_frame(frame)
    return text_frame(frame.encode())


class DirectWriter:
    """``write(frame) -> bool`` for one socket: ``True`` once the frame is handed to the
    transport, ``False`` when the caller must use ``send`` (then nothing was written).

    ``hold()`` … ``release()`` gather the frames handed meanwhile into one
    ``transport.write`` (one system call, one TCP segment): a sender's own copy of its
    message and its ack (``Connection.held``). Nothing may await in between, so no
    frame can take another path and overtake the held ones.
    """

    __slots__ = ("_held", "_protocol")

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol
        self._held: list[bytes] | None = None

    def __call__(self, frame: str | bytes) -> bool:
        protocol = self._protocol
        if (
            not protocol.writable.is_set()
            or protocol.close_sent
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return False
        if self._held is not None:
            self._held.append(wire_of(frame))
        else:
            protocol.transport.write(wire_of(frame))
        return True

    def hold(self) -> None:
        self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        if held:
            # Handed over already: written unless the transport closed meanwhile,
            # as a ``transport.write`` on a closing transport would drop them too.
            transport = self._protocol.transport
            if not transport.is_closing():
                transport.write(held[0] if len(held) == 1 else b"".join(held))


def direct_writer(asgi_send: Any) -> DirectWriter | None:
    """The direct writer of the socket behind ``asgi_send``; ``None`` when the socket is
    not one this can write to."""
    protocol = getattr(asgi_send, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    if protocol.conn.extensions:  # compression negotiated: frames differ per socket
        return None
    return DirectWriter(protocol)
