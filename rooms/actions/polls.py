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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.roles import Permission
from documents.comments import notify
from rooms import events, voting
from rooms.access import RoomAccess, access_room, voting_member_ids
from rooms.actions import proxies
from rooms.actions.messages import check_post
from rooms.errors import (
    AlreadyVoted,
    BallotRejected,
    NoProxy,
    NotAllowed,
    NotEligible,
    PollClosed,
    PollNotFound,
    PollNotOpen,
    PollOpen,
    PollRejected,
    ProxyGiven,
    RoomsError,
)
from rooms.models import (
    Poll,
    PollBallot,
    PollParticipation,
    Room,
)
from rooms.moderation import aware
from rooms.shapes import iso
from rooms.validation import clean_topic

VISIBILITIES = ("live", "after_vote", "closed")
MAX_OPTIONS = 50
MAX_OPTION_CHARS = 200
MAX_QUESTION_CHARS = 2000
MAX_CLOSES_IN_MINUTES = 60 * 24 * 90
MAX_OPENS_IN_MINUTES = 60 * 24 * 90
DUE_BATCH = 20


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder sent in the room: whom the edge should also write to, after commit."""

    poll_id: int
    room_id: int
    question: str
    closes_at: str
    user_ids: tuple[int, ...]


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


def poll_status(poll: Poll) -> str:
    """``scheduled`` (not yet open), ``open`` or ``closed``."""
    if poll.closed_at is not None:
        return "closed"
    return "open" if poll.opened_at is not None else "scheduled"


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
        "opens_at": iso(poll.opens_at),
        "opened_at": iso(poll.opened_at),
        "remind_minutes": poll.remind_minutes,
        "status": poll_status(poll),
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
    opens_in_minutes: int | None = None,
    remind_minutes: int | None = None,
) -> tuple[int, int]:
    """Open a poll (``poll.create``), or schedule it (``opens_in_minutes``): ``(poll_id,
    seq)`` of ``poll.created``. A scheduled poll's electorate is fixed when it opens."""
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
    now = utcnow()
    opens_at = None
    if opens_in_minutes is not None:
        if not 1 <= opens_in_minutes <= MAX_OPENS_IN_MINUTES:
            raise PollRejected(reason="opens_in_minutes", limit=MAX_OPENS_IN_MINUTES)
        opens_at = now + dt.timedelta(minutes=opens_in_minutes)
    closes_at = None
    if closes_in_minutes is not None:
        if not 1 <= closes_in_minutes <= MAX_CLOSES_IN_MINUTES:
            raise PollRejected(reason="closes_in_minutes", limit=MAX_CLOSES_IN_MINUTES)
        closes_at = now + dt.timedelta(minutes=closes_in_minutes)
        if opens_at is not None and closes_at <= opens_at:
            raise PollRejected(reason="closes_before_opening")
    if remind_minutes is not None:
        if closes_at is None:
            raise PollRejected(reason="reminder_without_deadline")
        if not 1 <= remind_minutes <= MAX_CLOSES_IN_MINUTES:
            raise PollRejected(reason="remind_minutes", limit=MAX_CLOSES_IN_MINUTES)
    await events.lock_room(session, access.room.id)
    electorate = [] if opens_at else await voting_member_ids(session, access.room)
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
        created_at=now,
        closes_at=closes_at,
        electorate=electorate,
        opens_at=opens_at,
        opened_at=None if opens_at else now,
        remind_minutes=remind_minutes,
        remind_at=_remind_at(closes_at, remind_minutes, opens_at or now),
    )
    session.add(poll)
    await session.flush()
    seq, _ = await events.record(
        session, access.room.id, events.POLL_CREATED, {"poll": poll_shape(poll)}
    )
    return poll.id, seq


def _remind_at(
    closes_at: dt.datetime | None, remind_minutes: int | None, after: dt.datetime
) -> dt.datetime | None:
    """When the reminder is due; none if that moment is already past (or before the
    poll opens): a reminder makes sense only with time left to act on it."""
    if closes_at is None or not remind_minutes:
        return None
    at = closes_at - dt.timedelta(minutes=remind_minutes)
    return at if at > after else None


async def _poll_of(session: AsyncSession, room_id: int, poll_id: int) -> Poll:
    poll = await session.get(Poll, poll_id)
    if poll is None or poll.room_id != room_id:
        raise PollNotFound(poll_id=poll_id)
    return poll


