"""The figures every benchmark reports, and `bench/results.json` where they are kept.

Each benchmark module measures, builds `Figure`s and calls `publish`: the figures replace those of
the same name in results.json (so one module can be re-run alone) and are printed as a table.
`python -m bench` runs every module and prints the whole table.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

RESULTS = Path(__file__).with_name("results.json")
Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Figure:
    """One measured figure: `max` = must stay at or below target, `min` = at or above.

    `floor` is the baseline measured in the same run (for a ratio: the framework's own figure).
    """

    name: str
    value: float
    unit: str
    target: float | None
    direction: Direction
    floor: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None when the figure has no target (reported only)."""
        if self.target is None:
            return None
        return self.value <= self.target if self.direction == "max" else self.value >= self.target


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100), nearest rank: a value that was really measured."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(samples: Sequence[float]) -> str:
    """'median X, p95 Y, p99 Z (n=N)' for a note."""
    return (
        f"median {statistics.median(samples):.1f}, p95 {percentile(samples, 95):.1f}, "
        f"p99 {percentile(samples, 99):.1f} (n={len(samples)})"
    )


def load() -> list[Figure]:
    """The figures of the last runs, in the order they were first written."""
    if not RESULTS.exists():
        return []
    return [Figure(**entry) for entry in json.loads(RESULTS.read_text(encoding="utf-8"))]


def publish(figures: Iterable[Figure]) -> bool:
    """Merge the figures into results.json, print them; True when every target is met."""
    new = list(figures)
    kept = {figure.name: figure for figure in load()}
    for figure in new:
        kept[figure.name] = figure
    RESULTS.write_text(
        json.dumps([asdict(f) for f in kept.values()], indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    print(table(new))
    return all(figure.met is not False for figure in new)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _verdict(figure: Figure) -> str:
    return {True: "ok", False: "MISSED", None: "(no target)"}[figure.met]


def _target(figure: Figure) -> str:
    if figure.target is None:
        return "-"
    return ("≤ " if figure.direction == "max" else "≥ ") + _number(figure.target)


def table(figures: Sequence[Figure]) -> str:
    """A terminal table: name, value, unit, target, floor, verdict."""
    rows = [("figure", "value", "unit", "target", "floor", "")]
    rows += [
        (f.name, _number(f.value), f.unit, _target(f), _number(f.floor), _verdict(f))
        for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )


def markdown(figures: Sequence[Figure]) -> str:
    """The README's table."""
    lines = [
        "| Figure | Value | Target | Floor (same run) | | How |",
        "|---|---:|---:|---:|---|---|",
    ]
    for f in figures:
        unit = f" {f.unit}" if f.unit else ""
        cells = [f.name, _number(f.value) + unit, _target(f), _number(f.floor), _verdict(f), f.note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
