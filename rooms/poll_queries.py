"""Reading a room's polls as one member sees them: what the poll panel and the poll pages
show. Visibility rules live here once: counts while voting only when the poll's
``visibility`` allows it for this member, a member's own ballot only in open polls (a
secret ballot is known to its voter's device alone)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.roles import Permission
from rooms import voting
from rooms.access import RoomAccess
from rooms.actions import proxies
from rooms.actions.polls import (
    ballots_of,
    closed_result,
    option_counts,
    outcome_of,
    poll_shape,
    result_markdown,
)
from rooms.models import Poll, PollBallot, PollParticipation, PollProxy
from rooms.moderation import names_of

RECENT_CLOSED = 5
CLOSED_LIST_LIMIT = 200


def _result_shape(outcome: Any) -> dict[str, Any]:
    return {
        "summary_fr": outcome.result.summary_fr,
        "rule_fr": outcome.result.rule_fr,
        "rows": outcome.rows(),
        "participation": outcome.participation_fr,
        "by_proxy": outcome.by_proxy,
        "quorum": outcome.quorum_text,
        "quorum_reached": outcome.quorum_reached,
        "outcome": outcome.poll.outcome,
        "chart": chart(outcome.result),
    }


async def _participations(session: AsyncSession, poll_ids: list[int]) -> dict[int, dict[int, Any]]:
    """poll id → {user id → proxy id (None when they voted themselves)}."""
    found: dict[int, dict[int, Any]] = {pid: {} for pid in poll_ids}
    if poll_ids:
        rows = await session.execute(
            select(
                PollParticipation.poll_id, PollParticipation.user_id, PollParticipation.proxy_id
            ).where(PollParticipation.poll_id.in_(poll_ids))
        )
        for poll_id, user_id, proxy_id in rows:
            found[poll_id][user_id] = proxy_id
    return found


async def room_polls(
    session: AsyncSession, access: RoomAccess, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The room's open and scheduled polls, the few most recently closed, and the
    proxies in force, shaped for ``access``'s member."""
    now = now or utcnow()
    me = access.user_id
    open_polls = list(
        await session.scalars(
            select(Poll)
            .where(Poll.room_id == access.room.id, Poll.closed_at.is_(None))
            .order_by(Poll.id)
        )
    )
    closed = list(
        await session.scalars(
            select(Poll)
            .where(Poll.room_id == access.room.id, Poll.closed_at.is_not(None))
            .order_by(Poll.closed_at.desc(), Poll.id.desc())
            .limit(RECENT_CLOSED)
        )
    )
    standing = await proxies.standing_proxies(session, access.room.id, now)
    names = await names_of(
        session, {p.giver_id for p in standing} | {p.holder_id for p in standing}
    )
    everyone = open_polls + closed
    taken = await _participations(session, [p.id for p in everyone])
    shaped = []
    for poll in everyone:
        voted = taken[poll.id]
        item = poll_shape(poll, participants=len(voted))
        ballots = None
        mine: dict[str, Any] = {"eligible": me in poll.electorate, "voted": me in voted}
        if poll.closed_at is None:
            if not poll.secret and me in voted:
                mine["ballot"] = await session.scalar(
                    select(PollBallot.data).where(
                        PollBallot.poll_id == poll.id, PollBallot.voter_id == me
                    )
                )
            gave = next(
                (p for p in standing if p.giver_id == me and proxies.covers(p, poll, now)), None
            )
            if gave is not None and voted.get(me, gave.id) is not None:
                mine["gave_proxy"] = proxies.proxy_shape(gave, names)
            mine["represents"] = [
                {
                    "proxy_id": p.id,
                    "user": {"id": p.giver_id, "name": names.get(p.giver_id, "")},
                    "voted": p.giver_id in voted,
                    "ballot": None,
                }
                for p in standing
                if p.holder_id == me
                and proxies.covers(p, poll, now)
                and (poll.opened_at is None or p.giver_id in poll.electorate)
                and voted.get(p.giver_id, p.id) is not None
            ]
            if not poll.secret:
                for entry in mine["represents"]:
                    if entry["voted"]:
                        entry["ballot"] = await session.scalar(
                            select(PollBallot.data).where(
                                PollBallot.poll_id == poll.id,
                                PollBallot.voter_id == entry["user"]["id"],
                            )
                        )
            if poll.visibility == "live" or (poll.visibility == "after_vote" and me in voted):
                ballots = await ballots_of(session, poll.id)
                item["counts"] = option_counts(poll, ballots)
        else:
            item["result"] = _result_shape(await outcome_of(session, poll))
        item["me"] = mine
        shaped.append(item)
    return {
        "polls": shaped,
        "proxies": [proxies.proxy_shape(p, names) for p in standing],
        "can_create": access.allows(Permission.CREATE_POLL),
    }


