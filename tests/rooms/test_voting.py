"""The vote count (``rooms/voting.py``): published worked examples, hand-built cases
checked against the definitions, and properties every fair count must have.

The Schulze example is Markus Schulze's 45-voter, 5-candidate example (also the one of
Wikipedia's "Schulze method" article); every cell of ``d`` and ``p`` is the published
one. Majority-judgment cases are built by hand, and the property tests compare the
ranking with a literal transcription of Balinski and Laraki's tie-break.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rooms import voting
from rooms.voting import (
    BALLOT_REASONS,
    DATE_ANSWERS,
    GRADES,
    MAX_CONSENT_REASON_CHARS,
    NONE_OF_THESE,
    POLL_REASONS,
    RULES_FR,
    BallotInvalid,
    ChoiceResult,
    ConsentBallot,
    ConsentResult,
    DateResult,
    JudgmentResult,
    Option,
    PollInvalid,
    PollKind,
    PollSettings,
    SchulzeResult,
    ScoreResult,
    check_ballot,
    majority_value,
    quorum,
    strongest_paths,
    tally,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "voting.md"

# No example database on disk (the checkout is shared), no deadline (slow CI machines).
PROPERTY = settings(database=None, deadline=None, max_examples=150)


def ranked(order: str) -> dict[str, int]:
    """ "ACBED" → {"A": 1, "C": 2, "B": 3, "E": 4, "D": 5}."""
    return {key: rank for rank, key in enumerate(order, start=1)}


def count_schulze(options: Sequence[str], ballots: Sequence[Mapping[str, int]]) -> SchulzeResult:
    result = tally(PollKind.RANKED, options, ballots, {"allow_ties": True})
    assert isinstance(result, SchulzeResult)
    return result


def count_judgment(grades: Mapping[str, Sequence[int]]) -> JudgmentResult:
    """Grades per option, voter by voter (``grades[key][voter]``)."""
    voters = {len(given) for given in grades.values()}
    assert len(voters) == 1
    ballots = [
        {key: given[voter] for key, given in grades.items()} for voter in range(voters.pop())
    ]
    result = tally(PollKind.JUDGMENT, list(grades), ballots)
    assert isinstance(result, JudgmentResult)
    return result


def consent(*positions: str) -> ConsentResult:
    result = tally(PollKind.CONSENT, [], [{"position": p} for p in positions])
    assert isinstance(result, ConsentResult)
    return result


# -- Schulze --------------------------------------------------------------------------
SCHULZE_BALLOTS = [
    ballot
    for copies, order in [
        (5, "ACBED"),
        (5, "ADECB"),
        (8, "BEDAC"),
        (3, "CABED"),
        (7, "CAEBD"),
        (2, "CBADE"),
        (7, "DCEBA"),
        (8, "EBADC"),
    ]
    for ballot in [ranked(order)] * copies
]

# Published matrices, rows and columns in the order A, B, C, D, E (diagonal unused: 0).
SCHULZE_D = (
    (0, 20, 26, 30, 22),
    (25, 0, 16, 33, 18),
    (19, 29, 0, 17, 24),
    (15, 12, 28, 0, 14),
    (23, 27, 21, 31, 0),
)
SCHULZE_P = (
    (0, 28, 28, 30, 24),
    (25, 0, 28, 33, 24),
    (25, 29, 0, 29, 24),
    (25, 28, 28, 0, 24),
    (25, 28, 28, 31, 0),
)


def test_schulze_reference_example_every_cell() -> None:
    result = tally(PollKind.RANKED, list("ABCDE"), SCHULZE_BALLOTS)
    assert isinstance(result, SchulzeResult)
    assert result.ballots == 45
    for i, a in enumerate("ABCDE"):
        for j, b in enumerate("ABCDE"):
            if i != j:
                assert result.d[i][j] == SCHULZE_D[i][j], f"d[{a}][{b}]"
                assert result.p[i][j] == SCHULZE_P[i][j], f"p[{a}][{b}]"
                assert result.pairwise(a, b) == SCHULZE_D[i][j]
                assert result.path(a, b) == SCHULZE_P[i][j]
    assert result.d == SCHULZE_D
    assert result.p == SCHULZE_P
    assert result.ranking == (("E",), ("A",), ("C",), ("B",), ("D",))
    assert result.winners == ("E",)
    assert not result.tie
    assert result.condorcet_winner is None  # E, the winner, loses its duel with C: 21 to 24
    assert result.summary_fr == (
        "E l'emporte (méthode de Schulze). Classement : E > A > C > B > D."
    )


def test_schulze_strongest_paths_from_the_published_d() -> None:
    assert strongest_paths(SCHULZE_D) == SCHULZE_P


def test_schulze_rows_hold_the_ranking_and_both_matrices() -> None:
    result = tally(PollKind.RANKED, [Option(k, f"Option {k}") for k in "ABCDE"], SCHULZE_BALLOTS)
    rows = result.to_rows()
    assert rows[0] == ["Rang", "Option"]
    assert rows[1:6] == [
        ["1", "Option E"],
        ["2", "Option A"],
        ["3", "Option C"],
        ["4", "Option B"],
        ["5", "Option D"],
    ]
    d_row = rows.index(next(r for r in rows if r and r[0].startswith("d :")))
    assert rows[d_row + 1] == ["Option A", "—", "20", "26", "30", "22"]
    p_row = rows.index(next(r for r in rows if r and r[0].startswith("p :")))
    assert rows[p_row + 5] == ["Option E", "25", "28", "28", "31", "—"]
    assert ["Résultat", result.summary_fr] in rows
    assert all(isinstance(cell, str) for row in rows for cell in row)


def test_schulze_unranked_options_tie_below_ranked_ones() -> None:
    result = count_schulze(list("ABC"), [{"B": 1}])
    assert result.pairwise("B", "A") == 1
    assert result.pairwise("B", "C") == 1
    assert result.pairwise("A", "C") == result.pairwise("C", "A") == 0
    assert result.ranking == (("B",), ("A", "C"))
    assert result.winners == ("B",)
    assert result.condorcet_winner == "B"


def test_schulze_equal_ranks_on_a_ballot_express_no_preference() -> None:
    result = count_schulze(list("ABC"), [{"A": 1, "B": 1, "C": 2}])
    assert result.pairwise("A", "B") == result.pairwise("B", "A") == 0
    assert result.pairwise("A", "C") == result.pairwise("B", "C") == 1
    assert result.ranking == (("A", "B"), ("C",))
    assert result.winners == ("A", "B")
    assert result.tie


def test_schulze_tie_is_reported_not_broken() -> None:
    result = count_schulze(list("AB"), [ranked("AB"), ranked("BA")])
    assert result.winners == ("A", "B")
    assert result.summary_fr.startswith("Égalité en tête entre A et B (méthode de Schulze)")
    assert "aucun départage automatique" in result.summary_fr


def test_schulze_condorcet_cycle_is_a_three_way_tie() -> None:
    result = count_schulze(list("ABC"), [ranked("ABC"), ranked("BCA"), ranked("CAB")])
    assert result.condorcet_winner is None
    assert result.winners == ("A", "B", "C")
    assert result.ranking == (("A", "B", "C"),)


def test_schulze_without_ballots_has_no_winner() -> None:
    result = count_schulze(list("ABC"), [])
    assert result.winners == ()
    assert result.summary_fr.startswith("Aucun bulletin")


# -- majority judgment ----------------------------------------------------------------
def test_majority_grade_is_the_lower_median() -> None:
    # Four voters: the two middle grades are "passable" (2) and "bien" (4); the lower wins.
    result = count_judgment({"A": [1, 2, 4, 5]})
    assert result.grades_of("A").majority_grade == 2
    assert result.grades_of("A").majority_grade_label == "passable"
    assert majority_value([1, 2, 4, 5]) == (2, 4, 1, 5)
    assert majority_value([5, 3, 1]) == (3, 1, 5)


def test_judgment_second_round_decides_between_equal_majority_grades() -> None:
    # Ten voters. Both Parc and Piscine have the majority grade "bien" (4):
    #   Parc    sorted: 2 2 3 3 [4] 4 5 5 6 6   → lower median (5th of 10) = 4
    #   Piscine sorted: 1 1 1 1 [4] 5 5 5 5 5   → lower median = 4
    # Remove one "bien" from each and take the new lower median (5th of 9):
    #   Parc:    2 2 3 3 [4] 5 5 6 6            → 4 (bien)
    #   Piscine: 1 1 1 1 [5] 5 5 5 5            → 5 (très bien): Piscine is ahead.
    # Médiathèque sorted: 0 0 1 1 [2] 2 3 3 3 3 → "passable", last.
    result = count_judgment(
        {
            "Parc": [6, 6, 5, 5, 4, 4, 3, 3, 2, 2],
            "Piscine": [5, 1, 5, 1, 5, 1, 5, 1, 5, 4],
            "Médiathèque": [3, 3, 3, 3, 2, 2, 1, 1, 0, 0],
        }
    )
    assert [g.majority_grade for g in result.grades] == [4, 4, 2]
    assert result.ranking == (("Piscine",), ("Parc",), ("Médiathèque",))
    assert result.winners == ("Piscine",)
    assert result.deciding_round == 2
    assert result.grades_of("Piscine").distribution == (0, 4, 0, 0, 1, 5, 0)
    assert result.grades_of("Parc").distribution == (0, 0, 2, 2, 2, 2, 2)
    assert result.summary_fr == (
        "Piscine l'emporte avec la mention majoritaire « bien » (jugement majoritaire). "
        "À mention égale avec Parc, le départage s'est fait au 2e tour (retrait successif "
        "des mentions majoritaires)."
    )


def test_judgment_tie_break_can_go_deeper() -> None:
    # A sorted: 2 2 3 3 4 4 5 5 6 6 ; B sorted: 1 1 1 4 4 4 4 4 6 6.
    # Round 1: 4 and 4. Round 2 (9 left): A 2 2 3 3 [4] 5 5 6 6 → 4 ; B 1 1 1 4 [4] 4 4 6 6
    # → 4. Round 3 (8 left): A 2 2 3 [3] 5 5 6 6 → 3 ; B 1 1 1 [4] 4 4 6 6 → 4: B wins.
    result = count_judgment(
        {"A": [2, 2, 3, 3, 4, 4, 5, 5, 6, 6], "B": [1, 1, 1, 4, 4, 4, 4, 4, 6, 6]}
    )
    assert result.winners == ("B",)
    assert result.deciding_round == 3
    assert majority_value([2, 2, 3, 3, 4, 4, 5, 5, 6, 6])[:3] == (4, 4, 3)
    assert majority_value([1, 1, 1, 4, 4, 4, 4, 4, 6, 6])[:3] == (4, 4, 4)


def test_judgment_majority_grade_alone_decides() -> None:
    result = count_judgment({"A": [6, 5, 0], "B": [3, 3, 3]})
    assert result.winners == ("A",)  # "très bien" beats "assez bien"
    assert result.deciding_round == 1
    assert result.summary_fr.endswith("Classement : A > B.")


def test_judgment_identical_grades_stay_tied() -> None:
    # Different voters gave them, but both options got one "insuffisant", one "assez
    # bien" and one "très bien": every round compares equal grades.
    result = count_judgment({"A": [1, 3, 5], "B": [5, 1, 3], "C": [0, 0, 6]})
    assert result.ranking == (("A", "B"), ("C",))
    assert result.winners == ("A", "B")
    assert result.tie
    assert result.deciding_round is None
    assert result.summary_fr.startswith(
        "Égalité parfaite entre A et B, mention majoritaire « assez bien »"
    )


def test_judgment_rows_list_the_distribution() -> None:
    result = count_judgment({"A": [1, 3, 5], "B": [0, 0, 6]})
    rows = result.to_rows()
    assert rows[0] == ["Rang", "Option", *GRADES, "Mention majoritaire"]
    assert rows[1] == ["1", "A", "0", "1", "0", "1", "0", "1", "0", "assez bien"]
    assert rows[2] == ["2", "B", "2", "0", "0", "0", "0", "0", "1", "à rejeter"]


# -- consent --------------------------------------------------------------------------
def test_consent_objection_blocks_whatever_the_majority() -> None:
    result = consent(*["pour"] * 10, "objection")
    assert result.blocked
    assert not result.adopted
    assert result.summary_fr == (
        "La proposition est bloquée par 1 objection (10 pour, 0 contre, 0 abstention)."
    )
    assert ["Issue", "bloquée"] in result.to_rows()


def test_consent_unanimous_pour_adopts() -> None:
    result = consent("pour", "pour", "pour")
    assert result.adopted
    assert not result.blocked
    assert result.summary_fr == (
        "La proposition est adoptée : 3 pour, 0 contre, 0 abstention, aucune objection."
    )


def test_consent_tie_between_pour_and_contre_is_not_adoption() -> None:
    result = consent("pour", "pour", "contre", "contre", "abstention")
    assert not result.adopted
    assert not result.blocked
    assert "il faut plus de « pour » que de « contre »" in result.summary_fr
    assert ["Issue", "non adoptée"] in result.to_rows()


def test_consent_abstentions_count_neither_way() -> None:
    result = consent("pour", "abstention", "abstention", "abstention")
    assert result.adopted
    assert result.count_of("abstention") == 3
    assert "3 abstentions" in result.summary_fr


def test_consent_without_ballots_is_not_adopted() -> None:
    result = consent()
    assert not result.adopted
    assert result.summary_fr.startswith("Aucun bulletin")


def test_consent_reasons_are_kept_trimmed_and_sorted() -> None:
    result = tally(
        PollKind.CONSENT,
        [],
        [
            {"position": "objection", "reason": "  Le budget n'est pas voté. "},
            {"position": "pour", "reason": ""},
            {"position": "contre", "reason": "Trop tôt."},
            ConsentBallot("pour", "Enfin !"),
        ],
        PollSettings(require_reason=True),
    )
    assert isinstance(result, ConsentResult)
    assert [(r.position, r.reason) for r in result.reasons] == [
        ("pour", "Enfin !"),
        ("contre", "Trop tôt."),
        ("objection", "Le budget n'est pas voté."),
    ]
    assert result.rule_fr.startswith(RULES_FR[PollKind.CONSENT])
    assert "doit être motivé" in result.rule_fr


# -- single and multiple choice -------------------------------------------------------
def test_single_choice_counts_and_winner() -> None:
    options = [Option("a", "Option A"), Option("b", "Option B"), Option("c", "Option C")]
    result = tally(PollKind.SINGLE, options, ["b", "a", "b", "b"], electorate=5)
    assert isinstance(result, ChoiceResult)
    assert [(c.key, c.count) for c in result.counts] == [("a", 1), ("b", 3), ("c", 0)]
    assert result.winners == ("b",)
    assert result.ranking == (("b",), ("a",), ("c",))
    assert result.summary_fr == "Option B l'emporte avec 3 voix sur 4 bulletins (choix unique)."
    assert result.participation_fr == "4 bulletins sur 5 inscrits (80 %)"
    rows = result.to_rows()
    assert rows[:4] == [
        ["Rang", "Option", "Voix", "Part des bulletins"],
        ["2", "Option A", "1", "25 %"],
        ["1", "Option B", "3", "75 %"],
        ["3", "Option C", "0", "0 %"],
    ]
    assert ["Participation", "4 bulletins sur 5 inscrits (80 %)"] in rows


def test_single_choice_tie_is_reported_not_broken() -> None:
    result = tally(PollKind.SINGLE, ["A", "B", "C"], ["A", "B", "C", "B", "A"])
    assert isinstance(result, ChoiceResult)
    assert result.winners == ("A", "B")
    assert result.tie
    assert result.summary_fr == (
        "Égalité en tête entre A et B, avec 2 voix chacune (choix unique) : "
        "aucun départage automatique n'est appliqué."
    )


def test_none_of_these_can_lead() -> None:
    result = tally(
        PollKind.SINGLE, ["A", "B"], ["A", NONE_OF_THESE, NONE_OF_THESE], {"none_option": True}
    )
    assert isinstance(result, ChoiceResult)
    assert result.winners == (NONE_OF_THESE,)
    assert result.count_of(NONE_OF_THESE) == 2
    assert "aucune option n'est retenue" in result.summary_fr
    assert "« Aucune de ces options »" in result.rule_fr


def test_multiple_choice_counts_every_chosen_option() -> None:
    result = tally(
        PollKind.MULTIPLE,
        ["A", "B", "C"],
        [["A", "B"], ["B"], ["C", "B"]],
        PollSettings(min_choices=1, max_choices=2),
    )
    assert isinstance(result, ChoiceResult)
    assert [c.count for c in result.counts] == [1, 3, 1]
    assert result.winners == ("B",)
    assert result.ranking == (("B",), ("A", "C"))
    assert result.to_rows()[2] == ["1", "B", "3", "100 %"]
    assert result.rule_fr.endswith("Un bulletin désigne de 1 à 2 options.")


# -- score and date -------------------------------------------------------------------
def test_score_mean_and_median_are_exact_and_equal_means_tie() -> None:
    result = tally(
        PollKind.SCORE,
        ["A", "B", "C"],
        [{"A": 5, "B": 4, "C": 0}, {"A": 0, "B": 1, "C": 1}, {"A": 4, "B": 4, "C": 2}],
    )
    assert isinstance(result, ScoreResult)
    a, b, c = result.scores
    assert (a.mean, a.median, a.total) == (Fraction(3), Fraction(4), 9)
    assert (b.mean, b.median) == (Fraction(3), Fraction(4))
    assert (c.mean, c.median) == (Fraction(1), Fraction(1))
    assert a.distribution == (1, 0, 0, 0, 1, 1)
    assert result.ranking == (("A", "B"), ("C",))
    assert result.winners == ("A", "B")
    assert result.summary_fr.startswith(
        "Égalité en tête entre A et B, avec une moyenne de 3 sur 5 (vote par notes)"
    )


def test_score_even_median_and_french_decimals() -> None:
    result = tally(PollKind.SCORE, ["A"], [{"A": 1}, {"A": 4}, {"A": 4}, {"A": 4}])
    assert isinstance(result, ScoreResult)
    assert result.scores[0].mean == Fraction(13, 4)
    assert result.scores[0].median == Fraction(4)
    assert result.to_rows()[1][:4] == ["1", "A", "3,25", "4"]
    two = tally(PollKind.SCORE, ["A"], [{"A": 1}, {"A": 4}])
    assert isinstance(two, ScoreResult)
    assert two.scores[0].median == Fraction(5, 2)
    assert two.summary_fr == "A l'emporte avec une moyenne de 2,5 sur 5 (vote par notes)."


def test_date_ranked_by_yes_then_by_yes_and_if_need_be() -> None:
    slots = [Option("lun", "lundi 14 h"), Option("mar", "mardi 10 h"), Option("jeu", "jeudi")]
    ballots = [
        {"lun": "oui", "mar": "oui", "jeu": "si besoin"},
        {"lun": "oui", "mar": "non", "jeu": "oui"},
        {"lun": "non", "mar": "si besoin", "jeu": "oui"},
    ]
    result = tally(PollKind.DATE, slots, ballots)
    assert isinstance(result, DateResult)
    # Lundi and jeudi both have two "oui"; jeudi also has a "si besoin": it comes first.
    assert [(s.yes, s.if_need_be, s.no) for s in result.slots] == [(2, 0, 1), (1, 1, 1), (2, 1, 0)]
    assert result.ranking == (("jeu",), ("lun",), ("mar",))
    assert result.summary_fr == (
        "Créneau le plus favorable : jeudi (2 oui, 1 si besoin ; sondage de dates)."
    )
    assert result.to_rows()[1] == ["1", "jeudi", "2", "1", "0", "3"]


def test_date_tie() -> None:
    result = tally(PollKind.DATE, ["X", "Y"], [{"X": "oui", "Y": "oui"}])
    assert isinstance(result, DateResult)
    assert result.winners == ("X", "Y")
    assert result.summary_fr.startswith("Égalité entre les créneaux X et Y")


# -- quorum ---------------------------------------------------------------------------
def test_quorum_reached() -> None:
    reached, text = quorum(20, 12, 0.5)
    assert reached
    assert text == "Quorum : 12 votants sur 20 inscrits (60 %), minimum requis 50 % — atteint."


def test_quorum_not_reached_and_proxies() -> None:
    result = quorum(20, 9, Fraction(1, 2), proxies=2)
    assert not result.reached
    assert result.text_fr == (
        "Quorum : 9 votants (dont 2 par procuration) sur 20 inscrits (45 %), "
        "minimum requis 50 % — non atteint."
    )


def test_quorum_boundary_is_inclusive_and_exact() -> None:
    assert quorum(20, 10, 0.5).reached
    # 0.1 means one tenth: the binary float is slightly above 1/10.
    assert quorum(10, 1, 0.1).reached
    assert quorum(3, 2, "2/3").reached
    assert not quorum(3000, 1999, "2/3").reached


def test_quorum_percentages_are_truncated() -> None:
    # 1999 of 4000 is 49,975 %: it must not read "50 %".
    reached, text = quorum(4000, 1999, 0.5)
    assert not reached
    assert "(49,9 %)" in text
    assert quorum(1, 1, 1).text_fr == (
        "Quorum : 1 votant sur 1 inscrit (100 %), minimum requis 100 % — atteint."
    )


@pytest.mark.parametrize(
    ("electorate", "counted", "share", "reason"),
    [
        (0, 0, 0.5, "invalid_electorate"),
        (10, 11, 0.5, "invalid_count"),
        (10, -1, 0.5, "invalid_count"),
        (10, 5, 1.5, "invalid_share"),
        (10, 5, "moitié", "invalid_share"),
        (10, 5, True, "invalid_share"),
    ],
)
def test_quorum_rejects_impossible_figures(
    electorate: int, counted: int, share: Any, reason: str
) -> None:
    with pytest.raises(PollInvalid) as caught:
        quorum(electorate, counted, share)
    assert caught.value.code == "poll_invalid"
    assert caught.value.reason == reason


# -- ballot validation ----------------------------------------------------------------
ABC = ["A", "B", "C"]


@pytest.mark.parametrize(
    ("kind", "ballot", "settings", "reason"),
    [
        (PollKind.SINGLE, "Z", None, "unknown_option"),
        (PollKind.SINGLE, ["A"], None, "wrong_type"),
        (PollKind.SINGLE, NONE_OF_THESE, None, "none_not_offered"),
        (PollKind.MULTIPLE, ["A", "B", "C"], {"max_choices": 2}, "too_many_choices"),
        (PollKind.MULTIPLE, [], None, "too_few_choices"),
        (PollKind.MULTIPLE, ["A", "A"], None, "duplicate_option"),
        (PollKind.MULTIPLE, ["A", "Z"], None, "unknown_option"),
        (PollKind.MULTIPLE, "AB", None, "wrong_type"),
        (PollKind.MULTIPLE, [NONE_OF_THESE, "A"], {"none_option": True}, "none_exclusive"),
        (PollKind.RANKED, {"A": 1, "B": 1}, None, "duplicate_rank"),
        (PollKind.RANKED, {"A": 0}, None, "invalid_rank"),
        (PollKind.RANKED, {"A": 4}, None, "invalid_rank"),
        (PollKind.RANKED, {"A": "1"}, None, "invalid_rank"),
        (PollKind.RANKED, {"A": True}, None, "invalid_rank"),
        (PollKind.RANKED, {"Z": 1}, None, "unknown_option"),
        (PollKind.RANKED, {}, None, "empty_ballot"),
        (PollKind.RANKED, ["A", "B"], None, "wrong_type"),
        (PollKind.JUDGMENT, {"A": 7, "B": 0, "C": 0}, None, "grade_out_of_range"),
        (PollKind.JUDGMENT, {"A": -1, "B": 0, "C": 0}, None, "grade_out_of_range"),
        (PollKind.JUDGMENT, {"A": 1, "B": 0}, None, "grade_missing"),
        (PollKind.JUDGMENT, {"A": "bien", "B": 0, "C": 0}, None, "wrong_type"),
        (PollKind.SCORE, {"A": 6, "B": 0, "C": 0}, None, "score_out_of_range"),
        (PollKind.SCORE, {"A": 1}, None, "score_missing"),
        (PollKind.DATE, {"A": "peut-être", "B": "oui", "C": "non"}, None, "answer_invalid"),
        (PollKind.DATE, {"A": "oui"}, None, "answer_missing"),
    ],
)
def test_invalid_ballots_are_refused_with_a_stable_reason(
    kind: PollKind, ballot: object, settings: dict[str, Any] | None, reason: str
) -> None:
    with pytest.raises(BallotInvalid) as caught:
        check_ballot(kind, ABC, ballot, settings)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "ballot_invalid"
    assert caught.value.reason == reason
    assert reason in BALLOT_REASONS


@pytest.mark.parametrize(
    ("ballot", "settings", "reason"),
    [
        ({"position": "oui"}, None, "unknown_position"),
        ({"position": "contre"}, {"require_reason": True}, "reason_required"),
        ({"position": "objection", "reason": "  "}, {"require_reason": True}, "reason_required"),
        (
            {"position": "pour", "reason": "x" * (MAX_CONSENT_REASON_CHARS + 1)},
            None,
            "reason_too_long",
        ),
        ({"position": "pour", "vote": 1}, None, "wrong_type"),
        ({"position": "pour", "reason": 3}, None, "wrong_type"),
        ("pour", None, "wrong_type"),
    ],
)
def test_invalid_consent_ballots(
    ballot: object, settings: dict[str, Any] | None, reason: str
) -> None:
    with pytest.raises(BallotInvalid) as caught:
        check_ballot(PollKind.CONSENT, [], ballot, settings)
    assert caught.value.reason == reason


def test_reasons_are_optional_unless_required() -> None:
    assert check_ballot("consent", [], {"position": "objection"}) == ConsentBallot("objection")
    assert check_ballot(
        "consent", [], {"position": "abstention"}, {"require_reason": True}
    ) == ConsentBallot("abstention")


def test_valid_ballots_are_normalised() -> None:
    assert check_ballot("single", ABC, "B") == "B"
    assert check_ballot("multiple", ABC, ["C", "A"]) == ("A", "C")
    assert check_ballot("multiple", ABC, [NONE_OF_THESE], {"none_option": True}) == (NONE_OF_THESE,)
    assert check_ballot("multiple", ABC, [], {"min_choices": 0}) == ()
    assert check_ballot("ranked", ABC, {"C": 1, "A": 2}) == {"A": 2, "C": 1}
    assert check_ballot("ranked", ABC, {"C": 1, "A": 1}, {"allow_ties": True}) == {"A": 1, "C": 1}
    assert check_ballot("judgment", ABC, {"A": 0, "B": 6, "C": 3}) == {"A": 0, "B": 6, "C": 3}


def test_tally_names_the_bad_ballot() -> None:
    with pytest.raises(BallotInvalid) as caught:
        tally(PollKind.SINGLE, ABC, ["A", "B", "Z"])
    assert caught.value.reason == "unknown_option"
    assert caught.value.data == {"index": 2, "option": "Z"}


@pytest.mark.parametrize(
    ("kind", "options", "settings", "reason"),
    [
        ("referendum", ABC, None, "unknown_kind"),
        (PollKind.SINGLE, [], None, "no_options"),
        (PollKind.CONSENT, ABC, None, "options_not_allowed"),
        (PollKind.SINGLE, ["A", "A"], None, "duplicate_option_key"),
        (PollKind.SINGLE, [NONE_OF_THESE], None, "invalid_option"),
        (PollKind.SINGLE, [""], None, "invalid_option"),
        (PollKind.SINGLE, "ABC", None, "invalid_option"),
        (PollKind.MULTIPLE, ABC, {"min_choices": 4}, "invalid_settings"),
        (PollKind.MULTIPLE, ABC, {"min_choices": 2, "max_choices": 1}, "invalid_settings"),
        (PollKind.MULTIPLE, ABC, {"max_choices": 4}, "invalid_settings"),
        (PollKind.SINGLE, ABC, {"colour": "red"}, "invalid_settings"),
    ],
)
def test_malformed_polls_are_refused(
    kind: str, options: Any, settings: dict[str, Any] | None, reason: str
) -> None:
    with pytest.raises(PollInvalid) as caught:
        tally(kind, options, [], settings)
    assert caught.value.code == "poll_invalid"
    assert caught.value.reason == reason
    assert reason in POLL_REASONS


def test_a_lone_ballot_is_not_mistaken_for_a_list() -> None:
    with pytest.raises(TypeError):
        tally(PollKind.SINGLE, ABC, "ABC")


def test_electorate_smaller_than_the_ballots_is_refused() -> None:
    with pytest.raises(PollInvalid) as caught:
        tally(PollKind.SINGLE, ABC, ["A", "B"], electorate=1)
    assert caught.value.reason == "invalid_electorate"


# -- properties -----------------------------------------------------------------------
@st.composite
def option_keys(draw: st.DrawFn, min_size: int = 2, max_size: int = 5) -> list[str]:
    return list(string.ascii_uppercase[: draw(st.integers(min_size, max_size))])


def ranked_ballots(keys: Sequence[str]) -> st.SearchStrategy[dict[str, int]]:
    """Any ranking of a non-empty subset, ties allowed."""
    return st.dictionaries(st.sampled_from(keys), st.integers(1, len(keys)), min_size=1)


def pairwise(
    keys: Sequence[str], ballots: Sequence[Mapping[str, int]]
) -> dict[tuple[str, str], int]:
    """d[a][b], counted the obvious way, independently of the module."""
    unranked = len(keys) + 1
    return {
        (a, b): sum(1 for ballot in ballots if ballot.get(a, unranked) < ballot.get(b, unranked))
        for a in keys
        for b in keys
    }


def condorcet_winner(keys: Sequence[str], ballots: Sequence[Mapping[str, int]]) -> str | None:
    d = pairwise(keys, ballots)
    for a in keys:
        if all(d[a, b] > d[b, a] for b in keys if b != a):
            return a
    return None


@PROPERTY
@given(data=st.data(), keys=option_keys())
def test_a_condorcet_winner_always_wins_schulze(data: st.DataObject, keys: list[str]) -> None:
    ballots = data.draw(st.lists(ranked_ballots(keys), max_size=12))
    # Some voters rallying behind a favourite make Condorcet winners common.
    favourite = data.draw(st.sampled_from(keys))
    rallying = data.draw(st.integers(0, 4))
    ballots += [{favourite: 1}] * rallying
    winner = condorcet_winner(keys, ballots)
    assume(winner is not None)
    result = count_schulze(keys, ballots)
    assert result.winners == (winner,)
    assert result.condorcet_winner == winner
    assert result.ranking[0] == (winner,)


@PROPERTY
@given(data=st.data(), keys=option_keys())
def test_a_unanimous_first_choice_wins(data: st.DataObject, keys: list[str]) -> None:
    first = data.draw(st.sampled_from(keys))
    others = [key for key in keys if key != first]
    voters = data.draw(st.integers(1, 9))

    single = tally(PollKind.SINGLE, keys, [first] * voters)
    assert isinstance(single, ChoiceResult)
    assert single.winners == (first,)

    rankings = data.draw(
        st.lists(
            st.dictionaries(st.sampled_from(others), st.integers(1, len(others))),
            min_size=voters,
            max_size=voters,
        )
    )
    ballots = [{first: 1, **{key: rank + 1 for key, rank in r.items()}} for r in rankings]
    assert count_schulze(keys, ballots).winners == (first,)

    graded = []
    for _ in range(voters):
        top = data.draw(st.integers(1, len(GRADES) - 1))
        ballot = {key: data.draw(st.integers(0, top - 1)) for key in others}
        graded.append({first: top, **ballot})
    judgment = tally(PollKind.JUDGMENT, keys, graded)
    assert isinstance(judgment, JudgmentResult)
    assert judgment.winners == (first,)


@st.composite
def polls(draw: st.DrawFn) -> tuple[PollKind, list[str], dict[str, Any], list[Any]]:
    """Any poll kind with random valid ballots."""
    kind = draw(st.sampled_from(list(PollKind)))
    keys = [] if kind is PollKind.CONSENT else draw(option_keys(1, 5))
    settings: dict[str, Any] = {}
    ballot: st.SearchStrategy[Any]
    if kind is PollKind.SINGLE:
        settings = {"none_option": True}
        ballot = st.sampled_from([*keys, NONE_OF_THESE])
    elif kind is PollKind.MULTIPLE:
        settings = {"none_option": True, "min_choices": 0}
        ballot = st.one_of(st.lists(st.sampled_from(keys), unique=True), st.just([NONE_OF_THESE]))
    elif kind is PollKind.CONSENT:
        ballot = st.fixed_dictionaries(
            {
                "position": st.sampled_from(["pour", "abstention", "contre", "objection"]),
                "reason": st.none() | st.text(max_size=8),
            }
        )
    elif kind is PollKind.RANKED:
        settings = {"allow_ties": True}
        ballot = ranked_ballots(keys)
    elif kind is PollKind.JUDGMENT:
        ballot = st.fixed_dictionaries({key: st.integers(0, 6) for key in keys})
    elif kind is PollKind.SCORE:
        ballot = st.fixed_dictionaries({key: st.integers(0, 5) for key in keys})
    else:
        ballot = st.fixed_dictionaries({key: st.sampled_from(DATE_ANSWERS) for key in keys})
    return kind, keys, settings, draw(st.lists(ballot, max_size=15))


@PROPERTY
@given(poll=polls(), data=st.data())
def test_results_do_not_depend_on_ballot_order(
    poll: tuple[PollKind, list[str], dict[str, Any], list[Any]], data: st.DataObject
) -> None:
    kind, keys, settings, ballots = poll
    shuffled = data.draw(st.permutations(ballots))
    assert tally(kind, keys, shuffled, settings) == tally(kind, keys, ballots, settings)


@PROPERTY
@given(poll=polls())
def test_counts_add_up_to_the_ballots(
    poll: tuple[PollKind, list[str], dict[str, Any], list[Any]],
) -> None:
    kind, keys, settings, ballots = poll
    result = tally(kind, keys, ballots, settings, electorate=len(ballots) + 3)
    n = len(ballots)
    assert result.ballots == n
    if isinstance(result, ChoiceResult):
        chosen = sum(1 if isinstance(b, str) else len(b) for b in ballots)
        assert sum(c.count for c in result.counts) == chosen
        assert all(c.count <= n for c in result.counts)
        if kind is PollKind.SINGLE:
            assert chosen == n
    elif isinstance(result, ConsentResult):
        assert sum(c.count for c in result.counts) == n
        no_objection = result.count_of("objection") == 0
        assert result.adopted == (
            no_objection and result.count_of("pour") > result.count_of("contre")
        )
    elif isinstance(result, SchulzeResult):
        for i, j in itertools.permutations(range(len(keys)), 2):
            assert result.d[i][j] + result.d[j][i] <= n
    elif isinstance(result, JudgmentResult):
        assert all(sum(g.distribution) == n for g in result.grades)
    elif isinstance(result, ScoreResult):
        assert all(sum(s.distribution) == n for s in result.scores)
    else:
        assert isinstance(result, DateResult)
        assert all(s.yes + s.if_need_be + s.no == n for s in result.slots)
    if not isinstance(result, ConsentResult):
        ranked_keys = sorted(key for group in result.ranking for key in group)
        offered = [*keys, NONE_OF_THESE] if isinstance(result, ChoiceResult) else keys
        assert ranked_keys == sorted(offered)
        assert set(result.winners) <= set(result.ranking[0])
    rows = result.to_rows()
    assert all(isinstance(cell, str) for row in rows for cell in row)
    assert ["Résultat", result.summary_fr] in rows


@PROPERTY
@given(data=st.data(), keys=option_keys(2, 4))
def test_full_strict_rankings_fill_every_duel(data: st.DataObject, keys: list[str]) -> None:
    ballots = [
        ranked("".join(order))
        for order in data.draw(st.lists(st.permutations(keys), min_size=1, max_size=10))
    ]
    result = tally(PollKind.RANKED, keys, ballots)
    assert isinstance(result, SchulzeResult)
    for i, j in itertools.permutations(range(len(keys)), 2):
        assert result.d[i][j] + result.d[j][i] == len(ballots)
    assert result.d == tuple(
        tuple(pairwise(keys, ballots)[a, b] if a != b else 0 for b in keys) for a in keys
    )


def widest_path_by_brute_force(d: Sequence[Sequence[int]], a: int, b: int) -> int:
    """The definition: the strongest of all simple paths a → … → b made of won duels."""
    n = len(d)
    best = 0
    middles = [k for k in range(n) if k not in (a, b)]
    for length in range(len(middles) + 1):
        for middle in itertools.permutations(middles, length):
            path = [a, *middle, b]
            links = list(itertools.pairwise(path))
            if all(d[x][y] > d[y][x] for x, y in links):
                best = max(best, min(d[x][y] for x, y in links))
    return best


@PROPERTY
@given(data=st.data(), keys=option_keys(2, 5))
def test_strongest_paths_match_the_definition(data: st.DataObject, keys: list[str]) -> None:
    ballots = data.draw(st.lists(ranked_ballots(keys), max_size=15))
    result = count_schulze(keys, ballots)
    n = len(keys)
    for a, b in itertools.permutations(range(n), 2):
        assert result.p[a][b] == widest_path_by_brute_force(result.d, a, b)
    # The ranking follows the Schulze relation: nobody is beaten by an option placed
    # after it, and each group's members are unbeaten by the options not yet placed.
    position = {key: g for g, group in enumerate(result.ranking) for key in group}
    for a, b in itertools.permutations(range(n), 2):
        if result.p[a][b] > result.p[b][a]:
            assert position[keys[a]] < position[keys[b]]
    assert sorted(position) == keys


def literal_tie_break(a: Sequence[int], b: Sequence[int]) -> int:
    """Balinski–Laraki as written: compare lower medians; while equal, remove one median
    grade from each and compare again. 1 if a is ahead, -1 if b is, 0 if a tie."""
    left, right = sorted(a), sorted(b)
    while left:
        x, y = left[(len(left) - 1) // 2], right[(len(right) - 1) // 2]
        if x != y:
            return 1 if x > y else -1
        left.remove(x)
        right.remove(y)
    return 0


@PROPERTY
@given(data=st.data(), keys=option_keys(2, 4))
def test_judgment_ranking_follows_the_tie_break_definition(
    data: st.DataObject, keys: list[str]
) -> None:
    voters = data.draw(st.integers(1, 9))
    grade = st.integers(0, 3)  # few grades: many equal medians, deep tie-breaks
    grades = {key: data.draw(st.lists(grade, min_size=voters, max_size=voters)) for key in keys}
    result = count_judgment(grades)
    position = {key: g for g, group in enumerate(result.ranking) for key in group}
    for a, b in itertools.permutations(keys, 2):
        verdict = literal_tie_break(grades[a], grades[b])
        expected = (position[a] < position[b]) - (position[a] > position[b])
        assert verdict == expected, (a, b, grades)
        if verdict == 0:
            assert sorted(grades[a]) == sorted(grades[b])


# -- documentation --------------------------------------------------------------------
def _flat(text: str) -> str:
    return " ".join(text.split())


def test_docs_quote_every_rule_and_reason() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    flat = _flat(re.sub(r"^> ?", "", docs, flags=re.M))
    for kind, rule in RULES_FR.items():
        assert _flat(rule) in flat, f"docs/voting.md does not quote the rule of {kind}"
    for reason in sorted(BALLOT_REASONS | POLL_REASONS):
        assert f"`{reason}`" in docs, f"docs/voting.md does not document {reason}"


@pytest.mark.parametrize(
    ("mode", "ballot", "error"),
    [
        ("off", {"position": "pour", "reason": "parce que"}, "reason_not_allowed"),
        ("off", {"position": "contre"}, None),
        ("optional", {"position": "objection"}, None),
        ("required", {"position": "pour"}, "reason_required"),
        ("required", {"position": "pour", "reason": "bon projet"}, None),
        ("dissent", {"position": "pour"}, None),
        ("dissent", {"position": "contre"}, "reason_required"),
    ],
)
def test_consent_reason_modes(mode: str, ballot: dict[str, str], error: str | None) -> None:
    settings = {"reasons": mode}
    if error is None:
        voting.check_ballot("consent", [], ballot, settings)
    else:
        with pytest.raises(voting.BallotInvalid) as caught:
            voting.check_ballot("consent", [], ballot, settings)
        assert caught.value.reason == error
    rule = voting.tally("consent", [], [], settings).rule_fr
    assert rule.endswith(voting.REASON_RULES_FR[mode] or voting.RULES_FR[voting.PollKind.CONSENT])


def test_unknown_reason_mode_is_refused() -> None:
    with pytest.raises(voting.PollInvalid) as caught:
        voting.tally("consent", [], [], {"reasons": "sometimes"})
    assert caught.value.reason == "invalid_settings"
