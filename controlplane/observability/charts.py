"""A tiny inline-SVG line chart: pure geometry, no I/O, no JavaScript, no CDN.

The template draws the polylines this module computes; everything is escaped by the
template engine (only numbers and series names come out of here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PALETTE = ("#ba2121", "#417690", "#2e7d32", "#e69500", "#6a1b9a")


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # "x1,y1 x2,y2 …" for <polyline points="…">
    last: int
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    pad: int
    max_value: int
    lines: list[Line]
    x_labels: list[tuple[float, str]]  # (x, label)
    y_labels: list[tuple[float, str]]  # (y, label)


def line_chart(days: list[dt.date], series: dict[str, list[int]], *, width: int = 640, height: int = 180,
               pad: int = 28) -> Chart:
    """Scale each series onto a ``width`` × ``height`` box (origin bottom-left, ``pad`` margin
    for the axis labels). An all-zero chart still draws flat lines on the axis."""
    max_value = max([1, *(v for values in series.values() for v in values)])
    n = max(1, len(days) - 1)
    inner_w, inner_h = width - 2 * pad, height - 2 * pad

    def x(i: int) -> float:
        return round(pad + inner_w * i / n, 1)

    def y(v: int) -> float:
        return round(height - pad - inner_h * v / max_value, 1)

    lines = [
        Line(name=name, colour=PALETTE[i % len(PALETTE)],
             points=" ".join(f"{x(j)},{y(v)}" for j, v in enumerate(values)),
             last=values[-1] if values else 0, total=sum(values))
        for i, (name, values) in enumerate(series.items())
    ]
    step = max(1, len(days) // 6)
    x_labels = [(x(i), d.strftime("%d %b")) for i, d in enumerate(days) if i % step == 0 or i == len(days) - 1]
    y_labels = [(y(v), str(v)) for v in sorted({0, max_value // 2, max_value})]
    return Chart(width, height, pad, max_value, lines, x_labels, y_labels)
