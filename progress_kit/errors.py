"""Exceptions and warnings raised by progress-kit, and how problems are worded."""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["DataValidationError", "DataValidationWarning", "PROBLEM_COLUMNS", "csv_cell", "csv_uncell"]

PROBLEM_COLUMNS = ["file", "line", "column", "value", "reason", "severity"]
MESSAGE_VALUE_LIMIT = 60
"""Values longer than this are cut in messages (a 1 MB cell must not give a 1 MB message)."""
GROUP_AT = 3
"""Problems of one kind in one file and column are grouped into one line from this many on."""


def shorten(value: object, limit: int = MESSAGE_VALUE_LIMIT) -> str:
    """``value`` as text, cut to ``limit`` characters with a note of the full length.

    Examples
    --------
    >>> shorten("x" * 100, 10)
    'xxxxxxxxxx… (100 characters)'
    """
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def format_problem(row: pd.Series | dict) -> str:
    """One problem as a line: ``observations.csv line 7: score 31 out of range 0-27 for PHQ-9``."""
    line = f" line {int(row['line'])}" if pd.notna(row["line"]) else ""
    return f"{row['file']}{line}: {row['reason']}"


def _template(reason: str, value: str) -> str:
    """The reason with this row's value taken out, so that like problems compare equal."""
    value = str(value).strip()
    if not value:
        return reason
    for shown in (repr(value), repr(shorten(value))):
        if shown in reason:
            return reason.replace(shown, "…")
    # unquoted: only as a whole token, so that '2' does not match inside '2024-01-15'
    return re.sub(rf"(?<![\w.-]){re.escape(value)}(?![\w.-])", "…", reason)


def _line_list(lines: list[int]) -> str:
    lines = sorted(lines)
    runs, start = [], lines[0]
    for prev, cur in zip(lines, lines[1:] + [None], strict=True):
        if cur != prev + 1:
            runs.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = cur
    shown = ", ".join(runs[:6])
    return shown + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")


_DATE_HINT = re.compile(r"^(?P<col>\w+) … is not a date in the form YYYY-MM-DD; it looks like "
                        r"(?P<form>.+?): convert it, or use (?P<use>.+)$")


def _group_line(file: str, column: str, template: str, rows: list[dict]) -> str:
    n = len(rows)
    where = f"{file} lines {_line_list([int(r['line']) for r in rows])}"
    hint = _DATE_HINT.match(template)
    if hint:
        what = "dates" if hint["col"] == "date" else f"{hint['col']} values"
        return f"{where}: {n} {what} look like {hint['form']}; use {hint['use']} or convert them"
    examples = []
    for r in rows:
        v = shorten(str(r["value"]).strip(), 20)
        if v and v not in examples:
            examples.append(v)
    shown = f" (values {', '.join(map(repr, examples[:3]))}{', …' if len(examples) > 3 else ''})"
    return f"{where}: {n} rows: {template}{shown if examples else ''}"


def summarise_problems(problems: pd.DataFrame, group_at: int = GROUP_AT) -> list[str]:
    """Problems as lines of text, grouping repeated ones.

    Problems in the same file and column whose reasons differ only in the row's value (for
    instance 23 dates written as DD/MM/YYYY) become one line that counts them and lists their
    lines; the others keep one line each, in order. Warnings are prefixed ``warning:``.
    """
    groups: dict[tuple, list[dict]] = {}
    order: list[tuple] = []
    for r in problems.to_dict("records"):
        if pd.isna(r["line"]):
            key = ("single", len(order))
        else:
            key = (r["file"], r["column"], r["severity"], _template(str(r["reason"]), r["value"]))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for key in order:
        rows = groups[key]
        prefix = "warning: " if rows[0]["severity"] == "warning" else ""
        if len(rows) >= group_at and key[0] != "single":
            out.append(prefix + _group_line(key[0], key[1], key[3], rows))
        else:
            out.extend(prefix + format_problem(r) for r in rows)
    return out


class DataValidationError(ValueError):
    """Invalid input data. ``.problems`` is a DataFrame with one row per problem.

    Its columns are ``file``, ``line`` (1-based, header = line 1), ``column``, ``value``,
    ``reason`` and ``severity`` (``error`` or ``warning``). The message lists the errors, with
    repeated problems of one kind grouped into one line.
    """

    def __init__(self, problems: pd.DataFrame, limit: int = 50):
        self.problems = problems.reset_index(drop=True)
        errors = self.problems[self.problems["severity"] == "error"]
        lines = summarise_problems(errors)
        more = len(lines) - limit
        lines = lines[:limit]
        if more > 0:
            lines.append(f"... and {more} more line(s); see .problems for every problem")
        super().__init__(f"{len(errors)} problem(s) in the data:\n" + "\n".join(lines))


class DataValidationWarning(UserWarning):
    """Something in the data was tidied (e.g. exact duplicates collapsed); the rows are listed."""


_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value):
    """A text cell that a spreadsheet shows as text, never runs as a formula.

    Text starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` (OWASP's
    advice); so does text that already starts with ``'``, so :func:`csv_uncell` undoes it
    exactly. Other values pass unchanged.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(1)"), csv_cell("C001"), csv_cell(3.5)
    ("'=HYPERLINK(1)", 'C001', 3.5)
    >>> csv_uncell(csv_cell("'quoted")) == "'quoted"
    True
    """
    if isinstance(value, str) and value.startswith(_CSV_TRIGGERS):
        return "'" + value
    return value


def csv_uncell(value):
    """Undo :func:`csv_cell` (for reading back a CSV the kit wrote)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_CSV_TRIGGERS):
        return value[1:]
    return value
