"""Polls in a room: opening, voting, closing (by hand or at the deadline).

Counting is ``rooms.voting`` (pure); this module stores polls and ballots and records the
room events ``poll.created``, ``poll.voted`` and ``poll.closed``. Secrecy of a secret
ballot rests on the tables: ``PollParticipation`` says *that* a member voted (no time),
``PollBallot`` holds *what* was voted (random key, no time, no voter); the only link is
the receipt given to the voter, stored hashed, which lets them change their ballot.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.models import User
from auth.roles import Permission, Role, Scope, allows, scope_of
from rooms import events, voting
from rooms.access import RoomAccess, _current, access_room, room_spaces
from rooms.actions.messages import check_post
from rooms.errors import (
    AlreadyVoted,
    BallotRejected,
    NotAllowed,
    NotEligible,
    PollClosed,
    PollNotFound,
    PollOpen,
    PollRejected,
    RoomsError,
)
from rooms.models import Membership, Poll, PollBallot, PollParticipation, Room, RoomExclusion
from rooms.shapes import iso
from rooms.validation import clean_topic

VISIBILITIES = ("live", "after_vote", "closed")
MAX_OPTIONS = 50
MAX_OPTION_CHARS = 200
MAX_QUESTION_CHARS = 2000
MAX_CLOSES_IN_MINUTES = 60 * 24 * 90
DUE_BATCH = 20


@dataclass(frozen=True, slots=True)
class Voted:
    poll_id: int
    seq: int
    replaced: bool
    receipt: str | None
    counts: dict[str, int] | None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return out


def _rejected(error: voting.VotingError) -> RoomsError:
    cls = BallotRejected if isinstance(error, voting.BallotInvalid) else PollRejected
    return cls(reason=error.reason, **_jsonable(error.data))


def _hash(receipt: str) -> str:
    return hashlib.sha256(receipt.encode()).hexdigest()


async def voting_member_ids(session: AsyncSession, room: Room) -> list[int]:
    """Everyone whose current roles let them vote in ``room`` (observers never)."""
    today = dt.date.today()  # noqa: DTZ011 - mandates are calendar dates
    rows = await session.execute(
        select(Membership.user_id, Membership.space, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.space.in_(await room_spaces(session, room)),
            User.is_active.is_(True),
            *_current(today),
        )
    )
    held: dict[int, set[tuple[Scope, Role]]] = {}
    for user_id, space, role in rows:
        held.setdefault(user_id, set()).add((scope_of(space), Role(role)))
    excluded = set(
        await session.scalars(select(RoomExclusion.user_id).where(RoomExclusion.room_id == room.id))
    )
    return sorted(
        uid for uid, pairs in held.items() if allows(pairs, Permission.VOTE) and uid not in excluded
    )


def poll_shape(poll: Poll, participants: int = 0) -> dict[str, Any]:
    return {
        "id": poll.id,
        "topic": poll.topic,
        "kind": poll.kind,
        "question": poll.question,
        "options": list(poll.options),
        "settings": dict(poll.settings),
        "secret": poll.secret,
        "visibility": poll.visibility,
        "quorum": poll.quorum_share,
        "created_by": poll.created_by_id,
        "created_at": iso(poll.created_at),
        "closes_at": iso(poll.closes_at),
        "closed_at": iso(poll.closed_at),
        "electorate": len(poll.electorate),
        "participants": participants,
    }


def _clean_poll(
    kind: str, question: str, options: list[Any], settings: dict[str, Any], visibility: str
) -> tuple[str, list[str]]:
    question = question.strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise PollRejected(reason="question")
    if visibility not in VISIBILITIES:
        raise PollRejected(reason="visibility")
    if len(options) > MAX_OPTIONS or not all(
        isinstance(o, str) and o.strip() and len(o) <= MAX_OPTION_CHARS for o in options
    ):
        raise PollRejected(reason="invalid_option")
    cleaned = [o.strip() for o in options]
    try:
        # An empty ballot list validates the poll itself (kind, options, settings).
        voting.tally(kind, cleaned, [], settings)
    except voting.VotingError as error:
        raise _rejected(error) from None
    return question, cleaned


async def check_create(
    session: AsyncSession,
    access: RoomAccess,
    *,
    topic: str,
    kind: str,
    question: str,
    options: list[Any],
    settings: dict[str, Any] | None,
    secret: bool,
    visibility: str,
    quorum: float | None = None,
    closes_in_minutes: int | None = None,
) -> tuple[int, int]:
    """Open a poll (``poll.create``): ``(poll_id, seq)`` of ``poll.created``."""
    if not access.allows(Permission.CREATE_POLL):
        raise NotAllowed(permission=Permission.CREATE_POLL.value)
    topic = clean_topic(topic)
    settings = settings or {}
    question, cleaned = _clean_poll(kind, question, options, settings, visibility)
    if quorum is not None:
        try:
            voting.quorum(1, 0, quorum)
        except voting.VotingError as error:
            raise _rejected(error) from None
    closes_at = None
    if closes_in_minutes is not None:
        if not 1 <= closes_in_minutes <= MAX_CLOSES_IN_MINUTES:
            raise PollRejected(reason="closes_in_minutes", limit=MAX_CLOSES_IN_MINUTES)
        closes_at = utcnow() + dt.timedelta(minutes=closes_in_minutes)
    await events.lock_room(session, access.room.id)
    electorate = await voting_member_ids(session, access.room)
    poll = Poll(
        room_id=access.room.id,
        topic=topic,
        kind=kind,
        question=question,
        options=cleaned,
        settings=settings,
        secret=bool(secret),
        visibility=visibility,
        quorum_share=float(quorum) if quorum is not None else None,
        created_by_id=access.user_id,
        created_at=utcnow(),
        closes_at=closes_at,
        electorate=electorate,
    )
    session.add(poll)
    await session.flush()
    seq, _ = await events.record(
        session, access.room.id, events.POLL_CREATED, {"poll": poll_shape(poll)}
    )
    return poll.id, seq


async def _poll_of(session: AsyncSession, room_id: int, poll_id: int) -> Poll:
    poll = await session.get(Poll, poll_id)
    if poll is None or poll.room_id != room_id:
        raise PollNotFound(poll_id=poll_id)
    return poll


async def _ballots(session: AsyncSession, poll_id: int) -> list[Any]:
    return list(await session.scalars(select(PollBallot.data).where(PollBallot.poll_id == poll_id)))


async def _participants(session: AsyncSession, poll_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(PollParticipation)
        .where(PollParticipation.poll_id == poll_id)
    )
    return int(count or 0)


def option_counts(poll: Poll, ballots: list[Any]) -> dict[str, int]:
    """Running counts for the room while voting: votes per option (single, multiple),
    per position (consent), first preferences (ranked), "oui" per slot (date). Graded
    kinds (judgment, score) show no running count."""
    kind = voting.PollKind(poll.kind)
    if kind is voting.PollKind.CONSENT:
        counts = dict.fromkeys(voting.CONSENT_POSITIONS, 0)
    elif kind in (voting.PollKind.JUDGMENT, voting.PollKind.SCORE):
        return {}
    else:
        counts = dict.fromkeys(poll.options, 0)
    for ballot in ballots:
        if kind is voting.PollKind.SINGLE:
            keys = [ballot]
        elif kind is voting.PollKind.MULTIPLE:
            keys = list(ballot)
        elif kind is voting.PollKind.CONSENT:
            keys = [ballot.get("position")]
        elif kind is voting.PollKind.RANKED:
            best = min(ballot.values(), default=None)
            keys = [k for k, rank in ballot.items() if rank == best]
        else:
            keys = [k for k, answer in ballot.items() if answer == "oui"]
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    return counts


async def check_vote(
    session: AsyncSession,
    access: RoomAccess,
    *,
    poll_id: int,
    ballot: Any,
    receipt: str | None = None,
) -> Voted:
    """Cast or change a ballot (``poll.vote``).

    Open polls replace the voter's ballot. A secret poll replaces it only with the
    receipt the first vote returned; without it a second vote is ``already_voted``.
    """
    if not access.allows(Permission.VOTE):
        raise NotEligible(poll_id=poll_id)
    await events.lock_room(session, access.room.id)
    poll = await _poll_of(session, access.room.id, poll_id)
    if poll.closed_at is not None:
        raise PollClosed(poll_id=poll_id)
    if access.user_id not in poll.electorate:
        raise NotEligible(poll_id=poll_id)
    try:
        voting.check_ballot(poll.kind, poll.options, ballot, poll.settings)
    except voting.VotingError as error:
        raise _rejected(error) from None
    participated = (await session.get(PollParticipation, (poll.id, access.user_id))) is not None
    replaced, new_receipt = False, None
    if poll.secret:
        existing = None
        if receipt:
            existing = await session.scalar(
                select(PollBallot).where(
                    PollBallot.poll_id == poll.id, PollBallot.receipt_hash == _hash(receipt)
                )
            )
        if existing is not None and participated:
            existing.data = ballot
            replaced, new_receipt = True, receipt
        elif participated:
            raise AlreadyVoted(poll_id=poll_id)
        else:
            new_receipt = secrets.token_urlsafe(24)
            session.add(PollBallot(poll_id=poll.id, data=ballot, receipt_hash=_hash(new_receipt)))
    else:
        existing = await session.scalar(
            select(PollBallot).where(
                PollBallot.poll_id == poll.id, PollBallot.voter_id == access.user_id
            )
        )
        if existing is not None:
            existing.data = ballot
            replaced = True
        else:
            session.add(PollBallot(poll_id=poll.id, data=ballot, voter_id=access.user_id))
    if not participated:
        session.add(PollParticipation(poll_id=poll.id, user_id=access.user_id))
    await session.flush()
    ballots = await _ballots(session, poll.id)
    counts = option_counts(poll, ballots)
    payload: dict[str, Any] = {"poll_id": poll.id, "participants": len(ballots)}
    if poll.visibility == "live":
        payload["counts"] = counts
    seq, _ = await events.record(session, access.room.id, events.POLL_VOTED, payload)
    return Voted(
        poll_id=poll.id,
        seq=seq,
        replaced=replaced,
        receipt=new_receipt,
        counts=counts if poll.visibility in ("live", "after_vote") else None,
    )


def result_markdown(poll: Poll, result: voting.PollResult, quorum_text: str | None) -> str:
    lines = [f"**Résultat du vote : {poll.question}**", "", result.summary_fr, ""]
    lines.append(f"_{result.rule_fr}_")
    if quorum_text:
        lines += ["", quorum_text]
    if poll.outcome:
        lines += ["", f"Suite donnée : {poll.outcome}"]
    return "\n".join(lines)


async def _close(
    session: AsyncSession, poll: Poll, closer: RoomAccess | None, outcome: str | None
) -> int:
    poll.closed_at = utcnow()
    if outcome:
        poll.outcome = outcome.strip()
    ballots = await _ballots(session, poll.id)
    electorate = max(len(poll.electorate), len(ballots)) or None
    try:
        result = voting.tally(
            poll.kind, poll.options, ballots, poll.settings, electorate=electorate
        )
    except voting.VotingError as error:  # pragma: no cover - ballots were checked on entry
        raise _rejected(error) from None
    quorum_text = None
    quorum_reached = None
    if poll.quorum_share is not None and electorate:
        q = voting.quorum(electorate, len(ballots), poll.quorum_share)
        quorum_text, quorum_reached = q.text_fr, q.reached
    seq, _ = await events.record(
        session,
        poll.room_id,
        events.POLL_CLOSED,
        {
            "poll": poll_shape(poll, participants=len(ballots)),
            "result": {
                "summary_fr": result.summary_fr,
                "rule_fr": result.rule_fr,
                "rows": result.to_rows(),
                "quorum": quorum_text,
                "quorum_reached": quorum_reached,
            },
            "outcome": poll.outcome,
        },
    )
    # The result, in the poll's topic, by whoever closed it (the author at a deadline).
    author = closer
    if author is None and poll.created_by_id is not None:
        try:
            author = await access_room(session, poll.created_by_id, poll.room_id)
        except RoomsError:
            author = None
    if author is not None:
        try:
            await check_post(
                session,
                author,
                topic=poll.topic,
                source=result_markdown(poll, result, quorum_text),
                client_id=f"poll-{poll.id}-result",
            )
        except RoomsError:
            if closer is not None:
                raise
    return seq


async def check_close(
    session: AsyncSession, access: RoomAccess, *, poll_id: int, outcome: str | None = None
) -> int:
    """Close a poll by hand (``poll.close``): ``seq`` of ``poll.closed``."""
    if not access.allows(Permission.CREATE_POLL):
        raise NotAllowed(permission=Permission.CREATE_POLL.value)
    await events.lock_room(session, access.room.id)
    poll = await _poll_of(session, access.room.id, poll_id)
    if poll.closed_at is not None:
        raise PollClosed(poll_id=poll_id)
    return await _close(session, poll, access, outcome)


def _due(now: dt.datetime) -> Any:
    return (Poll.closed_at.is_(None), Poll.closes_at.is_not(None), Poll.closes_at <= now)


async def any_due(session: AsyncSession, now: dt.datetime | None = None) -> bool:
    found = await session.scalar(select(Poll.id).where(*_due(now or utcnow())).limit(1))
    return found is not None


async def close_due_polls(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Close the polls whose deadline has passed (the hub calls this each tick): one
    indexed query when none is due. Returns how many were closed."""
    now = now or utcnow()
    due = await session.execute(
        select(Poll.id, Poll.room_id).where(*_due(now)).order_by(Poll.closes_at).limit(DUE_BATCH)
    )
    closed = 0
    for poll_id, room_id in due.all():
        # Under the room lock, the poll is read again: another instance may have closed it.
        await events.lock_room(session, room_id)
        poll = await session.get(Poll, poll_id, populate_existing=True)
        if poll is None or poll.closed_at is not None:
            continue
        await _close(session, poll, None, None)
        closed += 1
    return closed


async def closed_result(session: AsyncSession, room_id: int, poll_id: int) -> voting.PollResult:
    """The result of a closed poll, recounted from its stored ballots (re-verifiable).

    Raises:
        PollNotFound: no such poll in the room.
        PollOpen: the result exists once the poll is closed.
    """
    poll = await _poll_of(session, room_id, poll_id)
    if poll.closed_at is None:
        raise PollOpen(poll_id=poll_id)
    ballots = await _ballots(session, poll.id)
    electorate = max(len(poll.electorate), len(ballots)) or None
    return voting.tally(poll.kind, poll.options, ballots, poll.settings, electorate=electorate)