async def ballots_of(session: AsyncSession, poll_id: int) -> list[Any]:
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
    for_user_id: int | None = None,
) -> Voted:
    """Cast or change a ballot (``poll.vote``), one's own or, with ``for_user_id``, the
    ballot of a member whose procuration one holds.

    Open polls replace the voter's ballot. A secret poll replaces it only with the
    receipt the first vote returned; without it a second vote is ``already_voted``.
    """
    if not access.allows(Permission.VOTE):
        raise NotEligible(poll_id=poll_id)
    await events.lock_room(session, access.room.id)
    poll = await _poll_of(session, access.room.id, poll_id)
    if poll.closed_at is not None:
        raise PollClosed(poll_id=poll_id)
    if poll.opened_at is None:
        raise PollNotOpen(poll_id=poll_id, opens_at=iso(poll.opens_at))
    voter_id = access.user_id if for_user_id is None else for_user_id
    if voter_id not in poll.electorate:
        raise NotEligible(poll_id=poll_id)
    proxy = await proxies.proxy_for(session, poll, voter_id)
    participation = await session.get(PollParticipation, (poll.id, voter_id))
    if for_user_id is not None:
        if proxy is None or proxy.holder_id != access.user_id:
            raise NoProxy(poll_id=poll_id, user_id=for_user_id)
        if participation is not None and participation.proxy_id is None:
            # They voted themselves before giving their vote: their ballot stands.
            raise AlreadyVoted(poll_id=poll_id, user_id=for_user_id)
    elif proxy is not None and (participation is None or participation.proxy_id is not None):
        raise ProxyGiven(poll_id=poll_id, proxy_id=proxy.id, holder_id=proxy.holder_id)
    try:
        voting.check_ballot(poll.kind, poll.options, ballot, poll.settings)
    except voting.VotingError as error:
        raise _rejected(error) from None
    replaced, new_receipt = False, None
    if poll.secret:
        existing = None
        if receipt:
            existing = await session.scalar(
                select(PollBallot).where(
                    PollBallot.poll_id == poll.id, PollBallot.receipt_hash == _hash(receipt)
                )
            )
        if existing is not None and participation is not None:
            existing.data = ballot
            replaced, new_receipt = True, receipt
        elif participation is not None:
            raise AlreadyVoted(poll_id=poll_id)
        else:
            new_receipt = secrets.token_urlsafe(24)
            session.add(PollBallot(poll_id=poll.id, data=ballot, receipt_hash=_hash(new_receipt)))
    else:
        existing = await session.scalar(
            select(PollBallot).where(PollBallot.poll_id == poll.id, PollBallot.voter_id == voter_id)
        )
        if existing is not None:
            existing.data = ballot
            replaced = True
        else:
            session.add(PollBallot(poll_id=poll.id, data=ballot, voter_id=voter_id))
    if participation is None:
        session.add(
            PollParticipation(
                poll_id=poll.id,
                user_id=voter_id,
                proxy_id=proxy.id if for_user_id is not None and proxy else None,
            )
        )
    await session.flush()
    ballots = await ballots_of(session, poll.id)
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


