"""The targets of issue #6, checked against a run's rows (ratios to the baseline of the
same run, or absolute limits)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

P99_LIMIT_MS = 100.0

Row = dict[str, Any]


def collapse_rounds(rows: list[Row]) -> list[Row]:
    """The fanout grid's rounds (``--rounds``) as one row per shape, rate and target.

    Why: on a shared machine the raw server's own cost per delivery moves by a fifth
    between two runs minutes apart, enough to flip a verdict at 1.25×. Each round runs
    every target in turn, so a target's ratio to the baseline *of its own round* cancels
    the drift; the row keeps the median of those paired ratios (``cpu_ratio``,
    ``p99_ratio``, with every round's in ``cpu_ratios``) and of the rounds' p99
    (``p99_ms``: a latency verdict must not come from the round picked for its CPU),
    shows the round whose CPU ratio is that median, and counts the messages of every
    round (``expected``, ``lost``).
    """
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    others: list[Row] = []
    for row in rows:
        if row["scenario"] == "fanout" and "round" in row:
            groups[(row["shape"], row["rate"], row["target"])].append(row)
        else:
            others.append(row)
    if not groups:
        return rows
    base = {
        (row["shape"], row["rate"], row["round"]): row
        for (_, _, target), found in groups.items()
        if target == "baseline"
        for row in found
    }
    collapsed: list[Row] = []
    for (shape, rate, target), found in groups.items():
        paired = [(row, base.get((shape, rate, row["round"]))) for row in found]
        cpu = sorted(
            (
                (mine["cpu_us_per_delivery"] / raw["cpu_us_per_delivery"], mine)
                for mine, raw in paired
                if raw and raw["cpu_us_per_delivery"]
            ),
            key=lambda pair: pair[0],
        )
        p99 = [
            mine["latency_ms"]["p99"] / raw["latency_ms"]["p99"]
            for mine, raw in paired
            if raw and raw["latency_ms"]["p99"]
        ]
        if target == "baseline":  # its ratios are all 1: show its median cost instead
            cpu = sorted(((r["cpu_us_per_delivery"], r) for r in found), key=lambda p: p[0])
        shown = cpu[(len(cpu) - 1) // 2][1] if cpu else found[-1]
        row = {
            **{key: value for key, value in shown.items() if key != "round"},  # idempotent
            "rounds": len(found),
            "expected": sum(r["expected"] for r in found),
            "lost": sum(r["lost"] for r in found),
            "late": sum(r.get("late", 0) for r in found),
        }
        if cpu and target != "baseline":
            row["cpu_ratio"] = statistics.median(ratio for ratio, _ in cpu)
            row["cpu_ratios"] = [round(ratio, 2) for ratio, _ in cpu]
        if p99:
            row["p99_ratio"] = statistics.median(p99)
        row["p99_ms"] = round(statistics.median(r["latency_ms"]["p99"] or 0 for r in found), 2)
        collapsed.append(row)
    first = next(i for i, row in enumerate(rows) if row["scenario"] == "fanout")
    return others[:first] + collapsed + others[first:]


def saturation(rows: list[Row]) -> dict[str, Row]:
    """Per target, the saturation step with the most deliveries per second among those
    that kept p99 within 100 ms and lost nothing."""
    best: dict[str, Row] = {}
    for row in rows:
        if row["scenario"] != "saturation":
            continue
        ok = (row["latency_ms"]["p99"] or 0) <= P99_LIMIT_MS and not row["lost"] and row["complete"]
        if ok and row["delivered_per_s"] > best.get(row["target"], {}).get("delivered_per_s", -1):
            best[row["target"]] = row
    return best


def _find(rows: list[Row], scenario: str, target: str, **match: Any) -> Row | None:
    for row in rows:
        if row["scenario"] == scenario and row["target"] == target:
            if all(row.get(k) == v for k, v in match.items()):
                return row
    return None


def _last(rows: list[Row], scenario: str, target: str) -> Row | None:
    found = [r for r in rows if r["scenario"] == scenario and r["target"] == target]
    return found[-1] if found else None


def _big_room(rows: list[Row], target: str) -> Row | None:
    found = [
        r for r in rows if r["scenario"] == "fanout" and r["target"] == target and r["rooms"] == 1
    ]
    return found[-1] if found else None


Check = tuple[str, Callable[[list[Row], str], tuple[str, bool | None]]]


def _throughput(rows: list[Row], target: str) -> tuple[str, bool | None]:
    best = saturation(rows)
    mine, base = best.get(target), best.get("baseline")
    if not mine or not base or not base["delivered_per_s"]:
        return "—", None
    ratio = mine["delivered_per_s"] / base["delivered_per_s"]
    return f"{mine['delivered_per_s']}/s = {ratio:.2f}× raw", ratio >= 0.8


def _to_baseline(
    rows: list[Row], row: Row, paired: str, value: Callable[[Row], Any]
) -> float | None:
    """``value`` of a fanout row over the baseline's: the median of the rounds' paired
    ratios (``paired``) when the grid had rounds; ``None`` when a tiny run measured
    nothing for the baseline."""
    if paired in row:
        return float(row[paired])
    base = _find(rows, "fanout", "baseline", shape=row["shape"], rate=row["rate"])
    if base and value(base):
        return float(value(row) / value(base))
    return None


def cpu_ratio(rows: list[Row], row: Row) -> float | None:
    return _to_baseline(rows, row, "cpu_ratio", lambda r: r["cpu_us_per_delivery"])


def p99_ratio(rows: list[Row], row: Row) -> float | None:
    return _to_baseline(rows, row, "p99_ratio", lambda r: r["latency_ms"]["p99"])


def spread(row: Row) -> str:
    """Every round's CPU ratio, lowest first, when there were several."""
    ratios = row.get("cpu_ratios") or []
    return f" ({'/'.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""


def _each_shape(
    rows: list[Row],
    target: str,
    ratio_of: Callable[[list[Row], Row], float | None],
    limit: float,
    shown: Callable[[Row, float], str],
) -> tuple[str, bool | None]:
    """A ratio to raw checked in every shape of the fanout grid: met when all are
    within ``limit``."""
    rows = collapse_rounds(rows)
    parts, ok = [], True
    for row in rows:
        if row["scenario"] != "fanout" or row["target"] != target:
            continue
        ratio = ratio_of(rows, row)
        if ratio is not None:
            parts.append(f"{row['rooms']}×{row['members']}: {shown(row, ratio)}")
            ok = ok and ratio <= limit
    return ("; ".join(parts), ok) if parts else ("—", None)


def _cpu(rows: list[Row], target: str) -> tuple[str, bool | None]:
    return _each_shape(rows, target, cpu_ratio, 1.25, lambda r, x: f"{x:.2f}×{spread(r)}")


def _cpu_saturation(rows: list[Row], target: str) -> tuple[str, bool | None]:
    """CPU per delivery at the highest rate that both this target and the baseline
    sustained (p99 within 100 ms, nothing lost): the same load on both, as high as
    possible. (Which step tops a ramp is decided by a tail that flips between runs on a
    noisy machine; the cost of a delivery at a common step moves much less.)"""

    def sustained(name: str) -> dict[float, Row]:
        return {
            row["rate"]: row
            for row in rows
            if row["scenario"] == "saturation"
            and row["target"] == name
            and (row["latency_ms"]["p99"] or 0) <= P99_LIMIT_MS
            and not row["lost"]
            and row["complete"]
        }

    mine, base = sustained(target), sustained("baseline")
    common = sorted(set(mine) & set(base))
    if not common:
        return "—", None
    rate = common[-1]
    if not base[rate]["cpu_us_per_delivery"]:
        return "—", None
    ratio = mine[rate]["cpu_us_per_delivery"] / base[rate]["cpu_us_per_delivery"]
    text = f"{ratio:.2f}× at {mine[rate]['delivered_per_s']}/s ({rate:g} msg/s per sender)"
    return text, ratio <= 1.25


def _p99_grid(rows: list[Row], target: str) -> tuple[str, bool | None]:
    """p99 ≤ 1.5× raw in every shape of the grid: the issue's sentence ("p99 latency ≤
    1.5× the baseline's, and ≤ 50 ms in the 1 × 500 case") also reads as a limit on
    every shape, so the stricter reading is checked too."""

    def shown(row: Row, ratio: float) -> str:
        return f"{row.get('p99_ms', row['latency_ms']['p99'])} ms = {ratio:.2f}×"

    return _each_shape(rows, target, p99_ratio, 1.5, shown)


def _p99(rows: list[Row], target: str) -> tuple[str, bool | None]:
    rows = collapse_rounds(rows)
    mine, base = _big_room(rows, target), _big_room(rows, "baseline")
    if not mine or not base:
        return "—", None
    p99 = mine.get("p99_ms", mine["latency_ms"]["p99"])
    raw = base.get("p99_ms", base["latency_ms"]["p99"])
    found = p99_ratio(rows, mine)
    ratio = float("inf") if found is None else found
    rounds = f", median of {mine['rounds']} rounds" if mine.get("rounds", 1) > 1 else ""
    text = f"{p99} ms = {ratio:.2f}× raw ({raw} ms{rounds})"
    if mine["members"] < 500 or mine["rate"] < 20:
        return f"{text} at {mine['members']} members", None
    return text, p99 <= 50 and ratio <= 1.5


def _lost(rows: list[Row], target: str) -> tuple[str, bool | None]:
    rows = collapse_rounds(rows)
    mine = [r for r in rows if r["scenario"] in ("fanout", "saturation") and r["target"] == target]
    if not mine:
        return "—", None
    lost = sum(r["lost"] for r in mine)
    late = sum(r.get("late", 0) for r in mine)
    text = f"{lost} of {sum(r['expected'] for r in mine)}"
    if late:
        text += f" ({late} still arriving when the drain gave up: late, not lost)"
    return text, lost == 0


def _memory(rows: list[Row], target: str) -> tuple[str, bool | None]:
    mine, base = _last(rows, "connect", target), _last(rows, "connect", "baseline")
    if not mine or not base or mine["connections"] != base["connections"]:
        return "—", None
    if not base["rss_kib_per_connection"]:
        return "—", None
    ratio = mine["rss_kib_per_connection"] / base["rss_kib_per_connection"]
    return f"{mine['rss_kib_per_connection']} KiB = {ratio:.2f}× raw", ratio <= 2


def _ten_thousand(rows: list[Row], target: str) -> tuple[str, bool | None]:
    mine = _last(rows, "connect", target)
    if not mine:
        return "—", None
    text = f"{mine['connections'] - mine['failed']} open, {mine['failed']} failed"
    if mine["connections"] < 10_000:
        return text, None
    return text, not mine["failed"]


def _resume(rows: list[Row], target: str) -> tuple[str, bool | None]:
    mine = _last(rows, "resume", target)
    if not mine:
        return "—", None
    text = f"{mine['cold_ms']} ms cold, {mine['warm_ms']} ms warm ({mine['missed']} missed)"
    if mine["missed"] < 10_000:
        return text, None
    return text, mine["cold_ms"] is not None and mine["cold_ms"] <= 1000


def _history(rows: list[Row], target: str) -> tuple[str, bool | None]:
    mine = _last(rows, "history", target)
    if not mine:
        return "—", None
    pages = mine["random_pages_ms"]
    text = f"p95 {pages['p95']} ms, max {pages['max']} ms ({mine['messages_in_room']} messages)"
    if mine["messages_in_room"] < 1_000_000:
        return text, None
    return text, pages["p95"] <= 20


def _coedit(rows: list[Row], target: str) -> tuple[str, bool | None]:
    mine = _last(rows, "coedit", target)
    if not mine:
        return "—", None
    p99 = mine["latency_ms"]["p99"]
    text = f"p99 {p99} ms ({mine['editors']} × {mine['rate']:g}/s)"
    if mine["editors"] < 50 or mine["rate"] < 5:
        return text, None
    return text, p99 is not None and p99 <= 100 and not mine["lost"]


CHECKS: list[Check] = [
    ("fanout throughput ≥ 0.8× raw at saturation", _throughput),
    ("CPU per delivery ≤ 1.25× raw (grid)", _cpu),
    ("CPU per delivery ≤ 1.25× raw at the highest rate both sustained", _cpu_saturation),
    ("1×500, 2×20/s: p99 ≤ 50 ms and ≤ 1.5× raw", _p99),
    ("p99 ≤ 1.5× raw in every shape of the grid (the stricter reading)", _p99_grid),
    ("zero messages lost", _lost),
    ("idle socket memory ≤ 2× raw", _memory),
    ("10 000 idle sockets in one process", _ten_thousand),
    ("resume 10 000 missed ≤ 1 s", _resume),
    ("history page ≤ 20 ms at 1 000 000", _history),
    ("coedit p99 ≤ 100 ms, 50 editors × 5/s", _coedit),
]


def evaluate(rows: list[Row]) -> list[tuple[str, str, str, bool | None]]:
    """(check, target, measured, met) for each check and Atelier target in the rows."""
    rows = collapse_rounds(rows)
    targets = [t for t in dict.fromkeys(r["target"] for r in rows) if t != "baseline"]
    return [(name, t, *check(rows, t)) for name, check in CHECKS for t in targets]


def table(rows: list[Row]) -> list[str]:
    marks = {True: "✅ met", False: "❌ missed", None: "— (not at the target's size)"}
    out = ["### Targets", "", "| target | setup | measured | |", "|---|---|---|---|"]
    for name, target, measured, met in evaluate(rows):
        if measured != "—":  # scenarios a setup does not run (history on the baseline…)
            out.append(f"| {name} | {target} | {measured} | {marks[met]} |")
    return [*out, ""]
