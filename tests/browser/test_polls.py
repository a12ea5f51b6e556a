"""Votes in the room page, live between a copilot and members: a poll opened from the
"Nouveau vote" form, ballots cast with the mouse and with the keyboard on a phone, running
counts on the other pages, a procuration given and used, the poll closed with its
outcome; then every kind of ballot, a secret ballot changed from the voter's device, a
scheduled poll, a deadline extended and a reminder link."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.helpers import (
    MARIE,
    OLIVIER,
    PAUL,
    PIERRE,
    a11y_problems,
    open_chantier_room,
    screenshot,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

OpenPage = Callable[..., Any]
ROOM = "Attirer de nouvelles populations"  # chantier 3.1: the other tests talk in 3.2
PHONE = {"width": 390, "height": 844}
PARIS = ZoneInfo("Europe/Paris")


def enter_room(page: Any) -> None:
    open_chantier_room(page, ROOM)


def open_panel(page: Any) -> None:
    """Unfold "Votes" (shown once the room has a poll, or to whoever can open one)."""
    panel = page.locator("#polls")
    expect(panel).to_be_visible()
    if panel.get_attribute("open") is None:
        page.locator("#polls-summary").click()
    expect(page.locator("#polls-body")).to_be_visible()


def card(page: Any, text: str) -> Any:
    return page.locator(".poll-card", has_text=text)


def create_poll(
    page: Any,
    question: str,
    kind: str,
    options: str = "",
    setup: Callable[[Any], Any] | None = None,
) -> Any:
    """Fill "Nouveau vote" and open the poll; its card on the copilot's page."""
    open_panel(page)
    page.get_by_role("button", name="Nouveau vote").click()
    dialog = page.get_by_role("dialog", name="Nouveau vote")
    expect(dialog.get_by_label("Question posée")).to_be_focused()
    dialog.get_by_label("Question posée").fill(question)
    dialog.get_by_label("Type de vote").select_option(kind)
    if options:
        dialog.get_by_label(re.compile(r"^(Options|Créneaux), ")).fill(options)
    if setup:
        setup(dialog)
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_be_hidden()
    created = card(page, question)
    expect(created).to_be_visible()
    return created