async def _by_proxy(session: AsyncSession, poll_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(PollParticipation)
        .where(PollParticipation.poll_id == poll_id, PollParticipation.proxy_id.is_not(None))
    )
    return int(count or 0)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A closed poll's result with its participation: what the room, the result page
    and the CSV show, all recounted from the stored ballots."""

    poll: Poll
    result: voting.PollResult
    electorate: int
    participants: int
    by_proxy: int
    quorum_text: str | None
    quorum_reached: bool | None

    @property
    def participation_fr(self) -> str:
        text = f"Participation : {self.participants} sur {self.electorate}"
        if self.by_proxy:
            text += f" (dont {self.by_proxy} par procuration)"
        return text + "."

    def rows(self) -> list[list[str]]:
        """``PollResult.to_rows`` with the participation counting proxies and the quorum:
        the one table the CSV and the pasted result share."""
        participation = self.participation_fr.removeprefix("Participation : ").rstrip(".")
        rows = [
            ["Participation", participation] if row[:1] == ["Participation"] else row
            for row in self.result.to_rows()
        ]
        if self.quorum_text:
            rows.append(["Quorum", self.quorum_text.removeprefix("Quorum : ")])
        return rows


async def outcome_of(session: AsyncSession, poll: Poll) -> Outcome:
    ballots = await ballots_of(session, poll.id)
    by_proxy = await _by_proxy(session, poll.id)
    electorate = max(len(poll.electorate), len(ballots))
    try:
        result = voting.tally(
            poll.kind, poll.options, ballots, poll.settings, electorate=electorate or None
        )
    except voting.VotingError as error:  # pragma: no cover - ballots were checked on entry
        raise _rejected(error) from None
    quorum_text = quorum_reached = None
    if poll.quorum_share is not None and electorate:
        q = voting.quorum(electorate, len(ballots), poll.quorum_share, proxies=by_proxy)
        quorum_text, quorum_reached = q.text_fr, q.reached
    return Outcome(poll, result, electorate, len(ballots), by_proxy, quorum_text, quorum_reached)


def _cell_md(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _groups(rows: list[list[str]]) -> list[list[list[str]]]:
    groups: list[list[list[str]]] = [[]]
    for row in rows:
        if row:
            groups[-1].append(row)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def result_markdown(outcome: Outcome, *, link: str | None = None) -> str:
    """The result as markdown: the message posted in the room (with ``link`` to the full
    result) or, without it, the block a rapporteur pastes into a draft (tables)."""
    poll, result = outcome.poll, outcome.result
    lines = [f"**Résultat du vote : {poll.question}**", "", result.summary_fr, ""]
    if link is not None:
        lines.append(f"_{result.rule_fr}_")
        lines += ["", outcome.participation_fr]
        if outcome.quorum_text:
            lines += ["", outcome.quorum_text]
        if poll.outcome:
            lines += ["", f"Suite donnée : {poll.outcome}"]
        lines += ["", f"[Résultat détaillé]({link})"]
        return "\n".join(lines)
    groups = _groups(outcome.rows())
    for table in groups[:-1]:
        width = max(len(row) for row in table)
        padded = [row + [""] * (width - len(row)) for row in table]
        lines.append("| " + " | ".join(_cell_md(c) for c in padded[0]) + " |")
        lines.append("|" + " --- |" * width)
        lines += ["| " + " | ".join(_cell_md(c) for c in row) + " |" for row in padded[1:]]
        lines.append("")
    for key, *rest in groups[-1] if groups else []:
        lines.append(f"- **{key}** : {' '.join(str(c) for c in rest)}")
    if poll.closed_at is not None:
        lines.append(f"- **Clôture** : {when_fr(poll.closed_at)}")
    if poll.outcome:
        lines.append(f"- **Suite donnée** : {poll.outcome}")
    return "\n".join(lines).rstrip() + "\n"


def when_fr(moment: dt.datetime) -> str:
    local = aware(moment).astimezone(proxies.ASSEMBLY_TZ)
    return f"{local:%d/%m/%Y} à {local.hour} h {local:%M}"


async def _close(
    session: AsyncSession, poll: Poll, closer: RoomAccess | None, outcome: str | None
) -> int:
    poll.closed_at = utcnow()
    if outcome:
        poll.outcome = outcome.strip()
    poll.remind_at = None
    counted = await outcome_of(session, poll)
    seq, _ = await events.record(
        session,
        poll.room_id,
        events.POLL_CLOSED,
        {
            "poll": poll_shape(poll, participants=counted.participants),
            "result": {
                "summary_fr": counted.result.summary_fr,
                "rule_fr": counted.result.rule_fr,
                "rows": counted.result.to_rows(),
                "participation": counted.participation_fr,
                "by_proxy": counted.by_proxy,
                "quorum": counted.quorum_text,
                "quorum_reached": counted.quorum_reached,
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
                source=result_markdown(counted, link=result_page(poll)),
                client_id=f"poll-{poll.id}-result",
            )
        except RoomsError:
            if closer is not None:
                raise
    return seq


def result_page(poll: Poll) -> str:
    return f"/salons/{poll.room_id}/votes/{poll.id}"


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


async def check_extend(
    session: AsyncSession, access: RoomAccess, *, poll_id: int, closes_in_minutes: int
) -> int:
    """Move a poll's deadline later (``poll.extend``): ``seq`` of ``poll.extended``. The
    reminder, if the poll has one, is due again before the new deadline."""
    if not access.allows(Permission.CREATE_POLL):
        raise NotAllowed(permission=Permission.CREATE_POLL.value)
    if not 1 <= closes_in_minutes <= MAX_CLOSES_IN_MINUTES:
        raise PollRejected(reason="closes_in_minutes", limit=MAX_CLOSES_IN_MINUTES)
    await events.lock_room(session, access.room.id)
    poll = await _poll_of(session, access.room.id, poll_id)
    if poll.closed_at is not None:
        raise PollClosed(poll_id=poll_id)
    now = utcnow()
    closes_at = now + dt.timedelta(minutes=closes_in_minutes)
    if poll.closes_at is not None and closes_at <= aware(poll.closes_at):
        raise PollRejected(reason="not_later", closes_at=iso(poll.closes_at))
    if poll.opens_at is not None and closes_at <= aware(poll.opens_at):
        raise PollRejected(reason="closes_before_opening")
    poll.closes_at = closes_at
    poll.remind_at = _remind_at(closes_at, poll.remind_minutes, now)
    seq, _ = await events.record(
        session,
        access.room.id,
        events.POLL_EXTENDED,
        {"poll_id": poll.id, "closes_at": iso(closes_at), "by": access.user_id},
    )
    return seq


def _due(now: dt.datetime) -> Any:
    """Open polls with something to do: a deadline passed, an opening or a reminder due."""
    return (
        Poll.closed_at.is_(None),
        or_(
            Poll.closes_at <= now,
            and_(Poll.opened_at.is_(None), Poll.opens_at <= now),
            Poll.remind_at <= now,
        ),
    )


async def any_due(session: AsyncSession, now: dt.datetime | None = None) -> bool:
    found = await session.scalar(select(Poll.id).where(*_due(now or utcnow())).limit(1))
    return found is not None


async def _open(session: AsyncSession, poll: Poll, now: dt.datetime) -> None:
    room = await session.get_one(Room, poll.room_id)
    poll.opened_at = now
    poll.electorate = await voting_member_ids(session, room)
    await events.record(session, poll.room_id, events.POLL_OPENED, {"poll": poll_shape(poll)})


async def _remind(session: AsyncSession, poll: Poll) -> Reminder:
    """Tell the members who have not voted yet (nor by proxy) that the poll closes soon:
    a notification each, and ``poll.reminder`` in the room for the open pages."""
    poll.remind_at = None
    voted = set(
        await session.scalars(
            select(PollParticipation.user_id).where(PollParticipation.poll_id == poll.id)
        )
    )
    missing = [uid for uid in poll.electorate if uid not in voted]
    when = when_fr(poll.closes_at) if poll.closes_at else "bientôt"
    for user_id in missing:
        notify(
            session,
            user_id,
            "poll.reminder",
            f"Vote « {poll.question[:300]} » : clôture le {when}. Vous n'avez pas encore voté.",
            f"/salons/{poll.room_id}#vote-{poll.id}",
        )
    await events.record(
        session,
        poll.room_id,
        events.POLL_REMINDER,
        {"poll_id": poll.id, "closes_at": iso(poll.closes_at), "not_voted": len(missing)},
    )
    return Reminder(poll.id, poll.room_id, poll.question, when, tuple(missing))


async def run_due_polls(
    session: AsyncSession,
    now: dt.datetime | None = None,
    reminders: list[Reminder] | None = None,
) -> int:
    """Open, remind and close the polls whose moment has come (the hub calls this each
    tick; one indexed query when nothing is due). Each poll is read again under its
    room's lock, so two instances never do the same thing twice. Returns how many polls
    were acted on; the reminders sent are appended to ``reminders`` (for the mail the
    edge sends once this has committed)."""
    now = now or utcnow()
    due = await session.execute(
        select(Poll.id, Poll.room_id).where(*_due(now)).order_by(Poll.id).limit(DUE_BATCH)
    )
    acted = 0
    for poll_id, room_id in due.all():
        await events.lock_room(session, room_id)
        poll = await session.get(Poll, poll_id, populate_existing=True)
        if poll is None or poll.closed_at is not None:
            continue
        if poll.opened_at is None and poll.opens_at is not None and aware(poll.opens_at) <= now:
            await _open(session, poll, now)
        if poll.opened_at is None:
            continue
        if poll.closes_at is not None and aware(poll.closes_at) <= now:
            await _close(session, poll, None, None)
        elif poll.remind_at is not None and aware(poll.remind_at) <= now:
            sent = await _remind(session, poll)
            if reminders is not None:
                reminders.append(sent)
        acted += 1
    return acted


async def closed_result(session: AsyncSession, room_id: int, poll_id: int) -> Outcome:
    """The result of a closed poll, recounted from its stored ballots (re-verifiable).

    Raises:
        PollNotFound: no such poll in the room.
        PollOpen: the result exists once the poll is closed.
    """
    poll = await _poll_of(session, room_id, poll_id)
    if poll.closed_at is None:
        raise PollOpen(poll_id=poll_id)
    return await outcome_of(session, poll)
