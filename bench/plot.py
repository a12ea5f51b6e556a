"""The latency-against-load plot of ``docs/performance.md`` (PNG, with matplotlib when it
is installed: it is optional, not a dependency of the project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    """Latency against delivered messages per second (PNG); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [r for r in rows if r["scenario"] in ("saturation", "fanout")]
    if not steps:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    targets = list(dict.fromkeys(r["target"] for r in steps))
    for index, target in enumerate(targets):
        mine = sorted(
            (r for r in steps if r["target"] == target and r["scenario"] == "saturation"),
            key=lambda r: r["delivered_per_s"],
        )
        if not mine:
            continue
        color = f"C{index}"
        xs = [r["delivered_per_s"] for r in mine]
        ax.plot(
            xs,
            [r["latency_ms"]["p99"] for r in mine],
            color=color,
            marker="o",
            label=f"{target} p99",
        )
        ax.plot(
            xs,
            [r["latency_ms"]["p50"] for r in mine],
            color=color,
            linestyle=":",
            marker=".",
            label=f"{target} p50",
        )
    ax.axhline(100, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("delivered messages per second (10 rooms × 50 members, 5 senders per room)")
    ax.set_ylabel("send → deliver latency (ms)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", linewidth=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True
