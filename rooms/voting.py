"""Counting the ballots of Atelier's polls — exactly, without I/O, and saying how.

A working group's decision is only as legitimate as its count is explainable. So this
module is pure (plain values in, frozen dataclasses out: no database, no clock, no
framework), counts with integers and ``Fraction`` (never floats), never breaks a tie
silently, and every result carries the French sentence of the rule it applied
(``rule_fr``), a one- or two-sentence verdict (``summary_fr``) and a CSV-ready table
(``to_rows()``). The room, the CSV export and the tests therefore all show the same
numbers, computed the same way.

Entry points:

- ``check_ballot(kind, options, ballot, settings)`` validates one untrusted ballot and
  returns its normalised form, or raises ``BallotInvalid`` (``code`` ``ballot_invalid``,
  a stable ``reason``);
- ``tally(kind, options, ballots, settings, electorate=...)`` validates and counts every
  ballot and returns the result object of the poll kind;
- ``quorum(electorate, counted, minimum_share)`` says whether a quorum is reached, in
  French.

``docs/voting.md`` explains each method and quotes the rules of ``RULES_FR``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, fields
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple, TypeAlias

__all__ = [
    "BALLOT_REASONS",
    "CONSENT_POSITIONS",
    "DATE_ANSWERS",
    "GRADES",
    "MAX_CONSENT_REASON_CHARS",
    "METHOD_FR",
    "NONE_OF_THESE",
    "NONE_OF_THESE_LABEL",
    "POLL_REASONS",
    "REASON_MODES",
    "RULES_FR",
    "SCORE_MAX",
    "SCORE_MIN",
    "BallotInvalid",
    "ChoiceResult",
    "ConsentBallot",
    "ConsentReason",
    "ConsentResult",
    "DateResult",
    "JudgmentResult",
    "Option",
    "OptionCount",
    "OptionGrades",
    "OptionScore",
    "PollInvalid",
    "PollKind",
    "PollResult",
    "PollSettings",
    "PositionCount",
    "Quorum",
    "SchulzeResult",
    "ScoreResult",
    "SlotCount",
    "VotingError",
    "check_ballot",
    "majority_value",
    "quorum",
    "strongest_paths",
    "tally",
]


class PollKind(StrEnum):
    """The poll kinds Atelier offers; the value is what the database and frames store."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    CONSENT = "consent"
    RANKED = "ranked"  # counted by the Schulze method
    JUDGMENT = "judgment"  # jugement majoritaire
    SCORE = "score"
    DATE = "date"


# Reserved ballot key of the optional "none of these" answer (single and multiple choice).
# It starts with an underscore so that it cannot collide with a real option key: option
# keys starting with "_" are refused.
NONE_OF_THESE = "_none"
NONE_OF_THESE_LABEL = "Aucune de ces options"

CONSENT_POSITIONS = ("pour", "abstention", "contre", "objection")
POSITION_LABELS = {
    "pour": "Pour",
    "abstention": "Abstention",
    "contre": "Contre",
    "objection": "Objection",
}
# Positions that must give a reason when the poll sets ``require_reason``: a dissent
# the group cannot read cannot be answered.
REASON_POSITIONS = ("contre", "objection")
MAX_CONSENT_REASON_CHARS = 2000

# Majority-judgment grades, worst (0) to best (6).
GRADES = ("à rejeter", "insuffisant", "passable", "assez bien", "bien", "très bien", "excellent")

SCORE_MIN = 0
SCORE_MAX = 5

DATE_ANSWERS = ("oui", "si besoin", "non")

# Consent ballots' reasons (``PollSettings.reasons``) and the sentence each adds to the rule.
REASON_MODES = ("off", "optional", "required", "dissent")
REASON_RULES_FR = {
    "off": " Les bulletins ne portent pas de motif.",
    "optional": "",
    "required": " Chaque bulletin doit être motivé.",
    "dissent": " Un « contre » ou une objection doit être motivé.",
}

METHOD_FR = {
    PollKind.SINGLE: "choix unique",
    PollKind.MULTIPLE: "choix multiples",
    PollKind.CONSENT: "décision par consentement",
    PollKind.RANKED: "méthode de Schulze",
    PollKind.JUDGMENT: "jugement majoritaire",
    PollKind.SCORE: "vote par notes",
    PollKind.DATE: "sondage de dates",
}

# The rule of each kind, as the UI quotes it. ``docs/voting.md`` quotes them verbatim
# (a test checks it). Sentences that depend on the settings (bounds of a multiple choice,
# "none of these", reasons required) are appended by the tallies.
RULES_FR = {
    PollKind.SINGLE: (
        "Choix unique : chaque bulletin désigne une seule option ; l'option qui recueille "
        "le plus de voix l'emporte. Une égalité en tête est signalée et n'est pas "
        "départagée."
    ),
    PollKind.MULTIPLE: (
        "Choix multiples : chaque bulletin peut désigner plusieurs options et chaque option "
        "reçoit une voix par bulletin qui la désigne ; l'option qui recueille le plus de "
        "voix l'emporte. Une égalité en tête est signalée et n'est pas départagée."
    ),
    PollKind.CONSENT: (
        "Consentement : la proposition est adoptée s'il n'y a aucune objection et s'il y a "
        "plus de « pour » que de « contre » ; une seule objection la bloque ; les "
        "abstentions ne comptent ni pour ni contre."
    ),
    PollKind.RANKED: (
        "Méthode de Schulze (Condorcet) : pour chaque paire d'options, on compte les votants "
        "qui préfèrent l'une à l'autre (une option classée est préférée à une option non "
        "classée). Un chemin d'une option X vers une option Y est une suite de duels gagnés "
        "menant de X à Y ; sa force est celle de son duel le plus faible, un duel gagné "
        "valant le nombre de votants qui l'ont fait gagner. X devance Y si le chemin le plus "
        "fort de X vers Y est plus fort que le chemin le plus fort de Y vers X. Les options "
        "que personne ne devance l'emportent ; une égalité est signalée."
    ),
    PollKind.JUDGMENT: (
        "Jugement majoritaire : chaque votant attribue une mention à chaque option, de « à "
        "rejeter » à « excellent ». La mention majoritaire d'une option est la médiane de "
        "ses mentions (la plus basse des deux médianes si le nombre de votants est pair). "
        "L'option dont la mention majoritaire est la meilleure l'emporte. En cas d'égalité, "
        "on retire une mention majoritaire à chaque option à égalité et on compare les "
        "nouvelles mentions majoritaires, jusqu'à les départager ; deux options qui ont "
        "reçu exactement les mêmes mentions restent à égalité."
    ),
    PollKind.SCORE: (
        "Vote par notes : chaque votant note chaque option de 0 à 5 ; les options sont "
        "classées par moyenne des notes, la médiane étant indiquée pour information. Une "
        "égalité de moyenne est signalée et n'est pas départagée."
    ),
    PollKind.DATE: (
        "Sondage de dates : chaque participant répond « oui », « si besoin » ou « non » "
        "pour chaque créneau ; les créneaux sont classés par nombre de « oui », puis par "
        "nombre de « oui » et « si besoin » réunis. Une égalité est signalée."
    ),
}

