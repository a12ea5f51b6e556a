"""Poll reminders by mail: the notification in Atelier is recorded with the reminder
(``rooms.actions.polls``); members who are not signed in also get a mail, as Loomio
does, since a deadline passes whether or not one opens the site."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from auth.models import User
from rooms.actions.polls import Reminder
from rooms.models import Room
from server.database import Database
from server.mailer import Mail, Mailer

log = logging.getLogger(__name__)


def reminder_mail(reminder: Reminder, room_name: str, to: str, name: str, base_url: str) -> Mail:
    link = f"{base_url}/salons/{reminder.room_id}#vote-{reminder.poll_id}"
    return Mail(
        to=to,
        subject=f"Rappel : vote « {reminder.question[:80]} » — clôture le {reminder.closes_at}",
        text=(
            f"Bonjour {name},\n\n"
            f"Le vote « {reminder.question} » du salon « {room_name} » se clôt le "
            f"{reminder.closes_at}, et vous n'avez pas encore voté.\n\n"
            f"Pour voter (ou donner procuration) : {link}\n\n"
            "— Atelier, l'espace de travail de l'Assemblée des Territoires\n"
        ),
    )


def mail_reminders(
    db: Database, mailer: Mailer, base_url: str
) -> Callable[[list[Reminder]], Awaitable[None]]:
    """The hub's ``on_reminders``: one mail per member reminded (active accounts only)."""

    async def send(reminders: list[Reminder]) -> None:
        for reminder in reminders:
            async with db.read() as session:
                room = await session.get(Room, reminder.room_id)
                people = (
                    await session.execute(
                        select(User.email, User.display_name).where(
                            User.id.in_(reminder.user_ids), User.is_active.is_(True)
                        )
                    )
                ).all()
            for email, name in people:
                try:
                    await mailer.send(
                        reminder_mail(reminder, room.name if room else "", email, name, base_url)
                    )
                except Exception:  # one bad address must not stop the others
                    log.exception("poll reminder mail to %s failed", email)

    return send
