"""Turn a results file into Markdown tables, ratios to the baseline and the targets, and
write them between the markers of ``docs/performance.md`` (the rest of the page is
written by people and left alone). ``bench/plot.py`` draws the optional PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import targets as goals

START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
SKELETON = f"""# Performance

How fast Atelier is, measured against a raw `websockets` broadcast server in the same run
on the same machine. Run `make bench` (full, about 20 minutes) or `make bench-quick`.

{START}
{END}
"""


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.{digits}f}".replace(",", " ")
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    return str(value)


def _ratio(value: float | None, reference: float | None) -> str:
    if not value or not reference:
        return "—"
    return f"{value / reference:.2f}×"


def _paired(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _by(rows: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["scenario"] == scenario]


def _baseline(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for row in rows:
        if row["target"] == "baseline" and all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def fanout_table(rows: list[dict[str, Any]]) -> list[str]:
    grid = _by(goals.collapse_rounds(rows), "fanout")
    if not grid:
        return []
    out = ["### Fanout", ""]
    header = [
        "shape",
        "rate/sender",
        "target",
        "delivered/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "lost",
        "server CPU (in threads)",
        "µs CPU/delivery",
        "peak RSS MB",
        "PG+Redis CPU",
        "gen CPU",
        "waited for a core (server/gen)",
        "I/O pressure",
        "p99 vs raw",
        "CPU/delivery vs raw (each round's)",
    ]
    table = []
    for r in grid:
        lat = r["latency_ms"]
        table.append(
            [
                r["shape"],
                r["rate"],
                r["target"],
                r["delivered_per_s"],
                lat["p50"],
                lat["p95"],
                lat["p99"],
                lat["max"],
                _lost(r),
                _cpu(r),
                r["cpu_us_per_delivery"],
                r["peak_rss_mb"],
                f"{r['services_cpu_pct']}%" if r["target"] != "baseline" else "—",
                f"{r['generator_cpu_pct']}%",
                f"{r.get('server_runq_wait_pct', '?')}% / {r.get('generator_runq_wait_pct', '?')}%",
                "—" if r.get("io_pressure_pct") is None else f"{r['io_pressure_pct']}%",
                _paired(goals.p99_ratio(grid, r)),
                _paired(goals.cpu_ratio(grid, r)) + goals.spread(r),
            ]
        )
    return out + _table(header, table)


def saturation_table(rows: list[dict[str, Any]]) -> list[str]:
    steps = _by(rows, "saturation")
    if not steps:
        return []
    out = [
        "### Saturation (rate per sender doubled until p99 > 100 ms, then the gap halved twice)",
        "",
    ]
    best = goals.saturation(rows)
    base = best.get("baseline")
    header = [
        "target",
        "steps: rate → delivered/s (p99 ms)",
        "max sustained delivered/s",
        "µs CPU/delivery there",
        "vs raw",
    ]
    table = []
    for target in dict.fromkeys(r["target"] for r in steps):
        mine = [r for r in steps if r["target"] == target]
        trail = ", ".join(
            f"{r['rate']:g} → {r['delivered_per_s']} ({r['latency_ms']['p99']})" for r in mine
        )
        top = best.get(target)
        table.append(
            [
                target,
                trail,
                top and top["delivered_per_s"],
                top and top["cpu_us_per_delivery"],
                _ratio(top and top["delivered_per_s"], base and base["delivered_per_s"]),
            ]
        )
    return out + _table(header, table)


def connect_table(rows: list[dict[str, Any]]) -> list[str]:
    conns = _by(rows, "connect")
    if not conns:
        return []
    header = [
        "target",
        "sockets",
        "failed",
        "connect time s",
        "handshake p50 ms",
        "p99 ms",
        "RSS MB",
        "KiB/socket",
        "idle CPU",
        "KiB/socket vs raw",
    ]
    table = []
    for r in conns:
        base = _baseline(conns, connections=r["connections"])
        table.append(
            [
                r["target"],
                r["connections"],
                r["failed"],
                r["connect_s"],
                r["handshake_ms"]["p50"],
                r["handshake_ms"]["p99"],
                r["rss_mb"],
                r["rss_kib_per_connection"],
                f"{r['idle_cpu_pct']}%",
                _ratio(r["rss_kib_per_connection"], base and base["rss_kib_per_connection"]),
            ]
        )
    return ["### Idle connections (each subscribed to one room of 50)", "", *_table(header, table)]


def small_tables(rows: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    resumes = _by(rows, "resume")
    if resumes:
        base = _baseline(resumes)
        table = [
            [
                r["target"],
                r["missed"],
                r["events"],
                r["gaps"],
                r["cold_ms"],
                r["warm_ms"],
                _ratio(r["cold_ms"], base and base["cold_ms"]),
            ]
            for r in resumes
        ]
        out += ["### Resume", ""]
        out += _table(
            ["target", "missed", "replayed", "gaps", "cold ms", "warm ms", "vs raw"], table
        )
    hist = _by(rows, "history")
    if hist:
        table = [
            [
                r["target"],
                r["messages_in_room"],
                r["newest_page_ms"],
                r["oldest_page_ms"],
                r["random_pages_ms"]["p50"],
                r["random_pages_ms"]["p95"],
                r["random_pages_ms"]["max"],
                r["raw_sql_ms"]["p50"],
                _ratio(r["random_pages_ms"]["p50"], r["raw_sql_ms"]["p50"]),
            ]
            for r in hist
        ]
        out += ["### History (pages of 100, `GET /api/rooms/{id}/messages?before=`)", ""]
        out += _table(
            [
                "target",
                "messages",
                "newest ms",
                "oldest ms",
                "random p50 ms",
                "p95 ms",
                "max ms",
                "raw SQL p50 ms",
                "API vs raw SQL",
            ],
            table,
        )
    edits = _by(rows, "coedit")
    if edits:
        base = _baseline(edits)
        table = [
            [
                r["target"],
                r["editors"],
                r["rate"],
                r["ops"],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p99"],
                r["latency_ms"]["max"],
                _lost(r),
                r["converged"],
                f"{r['server_cpu_pct']}%",
                r["cpu_us_per_op"],
                r["peak_rss_mb"],
                _ratio(r["latency_ms"]["p99"], base and base["latency_ms"]["p99"]),
            ]
            for r in edits
        ]
        out += [
            "### Co-editing (one draft; every keystroke also moves the cursor in the awareness)",
            "",
        ]
        out += _table(
            [
                "target",
                "editors",
                "ops/s each",
                "ops",
                "p50 ms",
                "p99 ms",
                "max ms",
                "lost",
                "converged",
                "server CPU",
                "µs CPU/op",
                "peak RSS MB",
                "p99 vs raw",
            ],
            table,
        )
    docs = _by(rows, "documents")
    if docs:
        table = [
            [
                r["target"],
                r["open_drafts"],
                r["draft_chars"],
                r["kib_per_open_draft"],
                r["big_draft_load"]["log_draft"]["cold_ms"],
                r["big_draft_load"]["snapshot_draft"]["cold_ms"],
                r["big_draft_load"]["log_draft"]["warm_ms"],
            ]
            for r in docs
        ]
        out += ["### Drafts in memory and loading", ""]
        out += _table(
            [
                "target",
                "open drafts",
                "chars each",
                "KiB per open draft",
                "≈1 MB load, 5 000-update log (cold) ms",
                "≈1 MB load, snapshot (cold) ms",
                "≈1 MB, already open ms",
            ],
            table,
        )
    return out


def _code_line(code: dict[str, Any] | None) -> str:
    if not code:
        return "- Code: not recorded."
    if not code["uncommitted"]:
        return f"- Code: commit {code['head']} (digest {code['digest']}), no uncommitted change."
    files = ", ".join(f"`{f}`" for f in code["uncommitted"])
    return (
        f"- Code: commit {code['head']} plus uncommitted changes to {files} "
        f"(digest {code['digest']})."
    )


def _cpu(row: dict[str, Any]) -> str:
    """Server CPU, with the share of the threads other than the event loop's (SQLite runs
    in aiosqlite's worker threads)."""
    threads = row.get("server_other_threads_cpu_pct")
    return f"{row['server_cpu_pct']}%" + (f" ({threads}%)" if threads else "")


