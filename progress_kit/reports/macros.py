"""The reports' HTML: the Jinja macros of the clinical template, called from Python.

The macros live in ``progress_kit/templates/clinical/macros.html.j2`` beside the nbconvert
template that imports them (for the stylesheet, ``report.css``), so the HTML and CSS of a report
are in the template, not in the sections. The file is compiled once per process (a batch's
warm process compiles it, and every report forked from it reuses it); autoescaping is on, so
every text is escaped and only a figure (built by the ``figure`` macro) goes in as markup.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from markupsafe import Markup

__all__ = ["macros", "section_html", "figure_html", "heading_html", "title_html", "table_cells"]

NA = "–"
"""What an empty table cell shows."""


@lru_cache(maxsize=1)
def macros():
    """The compiled macros of ``macros.html.j2`` (a Jinja template module)."""
    import jinja2

    from .resources import template_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir() / "clinical"),
                             autoescape=True, auto_reload=False)
    return env.get_template("macros.html.j2").module


def table_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """A table's column names and its rows as text, each value formatted as pandas prints it
    (a float column with the same decimals throughout), an empty cell as ``–``."""
    from pandas.io.formats.format import format_array

    columns = []
    for name in table.columns:
        values = table[name]
        if values.dtype.kind == "f":
            text = [s.strip() for s in format_array(values.to_numpy(), None, na_rep=NA,
                                                    leading_space=False)]
        else:
            text = [NA if (v is None or (not isinstance(v, str) and pd.isna(v))) else str(v)
                    for v in values.to_numpy(dtype=object)]
        columns.append(text)
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return [str(c) for c in table.columns], rows


def section_html(sec, level: int = 3, figure: str = "") -> str:
    """One section as HTML: the status box, the small print or a plain section (heading,
    message, lines, table, figure)."""
    m = macros()
    kind = getattr(sec, "kind", "section")
    if kind == "status":
        status = sec.facts.get("status") or "insufficient data"
        return str(m.status_box(status, sec.facts.get("label", ""),
                                sec.facts.get("word", status.upper()), sec.message, sec.lines))
    if kind == "small_print":
        return str(m.small_print(sec.lines or []))
    header, rows = ([], [])
    if sec.table is not None and len(sec.table):
        header, rows = table_cells(sec.table)
        if not sec.header:
            header = []
    return str(m.section(sec.status, sec.title, level, sec.message, sec.lines, header, rows,
                         Markup(figure) if figure else ""))


def figure_html(png_base64: str, width: int, alt: str) -> str:
    """An embedded PNG figure (the image's data as base64)."""
    return str(macros().figure(f"data:image/png;base64,{png_base64}", width, alt))


def heading_html(text: str, level: int = 2, new_page: bool = True) -> str:
    return str(macros().heading(text, level, new_page))


def title_html(heading: str, subtitle: str, generated: str) -> str:
    return str(macros().title_block(heading, subtitle, generated))

