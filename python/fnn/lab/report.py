"""Rendering exercise results: terminal tables, ``report.md``, ``index.html``.

`write_report` saves every figure as a PNG and writes two reports over the
same content: Markdown that links the PNGs, and one self-contained HTML page
with the PNGs embedded (base64 data URLs), so it opens offline and can be
mailed as a single file. ``results.json`` holds the tables for other tools.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import ExerciseResult, Record, is_timing_column

__all__ = [
    "format_table",
    "format_value",
    "html_report",
    "markdown_report",
    "write_report",
]

# Columns shown with three decimals whatever their value, so that a column
# of accuracies lines up (1.000, not 1).
_THREE_DECIMALS = (
    "accuracy",
    "score",
    "loss",
    "gap",
    "precision",
    "recall",
    "f1",
    "_sd",
    "weights",
    "p_class_1",
)


def format_value(column: str, value: Any) -> str:
    """One table cell as text.

    Parameters
    ----------
    column : str
        The column's name; it decides how floats are rounded (timings with
        2 decimals, accuracies and losses with 3, settings as short as exact).
    value : object
        The cell.

    Returns
    -------
    str
        The text; NaN and None show as ``"–"``.
    """
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "–"
        if is_timing_column(column):
            return f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.4f}"
        if any(key in column for key in _THREE_DECIMALS):
            return f"{v:.3f}"
        if "epoch" in column:
            # Epoch counts averaged over seeds.
            return f"{v:.0f}" if v == int(v) else f"{v:.1f}"
        short = f"{v:g}"
        if float(short) == v:
            return short
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(format_value(column, v) for v in value) + ")"
    return str(value)


def _header(column: str) -> str:
    return column.replace("_", " ")


def _columns(rows: Sequence[Record]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return columns


def format_table(rows: Sequence[Record]) -> str:
    """Rows of dicts as a plain-text table: text left-aligned, numbers right.

    Parameters
    ----------
    rows : sequence of dict
        One dict per row; the columns are the union of the keys, in order.

    Returns
    -------
    str
        The table, lines joined by newlines, no trailing newline; ``""`` for
        no rows.
    """
    if not rows:
        return ""
    columns = _columns(rows)
    cells = [[format_value(c, row.get(c)) for c in columns] for row in rows]
    numeric = [
        all(isinstance(row.get(c), (int, float, np.number)) for row in rows) for c in columns
    ]
    header = [_header(c) for c in columns]
    widths = [max(len(x) for x in [h, *(r[i] for r in cells)]) for i, h in enumerate(header)]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in cells])


def _markdown_table(rows: Sequence[Record]) -> str:
    columns = _columns(rows)
    numeric = [
        all(isinstance(row.get(c), (int, float, np.number)) for row in rows) for c in columns
    ]
    lines = [
        "| " + " | ".join(_header(c) for c in columns) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in rows:
        cells = [format_value(c, row.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _html_table(rows: Sequence[Record]) -> str:
    columns = _columns(rows)
    numeric = [
        all(isinstance(row.get(c), (int, float, np.number)) for row in rows) for c in columns
    ]
    head = "".join(f"<th>{html.escape(_header(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html.escape(format_value(c, row.get(c)))}</td>'
            if n
            else f"<td>{html.escape(format_value(c, row.get(c)))}</td>"
            for c, n in zip(columns, numeric)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_file(result: ExerciseResult, key: str) -> str:
    return f"{result.name}_{key}.png"


def _settings_text(result: ExerciseResult) -> str:
    shown = ", ".join(
        f"{k}={format_value(k, v)}" for k, v in result.settings.items() if v is not None
    )
    return f"Settings: {shown}. Took {result.seconds:.1f} s."


def _meta_text(meta: Mapping[str, Any]) -> str:
    return " · ".join(f"{k}: {v}" for k, v in meta.items())


def markdown_report(results: Sequence[ExerciseResult], meta: Mapping[str, Any]) -> str:
    """Return the whole report as Markdown, linking the PNGs by file name.

    Parameters
    ----------
    results : sequence of ExerciseResult
        The exercises, in order.
    meta : mapping
        Facts about the run shown under the title (seed, engine, ...).

    Returns
    -------
    str
        The Markdown text.
    """
    parts = ["# fnn lab report", "", _meta_text(meta), ""]
    for r in results:
        parts += [f"## {r.title}", "", r.prediction, "", " ".join(r.findings), ""]
        for table in r.tables:
            parts += [f"**{table.caption}**", "", _markdown_table(table.rows), ""]
        for key in r.figures:
            parts += [f"![{r.title}: {key}]({_figure_file(r, key)})", ""]
        parts += [f"*{_settings_text(r)}*", ""]
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; line-height: 1.5; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #1f77b4; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.meta, .settings { color: #555; font-size: 0.9rem; }
.prediction { font-style: italic; color: #333; }
.findings { background: #eef5fb; border-left: 4px solid #1f77b4; padding: 0.6rem 0.9rem; }
nav ul { padding-left: 0; list-style: none; }
nav li { margin: 0.25rem 0; }
table { border-collapse: collapse; margin: 0.4rem 0 1.2rem; font-size: 0.9rem;
        background: white; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caption { font-weight: 600; margin-bottom: 0.2rem; }
details { margin-bottom: 1rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; background: white; }
""".strip()