# Every ``BallotInvalid.reason``; the edge turns them into French sentences.
BALLOT_REASONS = frozenset(
    {
        "wrong_type",
        "unknown_option",
        "duplicate_option",
        "too_few_choices",
        "too_many_choices",
        "none_not_offered",
        "none_exclusive",
        "empty_ballot",
        "invalid_rank",
        "duplicate_rank",
        "grade_out_of_range",
        "grade_missing",
        "score_out_of_range",
        "score_missing",
        "answer_invalid",
        "answer_missing",
        "unknown_position",
        "reason_required",
        "reason_not_allowed",
        "reason_too_long",
    }
)

# Every ``PollInvalid.reason``: a poll (or quorum) that was set up wrong — a bug of the
# caller or of the poll editor, never of a voter.
POLL_REASONS = frozenset(
    {
        "unknown_kind",
        "no_options",
        "options_not_allowed",
        "invalid_option",
        "duplicate_option_key",
        "invalid_settings",
        "invalid_electorate",
        "invalid_count",
        "invalid_share",
    }
)


# -- errors ---------------------------------------------------------------------------
class VotingError(ValueError):
    """Base of the voting errors: a stable ``code``, a stable ``reason``, and ``data``
    with the details (option key, limit, ballot index) the edge needs to phrase it."""

    code = "voting_error"

    def __init__(self, reason: str, **data: Any) -> None:
        details = ", ".join(f"{key}={value!r}" for key, value in sorted(data.items()))
        super().__init__(f"{self.code}: {reason}" + (f" ({details})" if details else ""))
        self.reason = reason
        self.data = data


class BallotInvalid(VotingError):
    """A voter's ballot breaks the poll's rules; ``reason`` is one of ``BALLOT_REASONS``.
    Raised by ``tally`` too, with ``data['index']`` the position of the bad ballot."""

    code = "ballot_invalid"


class PollInvalid(VotingError):
    """The poll itself is malformed (options, settings, kind, quorum figures);
    ``reason`` is one of ``POLL_REASONS``."""

    code = "poll_invalid"


# -- poll definition ------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One option (or date slot): ``key`` is what ballots name, ``label`` what people read."""

    key: str
    label: str


@dataclass(frozen=True)
class PollSettings:
    """The rules a poll's editor chose. Fields that do not apply to a kind are ignored.

    - ``min_choices`` / ``max_choices``: multiple choice only; ``max_choices=None`` means
      "as many as there are options". ``min_choices=0`` allows a blank ballot.
    - ``none_option``: single and multiple choice offer "Aucune de ces options".
    - ``allow_ties``: ranked ballots may give two options the same rank.
    - ``require_reason``: consent ballots saying "contre" or "objection" must give a reason.
    - ``reasons``: consent ballots' reasons, ``off`` (none may be given), ``optional``,
      ``required`` (every ballot) or ``dissent`` (the same as ``require_reason``).
    """

    min_choices: int = 1
    max_choices: int | None = None
    none_option: bool = False
    allow_ties: bool = False
    require_reason: bool = False
    reasons: str | None = None

    @property
    def reason_mode(self) -> str:
        return self.reasons or ("dissent" if self.require_reason else "optional")


@dataclass(frozen=True)
class ConsentBallot:
    """A normalised consent ballot: the position and its reason (``None`` if none given)."""

    position: str
    reason: str | None = None


# What ``check_ballot`` returns, by kind: single → the option key; multiple → the chosen
# keys in option order; consent → ``ConsentBallot``; ranked → {key: rank} for the ranked
# options; judgment and score → {key: grade or score} for every option; date →
# {slot key: answer} for every slot.
CheckedBallot: TypeAlias = str | tuple[str, ...] | ConsentBallot | dict[str, int] | dict[str, str]


@dataclass(frozen=True)
class _Poll:
    """A validated poll definition, so that counting validates it once, not per ballot."""

    kind: PollKind
    options: tuple[Option, ...]
    settings: PollSettings
    max_choices: int
    keys: tuple[str, ...]
    key_set: frozenset[str]


def _is_int(value: object) -> bool:
    # bool is an int subclass; True is not a grade.
    return isinstance(value, int) and not isinstance(value, bool)


def _poll(
    kind: PollKind | str,
    options: Iterable[Option | str],
    settings: PollSettings | Mapping[str, Any] | None,
) -> _Poll:
    try:
        poll_kind = PollKind(kind)
    except ValueError:
        raise PollInvalid("unknown_kind", kind=kind) from None

    if isinstance(options, str | bytes | Mapping):
        raise PollInvalid("invalid_option", options=options)
    cleaned: list[Option] = []
    for option in options:
        if isinstance(option, str):
            option = Option(option, option)
        if (
            not isinstance(option, Option)
            or not isinstance(option.key, str)
            or not isinstance(option.label, str)
            or not option.key
            or option.key.startswith("_")
        ):
            raise PollInvalid("invalid_option", option=option)
        cleaned.append(option)
    keys = [option.key for option in cleaned]
    if len(set(keys)) != len(keys):
        duplicates = sorted(key for key, n in Counter(keys).items() if n > 1)
        raise PollInvalid("duplicate_option_key", options=duplicates)
    if poll_kind is PollKind.CONSENT:
        if cleaned:
            raise PollInvalid("options_not_allowed", kind=poll_kind.value)
    elif not cleaned:
        raise PollInvalid("no_options", kind=poll_kind.value)

    if settings is None:
        settings = PollSettings()
    elif isinstance(settings, Mapping):
        known = {f.name for f in fields(PollSettings)}
        unknown = sorted(str(name) for name in settings if name not in known)
        if unknown:
            raise PollInvalid("invalid_settings", unknown=unknown)
        settings = PollSettings(**settings)
    elif not isinstance(settings, PollSettings):
        raise PollInvalid("invalid_settings", settings=settings)

    for name in ("none_option", "allow_ties", "require_reason"):
        if not isinstance(getattr(settings, name), bool):
            raise PollInvalid("invalid_settings", field=name)
    if settings.reasons is not None and settings.reasons not in REASON_MODES:
        raise PollInvalid("invalid_settings", field="reasons", value=settings.reasons)
    max_choices = len(cleaned)
    if poll_kind is PollKind.MULTIPLE:
        low, high = settings.min_choices, settings.max_choices
        if not _is_int(low) or not 0 <= low <= len(cleaned):
            raise PollInvalid("invalid_settings", field="min_choices", value=low)
        if high is not None:
            if not _is_int(high) or not max(low, 1) <= high <= len(cleaned):
                raise PollInvalid("invalid_settings", field="max_choices", value=high)
            max_choices = high
    return _Poll(poll_kind, tuple(cleaned), settings, max_choices, tuple(keys), frozenset(keys))