def test_copilot_opens_members_vote_by_proxy_and_the_result_is_published(
    open_page: OpenPage,
) -> None:
    pierre, marie, olivier = open_page(PIERRE), open_page(MARIE), open_page(OLIVIER)
    paul = open_page(PAUL, viewport=PHONE)
    for page in (pierre, marie, olivier, paul):
        enter_room(page)
    tag = uuid.uuid4().hex[:6]
    question = f"Quel plan retenir pour l'étude ? ({tag})"

    # The copilot fills the form: a ranked choice, results shown live.
    def ranked(dialog: Any) -> None:
        expect(dialog).to_contain_text("Chacun classe les options par préférence")
        assert not a11y_problems(pierre)

    on_pierre = create_poll(pierre, question, "ranked", "Plan A\nPlan B\nPlan C", ranked)
    expect(on_pierre).to_contain_text("Classement (méthode de Schulze)")
    expect(on_pierre).to_contain_text(re.compile(r"clôture le \d\d/\d\d à \d+ h \d\d"))
    expect(on_pierre).to_contain_text("0 vote sur")

    # Marie ranks with the mouse: the count shows on the copilot's page.
    open_panel(marie)
    expect(marie.locator("#polls-summary")).to_contain_text("attend votre vote")
    on_marie = card(marie, question)
    on_marie.get_by_role("button", name="Classer Plan B").click()
    on_marie.get_by_role("button", name="Classer Plan C").click()
    on_marie.get_by_role("button", name="Voter").click()
    expect(on_marie).to_contain_text("Votre vote est enregistré.")
    expect(on_marie).to_contain_text("Votre choix : 1. Plan B ; 2. Plan C")
    expect(on_pierre).to_contain_text("1 vote sur")
    expect(on_pierre.locator(".poll-bar", has_text="Plan B")).to_contain_text("1 (100 %)")

    # Paul, on a phone, with the keyboard only: Classer ×3, then Monter, then Voter.
    open_panel(paul)
    on_paul = card(paul, question)
    on_paul.get_by_role("button", name="Classer Plan B").focus()
    paul.keyboard.press("Enter")
    expect(on_paul.get_by_role("button", name="Classer Plan C")).to_be_focused()
    paul.keyboard.press("Enter")
    expect(on_paul.get_by_role("button", name="Classer Plan A")).to_be_focused()
    paul.keyboard.press("Enter")
    expect(on_paul.get_by_role("button", name="Monter Plan A")).to_be_focused()
    paul.keyboard.press("Enter")
    expect(on_paul.locator("[role=status]")).to_have_text("Plan A : position 2 sur 3.")
    expect(on_paul.locator(".poll-rank-list li")).to_have_text(
        [re.compile("Plan B"), re.compile("Plan A"), re.compile("Plan C")]
    )
    assert not a11y_problems(paul)
    screenshot(paul, "polls-ballot-phone")
    for _ in range(8):
        paul.keyboard.press("Tab")
        if paul.evaluate("document.activeElement.textContent") == "Voter":
            break
    expect(on_paul.get_by_role("button", name="Voter")).to_be_focused()
    paul.keyboard.press("Enter")
    expect(on_paul.locator(".poll-done")).to_be_focused()
    expect(on_paul).to_contain_text("Votre choix : 1. Plan B ; 2. Plan A ; 3. Plan C")
    expect(on_marie).to_contain_text("2 votes sur")
    expect(on_pierre).to_contain_text("2 votes sur")

    # Olivier gives his vote to Marie for this poll; she votes for him.
    open_panel(olivier)
    on_olivier = card(olivier, question)
    on_olivier.locator("summary", has_text="Donner procuration").click()
    on_olivier.get_by_label("À qui ?").select_option(label="Marie Dupont")
    expect(on_olivier.get_by_label("Ce vote seulement")).to_be_checked()
    on_olivier.get_by_role("button", name="Confirmer la procuration").click()
    expect(on_olivier).to_contain_text("Vous avez donné procuration à Marie Dupont pour ce vote.")
    expect(on_olivier.get_by_role("button", name="Révoquer la procuration")).to_be_visible()
    expect(on_olivier.get_by_role("button", name="Voter")).to_have_count(0)
    expect(marie.locator(".poll-mine")).to_contain_text("Olivier Gay vous a donné procuration")
    proxy_form = on_marie.locator("form", has_text="Olivier Gay : vote par procuration")
    proxy_form.get_by_role("button", name="Classer Plan C").click()
    proxy_form.get_by_role("button", name="Classer Plan B").click()
    proxy_form.get_by_role("button", name="Voter pour Olivier Gay").click()
    expect(on_marie).to_contain_text("Vous avez voté pour Olivier Gay (procuration).")
    expect(on_olivier).to_contain_text("Marie Dupont a voté pour vous.")
    expect(on_pierre).to_contain_text("3 votes sur")
    assert not a11y_problems(marie)
    screenshot(marie, "polls-voted-desktop")

    # The copilot closes it with the outcome: everyone sees the result and the message.
    on_pierre.get_by_role("button", name="Clôturer…").click()
    outcome = f"Le plan B sera présenté jeudi ({tag})."
    on_pierre.get_by_label("Suite donnée (facultatif)").fill(outcome)
    on_pierre.get_by_role("button", name="Clôturer le vote maintenant").click()
    for page in (pierre, marie, olivier, paul):
        closed = card(page, question)
        expect(closed.locator(".poll-status-tag")).to_have_text("Clos")
        expect(closed.locator(".poll-result-summary")).to_contain_text("Plan B")
        expect(closed).to_contain_text("Participation : 3 sur")
        expect(closed).to_contain_text("(dont 1 par procuration)")
        expect(closed).to_contain_text(outcome)
        expect(closed.get_by_role("link", name=re.compile("^Résultat détaillé"))).to_have_attribute(
            "href", re.compile(r"/salons/\d+/votes/\d+$")
        )
        message = page.locator("article.msg[data-id]", has_text=f"Résultat du vote : {question}")
        expect(message).to_be_visible()
    assert not a11y_problems(pierre)
    screenshot(pierre, "polls-closed-desktop")
    screenshot(paul, "polls-closed-phone")


