"""Hand-drawn inline SVG charts for the HTML page: no scripts, no fonts, nothing fetched."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from songset.report.format import fmt as _fmt


def bar_chart(
    counts: Sequence[float],
    labels: Sequence[str],
    *,
    width: int = 340,
    height: int = 130,
    threshold: float | None = None,
) -> str:
    """A vertical bar chart: one bar per count, the label under it, the count above it.

    `threshold`, a position in bars (2.5: halfway through the third), draws a dashed line there.
    """
    n = max(1, len(counts))
    top = max([*counts, 1])
    left, bottom, pad = 6, 20, 14
    bw = (width - left * 2) / n
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#c9ced8"/>'
    )
    for i, (c, label) in enumerate(zip(counts, labels, strict=True)):
        h = (height - bottom - pad) * (c / top)
        x = left + i * bw
        y = height - bottom - h
        parts.append(
            f'<rect x="{x + 1.5:.1f}" y="{y:.1f}" width="{max(bw - 3, 1):.1f}" height="{h:.1f}" rx="2" '
            f'fill="#3b6fd8"><title>{escape(label)}: {_fmt(c)}</title></rect>'
        )
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{_fmt(c)}</text>')
        if n <= 12 or i % math.ceil(n / 12) == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(label)}</text>'
            )
    if threshold is not None:
        tx = left + threshold * bw
        parts.append(
            f'<line x1="{tx:.1f}" y1="4" x2="{tx:.1f}" y2="{height - bottom}" stroke="#c0392b" '
            f'stroke-dasharray="4 3" stroke-width="1.5"><title>threshold</title></line>'
        )
    parts.append("</svg>")
    return "".join(parts)


_LEVEL_COLOURS = {"ok": "#2e8540", "warn": "#c77c02", "bad": "#c0392b", "": "#3b6fd8"}


def hbar_chart(rows: Sequence[tuple[str, float | None, str]], *, width: int = 340) -> str:
    """Horizontal bars of shares in [0, 1] (coverage), coloured by level (ok, warn, bad: the metric's own
    thresholds); a missing value is drawn as 'not measured'."""
    row_h, label_w = 22, 110
    height = row_h * len(rows) + 6
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    span = width - label_w - 46
    for i, (label, value, level) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(f'<text x="0" y="{y + 14}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{span}" height="14" rx="2" fill="#eef1f6"/>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 14}">not measured</text>')
            continue
        color = _LEVEL_COLOURS[level]
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{span * max(0.0, min(1.0, value)):.1f}" height="14" rx="2" '
            f'fill="{color}"/>'
        )
        parts.append(f'<text x="{label_w + span + 6}" y="{y + 14}">{value * 100:.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    values: Sequence[float], *, bins: int = 10, lo: float | None = None, hi: float | None = None
) -> str:
    if not values:
        return '<p class="none">no data</p>'
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi <= lo:
        hi = lo + 1
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    integer = width >= 1
    labels = [f"{lo + i * width:.0f}" if integer else f"{lo + i * width:.1f}" for i in range(bins)]
    return bar_chart(counts, labels)