def html_report(
    results: Sequence[ExerciseResult],
    meta: Mapping[str, Any],
    images: Mapping[tuple[str, str], bytes],
) -> str:
    """Return the whole report as one self-contained HTML page.

    Parameters
    ----------
    results : sequence of ExerciseResult
        The exercises, in order.
    meta : mapping
        Facts about the run shown under the title.
    images : mapping
        PNG bytes per ``(exercise name, figure key)``, embedded as data URLs.

    Returns
    -------
    str
        The HTML text; it loads nothing from outside.
    """
    e = html.escape
    toc = "".join(
        f'<li><a href="#{e(r.name)}">{e(r.title)}</a>: {e(r.findings[0] if r.findings else "")}'
        "</li>"
        for r in results
    )
    sections = []
    for r in results:
        body = [
            f'<section id="{e(r.name)}"><h2>{e(r.title)}</h2>',
            f'<p class="prediction">{e(r.prediction)}</p>',
            f'<p class="findings">{e(" ".join(r.findings))}</p>',
        ]
        for table in r.tables:
            if table.terminal:
                body.append(f'<p class="caption">{e(table.caption)}</p>{_html_table(table.rows)}')
            else:
                body.append(
                    f"<details><summary>{e(table.caption)} ({len(table.rows)} rows)</summary>"
                    f"{_html_table(table.rows)}</details>"
                )
        for key in r.figures:
            data = base64.b64encode(images[r.name, key]).decode("ascii")
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" '
                f'alt="{e(r.title)}: {e(key)}"></figure>'
            )
        body.append(f'<p class="settings">{e(_settings_text(r))}</p></section>')
        sections.append("\n".join(body))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>fnn lab report</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<main>\n"
        f'<h1>fnn lab report</h1>\n<p class="meta">{e(_meta_text(meta))}</p>\n'
        f"<nav><ul>{toc}</ul></nav>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def write_report(
    results: Sequence[ExerciseResult],
    out_dir: str | os.PathLike,
    meta: Mapping[str, Any] | None = None,
    *,
    dpi: int = 100,
) -> dict[str, Any]:
    """Save the figures and write ``index.html``, ``report.md`` and ``results.json``.

    Parameters
    ----------
    results : sequence of ExerciseResult
        The exercises, in order.
    out_dir : path
        Directory to write into (created if missing; files are overwritten).
    meta : mapping or None, default=None
        Facts about the run shown under the title.
    dpi : int, default=100
        Resolution of the PNGs.

    Returns
    -------
    dict
        Paths written: ``"html"``, ``"markdown"``, ``"json"`` and ``"figures"``
        (a list).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    images, figure_paths = {}, []
    for r in results:
        for key, figure in r.figures.items():
            path = out / _figure_file(r, key)
            figure.savefig(path, dpi=dpi)
            images[r.name, key] = path.read_bytes()
            figure_paths.append(path)
    html_path = out / "index.html"
    html_path.write_text(html_report(results, meta, images), encoding="utf-8")
    md_path = out / "report.md"
    md_path.write_text(markdown_report(results, meta), encoding="utf-8")
    json_path = out / "results.json"
    payload = {
        "meta": meta,
        "exercises": [
            {
                "name": r.name,
                "title": r.title,
                "prediction": r.prediction,
                "findings": r.findings,
                "settings": r.settings,
                "seconds": r.seconds,
                "table": r.table,
                "tables": [{"caption": t.caption, "rows": t.rows} for t in r.tables],
                "figures": [_figure_file(r, key) for key in r.figures],
            }
            for r in results
        ],
    }
    json_path.write_text(json.dumps(_jsonable(payload), indent=1), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, "json": json_path, "figures": figure_paths}
