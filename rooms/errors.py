"""Errors of the rooms domain. Each has a stable ``code``; ``data`` carries the details the
edge needs to phrase a French message (``server/errors.py``)."""

from __future__ import annotations

from typing import Any


class RoomsError(Exception):
    code = "rooms_error"

    def __init__(self, detail: str = "", **data: Any) -> None:
        super().__init__(detail or self.code)
        self.data = data


class RoomNotFound(RoomsError):
    code = "room_not_found"


class MessageNotFound(RoomsError):
    code = "message_not_found"


class NotAllowed(RoomsError):
    """The member's roles in this room do not grant ``data['permission']``."""

    code = "forbidden"


class NotAuthor(RoomsError):
    code = "not_author"


class InvalidInput(RoomsError):
    """Validated input is wrong (empty message, topic too long…): ``data['field']``."""

    code = "invalid_input"


class MessageDeleted(RoomsError):
    code = "message_deleted"


class ExcludedFromRoom(RoomsError):
    """A moderator removed the member from this room (whatever their roles)."""

    code = "room_excluded"


class RoomLocked(RoomsError):
    """The room is locked: read-only but for its moderators."""

    code = "room_locked"


class Muted(RoomsError):
    """The member is muted in this room: ``until`` (ISO), ``minutes`` left, ``retry_after``."""

    code = "muted"


class SlowMode(RoomsError):
    """Slow mode: ``seconds`` between a member's messages; ``retry_after`` left."""

    code = "slow_mode"


class Blocked(RoomsError):
    """The member is blocked across the assembly: they read but write nowhere; ``reason``."""

    code = "blocked"


class AnnouncementNotFound(RoomsError):
    code = "announcement_not_found"


class PollNotFound(RoomsError):
    code = "poll_not_found"


class PollClosed(RoomsError):
    code = "poll_closed"


class PollOpen(RoomsError):
    """The result is asked for before the poll closed."""

    code = "poll_open"


class NotEligible(RoomsError):
    """The member is not in the poll's electorate (fixed when it opened)."""

    code = "not_eligible"


class AlreadyVoted(RoomsError):
    """A second secret ballot without the receipt of the first."""

    code = "already_voted"


class BallotRejected(RoomsError):
    """``rooms.voting.BallotInvalid`` at the edge: ``reason`` and its details."""

    code = "ballot_invalid"


class PollRejected(RoomsError):
    """``rooms.voting.PollInvalid`` (or a bad poll field) at the edge: ``reason``."""

    code = "poll_invalid"


class PollNotOpen(RoomsError):
    """A scheduled poll is voted in before it opens; ``opens_at``."""

    code = "poll_not_open"


class ProxyRejected(RoomsError):
    """A procuration that breaks the rules (``reason``: ``self``, ``holder_not_voter``,
    ``giver_not_voter``, ``giver_has_proxy``, ``holder_carries``, ``chain``,
    ``already_voted``, ``until``, ``scope``)."""

    code = "proxy_invalid"


class ProxyNotFound(RoomsError):
    code = "proxy_not_found"


class ProxyUsed(RoomsError):
    """The holder has already voted with this one-poll procuration: it can no longer be
    revoked."""

    code = "proxy_used"


class ProxyGiven(RoomsError):
    """The member gave their vote for this poll: they revoke the procuration to vote."""

    code = "proxy_given"


class NoProxy(RoomsError):
    """A vote ``for_user_id`` someone who gave the voter no procuration for this poll."""

    code = "no_proxy"
