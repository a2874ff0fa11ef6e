"""A :class:`~dialer.reports.model.Report` as one self-contained HTML page: inline CSS, every
table with its notes, and its charts as inline SVG bars drawn here (no script, no CDN, nothing
fetched). Every text from the data is escaped."""

from __future__ import annotations

from html import escape

from dialer.reports.model import Chart, Report, cell_text

__all__ = ["html_text", "svg_bars"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f2f2f2}
.note{color:#666;font-size:.9em;margin:.1em 0}
svg{margin:.5em 0 1.5em;font-size:12px}
"""

_BAR_H = 22
_LABEL_W = 170
_PLOT_W = 420


def svg_bars(chart: Chart) -> str:
    """``chart`` as horizontal bars, each labelled with its value."""
    top = max((v for v in chart.values if v > 0), default=1.0)
    height = _BAR_H * len(chart.labels) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LABEL_W + _PLOT_W + 90}" '
             f'height="{height}" role="img" aria-label="{escape(chart.title)}">']
    for i, (label, value) in enumerate(zip(chart.labels, chart.values, strict=True)):
        y = 5 + i * _BAR_H
        width = max(0.0, value) / top * _PLOT_W
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{_LABEL_W}" y="{y + 2}" width="{width:.1f}" height="{_BAR_H - 6}" '
            f'fill="#3a7bd5"/><text x="{_LABEL_W + width + 4:.1f}" y="{y + 15}">'
            f'{escape(_num(value))} {escape(chart.unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def html_text(report: Report) -> str:
    title = f"{report.kind} report: {report.campaign}"
    body = [f"<h1>{escape(title)}</h1>"]
    for chart in report.charts:
        body += [f"<h2>{escape(chart.title)}</h2>", svg_bars(chart)]
    for table in report.tables:
        body.append(f'<h2 id="{escape(table.name)}">{escape(table.title)}</h2><table><tr>'
                    + "".join(f"<th>{escape(c)}</th>" for c in table.columns) + "</tr>")
        body += ["<tr>" + "".join(f"<td>{escape(cell_text(c))}</td>" for c in row) + "</tr>"
                 for row in table.rows]
        body.append("</table>")
        body += [f'<p class="note">{escape(n)}</p>' for n in table.notes]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