# -- ballot validation ----------------------------------------------------------------
def check_ballot(
    kind: PollKind | str,
    options: Iterable[Option | str],
    ballot: object,
    settings: PollSettings | Mapping[str, Any] | None = None,
) -> CheckedBallot:
    """Validate one untrusted ballot and return its normalised form (see ``CheckedBallot``).

    The shapes a ballot may take, by kind (JSON-friendly, as a frame would carry them):

    - ``single``: an option key, or ``NONE_OF_THESE`` when the poll offers it;
    - ``multiple``: a list of option keys (or ``[NONE_OF_THESE]`` alone);
    - ``consent``: ``{"position": "pour"|"abstention"|"contre"|"objection",
      "reason": str | None}`` or a ``ConsentBallot``; ``options`` must be empty;
    - ``ranked``: ``{option key: rank}``, rank 1 = preferred, for a subset of the options;
    - ``judgment``: ``{option key: grade}`` for every option, grade 0 (``GRADES[0]``,
      "à rejeter") to 6 ("excellent");
    - ``score``: ``{option key: score}`` for every option, 0 to 5;
    - ``date``: ``{slot key: "oui"|"si besoin"|"non"}`` for every slot.

    Raises ``BallotInvalid`` (voter's mistake) or ``PollInvalid`` (the poll's).
    """
    return _CHECKERS[(poll := _poll(kind, options, settings)).kind](poll, ballot)


def _check_single(poll: _Poll, ballot: object) -> str:
    if not isinstance(ballot, str):
        raise BallotInvalid("wrong_type", expected="option key")
    if ballot == NONE_OF_THESE:
        if not poll.settings.none_option:
            raise BallotInvalid("none_not_offered")
        return ballot
    if ballot not in poll.key_set:
        raise BallotInvalid("unknown_option", option=ballot)
    return ballot


def _check_multiple(poll: _Poll, ballot: object) -> tuple[str, ...]:
    if isinstance(ballot, str | bytes) or not isinstance(ballot, Sequence | Set):
        raise BallotInvalid("wrong_type", expected="list of option keys")
    chosen = list(ballot)
    for key in chosen:
        if not isinstance(key, str):
            raise BallotInvalid("wrong_type", expected="list of option keys")
        if key != NONE_OF_THESE and key not in poll.key_set:
            raise BallotInvalid("unknown_option", option=key)
    if len(set(chosen)) != len(chosen):
        duplicates = sorted(key for key, n in Counter(chosen).items() if n > 1)
        raise BallotInvalid("duplicate_option", options=duplicates)
    if NONE_OF_THESE in chosen:
        if not poll.settings.none_option:
            raise BallotInvalid("none_not_offered")
        if len(chosen) > 1:
            raise BallotInvalid("none_exclusive")
        return (NONE_OF_THESE,)
    if len(chosen) < poll.settings.min_choices:
        raise BallotInvalid("too_few_choices", minimum=poll.settings.min_choices)
    if len(chosen) > poll.max_choices:
        raise BallotInvalid("too_many_choices", maximum=poll.max_choices)
    return tuple(key for key in poll.keys if key in chosen)


def _check_mapping(poll: _Poll, ballot: object, expected: str) -> Mapping[object, object]:
    if not isinstance(ballot, Mapping):
        raise BallotInvalid("wrong_type", expected=expected)
    for key in ballot:
        if not isinstance(key, str) or key not in poll.key_set:
            raise BallotInvalid("unknown_option", option=key)
    return ballot


def _check_ranked(poll: _Poll, ballot: object) -> dict[str, int]:
    ranks = _check_mapping(poll, ballot, "{option key: rank}")
    if not ranks:
        raise BallotInvalid("empty_ballot")
    checked: dict[str, int] = {}
    for key in poll.keys:
        if key not in ranks:
            continue
        rank = ranks[key]
        if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= len(poll.keys):
            raise BallotInvalid("invalid_rank", option=key, maximum=len(poll.keys))
        checked[key] = rank
    if not poll.settings.allow_ties and len(set(checked.values())) != len(checked):
        ranks_used = Counter(checked.values())
        raise BallotInvalid(
            "duplicate_rank", ranks=sorted(r for r, n in ranks_used.items() if n > 1)
        )
    return checked