def _lost(row: dict[str, Any]) -> str:
    text = _fmt(row["lost"])
    if row.get("late"):
        text += f" (+{_fmt(row['late'])} late)"
    closed = (
        sum((row.get("closed_sockets") or {}).values())
        if isinstance(row.get("closed_sockets"), dict)
        else 0
    )
    if closed:
        text += f", {closed} sockets closed"
    return text


def render(results: dict[str, Any], plot: str | None = None) -> str:
    rows = results["rows"]
    m = results["machine"]
    opts = results["options"]
    lines = [
        f"Measured {results['started_at']} in {results['duration_s'] / 60:.1f} min with "
        f"`{results['command']}`.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, Node {m.get('node', '?')}.",
        f"- Pinning: {opts['pinning']}.",
        _code_line(results.get("code")),
        *(
            ["- **The application code changed during the run**: compare with care."]
            if results.get("code_changed_during_run")
            else []
        ),
        f"- Load average at start {_loads(m['load_average_at_start'])}, at end "
        f"{_loads(results['load_average_at_end'])} (other people's tests share this machine).",
        "- Compression: "
        + ("permessage-deflate." if opts["deflate"] else "off (the generator does not offer it)."),
        "",
    ]
    for note in results.get("notes", []):
        lines.append(f"> {note}")
        lines.append("")
    lines += goals.table(rows)
    lines += fanout_table(rows) + saturation_table(rows)
    if plot:
        lines += [f"![p99 latency against delivered messages per second]({plot})", ""]
    lines += connect_table(rows) + small_tables(rows)
    return "\n".join(lines)


def write_doc(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else SKELETON
    if START not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{START}\n{block}\n{END}{tail}", encoding="utf-8")


def _loads(loads: Any) -> str:
    """The three load averages, the same whether the results are fresh (a tuple) or
    read back from their JSON (a list)."""
    return "(" + ", ".join(f"{load:g}" for load in loads) + ")"
