"""Charts as server-side SVG: no chart library, no script (the CSP allows none inline), every
label escaped here, so a template may embed the result as it is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 28, 44
INK, GRID, ACCENT = "#1f2937", "#d1d5db", "#2563eb"


def _text(x: float, y: float, body: str, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{INK}">{escape(body)}</text>'
    )


def _frame(title: str, body: list[str], height: int = HEIGHT) -> Markup:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        + _text(MARGIN_LEFT, 18, title, size=14)
        + "".join(body)
        + "</svg>"
    )
    return Markup(svg)  # noqa: S704 - every piece of text above went through escape()


def line_chart(title: str, points: Sequence[tuple[str, float]], *, percent: bool) -> Markup:
    """Values over time (x labels as given, a few of them shown); y from 0 to the max (or 100%)."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = 1.0 if percent else max((v for _, v in points), default=1.0) or 1.0
    body = []
    for step in range(5):
        value = top * step / 4
        y = MARGIN_TOP + plot_h - plot_h * step / 4
        body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" '
                    f'y2="{y:.1f}" stroke="{GRID}"/>')  # fmt: skip
        label = f"{value:.0%}" if percent else f"{value:,.0f}"
        body.append(_text(MARGIN_LEFT - 6, y + 4, label, "end", 11))
    if not points:
        body.append(_text(WIDTH / 2, HEIGHT / 2, "no calls in this period", "middle"))
        return _frame(title, body)
    step_x = plot_w / max(1, len(points) - 1)
    coords = [
        (MARGIN_LEFT + i * step_x, MARGIN_TOP + plot_h - plot_h * (v / top))
        for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    body.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{ACCENT}"/>' for x, y in coords]
    every = max(1, len(points) // 6)
    for i in range(0, len(points), every):
        body.append(_text(coords[i][0], HEIGHT - MARGIN_BOTTOM + 18, points[i][0], "middle", 11))
    return _frame(title, body)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """Horizontal bars, one per label, longest first as given; the value written at the end."""
    row = 22
    height = MARGIN_TOP + 12 + row * max(1, len(bars))
    label_w = 190
    plot_w = WIDTH - label_w - MARGIN_RIGHT - 70
    top = max((v for _, v in bars), default=0) or 1
    body = []
    if not bars:
        body.append(_text(WIDTH / 2, MARGIN_TOP + 20, "nothing to show in this period", "middle"))
    for i, (label, value) in enumerate(bars):
        y = MARGIN_TOP + 10 + i * row
        width = plot_w * value / top
        body.append(_text(label_w - 8, y + 13, label, "end"))
        body.append(f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{row - 6}" '
                    f'fill="{ACCENT}"/>')  # fmt: skip
        body.append(_text(label_w + width + 6, y + 13, f"{value:,.0f}{unit}"))
    return _frame(title, body, height=max(height, 80))