def _check_graded(
    poll: _Poll, ballot: object, low: int, high: int, missing: str, out_of_range: str
) -> dict[str, int]:
    values = _check_mapping(poll, ballot, "{option key: integer}")
    checked: dict[str, int] = {}
    for key in poll.keys:
        if key not in values:
            raise BallotInvalid(missing, option=key)
        value = values[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise BallotInvalid("wrong_type", option=key, expected="integer")
        if not low <= value <= high:
            raise BallotInvalid(out_of_range, option=key, minimum=low, maximum=high)
        checked[key] = value
    return checked


def _check_judgment(poll: _Poll, ballot: object) -> dict[str, int]:
    return _check_graded(poll, ballot, 0, len(GRADES) - 1, "grade_missing", "grade_out_of_range")


def _check_score(poll: _Poll, ballot: object) -> dict[str, int]:
    return _check_graded(poll, ballot, SCORE_MIN, SCORE_MAX, "score_missing", "score_out_of_range")


def _check_date(poll: _Poll, ballot: object) -> dict[str, str]:
    answers = _check_mapping(poll, ballot, "{slot key: answer}")
    checked: dict[str, str] = {}
    for key in poll.keys:
        if key not in answers:
            raise BallotInvalid("answer_missing", option=key)
        answer = answers[key]
        if not isinstance(answer, str) or answer not in DATE_ANSWERS:
            raise BallotInvalid("answer_invalid", option=key, answer=answer)
        checked[key] = answer
    return checked


def _check_consent(poll: _Poll, ballot: object) -> ConsentBallot:
    position: object
    reason: object
    if isinstance(ballot, ConsentBallot):
        position, reason = ballot.position, ballot.reason
    elif (
        isinstance(ballot, Mapping)
        and "position" in ballot
        and set(ballot)
        <= {
            "position",
            "reason",
        }
    ):
        position, reason = ballot["position"], ballot.get("reason")
    else:
        raise BallotInvalid("wrong_type", expected='{"position": …, "reason": …}')
    if not isinstance(position, str) or position not in CONSENT_POSITIONS:
        raise BallotInvalid("unknown_position", position=position)
    if reason is not None and not isinstance(reason, str):
        raise BallotInvalid("wrong_type", expected="reason as text")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_CONSENT_REASON_CHARS:
        raise BallotInvalid("reason_too_long", maximum=MAX_CONSENT_REASON_CHARS)
    mode = poll.settings.reason_mode
    if mode == "off" and reason is not None:
        raise BallotInvalid("reason_not_allowed")
    if reason is None and (
        mode == "required" or (mode == "dissent" and position in REASON_POSITIONS)
    ):
        raise BallotInvalid("reason_required", position=position)
    return ConsentBallot(position, reason)


_CHECKERS: dict[PollKind, Callable[[_Poll, object], CheckedBallot]] = {
    PollKind.SINGLE: _check_single,
    PollKind.MULTIPLE: _check_multiple,
    PollKind.CONSENT: _check_consent,
    PollKind.RANKED: _check_ranked,
    PollKind.JUDGMENT: _check_judgment,
    PollKind.SCORE: _check_score,
    PollKind.DATE: _check_date,
}


# -- French formatting ----------------------------------------------------------------
def _decimal_fr(value: Fraction, places: int = 2, *, truncate: bool = False) -> str:
    """``value`` (≥ 0) with at most ``places`` decimals and a decimal comma: "4,25", "3".

    Rounded half up, or truncated when a threshold is being compared: a quorum of 49,96 %
    must not read "50 %"."""
    scale = 10**places
    if truncate:
        scaled = value.numerator * scale // value.denominator
    else:
        scaled = (2 * value.numerator * scale + value.denominator) // (2 * value.denominator)
    whole, fraction = divmod(scaled, scale)
    digits = str(fraction).rjust(places, "0").rstrip("0") if places else ""
    return f"{whole},{digits}" if digits else str(whole)


def _percent_fr(part: int, whole: int, *, truncate: bool = False) -> str:
    if whole == 0:
        return "—"
    return f"{_decimal_fr(Fraction(100 * part, whole), 1, truncate=truncate)} %"


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    """French agreement: 0 and 1 take the singular."""
    return f"{count} {singular if count <= 1 else plural or singular + 's'}"


def _join_fr(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def _participation_fr(ballots: int, electorate: int | None) -> str:
    text = _plural(ballots, "bulletin")
    if electorate is not None:
        text += f" sur {_plural(electorate, 'inscrit')} ({_percent_fr(ballots, electorate)})"
    return text


def _check_electorate(ballots: int, electorate: int | None) -> None:
    if electorate is not None and (not _is_int(electorate) or electorate < ballots):
        raise PollInvalid("invalid_electorate", electorate=electorate, ballots=ballots)


def _label(options: Sequence[Option], key: str) -> str:
    if key == NONE_OF_THESE:
        return f"« {NONE_OF_THESE_LABEL} »"
    for option in options:
        if option.key == key:
            return option.label
    raise KeyError(key)


def _ranking_fr(options: Sequence[Option], ranking: Sequence[Sequence[str]]) -> str:
    """ "Classement : E > A = C > B." — ``=`` joins tied options."""
    groups = [" = ".join(_label(options, key) for key in group) for group in ranking]
    return "Classement : " + " > ".join(groups) + "."


def _group_desc(keys: Sequence[str], score: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """``keys`` grouped by equal ``score``, best first; option order within a group."""
    distinct = sorted({score[key] for key in keys}, reverse=True)
    return tuple(tuple(key for key in keys if score[key] == value) for value in distinct)


def _ranks(ranking: Sequence[Sequence[str]]) -> dict[str, int]:
    """Competition ranks ("1, 1, 3"): one plus the number of options strictly ahead."""
    ranks: dict[str, int] = {}
    ahead = 0
    for group in ranking:
        for key in group:
            ranks[key] = ahead + 1
        ahead += len(group)
    return ranks


def _footer(
    kind: PollKind, rule_fr: str, participation_fr: str, summary_fr: str
) -> list[list[str]]:
    return [
        [],
        ["Méthode", METHOD_FR[kind]],
        ["Règle", rule_fr],
        ["Participation", participation_fr],
        ["Résultat", summary_fr],
    ]


def _no_ballot_fr(kind: PollKind) -> str:
    return f"Aucun bulletin n'a été déposé : pas de résultat ({METHOD_FR[kind]})."


def _tie_fr(options: Sequence[Option], winners: Sequence[str], detail: str, method: str) -> str:
    labels = _join_fr([_label(options, key) for key in winners])
    return (
        f"Égalité en tête entre {labels}{detail} ({method}) : "
        "aucun départage automatique n'est appliqué."
    )


# -- single and multiple choice -------------------------------------------------------
@dataclass(frozen=True)
class OptionCount:
    """Votes for one option; ``key`` may be ``NONE_OF_THESE``."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class ChoiceResult:
    """Single or multiple choice. ``counts`` follows option order, then "none of these"
    (when offered). ``winners`` are the keys with the most votes and may be
    ``(NONE_OF_THESE,)``: the group then chose none of the options. Several winners mean
    a tie, reported as such. Shares are of ballots, so with multiple choice they add up
    to more than 100 %."""

    kind: PollKind
    options: tuple[Option, ...]
    ballots: int
    electorate: int | None
    counts: tuple[OptionCount, ...]
    ranking: tuple[tuple[str, ...], ...]
    winners: tuple[str, ...]
    rule_fr: str
    summary_fr: str
    participation_fr: str

    @property
    def tie(self) -> bool:
        return len(self.winners) > 1

    def count_of(self, key: str) -> int:
        return next(c.count for c in self.counts if c.key == key)

    def to_rows(self) -> list[list[str]]:
        ranks = _ranks(self.ranking)
        rows = [["Rang", "Option", "Voix", "Part des bulletins"]]
        for item in self.counts:
            rows.append(
                [
                    str(ranks[item.key]),
                    item.label,
                    str(item.count),
                    _percent_fr(item.count, self.ballots),
                ]
            )
        return rows + _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)


def _choice_rule(poll: _Poll) -> str:
    rule = RULES_FR[poll.kind]
    if poll.kind is PollKind.MULTIPLE:
        low, high = poll.settings.min_choices, poll.max_choices
        if low == 0:
            rule += f" Un bulletin désigne au plus {_plural(high, 'option')} (ou aucune)."
        elif low == high:
            rule += f" Un bulletin désigne exactement {_plural(high, 'option')}."
        else:
            rule += f" Un bulletin désigne de {low} à {_plural(high, 'option')}."
    if poll.settings.none_option:
        rule += (
            f" La réponse « {NONE_OF_THESE_LABEL} » est comptée comme une option : si elle "
            "arrive seule en tête, aucune option n'est retenue."
        )
    return rule


def _tally_choice(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> ChoiceResult:
    votes: Counter[str] = Counter()
    for ballot in checked:
        votes.update((ballot,) if isinstance(ballot, str) else ballot)
    counts = [OptionCount(o.key, o.label, votes[o.key]) for o in poll.options]
    if poll.settings.none_option:
        counts.append(OptionCount(NONE_OF_THESE, NONE_OF_THESE_LABEL, votes[NONE_OF_THESE]))
    keys = [c.key for c in counts]
    score = {c.key: c.count for c in counts}
    ranking = _group_desc(keys, score)
    top = max(score.values())
    winners = ranking[0] if top > 0 else ()
    method = METHOD_FR[poll.kind]
    ballots = len(checked)
    if not ballots:
        summary = _no_ballot_fr(poll.kind)
    elif not winners:
        summary = f"Aucune option n'a recueilli de voix ({method})."
    elif winners == (NONE_OF_THESE,):
        summary = (
            f"« {NONE_OF_THESE_LABEL} » arrive en tête avec {_plural(top, 'voix', 'voix')} "
            f"sur {_plural(ballots, 'bulletin')} : aucune option n'est retenue ({method})."
        )
    elif len(winners) == 1:
        summary = (
            f"{_label(poll.options, winners[0])} l'emporte avec "
            f"{_plural(top, 'voix', 'voix')} sur {_plural(ballots, 'bulletin')} ({method})."
        )
    else:
        detail = f", avec {_plural(top, 'voix', 'voix')} chacune"
        summary = _tie_fr(poll.options, winners, detail, method)
    return ChoiceResult(
        kind=poll.kind,
        options=poll.options,
        ballots=ballots,
        electorate=electorate,
        counts=tuple(counts),
        ranking=ranking,
        winners=winners,
        rule_fr=_choice_rule(poll),
        summary_fr=summary,
        participation_fr=_participation_fr(ballots, electorate),
    )


# -- consent --------------------------------------------------------------------------
@dataclass(frozen=True)
class PositionCount:
    position: str
    label: str
    count: int


@dataclass(frozen=True)
class ConsentReason:
    position: str
    reason: str


@dataclass(frozen=True)
class ConsentResult:
    """A consent proposal (Loomio). ``adopted`` iff no objection and more "pour" than
    "contre"; ``blocked`` iff at least one objection. ``reasons`` are anonymous and
    sorted (position, then text) so that the result does not depend on ballot order."""

    kind: PollKind
    ballots: int
    electorate: int | None
    counts: tuple[PositionCount, ...]
    reasons: tuple[ConsentReason, ...]
    adopted: bool
    blocked: bool
    rule_fr: str
    summary_fr: str
    participation_fr: str

    def count_of(self, position: str) -> int:
        return next(c.count for c in self.counts if c.position == position)

    def to_rows(self) -> list[list[str]]:
        rows = [["Position", "Nombre", "Part des bulletins"]]
        for item in self.counts:
            rows.append([item.label, str(item.count), _percent_fr(item.count, self.ballots)])
        if self.reasons:
            rows += [[], ["Position", "Motif"]]
            rows += [[POSITION_LABELS[r.position], r.reason] for r in self.reasons]
        outcome = "adoptée" if self.adopted else "bloquée" if self.blocked else "non adoptée"
        rows += _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)
        rows.append(["Issue", outcome])
        return rows


def _tally_consent(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> ConsentResult:
    votes = Counter(ballot.position for ballot in checked)
    reasons = sorted(
        (CONSENT_POSITIONS.index(b.position), b.reason) for b in checked if b.reason is not None
    )
    pour, abstention = votes["pour"], votes["abstention"]
    contre, objection = votes["contre"], votes["objection"]
    blocked = objection > 0
    adopted = not blocked and pour > contre
    figures = f"{pour} pour, {contre} contre, {_plural(abstention, 'abstention')}, " + (
        _plural(objection, "objection") if objection else "aucune objection"
    )
    if not checked:
        summary = "Aucun bulletin n'a été déposé : la proposition n'est pas adoptée."
    elif adopted:
        summary = f"La proposition est adoptée : {figures}."
    elif blocked:
        summary = (
            f"La proposition est bloquée par {_plural(objection, 'objection')} "
            f"({pour} pour, {contre} contre, {_plural(abstention, 'abstention')})."
        )
    else:
        summary = (
            f"La proposition n'est pas adoptée : {figures} ; il faut plus de « pour » que "
            "de « contre »."
        )
    rule = RULES_FR[PollKind.CONSENT]
    rule += REASON_RULES_FR[poll.settings.reason_mode]
    return ConsentResult(
        kind=PollKind.CONSENT,
        ballots=len(checked),
        electorate=electorate,
        counts=tuple(PositionCount(p, POSITION_LABELS[p], votes[p]) for p in CONSENT_POSITIONS),
        reasons=tuple(ConsentReason(CONSENT_POSITIONS[i], text) for i, text in reasons),
        adopted=adopted,
        blocked=blocked,
        rule_fr=rule,
        summary_fr=summary,
        participation_fr=_participation_fr(len(checked), electorate),
    )


# -- ranked choice: Schulze -----------------------------------------------------------
Matrix: TypeAlias = tuple[tuple[int, ...], ...]


def strongest_paths(d: Sequence[Sequence[int]]) -> Matrix:
    """The Schulze strongest-path matrix ``p`` from the pairwise matrix ``d``.

    A link a→b exists when a wins the duel (``d[a][b] > d[b][a]``) and weighs
    ``d[a][b]`` ("winning votes"); a path is as strong as its weakest link;
    ``p[a][b]`` is the strongest path from a to b, 0 when there is none. Computed with
    the widest-path variant of Floyd–Warshall, O(n³). The diagonal is 0 (unused).
    """
    n = len(d)
    p = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i != j and d[i][j] > d[j][i]:
                p[i][j] = d[i][j]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            for k in range(n):
                if k != i and k != j:
                    p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    return tuple(tuple(row) for row in p)


@dataclass(frozen=True)
class SchulzeResult:
    """Ranked choice counted by the Schulze method.

    ``d[i][j]`` is the number of voters preferring option i to option j and ``p[i][j]``
    the strength of the strongest path from i to j, indices following ``options``
    (``pairwise(a, b)`` and ``path(a, b)`` take keys). ``ranking`` groups tied options,
    best first: an option is placed as soon as no remaining option beats it
    (``p[x][y] > p[y][x]``). ``condorcet_winner`` is the option that wins every duel, if
    any (it is then the only Schulze winner)."""

    kind: PollKind
    options: tuple[Option, ...]
    ballots: int
    electorate: int | None
    d: Matrix
    p: Matrix
    ranking: tuple[tuple[str, ...], ...]
    winners: tuple[str, ...]
    condorcet_winner: str | None
    rule_fr: str
    summary_fr: str
    participation_fr: str

    @property
    def tie(self) -> bool:
        return len(self.winners) > 1

    def _index(self, key: str) -> int:
        return [o.key for o in self.options].index(key)

    def pairwise(self, a: str, b: str) -> int:
        """Voters preferring ``a`` to ``b``: ``d[a][b]``."""
        return self.d[self._index(a)][self._index(b)]

    def path(self, a: str, b: str) -> int:
        """Strength of the strongest path from ``a`` to ``b``: ``p[a][b]``."""
        return self.p[self._index(a)][self._index(b)]

    def to_rows(self) -> list[list[str]]:
        ranks = _ranks(self.ranking)
        labels = [o.label for o in self.options]
        rows = [["Rang", "Option"]]
        rows += [[str(ranks[key]), _label(self.options, key)] for g in self.ranking for key in g]

        def matrix(title: str, m: Matrix) -> list[list[str]]:
            table = [[title, *labels]]
            for i, label in enumerate(labels):
                table.append([label, *("—" if i == j else str(v) for j, v in enumerate(m[i]))])
            return table

        rows += [[], *matrix("d : votants préférant la ligne à la colonne", self.d)]
        rows += [[], *matrix("p : force du chemin le plus fort de la ligne à la colonne", self.p)]
        return rows + _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)


def _tally_schulze(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> SchulzeResult:
    keys = poll.keys
    n = len(keys)
    d = [[0] * n for _ in range(n)]
    # Identical ballots are counted once, weighted: large assemblies repeat rankings.
    patterns = Counter(tuple(sorted(ballot.items())) for ballot in checked)
    for pattern, weight in patterns.items():
        given = dict(pattern)
        unranked = n + 1  # below every rank, equal among themselves
        rank = [given.get(key, unranked) for key in keys]
        for i in range(n):
            for j in range(n):
                if rank[i] < rank[j]:
                    d[i][j] += weight
    p = strongest_paths(d)

    remaining = list(range(n))
    groups: list[tuple[str, ...]] = []
    while remaining:
        top = [i for i in remaining if not any(p[j][i] > p[i][j] for j in remaining)]
        groups.append(tuple(keys[i] for i in top))
        remaining = [i for i in remaining if i not in top]
    ranking = tuple(groups)
    winners = ranking[0] if checked else ()
    condorcet = next(
        (keys[i] for i in range(n) if all(d[i][j] > d[j][i] for j in range(n) if j != i)),
        None,
    )
    method = METHOD_FR[PollKind.RANKED]
    if not checked:
        summary = _no_ballot_fr(PollKind.RANKED)
    elif len(winners) == 1:
        summary = f"{_label(poll.options, winners[0])} l'emporte ({method})."
    else:
        summary = _tie_fr(poll.options, winners, "", method)
    if checked and n > 1:
        summary += " " + _ranking_fr(poll.options, ranking)
    return SchulzeResult(
        kind=PollKind.RANKED,
        options=poll.options,
        ballots=len(checked),
        electorate=electorate,
        d=tuple(tuple(row) for row in d),
        p=p,
        ranking=ranking,
        winners=winners,
        condorcet_winner=condorcet if checked else None,
        rule_fr=RULES_FR[PollKind.RANKED],
        summary_fr=summary,
        participation_fr=_participation_fr(len(checked), electorate),
    )


# -- majority judgment ----------------------------------------------------------------
def majority_value(grades: Iterable[int]) -> tuple[int, ...]:
    """The Balinski–Laraki majority value: the lower median, then the lower median of
    what is left once it is removed, and so on until no grade is left.

    Comparing two options' majority values lexicographically is exactly the tie-break
    "remove one majority grade from each tied option and compare again": both options
    have one grade per voter, so the sequences have the same length, and they are equal
    only when the two options received exactly the same grades."""
    remaining = sorted(grades)
    value = []
    while remaining:
        value.append(remaining.pop((len(remaining) - 1) // 2))
    return tuple(value)


@dataclass(frozen=True)
class OptionGrades:
    """One option's grades: ``distribution[g]`` voters gave grade ``g`` (0 = "à rejeter").
    ``majority_grade`` is ``None`` when there is no ballot."""

    key: str
    label: str
    distribution: tuple[int, ...]
    majority_grade: int | None

    @property
    def majority_grade_label(self) -> str:
        return "—" if self.majority_grade is None else GRADES[self.majority_grade]


@dataclass(frozen=True)
class JudgmentResult:
    """Majority judgment. ``grades`` follows option order; ``ranking`` groups options
    whose grades are identical (the only ties the tie-break cannot resolve).
    ``deciding_round`` is the tie-break round that separated the winner from the
    runner-up — 1 when the majority grade alone did — or ``None`` without a single
    winner or runner-up."""

    kind: PollKind
    options: tuple[Option, ...]
    ballots: int
    electorate: int | None
    grades: tuple[OptionGrades, ...]
    ranking: tuple[tuple[str, ...], ...]
    winners: tuple[str, ...]
    deciding_round: int | None
    rule_fr: str
    summary_fr: str
    participation_fr: str

    @property
    def tie(self) -> bool:
        return len(self.winners) > 1

    def grades_of(self, key: str) -> OptionGrades:
        return next(g for g in self.grades if g.key == key)

    def to_rows(self) -> list[list[str]]:
        ranks = _ranks(self.ranking)
        rows = [["Rang", "Option", *GRADES, "Mention majoritaire"]]
        by_key = {g.key: g for g in self.grades}
        for group in self.ranking:
            for key in group:
                g = by_key[key]
                rows.append(
                    [
                        str(ranks[key]),
                        g.label,
                        *(str(n) for n in g.distribution),
                        g.majority_grade_label,
                    ]
                )
        return rows + _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)


def _tally_judgment(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> JudgmentResult:
    keys = poll.keys
    values = {key: majority_value(ballot[key] for ballot in checked) for key in keys}
    ranking = _group_desc(keys, values)
    grades = []
    for option in poll.options:
        given = Counter(ballot[option.key] for ballot in checked)
        value = values[option.key]
        grades.append(
            OptionGrades(
                option.key,
                option.label,
                tuple(given[g] for g in range(len(GRADES))),
                value[0] if value else None,
            )
        )
    winners = ranking[0] if checked else ()
    deciding_round = None
    if len(winners) == 1 and len(ranking) > 1:
        first, second = values[winners[0]], values[ranking[1][0]]
        deciding_round = (
            next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b) + 1
        )
    method = METHOD_FR[PollKind.JUDGMENT]
    if not checked:
        summary = _no_ballot_fr(PollKind.JUDGMENT)
    elif len(winners) == 1:
        grade = GRADES[values[winners[0]][0]]
        summary = (
            f"{_label(poll.options, winners[0])} l'emporte avec la mention majoritaire "
            f"« {grade} » ({method})."
        )
        if deciding_round is not None and deciding_round > 1:
            runner_up = _join_fr([_label(poll.options, key) for key in ranking[1]])
            summary += (
                f" À mention égale avec {runner_up}, le départage s'est fait au "
                f"{deciding_round}e tour (retrait successif des mentions majoritaires)."
            )
    else:
        labels = _join_fr([_label(poll.options, key) for key in winners])
        grade = GRADES[values[winners[0]][0]]
        summary = (
            f"Égalité parfaite entre {labels}, mention majoritaire « {grade} » ({method}) : "
            "leurs mentions sont identiques, le départage est impossible."
        )
    if checked and len(keys) > 1 and not (deciding_round and deciding_round > 1):
        summary += " " + _ranking_fr(poll.options, ranking)
    return JudgmentResult(
        kind=PollKind.JUDGMENT,
        options=poll.options,
        ballots=len(checked),
        electorate=electorate,
        grades=tuple(grades),
        ranking=ranking,
        winners=winners,
        deciding_round=deciding_round,
        rule_fr=RULES_FR[PollKind.JUDGMENT],
        summary_fr=summary,
        participation_fr=_participation_fr(len(checked), electorate),
    )


# -- score ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionScore:
    """One option's scores: exact ``mean`` and ``median`` (``Fraction``; ``None`` without
    ballots) and ``distribution[s]`` voters who gave score ``s``."""

    key: str
    label: str
    total: int
    mean: Fraction | None
    median: Fraction | None
    distribution: tuple[int, ...]


@dataclass(frozen=True)
class ScoreResult:
    """Score voting (0–5 per option), ranked by mean; equal means are tied."""

    kind: PollKind
    options: tuple[Option, ...]
    ballots: int
    electorate: int | None
    scores: tuple[OptionScore, ...]
    ranking: tuple[tuple[str, ...], ...]
    winners: tuple[str, ...]
    rule_fr: str
    summary_fr: str
    participation_fr: str

    @property
    def tie(self) -> bool:
        return len(self.winners) > 1

    def scores_of(self, key: str) -> OptionScore:
        return next(s for s in self.scores if s.key == key)

    def to_rows(self) -> list[list[str]]:
        ranks = _ranks(self.ranking)
        header = ["Rang", "Option", "Moyenne", "Médiane"]
        header += [f"Notes {s}" for s in range(SCORE_MIN, SCORE_MAX + 1)]
        rows = [header]
        by_key = {s.key: s for s in self.scores}
        for group in self.ranking:
            for key in group:
                s = by_key[key]
                rows.append(
                    [
                        str(ranks[key]),
                        s.label,
                        "—" if s.mean is None else _decimal_fr(s.mean),
                        "—" if s.median is None else _decimal_fr(s.median),
                        *(str(n) for n in s.distribution),
                    ]
                )
        return rows + _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)


def _median(values: Sequence[int]) -> Fraction | None:
    """The usual median: the middle value, or the mean of the two middle values."""
    if not values:
        return None
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[half])
    return Fraction(ordered[half - 1] + ordered[half], 2)


def _tally_score(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> ScoreResult:
    scores = []
    for option in poll.options:
        given = [ballot[option.key] for ballot in checked]
        counts = Counter(given)
        scores.append(
            OptionScore(
                option.key,
                option.label,
                sum(given),
                Fraction(sum(given), len(given)) if given else None,
                _median(given),
                tuple(counts[s] for s in range(SCORE_MIN, SCORE_MAX + 1)),
            )
        )
    means = {s.key: s.mean or Fraction(0) for s in scores}
    ranking = _group_desc(poll.keys, means)
    winners = ranking[0] if checked else ()
    method = METHOD_FR[PollKind.SCORE]
    if not checked:
        summary = _no_ballot_fr(PollKind.SCORE)
    else:
        mean = f"{_decimal_fr(means[winners[0]])} sur {SCORE_MAX}"
        if len(winners) == 1:
            summary = (
                f"{_label(poll.options, winners[0])} l'emporte avec une moyenne de {mean} "
                f"({method})."
            )
        else:
            summary = _tie_fr(poll.options, winners, f", avec une moyenne de {mean}", method)
        if len(poll.keys) > 1:
            summary += " " + _ranking_fr(poll.options, ranking)
    return ScoreResult(
        kind=PollKind.SCORE,
        options=poll.options,
        ballots=len(checked),
        electorate=electorate,
        scores=tuple(scores),
        ranking=ranking,
        winners=winners,
        rule_fr=RULES_FR[PollKind.SCORE],
        summary_fr=summary,
        participation_fr=_participation_fr(len(checked), electorate),
    )


# -- date poll ------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotCount:
    """Answers for one slot; ``yes + if_need_be + no`` is the number of ballots."""

    key: str
    label: str
    yes: int
    if_need_be: int
    no: int

    @property
    def available(self) -> int:
        """Participants who can come: "oui" plus "si besoin"."""
        return self.yes + self.if_need_be


@dataclass(frozen=True)
class DateResult:
    """A date poll, slots ranked by "oui" then by "oui" + "si besoin". ``winners`` is
    the top group, empty when nobody can come to any slot."""

    kind: PollKind
    options: tuple[Option, ...]
    ballots: int
    electorate: int | None
    slots: tuple[SlotCount, ...]
    ranking: tuple[tuple[str, ...], ...]
    winners: tuple[str, ...]
    rule_fr: str
    summary_fr: str
    participation_fr: str

    @property
    def tie(self) -> bool:
        return len(self.winners) > 1

    def slot(self, key: str) -> SlotCount:
        return next(s for s in self.slots if s.key == key)

    def to_rows(self) -> list[list[str]]:
        ranks = _ranks(self.ranking)
        rows = [["Rang", "Créneau", "Oui", "Si besoin", "Non", "Oui + si besoin"]]
        by_key = {s.key: s for s in self.slots}
        for group in self.ranking:
            for key in group:
                s = by_key[key]
                rows.append(
                    [
                        str(ranks[key]),
                        s.label,
                        *(str(n) for n in (s.yes, s.if_need_be, s.no, s.available)),
                    ]
                )
        return rows + _footer(self.kind, self.rule_fr, self.participation_fr, self.summary_fr)


def _tally_date(poll: _Poll, checked: Sequence[Any], electorate: int | None) -> DateResult:
    slots = []
    for option in poll.options:
        answers = Counter(ballot[option.key] for ballot in checked)
        slots.append(
            SlotCount(
                option.key, option.label, answers["oui"], answers["si besoin"], answers["non"]
            )
        )
    order = {s.key: (s.yes, s.available) for s in slots}
    ranking = _group_desc(poll.keys, order)
    winners = ranking[0] if checked and order[ranking[0][0]] != (0, 0) else ()
    method = METHOD_FR[PollKind.DATE]
    if not checked:
        summary = _no_ballot_fr(PollKind.DATE)
    elif not winners:
        summary = f"Personne n'est disponible sur les créneaux proposés ({method})."
    else:
        best = next(s for s in slots if s.key == winners[0])
        figures = f"{best.yes} oui, {best.if_need_be} si besoin"
        if len(winners) == 1:
            summary = (
                f"Créneau le plus favorable : {_label(poll.options, winners[0])} "
                f"({figures} ; {method})."
            )
        else:
            labels = _join_fr([_label(poll.options, key) for key in winners])
            summary = (
                f"Égalité entre les créneaux {labels} ({figures} chacun ; {method}) : "
                "aucun départage automatique n'est appliqué."
            )
    return DateResult(
        kind=PollKind.DATE,
        options=poll.options,
        ballots=len(checked),
        electorate=electorate,
        slots=tuple(slots),
        ranking=ranking,
        winners=winners,
        rule_fr=RULES_FR[PollKind.DATE],
        summary_fr=summary,
        participation_fr=_participation_fr(len(checked), electorate),
    )


# -- counting -------------------------------------------------------------------------
PollResult: TypeAlias = (
    ChoiceResult | ConsentResult | SchulzeResult | JudgmentResult | ScoreResult | DateResult
)

_TALLIES: dict[PollKind, Callable[[_Poll, Sequence[Any], int | None], PollResult]] = {
    PollKind.SINGLE: _tally_choice,
    PollKind.MULTIPLE: _tally_choice,
    PollKind.CONSENT: _tally_consent,
    PollKind.RANKED: _tally_schulze,
    PollKind.JUDGMENT: _tally_judgment,
    PollKind.SCORE: _tally_score,
    PollKind.DATE: _tally_date,
}


def tally(
    kind: PollKind | str,
    options: Iterable[Option | str],
    ballots: Iterable[object],
    settings: PollSettings | Mapping[str, Any] | None = None,
    *,
    electorate: int | None = None,
) -> PollResult:
    """Validate every ballot (as ``check_ballot`` does) and count them.

    Returns ``ChoiceResult`` (single, multiple), ``ConsentResult``, ``SchulzeResult``
    (ranked), ``JudgmentResult``, ``ScoreResult`` or ``DateResult``. ``electorate``, the
    number of people entitled to vote, only feeds ``participation_fr``. One bad ballot
    makes the whole count fail with ``BallotInvalid`` (``data['index']`` points at it):
    a result that silently dropped a ballot would not be exact. Ballot order never
    matters.
    """
    poll = _poll(kind, options, settings)
    if isinstance(ballots, str | bytes | Mapping):
        # A lone ballot passed where the list of ballots belongs: refuse, do not iterate.
        raise TypeError("ballots must be an iterable of ballots")
    check = _CHECKERS[poll.kind]
    checked = []
    for index, ballot in enumerate(ballots):
        try:
            checked.append(check(poll, ballot))
        except BallotInvalid as error:
            raise BallotInvalid(error.reason, index=index, **error.data) from None
    _check_electorate(len(checked), electorate)
    result: PollResult = _TALLIES[poll.kind](poll, checked, electorate)
    return result


# -- quorum ---------------------------------------------------------------------------
class Quorum(NamedTuple):
    """``reached`` and the French sentence stating the figures and the rule."""

    reached: bool
    text_fr: str


def _share(value: object) -> Fraction:
    """A share as an exact fraction; a float is read through its decimal form, so that
    0.1 means one tenth and not the nearest binary number."""
    if isinstance(value, bool):
        raise PollInvalid("invalid_share", share=value)
    if not isinstance(value, int | float | str | Fraction):
        raise PollInvalid("invalid_share", share=value)
    try:
        share = Fraction(str(value) if isinstance(value, float) else value)
    except (ValueError, ZeroDivisionError):
        raise PollInvalid("invalid_share", share=value) from None
    if not 0 <= share <= 1:
        raise PollInvalid("invalid_share", share=value)
    return share


def quorum(
    electorate: int,
    counted: int,
    minimum_share: float | Fraction | str,
    *,
    proxies: int = 0,
) -> Quorum:
    """Is the quorum reached? ``counted`` is everyone who took part, proxies included
    (``proxies`` says how many of them voted by proxy, for the sentence only).

    Rule: reached iff ``counted / electorate >= minimum_share``, compared exactly. The
    percentages shown are truncated, never rounded up, so a quorum just missed never
    reads as met."""
    if not _is_int(electorate) or electorate < 1:
        raise PollInvalid("invalid_electorate", electorate=electorate)
    if not _is_int(counted) or not 0 <= counted <= electorate:
        raise PollInvalid("invalid_count", counted=counted, electorate=electorate)
    if not _is_int(proxies) or not 0 <= proxies <= counted:
        raise PollInvalid("invalid_count", proxies=proxies, counted=counted)
    share = _share(minimum_share)
    reached = Fraction(counted, electorate) >= share
    voters = _plural(counted, "votant")
    if proxies:
        voters += f" (dont {proxies} par procuration)"
    required = f"{_decimal_fr(share * 100, 1, truncate=True)} %"
    text = (
        f"Quorum : {voters} sur {_plural(electorate, 'inscrit')} "
        f"({_percent_fr(counted, electorate, truncate=True)}), minimum requis {required} — "
        + ("atteint." if reached else "non atteint.")
    )
    return Quorum(reached, text)
