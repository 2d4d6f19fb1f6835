"""Charts drawn on the server as SVG (no script, no CDN): grouped bars per day, one colour per series."""
from __future__ import annotations

from markupsafe import Markup, escape

COLOURS = ("#1f5fbf", "#c0392b", "#27ae60", "#8e44ad")


def bars(title: str, labels: list[str], series: list[tuple[str, list[float]]], *, width: int = 900,
         height: int = 220) -> Markup:
    top, bottom, left, right = 24, 34, 40, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for _, values in series for v in values] + [1])
    slot = plot_w / max(len(labels), 1)
    bar = max(slot / (len(series) + 1), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#889"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11">{peak:g}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>']
    every = max(1, len(labels) // 10)
    for n, label in enumerate(labels):
        x0 = left + n * slot
        for k, (name, values) in enumerate(series):
            v = values[n]
            h = plot_h * v / peak
            parts.append(f'<rect x="{x0 + bar * (k + 0.5):.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[k % len(COLOURS)]}"><title>{escape(label)} '
                         f'{escape(name)} {v:g}</title></rect>')
        if n % every == 0:
            parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                         f'font-size="11">{escape(label[5:])}</text>')
    for k, (name, _) in enumerate(series):
        x = left + k * 120
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{COLOURS[k % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="13" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
