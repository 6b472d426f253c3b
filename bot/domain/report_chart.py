"""Charts drawn as PNG with matplotlib, headless: no screen, no pyplot state shared between
threads (each chart has its own Figure and Agg canvas)."""

from __future__ import annotations

import io
import math
import threading
from typing import Any

from bot.domain.messages import Chart, Panel

PANEL_WIDTH_IN, PANEL_HEIGHT_IN, DPI = 6.4, 3.6, 100
# Colour-blind-safe (Okabe-Ito), bars first, then the lines.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_BAR_SLOTS = 5  # a chart of one or two countries keeps bars of a normal width
_DRAWING = threading.Lock()


def render_png(chart: Chart) -> bytes:
    """The chart as PNG bytes: its panels two to a row, the title above, the note below.
    One chart at a time: matplotlib's font and text caches are not made for threads."""
    with _DRAWING:
        return _render(chart)


def _render(chart: Chart) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = 1 if len(chart.panels) == 1 else 2
    rows = math.ceil(len(chart.panels) / columns)
    height = PANEL_HEIGHT_IN * rows + 0.9
    figure = Figure(figsize=(PANEL_WIDTH_IN * columns, height), dpi=DPI)
    FigureCanvasAgg(figure)
    # Fixed margins, wide enough for a country's name and rotated month labels: laying the
    # figure out by measuring every label (constrained layout) took half the drawing time.
    figure.subplots_adjust(
        left=0.13,
        right=0.97,
        top=1 - 0.55 / height,
        bottom=0.75 / height,
        wspace=0.42,
        hspace=0.55,
    )
    figure.suptitle(chart.title, fontsize=13, y=1 - 0.12 / height)
    for index, panel in enumerate(chart.panels, start=1):
        _draw(figure.add_subplot(rows, columns, index), panel)
    if chart.note:
        figure.text(0.5, 0.1 / height, chart.note, ha="center", fontsize=8, color="#444444")
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": "Tocsin"})
    return out.getvalue()


def _draw(axes: Any, panel: Panel) -> None:
    axes.set_title(panel.title, fontsize=10)
    if not panel.labels or all(v is None for s in panel.series for v in s.values):
        axes.text(0.5, 0.5, "Nothing to draw", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    if panel.kind == "hbars":
        _horizontal_bars(axes, panel)
    else:
        _bars_and_lines(axes, panel)


def _zeroed(values: tuple[float | None, ...]) -> list[float]:
    """Bars: a cell that may not be drawn has no bar."""
    return [0.0 if v is None else v for v in values]


def _gapped(values: tuple[float | None, ...]) -> list[float]:
    """Lines: a cell that may not be drawn is a gap, not a fall to zero."""
    return [math.nan if v is None else v for v in values]


def _horizontal_bars(axes: Any, panel: Panel) -> None:
    series = panel.series[0]
    positions = list(range(len(panel.labels)))
    axes.barh(positions, _zeroed(series.values), color=COLOURS[0], height=0.7)
    axes.set_yticks(positions, labels=list(panel.labels), fontsize=8)
    # The largest first, at the top (the axis runs downwards).
    axes.set_ylim(max(len(positions), MIN_BAR_SLOTS) - 0.5, -0.5)
    axes.set_xlabel(panel.unit, fontsize=8)
    drawn = [v for v in series.values if v is not None]
    axes.set_xlim(0, max(max(drawn, default=0) * 1.15, 1))
    for position, value in zip(positions, series.values, strict=True):
        axes.annotate(
            "too few cases" if value is None else f"{value:g}",
            (value or 0, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="#666666" if value is None else "black",
        )


def _bars_and_lines(axes: Any, panel: Panel) -> None:
    from matplotlib.ticker import MaxNLocator

    positions = list(range(len(panel.labels)))
    for index, series in enumerate(panel.series):
        colour = COLOURS[index % len(COLOURS)]
        if series.style == "line":
            axes.plot(
                positions,
                _gapped(series.values),
                marker="o",
                markersize=3,
                linewidth=1.5,
                color=colour,
                label=series.name,
            )
        else:
            axes.bar(positions, _zeroed(series.values), color=colour, alpha=0.35, label=series.name)
    step = max(1, math.ceil(len(positions) / 12))  # at most a dozen labels under the axis
    axes.set_xticks(
        positions[::step], labels=list(panel.labels[::step]), rotation=45, ha="right", fontsize=7
    )
    axes.set_ylabel(panel.unit, fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of cases are whole
    axes.legend(fontsize=7, loc="upper left")


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height of a PNG, read from its header."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 24:
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
