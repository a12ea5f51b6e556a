"""Procurations: a member gives their vote to another member of the room.

The rules, as in the assembly's bylaws (and French deliberative bodies generally):
- a proxy covers one poll, or every poll of the room until a date;
- a member gives at most one proxy for a poll, and carries at most one (``nul ne peut
  détenir plus d'un pouvoir``); no chains: whoever gave their vote carries none;
- the giver may revoke it until the holder has voted with it (a period proxy can always
  be ended; the votes already cast with it stand);
- while it stands, the giver does not vote themselves in the polls it covers.

Every proxy stays in ``poll_proxies`` (revoking sets ``revoked_at``) and is announced in
the room (``proxy.given``, ``proxy.revoked``): that table and those events are the log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth.base import utcnow
from auth.roles import Permission
from rooms import events
from rooms.access import RoomAccess, voting_member_ids
from rooms.errors import (
    NotAllowed,
    NotEligible,
    PollClosed,
    PollNotFound,
    ProxyNotFound,
    ProxyRejected,
    ProxyUsed,
)
from rooms.models import Poll, PollParticipation, PollProxy
from rooms.moderation import aware, names_of
from rooms.shapes import iso

# Dates are the assembly's calendar days: a proxy "jusqu'au 15 décembre" ends at the end
# of that day in Paris.
ASSEMBLY_TZ = ZoneInfo("Europe/Paris")
MAX_PERIOD_DAYS = 366


def proxy_shape(proxy: PollProxy, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": proxy.id,
        "giver": {"id": proxy.giver_id, "name": names.get(proxy.giver_id, "")},
        "holder": {"id": proxy.holder_id, "name": names.get(proxy.holder_id, "")},
        "poll_id": proxy.poll_id,
        "until": iso(proxy.until),
        "created_at": iso(proxy.created_at),
        "revoked_at": iso(proxy.revoked_at),
    }


def covers(proxy: PollProxy, poll: Poll, now: dt.datetime) -> bool:
    """Does this standing proxy apply to ``poll`` now?"""
    if proxy.revoked_at is not None or proxy.room_id != poll.room_id:
        return False
    if proxy.poll_id is not None:
        return proxy.poll_id == poll.id
    return proxy.until is None or aware(proxy.until) > now


def _overlap(a: PollProxy, b: PollProxy) -> bool:
    """Two standing proxies of a room can apply to the same poll."""
    return a.poll_id is None or b.poll_id is None or a.poll_id == b.poll_id


async def standing_proxies(
    session: AsyncSession, room_id: int, now: dt.datetime | None = None
) -> list[PollProxy]:
    """The room's proxies still in force: not revoked, period not over, poll not closed."""
    now = now or utcnow()
    rows = await session.scalars(
        select(PollProxy)
        .outerjoin(Poll, Poll.id == PollProxy.poll_id)
        .where(
            PollProxy.room_id == room_id,
            PollProxy.revoked_at.is_(None),
            or_(PollProxy.poll_id.is_(None), Poll.closed_at.is_(None)),
        )
        .order_by(PollProxy.id)
    )
    return [p for p in rows if p.poll_id is not None or p.until is None or aware(p.until) > now]


async def proxy_for(
    session: AsyncSession, poll: Poll, giver_id: int, now: dt.datetime | None = None
) -> PollProxy | None:
    """The proxy by which ``giver_id`` gave their vote in ``poll``, if one stands."""
    now = now or utcnow()
    for proxy in await standing_proxies(session, poll.room_id, now):
        if proxy.giver_id == giver_id and covers(proxy, poll, now):
            return proxy
    return None


def _end_of_day(day: dt.date) -> dt.datetime:
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ASSEMBLY_TZ)
    return midnight.astimezone(dt.UTC)


