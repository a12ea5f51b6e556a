"""The bench's target checks on made-up rows (``bench/targets.py``)."""

from __future__ import annotations

from typing import Any

from bench.targets import CHECKS


def _step(target: str, rate: float, per_s: int, p99: float, cpu_us: float) -> dict[str, Any]:
    return {
        "scenario": "saturation",
        "target": target,
        "rate": rate,
        "delivered_per_s": per_s,
        "latency_ms": {"p99": p99},
        "lost": 0,
        "complete": True,
        "cpu_us_per_delivery": cpu_us,
    }


def _check(title: str) -> Any:
    return next(check for name, check in CHECKS if name.startswith(title))


def test_saturation_cpu_is_compared_at_the_highest_step_both_sustained() -> None:
    rows = [
        _step("baseline", 8, 20_000, 3.0, 20.0),
        _step("baseline", 16, 40_000, 9.0, 18.0),
        _step("baseline", 32, 62_000, 2_000.0, 15.0),  # not sustained
        _step("sqlite", 8, 20_000, 9.0, 30.0),
        _step("sqlite", 16, 40_000, 60.0, 21.6),
        _step("sqlite", 32, 70_000, 600.0, 13.0),  # not sustained
    ]
    check = _check("CPU per delivery ≤ 1.25× raw at the highest rate")
    text, ok = check(rows, "sqlite")
    assert text.startswith("1.20× at 40000/s (16 msg/s")
    assert ok is True
    rows[4] = _step("sqlite", 16, 40_000, 150.0, 21.6)  # now only 8 is common
    text, ok = check(rows, "sqlite")
    assert text.startswith("1.50× at 20000/s")
    assert ok is False
    assert check([r for r in rows if r["target"] == "baseline"], "sqlite") == ("—", None)