async def poll_history(session: AsyncSession, room_id: int) -> dict[str, Any]:
    """Every poll of the room (newest first) and every proxy ever given there: the
    room's record of its votes and procurations."""
    polls = list(
        await session.scalars(
            select(Poll)
            .where(Poll.room_id == room_id)
            .order_by(Poll.id.desc())
            .limit(CLOSED_LIST_LIMIT)
        )
    )
    taken = await _participations(session, [p.id for p in polls])
    log = list(
        await session.scalars(
            select(PollProxy).where(PollProxy.room_id == room_id).order_by(PollProxy.id.desc())
        )
    )
    names = await names_of(
        session,
        {p.giver_id for p in log}
        | {p.holder_id for p in log}
        | {p.revoked_by_id for p in log if p.revoked_by_id},
    )
    questions = {p.id: p.question for p in polls}
    return {
        "polls": [poll_shape(p, participants=len(taken[p.id])) for p in polls],
        "proxies": [
            {
                **proxies.proxy_shape(p, names),
                "poll_question": questions.get(p.poll_id) if p.poll_id else None,
                "revoked_by": names.get(p.revoked_by_id) if p.revoked_by_id else None,
            }
            for p in log
        ],
    }


async def poll_result(session: AsyncSession, room_id: int, poll_id: int) -> dict[str, Any]:
    """A closed poll's full result and the markdown to paste into a draft."""
    outcome = await closed_result(session, room_id, poll_id)
    return {
        "poll": poll_shape(outcome.poll, participants=outcome.participants),
        "result": _result_shape(outcome),
        "markdown": result_markdown(outcome),
    }


def chart(result: voting.PollResult) -> list[dict[str, Any]]:
    """One bar per option for the result's chart: ``value`` out of ``max``, and the text
    read aloud with it. Ranked choice draws the duels each option wins (Schulze)."""
    if isinstance(result, voting.ChoiceResult | voting.ConsentResult):
        return [
            {"label": c.label, "value": c.count, "max": result.ballots, "text": str(c.count)}
            for c in result.counts
        ]
    if isinstance(result, voting.SchulzeResult):
        n = len(result.options)
        return [
            {
                "label": o.label,
                "value": (wins := sum(result.d[i][j] > result.d[j][i] for j in range(n))),
                "max": max(n - 1, 1),
                "text": f"{wins} duel{'s' if wins > 1 else ''} gagné{'s' if wins > 1 else ''}",
            }
            for i, o in enumerate(result.options)
        ]
    if isinstance(result, voting.JudgmentResult):
        top = len(voting.GRADES) - 1
        return [
            {
                "label": g.label,
                "value": g.majority_grade or 0,
                "max": top,
                "text": g.majority_grade_label,
            }
            for g in result.grades
        ]
    if isinstance(result, voting.ScoreResult):
        return [
            {
                "label": s.label,
                "value": float(s.mean or 0),
                "max": 5,
                "text": f"{float(s.mean or 0):.2f}".replace(".", ","),
            }
            for s in result.scores
        ]
    if isinstance(result, voting.DateResult):
        return [
            {
                "label": s.label,
                "value": s.available,
                "max": result.ballots,
                "text": str(s.available),
            }
            for s in result.slots
        ]
    return []