async def check_give(
    session: AsyncSession,
    access: RoomAccess,
    *,
    holder_id: int,
    poll_id: int | None = None,
    until: str | None = None,
) -> tuple[int, int]:
    """Give one's vote to ``holder_id`` (``proxy.give``): for ``poll_id``, or for every
    poll of the room through the day ``until`` (``YYYY-MM-DD``). ``(proxy_id, seq)``."""
    if not access.allows(Permission.VOTE):
        raise NotAllowed(permission=Permission.VOTE.value)
    if (poll_id is None) == (until is None):
        raise ProxyRejected(reason="scope")
    giver_id = access.user_id
    if holder_id == giver_id:
        raise ProxyRejected(reason="self")
    now = utcnow()
    await events.lock_room(session, access.room.id)
    poll = None
    end = None
    if poll_id is not None:
        poll = await session.get(Poll, poll_id)
        if poll is None or poll.room_id != access.room.id:
            raise PollNotFound(poll_id=poll_id)
        if poll.closed_at is not None:
            raise PollClosed(poll_id=poll_id)
        if poll.opened_at is not None:
            if giver_id not in poll.electorate:
                raise NotEligible(poll_id=poll_id)
            if holder_id not in poll.electorate:
                raise ProxyRejected(reason="holder_not_voter")
            if await session.get(PollParticipation, (poll.id, giver_id)) is not None:
                raise ProxyRejected(reason="already_voted")
    else:
        try:
            day = dt.date.fromisoformat(str(until))
        except ValueError:
            raise ProxyRejected(reason="until") from None
        today = now.astimezone(ASSEMBLY_TZ).date()
        if not today <= day <= today + dt.timedelta(days=MAX_PERIOD_DAYS):
            raise ProxyRejected(reason="until", max_days=MAX_PERIOD_DAYS)
        end = _end_of_day(day)
    voters = set(await voting_member_ids(session, access.room))
    if holder_id not in voters:
        raise ProxyRejected(reason="holder_not_voter")
    new = PollProxy(
        room_id=access.room.id,
        giver_id=giver_id,
        holder_id=holder_id,
        poll_id=poll_id,
        until=end,
        created_at=now,
    )
    for other in await standing_proxies(session, access.room.id, now):
        if not _overlap(other, new):
            continue
        if other.giver_id == giver_id:
            raise ProxyRejected(reason="giver_has_proxy", proxy_id=other.id)
        if other.holder_id == holder_id:
            raise ProxyRejected(reason="holder_carries", proxy_id=other.id)
        if other.giver_id == holder_id or other.holder_id == giver_id:
            raise ProxyRejected(reason="chain", proxy_id=other.id)
    session.add(new)
    await session.flush()
    names = await names_of(session, {giver_id, holder_id})
    seq, _ = await events.record(
        session, access.room.id, events.PROXY_GIVEN, {"proxy": proxy_shape(new, names)}
    )
    return new.id, seq


async def check_revoke(session: AsyncSession, access: RoomAccess, *, proxy_id: int) -> int:
    """End a proxy (``proxy.revoke``): its giver, or its holder declining it. A one-poll
    proxy already used cannot be revoked (``proxy_used``). Returns the event's ``seq``."""
    await events.lock_room(session, access.room.id)
    proxy = await session.get(PollProxy, proxy_id)
    if proxy is None or proxy.room_id != access.room.id or proxy.revoked_at is not None:
        raise ProxyNotFound(proxy_id=proxy_id)
    if access.user_id not in (proxy.giver_id, proxy.holder_id):
        raise NotAllowed(permission="proxy.revoke")
    if proxy.poll_id is not None:
        used = await session.scalar(
            select(PollParticipation.user_id).where(
                PollParticipation.poll_id == proxy.poll_id,
                PollParticipation.proxy_id == proxy.id,
            )
        )
        if used is not None:
            raise ProxyUsed(proxy_id=proxy_id)
    proxy.revoked_at = utcnow()
    proxy.revoked_by_id = access.user_id
    seq, _ = await events.record(
        session,
        access.room.id,
        events.PROXY_REVOKED,
        {"proxy_id": proxy.id, "by": access.user_id},
    )
    return seq