def test_every_kind_of_ballot_and_the_copilot_tools(open_page: OpenPage) -> None:
    pierre, marie = open_page(PIERRE), open_page(MARIE)
    for page in (pierre, marie):
        enter_room(page)
    tag = uuid.uuid4().hex[:6]

    def q(name: str) -> str:
        return f"{name} ({tag}) ?"

    def secret(dialog: Any) -> None:
        dialog.get_by_label("Vote à bulletin secret").check()

    def bounded(dialog: Any) -> None:
        dialog.get_by_label("Nombre minimum de choix").fill("1")
        dialog.get_by_label("Nombre maximum de choix").fill("2")
        dialog.get_by_label("Proposer « Aucune de ces options »").check()

    def consent(dialog: Any) -> None:
        expect(dialog.get_by_label(re.compile("^Options"))).to_be_hidden()
        dialog.get_by_label("motif obligatoire pour contre et objection").check()
        dialog.get_by_label("après avoir voté").check()

    def ties(dialog: Any) -> None:
        dialog.get_by_label("Autoriser les ex æquo (deux options au même rang)").check()

    def no_deadline(dialog: Any) -> None:
        dialog.get_by_label("Clôture", exact=True).select_option("")
        expect(dialog.get_by_label("Rappel à qui n'a pas voté")).to_be_hidden()

    def date(dialog: Any) -> None:
        dialog.get_by_label("Quorum en % (facultatif)").fill("50")
        dialog.get_by_label("Rappel à qui n'a pas voté").select_option("60")

    def scheduled(dialog: Any) -> None:
        dialog.get_by_label("Ouverture").select_option("at")
        later = dt.datetime.now(PARIS) + dt.timedelta(days=2)  # the pages' time zone
        dialog.get_by_label("Date et heure").last.fill(later.strftime("%Y-%m-%dT10:00"))
        expect(dialog.get_by_role("button", name="Programmer le vote")).to_be_visible()

    create_poll(pierre, q("Secret"), "single", "Oui\nNon", secret)
    create_poll(pierre, q("Jours"), "multiple", "Lundi\nMardi\nMercredi", bounded)
    create_poll(pierre, q("Proposition"), "consent", "", consent)
    create_poll(pierre, q("Ex aequo"), "ranked", "A\nB\nC", ties)
    create_poll(pierre, q("Projets"), "judgment", "Projet 1\nProjet 2")
    create_poll(pierre, q("Idées"), "score", "Idée 1\nIdée 2", no_deadline)
    create_poll(pierre, q("Réunion"), "date", "Mardi 3, 14 h\nJeudi 5, 10 h", date)
    create_poll(pierre, q("Plus tard"), "single", "X\nY", scheduled)

    open_panel(marie)
    # A secret ballot: the receipt stays on this device, so the vote can be changed here.
    ballot = card(marie, q("Secret"))
    expect(ballot).to_contain_text("vote à bulletin secret")
    ballot.get_by_label("Oui").check()
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Votre choix : Oui")
    ballot.get_by_role("button", name="Modifier mon vote").click()
    expect(ballot.get_by_label("Oui")).to_be_checked()
    ballot.get_by_label("Non").check()
    ballot.get_by_role("button", name="Enregistrer mon nouveau vote").click()
    expect(ballot).to_contain_text("Votre choix : Non")
    expect(card(pierre, q("Secret"))).to_contain_text("1 vote sur")

    # Multiple choice: the bounds are checked here, "Aucune de ces options" stands alone.
    ballot = card(marie, q("Jours"))
    expect(ballot).to_contain_text("Cochez entre 1 et 2 options.")
    for day in ("Lundi", "Mardi", "Mercredi"):
        ballot.get_by_label(day).check()
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot.get_by_role("alert")).to_have_text("Cochez au plus 2 options.")
    ballot.get_by_label("Aucune de ces options").check()
    expect(ballot.get_by_label("Lundi")).not_to_be_checked()
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Votre choix : Aucune de ces options")

    # Consent: an objection needs its reason; the counts show once one has voted.
    ballot = card(marie, q("Proposition"))
    expect(ballot).to_contain_text("une fois votre vote enregistré")
    ballot.get_by_label(re.compile("^Objection")).check()
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot.get_by_role("alert")).to_have_text(
        "Un « contre » ou une objection doit être motivé."
    )
    expect(ballot.get_by_label(re.compile("^Motif"))).to_be_focused()
    ballot.get_by_label(re.compile("^Motif")).fill("Trop cher pour la commune")
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Votre choix : Objection — Trop cher pour la commune")
    expect(ballot.locator(".poll-bar", has_text="Objection")).to_contain_text("1 (100 %)")
    expect(card(pierre, q("Proposition"))).to_contain_text("une fois votre vote enregistré")

    # Ranked with ties: a rank per option.
    ballot = card(marie, q("Ex aequo"))
    ballot.get_by_label("A", exact=True).select_option("1")
    ballot.get_by_label("B", exact=True).select_option("1")
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Votre choix : 1. A ; 1. B")

    # Majority judgment: every option needs its mention.
    ballot = card(marie, q("Projets"))
    ballot.get_by_label("Projet 1").select_option(label="Très bien")
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot.get_by_role("alert")).to_have_text("Donnez une mention à « Projet 2 ».")
    expect(ballot.get_by_label("Projet 2")).to_be_focused()
    ballot.get_by_label("Projet 2").select_option(label="Passable")
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Projet 1 : Très bien ; Projet 2 : Passable")

    ballot = card(marie, q("Idées"))
    expect(ballot).to_contain_text("sans date de clôture")
    ballot.get_by_label("Idée 1").select_option("5")
    ballot.get_by_label("Idée 2").select_option("0")
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Idée 1 : 5 ; Idée 2 : 0")

    ballot = card(marie, q("Réunion"))
    expect(ballot).to_contain_text("quorum : 50 %")
    ballot.get_by_role("group", name="Mardi 3, 14 h").get_by_label("Oui").check()
    ballot.get_by_role("group", name="Jeudi 5, 10 h").get_by_label("Si besoin").check()
    ballot.get_by_role("button", name="Voter").click()
    expect(ballot).to_contain_text("Mardi 3, 14 h : Oui ; Jeudi 5, 10 h : Si besoin")

    later = card(marie, q("Plus tard"))
    expect(later.locator(".poll-status-tag")).to_have_text("Programmé")
    expect(later).to_contain_text(re.compile(r"ouvre le \d\d/\d\d à 10 h 00"))
    expect(later.get_by_role("button", name="Voter")).to_have_count(0)
    assert not a11y_problems(marie)

    # A procuration for every vote until a date, ended from "Vos procurations".
    later.locator("summary", has_text="Donner procuration").click()
    later.get_by_label("À qui ?").select_option(label="Paul Sicard")
    later.get_by_label("Tous les votes du salon, jusqu'à une date").check()
    expect(later.get_by_label("Jusqu'au (inclus)")).to_be_visible()
    later.get_by_role("button", name="Confirmer la procuration").click()
    mine = marie.locator(".poll-mine")
    expect(mine).to_contain_text(
        re.compile(
            r"Vous avez donné procuration à Paul Sicard pour tous les votes du salon "
            r"jusqu'au \d\d/\d\d/\d{4} inclus"
        )
    )
    mine.get_by_role("button", name="Révoquer la procuration").click()
    expect(mine).to_be_hidden()
    expect(later.locator("summary", has_text="Donner procuration")).to_be_visible()

    # The copilot moves a deadline; a server refusal is shown on the card.
    tools = card(pierre, q("Jours"))
    tools.get_by_role("button", name="Prolonger…").click()
    expect(tools.get_by_label("Nouvelle clôture")).to_be_focused()
    tools.get_by_label("Nouvelle clôture").select_option("1440")
    tools.get_by_role("button", name="Enregistrer la nouvelle clôture").click()
    expect(tools.get_by_role("status")).to_contain_text("Nouvelle clôture : le ")
    expect(card(marie, q("Jours"))).to_contain_text("(dans 4 jours)")

    # A reminder's link opens the panel on the poll.
    poll_id = card(marie, q("Réunion")).get_attribute("id")
    marie.goto(f"{marie.url.split('#')[0]}#{poll_id}")
    marie.reload()
    expect(marie.locator(f"#{poll_id}")).to_be_focused()
    expect(marie.locator("#polls-body")).to_be_visible()
