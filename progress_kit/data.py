"""Readers and validation for the tables of a data folder.

A data folder holds ``observations``, ``clients`` and ``sessions``, and optionally ``items``, as
CSV, Parquet or Excel (``.xlsx``). Every reader validates at the boundary: invalid input raises
:class:`~progress_kit.DataValidationError`, whose ``.problems`` table names the file, the line
(1-based, header = line 1), the column, the value and the reason. With ``errors="report"`` the
readers return the valid rows together with that table instead. No row is ever dropped without
being listed. See ``docs/data-format.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .errors import (
    PROBLEM_COLUMNS,
    DataValidationError,
    DataValidationWarning,
    format_problem,
    shorten,
    summarise_problems,
)
from .measures import _REGISTRY, score_items, suggest_measure

# load_data (the folder reader) is not listed: the public progress_kit.load_data is
# progress_kit.sources.load_data, which also takes database URLs and calls this one for folders
__all__ = ["read_observations", "read_clients", "read_sessions", "read_items",
           "ClinicData", "write_data", "TABLES", "problems_to_text", "booked_sessions",
           "assign_episodes"]

Source = str | Path | pd.DataFrame
Errors = Literal["raise", "report"]

TABLES = {
    "observations": ["client_id", "date", "measure", "score"],
    "clients": ["client_id", "therapist_id", "start_date", "end_date", "status", "problem",
                "session_frequency"],
    "sessions": ["client_id", "date", "attended", "kind", "duration_minutes"],
    "items": ["client_id", "date", "measure", "item", "response"],
}
OPTIONAL = {"clients": {"end_date"}, "sessions": {"duration_minutes"}}
OPTIONAL_TABLES = ("items",)
EPISODE = "episode_id"
_REJECTED = "rejected_episodes"  # clients.attrs: client_id -> line of a rejected episode row
"""The optional column of ``clients`` that keys one row per episode of care (see
:func:`assign_episodes`); observations, items and sessions get their episode from the dates."""
STATUSES = ("active", "finished", "dropped")
FREQUENCIES = ("weekly", "fortnightly", "monthly")
SESSION_KINDS = ("assessment", "treatment", "follow_up")
TRUE_WORDS = {"true", "yes", "1", "y", "t"}
FALSE_WORDS = {"false", "no", "0", "n", "f"}
EXTENSIONS = (".csv", ".parquet", ".xlsx")
MAX_SESSION_MINUTES = 480
"""The longest plausible session (8 hours, e.g. a one-day intensive exposure session)."""
UNBOUNDED_MAX = 1000
"""Largest plausible score of a measure with no maximum in the registry (a daily count)."""
EARLIEST_DAY = pd.Timestamp("1900-01-01")
"""Dates before this are typing errors in routine outcome data (``0205-05-10``)."""

# ASCII digits only: ``\d`` would let full-width digits (２０２４) through
_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_SLASH_DAY = re.compile(r"^([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4})$")
_WHOLE = re.compile(r"^[0-9]+$")
# control characters (C0, DEL, C1) and invisible bidirectional formatting characters, which make
# '\u202e100C' display as 'C001'; free-text columns may hold tabs and line breaks
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_FREE_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")


def _empty_items() -> pd.DataFrame:
    return _empty_table("items")


def _empty_booked() -> pd.DataFrame:
    return _empty_table("sessions").drop(columns="attended")


@dataclass
class ClinicData:
    """The validated tables of a data folder, plus every problem found.

    ``items`` is the item-level table (empty, with its columns, when the folder has none).
    ``booked`` holds the booked sessions (rows of the sessions file with ``attended`` blank:
    ``client_id``, ``date``, ``kind``, ``duration_minutes``); ``sessions`` holds only sessions
    whose attendance is recorded, so no count of attended or missed sessions ever includes a
    session that has not happened yet. Read them with :func:`booked_sessions`.
    Unpacking gives the three main tables: ``obs, clients, sessions = data``.
    """

    observations: pd.DataFrame
    clients: pd.DataFrame
    sessions: pd.DataFrame
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    truth: pd.DataFrame | None = None
    items: pd.DataFrame = field(default_factory=_empty_items)
    booked: pd.DataFrame = field(default_factory=_empty_booked)

    def __iter__(self):
        return iter((self.observations, self.clients, self.sessions))

    def write(self, folder: str | Path) -> Path:
        """Write the tables as CSV into ``folder`` (see :func:`write_data`)."""
        return write_data(self, folder)


def write_data(data: ClinicData, folder: str | Path) -> Path:
    """Write a :class:`ClinicData` as ``observations.csv``, ``clients.csv``, ``sessions.csv``.

    ``items.csv`` is written when there are item responses, and ``duration_minutes`` in
    ``sessions.csv`` when any session has one. Totals that :func:`load_data` derived from items
    (``derived`` true) are not written: they are derived again on reading. Dates are written as
    ISO days. When the data carry ground truth (the demo clinic), it goes to ``truth.csv`` beside
    them; the readers ignore that file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    observations = data.observations
    if "derived" in observations:
        observations = observations[~observations["derived"].astype(bool)].drop(columns="derived")
    sessions = data.sessions
    booked = getattr(data, "booked", None)
    if booked is not None and len(booked):  # a booked session is a sessions row with attended blank
        sessions = pd.concat([sessions.astype({"attended": object}),
                              booked.assign(attended=None)[list(sessions.columns)]],
                             ignore_index=True).sort_values(["client_id", "date"], kind="stable")
    if "duration_minutes" in sessions and sessions["duration_minutes"].isna().all():
        sessions = sessions.drop(columns="duration_minutes")
    tables = {"observations": observations, "clients": data.clients, "sessions": sessions}
    if data.items is not None and len(data.items):
        tables["items"] = data.items
    if data.truth is not None:
        tables["truth"] = data.truth
    for name, frame in tables.items():
        csv_ready(frame).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    return folder


def csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in the data folder's CSV form: ISO days, ``attended`` as true/false."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    if "attended" in out:
        out["attended"] = out["attended"].map({True: "true", False: "false"})
    return out


# ---------------------------------------------------------------- raw reading


@dataclass
class _Raw:
    """A table as text, with the file name and each row's line number for messages."""

    frame: pd.DataFrame
    file: str
    lines: np.ndarray
    problems: list[dict] = field(default_factory=list)
    date_format: str | None = None

    def add(self, mask: np.ndarray | pd.Series, column: str,
            reason: Callable[[str], str] | str, severity: str = "error") -> None:
        """Record one problem per row where ``mask`` is true."""
        self.add_rows(np.flatnonzero(np.asarray(mask, dtype=bool)), column, reason, severity)

    def add_rows(self, idx: np.ndarray, column: str,
                 reason: Callable[[str], str] | str | Sequence[str],
                 severity: str = "error") -> None:
        """Record one problem for each row position in ``idx``.

        ``reason`` is a text, a function of the row's (shortened) value, or one text per row.
        Values are shortened in messages and in the table, so a 1 MB cell gives a short line.
        """
        idx = np.asarray(idx, dtype=int)
        if not len(idx):
            return
        values = (self.frame[column].to_numpy()[idx] if column in self.frame
                  else np.full(len(idx), "", dtype=object))
        for k, (i, value) in enumerate(zip(idx, values, strict=True)):
            short = shorten(value)
            text = (reason(short) if callable(reason)
                    else reason if isinstance(reason, str) else reason[k])
            self.problems.append({"file": self.file, "line": int(self.lines[i]), "column": column,
                                  "value": shorten(value, 200), "reason": text,
                                  "severity": severity})

    def file_problem(self, reason: str, line: float = np.nan, column: str = "",
                     value: str = "") -> None:
        """A problem with the file as a whole (header, encoding, emptiness)."""
        self.problems.append({"file": self.file, "line": line, "column": column, "value": value,
                              "reason": reason, "severity": "error"})


def _cell_text(value: object) -> str:
    """Text of one cell from Excel, Parquet or a DataFrame, in the form a CSV would hold it."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp | dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    # by position: a frame with a repeated column name still gives one text column per column
    for j in range(frame.shape[1]):
        out[j] = [_cell_text(v) for v in frame.iloc[:, j].to_numpy(dtype=object)]
    out.columns = [str(c).strip() for c in frame.columns]
    return out


def _read_raw(src: Source, table: str, date_format: str | None = None) -> _Raw:
    """Read any source into text columns, remembering line numbers (header = line 1)."""
    if isinstance(src, pd.DataFrame):
        frame = _as_text(src.reset_index(drop=True))
        raw = _Raw(frame, f"{table} (DataFrame)", np.arange(len(frame)) + 2,
                   date_format=date_format)
        return _check_header(raw)
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    name = path.name
    if path.stat().st_size == 0:
        return _empty(name, "file is empty")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _check_header(_read_csv(path, name, date_format))
    if suffix == ".parquet":
        frame = _as_text(pd.read_parquet(path))
    elif suffix in (".xlsx", ".xlsm"):
        # header=None: pandas would rename a repeated header ("score.1"); we want to see it
        sheet = pd.read_excel(path, dtype=object, keep_default_na=False, header=None)
        if sheet.empty:
            return _empty(name, "file is empty")
        frame = _as_text(sheet.iloc[1:].reset_index(drop=True))
        frame.columns = [_cell_text(c).strip() for c in sheet.iloc[0]]
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv, .parquet or .xlsx")
    return _check_header(_Raw(frame, name, np.arange(len(frame)) + 2, date_format=date_format))


def _read_csv(path: Path, name: str, date_format: str | None) -> _Raw:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    header = next(csv.reader(io.StringIO(data[:1 << 16].decode("utf-8", "replace"))), [])
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header: pandas would shift it or cut it
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # skip_blank_lines=False keeps line numbers true to the file; our own names, so
            # that a repeated column is seen instead of being renamed "score.1"
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                                encoding="utf-8", skip_blank_lines=False, header=None, skiprows=1,
                                names=range(len(header)) if header else None, index_col=False)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=range(len(header))) if header else None
        if frame is None:
            return _empty(name, "file is empty")
    except UnicodeDecodeError as exc:
        return _empty(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError) as exc:
        if "EOF inside string" in str(exc) or not header:
            return _empty(name, f"not a readable CSV ({shorten(str(exc), 200)})")
        return _read_csv_row_by_row(data, name, header, date_format)
    frame.columns = [str(c).strip() for c in header]
    if frame.isna().any().any():  # a row with fewer fields than the header
        frame = frame.fillna("")
    lines = _record_lines(data, len(frame))
    blank = (frame == "").all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
    return _Raw(frame[~blank].reset_index(drop=True), name, lines[~blank],
                date_format=date_format)


def _read_csv_row_by_row(data: bytes, name: str, header: list[str],
                         date_format: str | None) -> _Raw:
    """The slow path for a file with rows longer than its header: each such row is a problem.

    Python's csv module gives every record's first line; short rows are padded with blanks
    (their missing fields are then reported as blank), long rows are listed and left out.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader)
    n = len(header)
    rows, lines, problems = [], [], []
    start = reader.line_num + 1
    for record in reader:
        line, start = start, reader.line_num + 1
        if not any(field.strip() for field in record):
            continue
        if len(record) > n:
            problems.append({"file": name, "line": line, "column": "", "severity": "error",
                             "value": shorten(",".join(record[n:]), 200),
                             "reason": f"{len(record)} fields, but the header has {n} (a comma "
                                       "inside a value that is not in quotes?)"})
            continue
        rows.append(record + [""] * (n - len(record)))
        lines.append(line)
    frame = pd.DataFrame(rows, columns=[str(c).strip() for c in header], dtype=str)
    raw = _Raw(frame, name, np.asarray(lines, dtype=int), problems, date_format)
    return raw


def _record_lines(data: bytes, n_rows: int) -> np.ndarray:
    """The line on which each data row starts: a quoted field may span several lines.

    A newline ends a record unless it lies inside quotes, that is after an odd number of
    quote characters (an escaped quote ``""`` adds two, so the parity holds).
    """
    if b'"' not in data:
        return np.arange(n_rows) + 2
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    newlines = np.flatnonzero(buf == ord("\n"))
    ends = np.flatnonzero(np.searchsorted(quotes, newlines) % 2 == 0)
    # record k (k >= 1) begins on the line after the k-th record end
    starts = ends + 2
    if len(starts) < n_rows:  # no trailing newline after an unterminated quote: keep counting
        starts = np.r_[starts, np.arange(n_rows - len(starts)) + (starts[-1] + 1 if len(starts)
                                                                   else 2)]
    return starts[:n_rows]


def _empty(name: str, reason: str) -> _Raw:
    raw = _Raw(pd.DataFrame(), name, np.zeros(0, dtype=int))
    raw.file_problem(reason)
    return raw


def _check_header(raw: _Raw) -> _Raw:
    """A repeated column makes the file ambiguous: which ``score`` holds the score?

    Columns without a name are dropped when they are empty too (a spreadsheet's trailing
    commas); with values they are kept as ``Unnamed: N``, as pandas names them.
    """
    names = [str(c) for c in raw.frame.columns]
    unnamed = [j for j, c in enumerate(names) if c == ""]
    if unnamed:
        empty = [j for j in unnamed if (raw.frame.iloc[:, j].astype(str).str.strip() == "").all()]
        for j in set(unnamed) - set(empty):
            names[j] = f"Unnamed: {j}"
        raw.frame.columns = names
        raw.frame = raw.frame.iloc[:, [j for j in range(len(names)) if j not in empty]]
        names = list(raw.frame.columns)
    seen: dict[str, list[int]] = {}
    for j, col in enumerate(names):
        seen.setdefault(col, []).append(j + 1)
    repeated = {c: pos for c, pos in seen.items() if len(pos) > 1}
    for col, pos in repeated.items():
        where = ", ".join(map(str, pos[:-1])) + f" and {pos[-1]}"
        raw.file_problem(f"column {shorten(col)!r} appears more than once in the header "
                         f"(columns {where}); keep one", line=1, column=col, value=col)
    if repeated:
        raw.frame = pd.DataFrame()
        raw.lines = np.zeros(0, dtype=int)
    return raw


# ---------------------------------------------------------------- field checks


def _strip(raw: _Raw, column: str) -> pd.Series:
    return raw.frame[column].astype(str).str.strip()


def _norm_name(name: str) -> str:
    return re.sub(r"[\s\-_.]+", "_", str(name).strip().lower()).strip("_")


def _check_columns(raw: _Raw, table: str, allow_empty: bool = False) -> bool:
    """Required columns present and at least one row; False when nothing more can be checked.

    A header that differs from a column name only in case or spacing (``Date``, ``Client ID``)
    gets "did you mean 'date'?".
    """
    if any(pd.isna(p["line"]) or p["line"] == 1 for p in raw.problems):
        return False
    present = [str(c) for c in raw.frame.columns]
    by_norm: dict[str, str] = {}
    for c in present:
        by_norm.setdefault(_norm_name(c), c)
    optional = OPTIONAL.get(table, set())
    missing = [c for c in TABLES[table] if c not in present and c not in optional]
    for col in missing:
        near = by_norm.get(_norm_name(col))
        hint = f"; the header has {shorten(near)!r}: did you mean {col!r}?" if near else ""
        raw.file_problem(f"required column {col!r} is missing (columns are "
                         f"{', '.join(shorten(c) for c in present)}){hint}",
                         line=1, column=col)
    for col in sorted(optional):
        near = by_norm.get(_norm_name(col))
        if col not in present and near is not None:
            raw.file_problem(f"column {shorten(near)!r} is not read; did you mean {col!r}?",
                             line=1, column=near, value=near)
    if not missing and raw.frame.empty and not allow_empty and not raw.problems:
        raw.file_problem("file is empty: a header but no data rows")
    return not any(pd.isna(p["line"]) or p["line"] == 1 for p in raw.problems)


def _check_control_characters(raw: _Raw, table: str) -> None:
    """Reject control and bidirectional-override characters: they hide or disguise values."""
    known = set(TABLES[table])
    for col in raw.frame.columns:
        pattern = _CONTROL if col in known else _CONTROL_FREE_TEXT
        # the pattern as text: pandas then runs it in Arrow's regex engine, fast on a million rows
        bad = raw.frame[col].str.contains(pattern.pattern, regex=True).to_numpy(dtype=bool)
        idx = np.flatnonzero(bad)
        reasons = []
        for v in raw.frame[col].to_numpy()[idx]:
            ch = pattern.search(v).group()
            what = unicodedata.name(ch, "control character")
            reasons.append(f"{col} {shorten(v)!r} contains an invisible or control character "
                           f"(U+{ord(ch):04X} {what}); remove it")
        raw.add_rows(idx, col, reasons)


def _check_ids(raw: _Raw, column: str = "client_id") -> pd.Series:
    ids = _strip(raw, column)
    raw.add(ids == "", column, f"blank {column}")
    return ids


def _date_shape_hint(column: str, values: pd.Series) -> Callable[[str], str]:
    """Reason for a value that is not an ISO day, with a hint for DD/MM/YYYY-like values.

    Day-first or month-first is decided on the whole column: one day above 12 settles it.
    """
    parts = values.str.extract(_SLASH_DAY)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[2], errors="coerce")
    if (second > 12).any() and not (first > 12).any():
        form, fmt = "MM/DD/YYYY", "%m{s}%d{s}%Y"
    else:
        form, fmt = "DD/MM/YYYY", "%d{s}%m{s}%Y"
    ambiguous = "" if ((first > 12) | (second > 12)).any() else " (or MM/DD/YYYY)"

    def reason(v: str) -> str:
        text = f"{column} {v!r} is not a date in the form YYYY-MM-DD"
        m = _SLASH_DAY.match(str(v).strip())
        if not m:
            return text
        sep = m.group(2)
        shown = form.replace("/", sep) + ambiguous.replace("/", sep)
        f = fmt.format(s=sep)
        return (f"{text}; it looks like {shown}: convert it, or use --date-format {f} "
                f"(date_format={f!r})")

    return reason


def _parse_days(raw: _Raw, column: str, today: dt.date, required: bool = True,
                future_ok: pd.Series | None = None) -> pd.Series:
    """Strict days: ISO (YYYY-MM-DD) or ``raw.date_format``; bad, impossible, implausibly old
    and future dates are problems (except on rows where ``future_ok``: booked sessions).
    The result is ``datetime64[ns]``."""
    text = _strip(raw, column)
    blank = text == ""
    iso = text.str.match(_ISO_DAY)
    parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")
    shaped = iso
    if raw.date_format:
        # ISO days stay valid (Excel's own dates arrive as ISO); the format reads the rest,
        # from ASCII text only (strptime would take full-width digits)
        other = ~blank & ~iso & text.str.isascii()
        alt = pd.to_datetime(text.where(other), format=raw.date_format, errors="coerce")
        shaped = iso | (other & alt.notna())
        parsed = parsed.where(iso, alt)
    if required:
        raw.add(blank, column, f"blank {column}")
    if raw.date_format:
        raw.add(~blank & ~shaped, column,
                lambda v: f"{column} {v!r} is not a date in the form YYYY-MM-DD or "
                          f"{raw.date_format}")
    else:
        raw.add(~blank & ~shaped, column, _date_shape_hint(column, text[~blank & ~shaped]))
    raw.add(shaped & parsed.isna(), column, lambda v: f"{column} {v!r} is an impossible date")
    old = parsed.notna() & (parsed < EARLIEST_DAY)
    raw.add(old, column, lambda v: f"{column} {v!r} is before {EARLIEST_DAY:%Y-%m-%d}; "
                                   "check the year")
    future = parsed.notna() & (parsed > pd.Timestamp(today))
    if future_ok is not None:
        future &= ~future_ok.to_numpy(bool)
    raw.add(future, column, lambda v: f"{column} {v} is in the future (today is {today})")
    # out-of-range years are masked before the conversion: nanoseconds end in 2262
    return parsed.where(~future & ~old).astype("datetime64[ns]")


def _check_choice(raw: _Raw, column: str, allowed: tuple[str, ...],
                  allow_blank: bool = False) -> pd.Series:
    text = _strip(raw, column)
    bad = ~text.isin(allowed) & ~((text == "") & allow_blank)
    raw.add(bad, column, lambda v: f"{column} {v!r} is not one of {', '.join(allowed)}")
    return text


def _number(raw: _Raw, column: str, what: str, allow_blank: bool = False) -> pd.Series:
    """A numeric column: blank (unless allowed), non-numbers and inf/nan are problems."""
    text = _strip(raw, column)
    # pandas parses only ASCII digits, and reads "inf" and "nan" as numbers: reject those
    value = pd.to_numeric(text.where(text.str.isascii()), errors="coerce")
    blank = text == ""
    if not allow_blank:
        raw.add(blank, column, f"blank {what}")
    raw.add(~blank & value.isna(), column, lambda v: f"{what} {v!r} is not a number")
    infinite = value.notna() & ~np.isfinite(value)
    raw.add(infinite, column, lambda v: f"{what} {v!r} is not a finite number")
    return value.where(~infinite).astype(float)


def _dedupe_warning(raw: _Raw, dup: np.ndarray, key_cols: list[str], keep_line: np.ndarray) -> None:
    """Exact duplicates are collapsed into their first row, and each removed row is listed."""
    for i in np.flatnonzero(dup):
        raw.problems.append({"file": raw.file, "line": int(raw.lines[i]), "column": "",
                             "value": "", "severity": "warning",
                             "reason": f"exact duplicate of line {int(keep_line[i])} "
                                       f"({', '.join(key_cols)}); collapsed"})


def _check_duplicates(raw: _Raw, frame: pd.DataFrame, bad: np.ndarray, keys: list[str],
                      value: str, describe: Callable[[pd.DataFrame], pd.Series]) -> np.ndarray:
    """Conflicting duplicates are errors; exact duplicates are collapsed with a warning.

    Vectorised: rows get a group code per key, the number of distinct values per group comes
    from one sort, and each conflicting row's message names the other lines of its group.
    ``describe(rows)`` gives the text before " is <value> here" for each conflicting row.
    Returns the rows to drop (conflicts and the collapsed copies).
    """
    drop = np.zeros(len(frame), dtype=bool)
    positions = np.flatnonzero(~bad)
    if len(positions) < 2:
        return drop
    ok = frame.iloc[positions]
    codes = ok.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    size = np.bincount(codes)
    multi = np.flatnonzero(size[codes] > 1)
    if not len(multi):
        return drop
    c = codes[multi]
    # a blank (NaN) value is a value too: two rows differing only in a blank conflict
    v = np.nan_to_num(ok[value].to_numpy(dtype=float)[multi], nan=-np.inf)
    order = np.lexsort((v, c))
    cs, vs = c[order], v[order]
    new = np.r_[True, (cs[1:] != cs[:-1]) | (vs[1:] != vs[:-1])]
    distinct = np.bincount(cs, weights=new, minlength=len(size))
    conflict = multi[distinct[c] > 1]
    if len(conflict):
        by_group = np.argsort(codes[conflict], kind="stable")
        rows = conflict[by_group]
        group = codes[rows]
        lines = raw.lines[positions[rows]]
        bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        heads = describe(ok.iloc[rows]).to_numpy()
        values = ok[value].to_numpy(dtype=float)[rows]
        reasons = []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            members = lines[a:b]
            for k in range(a, b):
                others = ", ".join(str(int(x)) for x in members if x != lines[k])
                shown = "blank" if np.isnan(values[k]) else f"{values[k]:g}"
                reasons.append(f"conflicting duplicate: {heads[k]} is {shown} here but differs "
                               f"on line(s) {others}")
        raw.add_rows(positions[rows], value, reasons)
        drop[positions[conflict]] = True
    exact_groups = distinct == 1
    _, first = np.unique(codes, return_index=True)
    first_pos = first[codes]
    exact = multi[exact_groups[c] & (first_pos[multi] != multi)]
    if len(exact):
        keep_line = np.zeros(len(frame), dtype=int)
        keep_line[positions[exact]] = raw.lines[positions[first_pos[exact]]]
        dup_rows = np.zeros(len(frame), dtype=bool)
        dup_rows[positions[exact]] = True
        _dedupe_warning(raw, dup_rows, keys, keep_line)
        drop |= dup_rows
    return drop


# ---------------------------------------------------------------- tables


def _measures(raw: _Raw, column: str = "measure") -> tuple[pd.Series, pd.Series]:
    measure = _strip(raw, column)
    known = measure.isin(list(_REGISTRY))
    raw.add(measure == "", column, "blank measure")
    raw.add((measure != "") & ~known, column,
            lambda v: f"unknown measure {v!r}{suggest_measure(v.strip())}")
    return measure, known


def _validate_observations(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "observations"):
        return _empty_table("observations")
    ids = _check_ids(raw)
    dates = _parse_days(raw, "date", today)
    measure, known = _measures(raw)
    score = _number(raw, "score", "score")
    _check_scores(raw, measure, score, known)
    frame = pd.DataFrame({"client_id": ids, "date": dates, "measure": measure, "score": score})
    extra = [c for c in raw.frame.columns if c not in TABLES["observations"]]
    for col in extra:
        frame[col] = raw.frame[col].to_numpy()
    return frame


def _limits(measure: pd.Series, key: Callable) -> pd.Series:
    """``key(registry entry)`` for every row (NaN for unknown measures), one lookup per measure."""
    codes, names = pd.factorize(measure)
    table = np.array([float(key(_REGISTRY[n])) if n in _REGISTRY else np.nan for n in names]
                     + [np.nan])
    return pd.Series(table[codes], index=measure.index)


def _check_range_and_step(raw: _Raw, column: str, measure: pd.Series, value: pd.Series,
                          valid: pd.Series, lo: pd.Series, hi: pd.Series, step: pd.Series,
                          what: Callable[[str], str]) -> None:
    """Range and step per measure, vectorised by looking the limits up for every row.

    ``what(measure)`` names the thing checked in messages, e.g. "PHQ-9" or "PHQ-9 items".
    A measure with no maximum gets :data:`UNBOUNDED_MAX` as a plausibility bound.
    """
    text = raw.frame[column]
    bounded = np.isfinite(hi)
    out = valid & ((value < lo) | (value > hi))
    idx = np.flatnonzero(out.to_numpy())
    raw.add_rows(idx, column, [f"{column} {shorten(text.iloc[i].strip())} out of range "
                               f"{_span(lo.iloc[i], hi.iloc[i])} for {what(measure.iloc[i])}"
                               for i in idx])
    huge = valid & ~bounded & (value > UNBOUNDED_MAX)
    idx = np.flatnonzero(huge.to_numpy())
    raw.add_rows(idx, column, [f"{column} {shorten(text.iloc[i].strip())} is implausibly large "
                               f"for {what(measure.iloc[i])} (no maximum in the registry; "
                               f"above {UNBOUNDED_MAX})" for i in idx])
    units = (value - lo) / step.where(step > 0)
    off = valid & ~out & ~huge & (step > 0) & ((units - units.round()).abs() > 1e-6)
    idx = np.flatnonzero(off.to_numpy())
    raw.add_rows(idx, column, [
        f"{column} {shorten(text.iloc[i].strip())} is not on the step of {what(measure.iloc[i])} "
        f"(must be {'a whole number' if step.iloc[i] == 1 else f'a multiple of {step.iloc[i]:g}'})"
        for i in idx])


def _span(lo: float, hi: float) -> str:
    return f"{lo:g}–{hi:g}" if np.isfinite(hi) else f"{lo:g} or more"


def _check_scores(raw: _Raw, measure: pd.Series, score: pd.Series, known: pd.Series) -> None:
    _check_range_and_step(raw, "score", measure, score, known & score.notna(),
                          _limits(measure, lambda m: m.min), _limits(measure, lambda m: m.max),
                          _limits(measure, lambda m: m.step or 0.0), str)


def _describe_observation(rows: pd.DataFrame) -> pd.Series:
    return (rows["measure"] + " for client " + rows["client_id"] + " on "
            + rows["date"].dt.strftime("%Y-%m-%d"))


def _describe_item(rows: pd.DataFrame) -> pd.Series:
    return (rows["measure"] + " item " + rows["item"].map("{:g}".format) + " for client "
            + rows["client_id"] + " on " + rows["date"].dt.strftime("%Y-%m-%d"))


def _validate_items(raw: _Raw, today: dt.date) -> pd.DataFrame:
    """Item responses: each item's number and range come from the registry."""
    if not _check_columns(raw, "items"):
        return _empty_table("items")
    ids = _check_ids(raw)
    dates = _parse_days(raw, "date", today)
    measure, known = _measures(raw)
    n_items = _limits(measure, lambda m: m.items or np.nan)
    has_items = known & n_items.notna()
    raw.add(known & ~has_items, "measure",
            lambda v: f"measure {v.strip()!r} has no item-level definition in the registry "
                      "(no 'items' field)")
    item_text = _strip(raw, "item")
    whole = item_text.str.match(_WHOLE)
    item = pd.to_numeric(item_text.where(whole), errors="coerce")
    raw.add(item_text == "", "item", "blank item")
    raw.add((item_text != "") & ~whole, "item",
            lambda v: f"item {v!r} is not a whole number (items are numbered from 1)")
    out = has_items & item.notna() & ((item < 1) | (item > n_items))
    idx = np.flatnonzero(out.to_numpy())
    raw.add_rows(idx, "item", [f"item {item_text.iloc[i]} is out of range 1–{n_items.iloc[i]:g} "
                               f"for {measure.iloc[i]}" for i in idx])
    # a blank response is an unanswered item: kept as NaN, and prorated like a missing item
    response = _number(raw, "response", "response", allow_blank=True)
    _check_range_and_step(raw, "response", measure, response, has_items & response.notna(),
                          _limits(measure, lambda m: np.nan if m.item_min is None else m.item_min),
                          _limits(measure, lambda m: np.nan if m.item_max is None else m.item_max),
                          _limits(measure, lambda m: m.step or 0.0), lambda m: f"{m} items")
    return pd.DataFrame({"client_id": ids, "date": dates, "measure": measure,
                         "item": item.astype(float), "response": response})


def _validate_clients(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "clients"):
        return _empty_table("clients")
    ids = _check_ids(raw)
    episode = _strip(raw, EPISODE) if EPISODE in raw.frame else None
    key = ids if episode is None else ids + "\x1f" + episode
    repeated = key.duplicated(keep="first") & (ids != "")
    if repeated.any():
        first_line = pd.Series(raw.lines, index=ids.index).groupby(key).transform("first")
        idx = np.flatnonzero(repeated.to_numpy())
        if episode is None:
            reasons = [f"client_id {shorten(ids.iloc[i])!r} is listed again "
                       f"(first on line {first_line.iloc[i]})" for i in idx]
        else:
            reasons = [f"client_id {shorten(ids.iloc[i])!r} with episode_id "
                       f"{shorten(episode.iloc[i])!r} is listed again (first on line "
                       f"{first_line.iloc[i]})" for i in idx]
        raw.add_rows(idx, "client_id" if episode is None else EPISODE, reasons)
    therapist = _check_ids(raw, "therapist_id")
    start = _parse_days(raw, "start_date", today)
    if "end_date" in raw.frame:
        end = _parse_days(raw, "end_date", today, required=False)
        before = end.notna() & start.notna() & (end < start)
        raw.add(before, "end_date", lambda v: f"end_date {v} is before start_date")
    else:
        end = pd.Series(pd.NaT, index=ids.index, dtype="datetime64[ns]")
    status = _check_choice(raw, "status", STATUSES)
    frequency = _check_choice(raw, "session_frequency", FREQUENCIES)
    problem = _strip(raw, "problem")
    frame = pd.DataFrame({"client_id": ids, "therapist_id": therapist, "start_date": start,
                          "end_date": end, "status": status, "problem": problem.replace("", None),
                          "session_frequency": frequency})
    if episode is not None:
        _check_episodes(raw, ids, episode, start, end)
        frame.insert(1, EPISODE, episode)
    return frame


def _check_episodes(raw: _Raw, ids: pd.Series, episode: pd.Series, start: pd.Series,
                    end: pd.Series) -> None:
    """Episodes of one client: a blank ``episode_id`` only for a client's only row, and no two
    episodes overlapping (an open episode, blank ``end_date``, runs on to the data's end).

    Vectorised: rows sorted by client and start date; each start is compared with the latest
    end among the client's earlier episodes (a running maximum per client).
    """
    code = pd.factorize(ids)[0]
    rows = np.flatnonzero((ids != "").to_numpy())
    per_client = np.bincount(code[rows], minlength=code.max(initial=-1) + 1)[code]
    blank = rows[(episode.iloc[rows] == "").to_numpy() & (per_client[rows] > 1)]
    raw.add_rows(blank, EPISODE, [f"blank episode_id, but client {shorten(ids.iloc[i])!r} has "
                                  f"{per_client[i]} rows in the clients table: each episode "
                                  "needs its own episode_id" for i in blank])
    dated = rows[start.iloc[rows].notna().to_numpy()]
    if len(dated) < 2:
        return
    order = dated[np.lexsort((start.to_numpy()[dated], code[dated]))]
    cid = code[order]
    begin = start.to_numpy()[order]
    finish = end.to_numpy()[order]
    # the latest end among a client's earlier episodes, an open one (NaT) counting as the last
    # day there is; and which row holds it, for the message
    stop = np.where(np.isnat(finish), np.iinfo(np.int64).max, finish.astype("int64"))
    group = pd.Series(cid)
    reach = pd.Series(stop).groupby(group).cummax().to_numpy()
    holder = pd.Series(np.where(stop == reach, np.arange(len(stop)), np.nan)
                       ).groupby(group).ffill().to_numpy()
    same = cid[1:] == cid[:-1]
    overlap = np.flatnonzero(same & (begin[1:].astype("int64") <= reach[:-1])) + 1
    later, earlier = order[overlap], order[holder[overlap - 1].astype(int)]
    raw.add_rows(later, "start_date", [
        f"episode {shorten(episode.iloc[i])!r} of client {shorten(ids.iloc[i])!r} starts on "
        f"{start.iloc[i]:%Y-%m-%d}, inside episode {shorten(episode.iloc[j])!r} (line "
        f"{int(raw.lines[j])}, {start.iloc[j]:%Y-%m-%d} to "
        f"{'open' if pd.isna(end.iloc[j]) else f'{end.iloc[j]:%Y-%m-%d}'}): episodes of one "
        "client must not overlap" for i, j in zip(later, earlier, strict=True)])


def _validate_sessions(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "sessions", allow_empty=True):
        return _empty_table("sessions")
    ids = _check_ids(raw)
    attended_text = _strip(raw, "attended").str.lower()
    yes = attended_text.isin(TRUE_WORDS)
    no = attended_text.isin(FALSE_WORDS)
    # attended blank: a booked session, which may lie in the future (not yet held)
    booked = attended_text == ""
    dates = _parse_days(raw, "date", today, future_ok=booked)
    raw.add(~yes & ~no & ~booked, "attended",
            lambda v: f"attended {v!r} is not true/false (also accepted: yes/no, 1/0; "
                      f"blank for a booked session)")
    kind = _check_choice(raw, "kind", SESSION_KINDS)
    if "duration_minutes" in raw.frame:
        minutes = _number(raw, "duration_minutes", "duration_minutes", allow_blank=True)
        raw.add(minutes.notna() & (minutes <= 0), "duration_minutes",
                lambda v: f"duration_minutes {v.strip()} is not positive")
        raw.add(minutes > MAX_SESSION_MINUTES, "duration_minutes",
                lambda v: f"duration_minutes {v.strip()} is implausibly long "
                          f"(more than {MAX_SESSION_MINUTES} minutes)")
    else:
        minutes = pd.Series(np.nan, index=ids.index, dtype=float)
    attended = (pd.array(np.where(booked, None, yes.to_numpy()), dtype="boolean") if booked.any()
                else yes.to_numpy())
    return pd.DataFrame({"client_id": ids, "date": dates, "attended": attended,
                         "kind": kind, "duration_minutes": minutes})


def _empty_table(table: str) -> pd.DataFrame:
    dtypes = {"date": "datetime64[ns]", "start_date": "datetime64[ns]",
              "end_date": "datetime64[ns]", "score": float, "attended": bool,
              "duration_minutes": float, "item": "int64", "response": float}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "str")) for c in TABLES[table]})


_VALIDATORS = {"observations": _validate_observations, "clients": _validate_clients,
               "sessions": _validate_sessions, "items": _validate_items}
_DUPLICATE_KEYS = {"observations": (["client_id", "date", "measure"], "score",
                                    _describe_observation),
                   "items": (["client_id", "date", "measure", "item"], "response", _describe_item)}


def _problem_frame(problems: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    table["line"] = table["line"].astype("Int64")
    return table


def _read_table(src: Source, table: str, today: dt.date | None, date_format: str | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Validated rows, the problems table, and the line number of each kept row."""
    raw = _read_raw(src, table, date_format)
    frame = _VALIDATORS[table](raw, today or dt.date.today())
    if len(frame):
        _check_control_characters(raw, table)
    bad_lines = {p["line"] for p in raw.problems if p["severity"] == "error"}
    bad = np.isin(raw.lines, list(bad_lines)) if len(frame) else np.zeros(0, bool)
    if table in _DUPLICATE_KEYS and len(frame):
        keys, value, describe = _DUPLICATE_KEYS[table]
        bad = bad | _check_duplicates(raw, frame, bad, keys, value, describe)
    keep = ~bad
    lines = raw.lines[keep] if len(frame) else np.zeros(0, int)
    # a client with a rejected episode row: its other rows cannot be given their episodes
    rejected = {} if table != "clients" or EPISODE not in frame or not bad.any() else {
        cid: int(line) for cid, line in zip(frame["client_id"].to_numpy()[bad][::-1],
                                             raw.lines[bad][::-1], strict=True) if cid != ""}
    frame = frame[keep].reset_index(drop=True) if len(frame) else frame
    if rejected:
        frame.attrs[_REJECTED] = rejected
    if table == "items" and len(frame):
        frame["item"] = frame["item"].astype("int64")
    return frame, _problem_frame(raw.problems), lines


def _finish(frame: pd.DataFrame, problems: pd.DataFrame, errors: Errors):
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    if errors == "report":
        return frame, problems
    if (problems["severity"] == "error").any():
        raise DataValidationError(problems)
    warned = problems[problems["severity"] == "warning"]
    if len(warned):
        text = "\n".join(line.removeprefix("warning: ") for line in summarise_problems(warned))
        warnings.warn(text, DataValidationWarning, stacklevel=3)
    if len(problems):
        # plain records, not a DataFrame, so the result still serialises (Parquet, JSON)
        frame.attrs["problems"] = [
            {k: (None if pd.isna(v) else (int(v) if k == "line" else str(v))) for k, v in r.items()}
            for r in problems.to_dict("records")]
    return frame


_READER_PARAMETERS = """
    Parameters
    ----------
    src : path or DataFrame
        A ``.csv`` (UTF-8, BOM and CRLF allowed), ``.parquet`` or ``.xlsx`` file, or a DataFrame.
    errors : {"raise", "report"}
        ``"raise"`` (default) raises :class:`DataValidationError` listing every problem.
        ``"report"`` returns ``(valid_rows, problems)`` instead; every rejected row is in
        ``problems``.
    today : date, optional
        The day after which dates count as "in the future" (default: today).
    date_format : str, optional
        A ``strptime`` format for dates that are not ISO days, e.g. ``"%d/%m/%Y"``. ISO days
        (``YYYY-MM-DD``) are always accepted; by default they are the only form.
"""


def read_observations(src: Source, *, errors: Errors = "raise", today: dt.date | None = None,
                      date_format: str | None = None):
    """Read and validate the long observations table.

    Columns ``client_id``, ``date`` (ISO day), ``measure`` (a registry name) and ``score``.
    Questionnaire totals and daily diary fields are all measures in this one table.
    {parameters}
    Returns
    -------
    DataFrame
        ``client_id`` (string), ``date`` (datetime64, a calendar day), ``measure`` (string),
        ``score`` (float), plus any extra columns as text. Exact duplicate rows are collapsed
        and listed in a :class:`DataValidationWarning` and in ``result.attrs["problems"]`` (a list
        of records with the problem-table columns).

    Examples
    --------
    >>> import pandas as pd
    >>> obs = pd.DataFrame({{"client_id": ["00123", "00123"], "date": ["2024-01-08", "2024-01-15"],
    ...                     "measure": ["PHQ-9", "PHQ-9"], "score": [18, 12]}})
    >>> read_observations(obs)
      client_id       date measure  score
    0     00123 2024-01-08   PHQ-9   18.0
    1     00123 2024-01-15   PHQ-9   12.0
    >>> bad = obs.assign(score=[18, 31])
    >>> valid, problems = read_observations(bad, errors="report")
    >>> print(problems_to_text(problems))
    observations (DataFrame) line 3: score 31 out of range 0–27 for PHQ-9
    """
    frame, problems, _ = _read_table(src, "observations", today, date_format)
    return _finish(frame, problems, errors)


def read_clients(src: Source, *, errors: Errors = "raise", today: dt.date | None = None,
                 date_format: str | None = None):
    """Read and validate the clients table.

    Columns ``client_id``, ``therapist_id``, ``start_date``, optional ``end_date``, ``status``
    (active/finished/dropped), ``problem`` (e.g. depression, gad, social_anxiety) and
    ``session_frequency`` (weekly/fortnightly/monthly). ``errors``, ``today`` and
    ``date_format`` as in :func:`read_observations`. A client listed twice is an error.

    With the optional ``episode_id`` column (episodes of care, see :func:`assign_episodes`) a
    client has one row per episode instead: the same ``client_id`` and ``episode_id`` twice is
    an error, as are a blank ``episode_id`` for a client with several rows and two episodes of
    one client that overlap (an open episode runs on to the data's end).

    Examples
    --------
    >>> import pandas as pd
    >>> clients = pd.DataFrame({"client_id": ["a"], "therapist_id": ["t1"],
    ...     "start_date": ["2024-01-08"], "status": ["active"], "problem": ["depression"],
    ...     "session_frequency": ["weekly"]})
    >>> read_clients(clients)[["client_id", "start_date", "end_date", "status"]]
      client_id start_date end_date  status
    0         a 2024-01-08      NaT  active
    """
    frame, problems, _ = _read_table(src, "clients", today, date_format)
    return _finish(frame, problems, errors)


def read_sessions(src: Source, *, errors: Errors = "raise", today: dt.date | None = None,
                  date_format: str | None = None):
    """Read and validate the sessions table.

    Columns ``client_id``, ``date``, ``attended`` (true/false; yes/no and 1/0 are accepted),
    ``kind`` (assessment/treatment/follow_up) and the optional ``duration_minutes`` (a positive
    number up to :data:`MAX_SESSION_MINUTES`; blank or an absent column gives NaN). A header
    with no rows is valid (no sessions yet). ``attended`` blank marks a **booked** session, which
    may be dated in the future; when there is one, ``attended`` is pandas' nullable
    ``boolean`` with ``<NA>`` on booked rows (:func:`load_data` moves them to ``.booked``).
    ``errors``, ``today`` and ``date_format`` as in :func:`read_observations`.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"client_id": ["a"], "date": ["2024-01-08"], "attended": ["yes"],
    ...                   "kind": ["assessment"], "duration_minutes": ["50"]})
    >>> read_sessions(s)
      client_id       date  attended        kind  duration_minutes
    0         a 2024-01-08      True  assessment              50.0
    """
    frame, problems, _ = _read_table(src, "sessions", today, date_format)
    return _finish(frame, problems, errors)


def read_items(src: Source, *, errors: Errors = "raise", today: dt.date | None = None,
               date_format: str | None = None):
    """Read and validate the item-level table: one row per answered item.

    Columns ``client_id``, ``date``, ``measure`` (a registry name with an item-level definition,
    e.g. ``PHQ-9``), ``item`` (1-based item number, at most the measure's ``items``) and
    ``response`` (within the measure's ``item_min``–``item_max``, on its step; blank means the
    item was not answered and gives NaN). The same client, date, measure and item twice with
    different responses is a conflicting duplicate (an error on every such row); exact
    duplicates are collapsed with a warning. Totals are checked against ``observations`` and
    derived from the items by :func:`load_data`, which sees both tables.
    {parameters}
    Returns
    -------
    DataFrame
        ``client_id`` (string), ``date`` (datetime64), ``measure`` (string), ``item`` (int64),
        ``response`` (float).

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({{"client_id": "a", "date": "2024-01-08", "measure": "PHQ-9",
    ...                       "item": [1, 2, 9], "response": [3, 2, 1]}})
    >>> read_items(items)
      client_id       date measure  item  response
    0         a 2024-01-08   PHQ-9     1       3.0
    1         a 2024-01-08   PHQ-9     2       2.0
    2         a 2024-01-08   PHQ-9     9       1.0
    >>> _, problems = read_items(items.assign(item=[1, 2, 10]), errors="report")
    >>> print(problems_to_text(problems))
    items (DataFrame) line 4: item 10 is out of range 1–9 for PHQ-9
    """
    frame, problems, _ = _read_table(src, "items", today, date_format)
    return _finish(frame, problems, errors)


read_observations.__doc__ = read_observations.__doc__.format(parameters=_READER_PARAMETERS)
read_items.__doc__ = read_items.__doc__.format(parameters=_READER_PARAMETERS)


def _find_table(folder: Path, table: str, required: bool = True) -> Path | None:
    found = [folder / f"{table}{ext}" for ext in EXTENSIONS if (folder / f"{table}{ext}").exists()]
    if not found:
        if not required:
            return None
        raise FileNotFoundError(f"{folder}: no {table}.csv, {table}.parquet or {table}.xlsx")
    if len(found) > 1:
        raise ValueError(f"{folder}: more than one {table} file ({', '.join(p.name for p in found)});"
                         " keep one")
    return found[0]


def _isin(values: pd.Series, allowed: pd.Series) -> np.ndarray:
    """``values.isin(allowed)`` for a million strings in a fraction of a second.

    pandas' own ``isin`` on Arrow strings converts the allowed values one by one in Python.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return np.asarray(pc.is_in(pa.array(values.astype(str)),
                                   value_set=pa.array(allowed.astype(str))), dtype=bool)
    except ImportError:  # pragma: no cover - pandas' Arrow strings need pyarrow anyway
        return pd.Index(allowed).get_indexer(values) >= 0


def _index_in(values: pd.Series, uniques: pd.Index) -> np.ndarray:
    """``uniques.get_indexer(values)`` (-1 where absent), through Arrow for strings: pandas' own
    converts a million Arrow strings one by one."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(pa.array(values.astype(str)), value_set=pa.array(
            uniques.astype(str)))
        return np.asarray(found.fill_null(-1), dtype=np.int64)
    except ImportError:  # pragma: no cover - pandas' Arrow strings need pyarrow anyway
        return uniques.get_indexer(values)


def _unknown_clients(frame: pd.DataFrame, lines: np.ndarray, file: str,
                     known: pd.Series | set[str]) -> tuple[np.ndarray, list[dict]]:
    if not isinstance(known, pd.Series):
        known = pd.Series(sorted(known), dtype="str")
    unknown = ~_isin(frame["client_id"], known) if len(frame) else np.zeros(0, dtype=bool)
    ids = frame["client_id"].to_numpy()[unknown]
    # an ID that lost its leading zeros to a spreadsheet ('123' where clients has '00123')
    padded: dict[str, str] = {}
    if any(str(i).isdigit() for i in ids):
        padded = {k.lstrip("0"): k for k in known if k[:1] == "0" and k.isdigit()}
    problems = []
    for i, cid in zip(np.flatnonzero(unknown), ids, strict=True):
        reason = f"client_id {shorten(cid)!r} is not in the clients table"
        match = padded.get(str(cid).lstrip("0")) if str(cid).isdigit() else None
        if match is not None:
            reason += (f"; did it lose its leading zeros? The clients table has {match!r} "
                       "(keep IDs as text when a spreadsheet saves them)")
        problems.append({"file": file, "line": int(lines[i]), "column": "client_id",
                         "value": shorten(cid, 200), "severity": "error", "reason": reason})
    return unknown, problems


def _line_text(lines: np.ndarray) -> str:
    """``line 4``, ``lines 2–10`` or ``lines 2, 5, 9``."""
    lines = np.sort(np.asarray(lines, dtype=int))
    if len(lines) == 1:
        return f"line {lines[0]}"
    if lines[-1] - lines[0] + 1 == len(lines):
        return f"lines {lines[0]}–{lines[-1]}"
    shown = ", ".join(map(str, lines[:8]))
    return f"lines {shown}{', …' if len(lines) > 8 else ''}"


def _item_totals(items: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per administration (client, date, measure) with its total by :func:`score_items`,
    and each item row's administration number. Vectorised per measure, not per client."""
    keys = ["client_id", "date", "measure"]
    code = items.groupby(keys, sort=False).ngroup().to_numpy()
    _, first = np.unique(code, return_index=True)
    admin = items.iloc[first][keys].reset_index(drop=True)
    scored = []
    for name in admin["measure"].unique():
        m = _REGISTRY[name]
        which = np.flatnonzero((admin["measure"] == name).to_numpy())
        rows = np.flatnonzero(np.isin(code, which))
        grid = np.full((len(which), m.items), np.nan)
        grid[np.searchsorted(which, code[rows]), items["item"].to_numpy()[rows] - 1] = \
            items["response"].to_numpy(dtype=float)[rows]
        cols = [f"item{i}" for i in range(1, m.items + 1)]
        part = score_items(pd.DataFrame(grid, columns=cols, index=which), name, item_columns=cols)
        scored.append(part[["score", "n_missing", "prorated", "reason"]])
    return admin.join(pd.concat(scored).sort_index()), code


def _reconcile_items(obs: pd.DataFrame, obs_lines: np.ndarray, obs_file: str,
                     items: pd.DataFrame, item_lines: np.ndarray, items_file: str):
    """Check observed totals against their items, and derive the totals that only items give.

    Returns the observation rows and item rows to reject, the problems, and the derived rows.
    """
    admin, code = _item_totals(items)
    keys = ["client_id", "date", "measure"]
    matched = admin.merge(obs[keys].assign(_pos=np.arange(len(obs))), on=keys, how="left")
    pos = matched["_pos"].to_numpy(dtype=float)
    has_obs = ~np.isnan(pos)
    observed = np.full(len(admin), np.nan)
    observed[has_obs] = obs["score"].to_numpy(dtype=float)[pos[has_obs].astype(int)]
    total = admin["score"].to_numpy(dtype=float)
    disagree = has_obs & ~np.isnan(total) & (np.abs(observed - total) > 1e-9)
    obs_drop = np.zeros(len(obs), dtype=bool)
    items_drop = np.zeros(len(items), dtype=bool)
    problems: list[dict] = []
    days = admin["date"].dt.strftime("%Y-%m-%d").to_numpy()
    for a in np.flatnonzero(disagree):
        rows = np.flatnonzero(code == a)
        p = int(pos[a])
        what = f"{admin['measure'].iat[a]} for client {admin['client_id'].iat[a]} on {days[a]}"
        rule = (f"prorated, {admin['n_missing'].iat[a]} item(s) missing"
                if admin["prorated"].iat[a] else "the sum of the items")
        items_where = f"{items_file} {_line_text(item_lines[rows])}"
        problems.append({"file": obs_file, "line": int(obs_lines[p]), "column": "score",
                         "value": f"{observed[a]:g}", "severity": "error",
                         "reason": f"total {observed[a]:g} of {what} disagrees with its items: "
                                   f"{items_where} give {total[a]:g} ({rule})"})
        for r in rows:
            problems.append({"file": items_file, "line": int(item_lines[r]), "column": "response",
                             "value": f"{items['response'].iat[r]:g}", "severity": "error",
                             "reason": f"items of {what} give {total[a]:g} ({rule}), but "
                                       f"{obs_file} line {int(obs_lines[p])} has the total "
                                       f"{observed[a]:g}"})
        obs_drop[p] = True
        items_drop[rows] = True
    lost = ~has_obs & np.isnan(total)
    for a in np.flatnonzero(lost):
        rows = np.flatnonzero(code == a)
        what = f"{admin['measure'].iat[a]} for client {admin['client_id'].iat[a]} on {days[a]}"
        problems.append({"file": items_file, "line": int(item_lines[rows].min()),
                         "column": "response", "value": "", "severity": "warning",
                         "reason": f"no total derived for {what}: {admin['reason'].iat[a]} "
                                   f"({items_file} {_line_text(item_lines[rows])})"})
    derive = ~has_obs & ~np.isnan(total)
    derived = admin.loc[derive, keys + ["score"]].assign(derived=True)
    return obs_drop, items_drop, problems, derived


def _apply_items(observations: pd.DataFrame, obs_lines, obs_file: str, items: pd.DataFrame,
                item_lines, items_file: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Reconcile totals with items: drop the lines that disagree, add totals derived from items.

    Returns the observations (with a boolean ``derived`` column), the items kept and the
    problems found. Shared by :func:`load_data` and the database reader.
    """
    obs_drop, items_drop, problems, derived = _reconcile_items(
        observations, obs_lines, obs_file, items, item_lines, items_file)
    observations = observations[~obs_drop].assign(derived=False)
    items = items[~items_drop].reset_index(drop=True)
    if len(derived):
        observations = pd.concat([observations, derived], ignore_index=True).sort_values(
            ["client_id", "date", "measure"], kind="stable", ignore_index=True)
    return observations, items, problems


def load_data(folder: str | Path, *, errors: Errors = "raise", today: dt.date | None = None,
              date_format: str | None = None) -> ClinicData:
    """Read and validate a data folder: observations, clients, sessions and optional items.

    This is the folder reader. :func:`progress_kit.load_data` (in :mod:`progress_kit.sources`,
    a layer above this module and :mod:`progress_kit.ingest`) takes a folder or a database URL
    and calls this for a folder.

    Besides each table's own checks, observations, sessions and items must refer to clients
    listed in the clients table (an ID that lost its leading zeros gets a hint). Where items and
    an observed total share a client, date and measure, the total must equal what
    :func:`score_items` gives (the item sum, or the prorated total under the registry's
    missing-item rule); a disagreement is an error on the total's line and on each item's line.
    Where only items exist, the total is derived with :func:`score_items` and added to the
    observations with ``derived`` true. ``errors="raise"`` raises one
    :class:`DataValidationError` listing every problem in every file; ``errors="report"``
    returns the valid rows with all problems in ``.problems``.

    Parameters
    ----------
    folder : str or Path
        Holds ``observations``, ``clients`` and ``sessions`` and, optionally, ``items`` as
        ``.csv``, ``.parquet`` or ``.xlsx`` (one format per table).
    errors, today, date_format
        As in :func:`read_observations`; ``date_format`` applies to every table of a folder.

    Returns
    -------
    ClinicData
        With ``.observations``, ``.clients``, ``.sessions``, ``.items`` (empty, with its
        columns, when the folder has no items table) and ``.problems``; it also unpacks as
        ``obs, clients, sessions = load_data(folder)``. When the folder has items,
        ``observations`` has a boolean ``derived`` column (true for totals derived from items).

    Examples
    --------
    >>> import tempfile
    >>> from progress_kit import demo_data
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = demo_data(n_clients=5, months=2, seed=1, end="2025-06-30").write(d)
    ...     data = load_data(d)
    >>> sorted(data.clients["client_id"])[:2]
    ['C001', 'C002']
    >>> list(data.items.columns)
    ['client_id', 'date', 'measure', 'item', 'response']
    """
    if is_url(folder):
        raise ValueError(f"{folder} is a database URL, not a data folder: read it with "
                         "progress_kit.load_data or progress_kit.load_sql")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    tables, all_problems = {}, []
    for table in TABLES:
        path = _find_table(folder, table, required=table not in OPTIONAL_TABLES)
        if path is None:
            tables[table] = (_empty_table(table), np.zeros(0, dtype=int), f"{table}.csv")
            continue
        frame, problems, lines = _read_table(path, table, today, date_format)
        tables[table] = (frame, lines, path.name)
        all_problems.append(problems)
    known = tables["clients"][0]["client_id"]
    for table in ("observations", "sessions", "items"):
        frame, lines, name = tables[table]
        unknown, problems = _unknown_clients(frame, lines, name, known)
        all_problems.append(_problem_frame(problems))
        tables[table] = (frame[~unknown].reset_index(drop=True), lines[~unknown], name)
    clients, client_lines, client_file = tables["clients"]
    if EPISODE in clients:
        for table in ("observations", "sessions", "items"):
            frame, lines, name = tables[table]
            frame, lines, problems = _apply_episodes(frame, lines, name, clients, client_lines,
                                                     client_file)
            all_problems.append(_problem_frame(problems))
            tables[table] = (frame, lines, name)
    observations, obs_lines, obs_file = tables["observations"]
    items, item_lines, items_file = tables["items"]
    if len(items):
        observations, items, problems = _apply_items(observations, obs_lines, obs_file, items,
                                                    item_lines, items_file)
        all_problems.append(_problem_frame(problems))
        observations = observations.reset_index(drop=True)
        if EPISODE in clients and observations[EPISODE].isna().any():  # totals from items
            observations[EPISODE] = observations[EPISODE].fillna(
                assign_episodes(observations, clients))
    clients.attrs.pop(_REJECTED, None)
    problems = pd.concat([p for p in all_problems if len(p)] or [_problem_frame([])],
                         ignore_index=True)
    sessions, booked = split_booked(tables["sessions"][0])
    data = ClinicData(observations, tables["clients"][0], sessions, problems, items=items,
                      booked=booked)
    if errors == "report":
        return data
    _finish(data.observations, problems, errors)
    return data


def split_booked(sessions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Held sessions (``attended`` a plain bool) and booked ones (``attended`` blank), for every
    reader: a booking is never counted as a held or missed session."""
    if sessions["attended"].dtype == bool:
        return sessions, _empty_booked().astype({"client_id": sessions["client_id"].dtype})
    booked = sessions["attended"].isna().to_numpy(bool)
    held = sessions[~booked].astype({"attended": bool}).reset_index(drop=True)
    return held, sessions[booked].drop(columns="attended").reset_index(drop=True)


def booked_sessions(data: ClinicData | pd.DataFrame, *, on: str | dt.date | None = None,
                    therapist: str | None = None) -> pd.DataFrame:
    """The booked sessions (``attended`` blank in the sessions file), optionally of one day.

    Parameters
    ----------
    data : ClinicData or DataFrame
        A clinic from :func:`load_data` (its ``.booked`` table, with the therapist taken from
        ``.clients``), or a sessions table from :func:`read_sessions` (rows whose ``attended``
        is missing).
    on : date or ``YYYY-MM-DD``, optional
        Only the sessions booked on this day (a clinic day).
    therapist : str, optional
        Only this therapist's clients (needs a ClinicData, which knows who sees whom).

    Returns
    -------
    DataFrame
        ``client_id``, ``date``, ``kind``, ``duration_minutes`` and, from a ClinicData,
        ``therapist_id``; one row per booked session, sorted by date and client, fresh index.

    Notes
    -----
    A booked session has not happened yet (or its attendance is not recorded): it may be dated
    after the last observation, even in the future. It is kept out of ``data.sessions``, so
    attended and missed counts never include it.

    Examples
    --------
    >>> s = read_sessions(pd.DataFrame({"client_id": ["a", "a", "b"],
    ...     "date": ["2024-01-08", "2099-01-15", "2099-01-15"], "attended": ["yes", "", ""],
    ...     "kind": ["assessment", "treatment", "treatment"]}))
    >>> booked_sessions(s, on="2099-01-15")[["client_id", "date", "kind"]]
      client_id       date       kind
    0         a 2099-01-15  treatment
    1         b 2099-01-15  treatment
    """
    if isinstance(data, ClinicData):
        booked = getattr(data, "booked", None)
        booked = _empty_booked() if booked is None else booked
        who = data.clients.drop_duplicates("client_id").set_index("client_id")["therapist_id"]
        booked = booked.assign(therapist_id=booked["client_id"].map(who))
    elif isinstance(data, pd.DataFrame):
        if therapist is not None:
            raise ValueError("therapist= needs a ClinicData (load_data), which lists each "
                             "client's therapist; a sessions table does not")
        for column in ("client_id", "date", "attended"):
            if column not in data.columns:
                raise ValueError(f"sessions has no column {column!r}; its columns are "
                                 f"{list(data.columns)}")
        booked = data[data["attended"].isna().to_numpy(bool)].drop(columns="attended")
    else:
        raise ValueError(f"data must be a ClinicData or a sessions DataFrame, not "
                         f"{type(data).__name__}")
    if on is not None:
        try:
            day = pd.Timestamp(on).normalize()
        except (ValueError, TypeError):
            raise ValueError(f"on={on!r} is not a date (YYYY-MM-DD)") from None
        booked = booked[booked["date"] == day]
    if therapist is not None:
        booked = booked[booked["therapist_id"] == therapist]
    return booked.sort_values(["date", "client_id"], kind="stable").reset_index(drop=True)


def _episode_rows(table: pd.DataFrame, clients: pd.DataFrame
                  ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Each row's episode as a position in the clients sorted by client and start date.

    Returns the positions (-1 for a row of an unknown client or without a date; for a row
    between two episodes, the episode before it), the mask of rows between episodes, and the
    sorted clients (with ``_row``, the position in ``clients``). Vectorised: one
    ``searchsorted`` over a (client, day) key.
    """
    n = len(table)
    ep = clients.assign(_row=np.arange(len(clients)))
    ep = ep[ep["start_date"].notna()].sort_values(["client_id", "start_date"], kind="stable")
    ids = pd.Index(pd.unique(ep["client_id"]))
    ep_code = _index_in(ep["client_id"], ids)
    code = _index_in(table["client_id"], ids) if n else np.zeros(0, dtype=int)
    day = table["date"].to_numpy(dtype="datetime64[D]").astype("int64") if n else np.zeros(0, int)
    start = ep["start_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    no_end = ep["end_date"].isna().to_numpy()
    end = np.where(no_end, np.iinfo(np.int64).max,
                   ep["end_date"].to_numpy(dtype="datetime64[D]").astype("int64"))
    undated = pd.isna(table["date"]).to_numpy() if n else np.zeros(0, bool)
    if not len(ep) or not n:
        return np.full(n, -1), np.zeros(n, bool), ep
    lo = min(start.min(), day[~undated].min() if (~undated).any() else start.min())
    width = max(start.max(), day[~undated].max() if (~undated).any() else start.max()) - lo + 1
    # (client, day) as one sortable integer: the episodes are sorted by it already
    pos = np.searchsorted(ep_code * width + (start - lo),
                          code * width + (np.where(undated, lo, day) - lo), side="right") - 1
    first = np.searchsorted(ep_code, np.arange(len(ids)))
    last = np.r_[first[1:], len(ep)] - 1
    known = code >= 0
    before = known & ((pos < 0) | (ep_code[np.maximum(pos, 0)] != code))
    # a row before a client's first episode belongs to it, one after the last to the last (as
    # with one episode per client): only a row in a gap between two episodes has none
    pos = np.where(before, first[np.maximum(code, 0)], pos)
    gap = known & ~before & (day > end[pos]) & (pos != last[np.maximum(code, 0)]) & ~undated
    return np.where(~known | undated, -1, pos), gap, ep


def assign_episodes(table: pd.DataFrame, clients: pd.DataFrame) -> pd.Series:
    """The episode of care of each row of ``table``, from its client and date.

    A row dated from an episode's ``start_date`` to its ``end_date`` (both included) belongs to
    it; an open episode (blank ``end_date``) runs on to the data's end. A row before a client's
    first episode belongs to the first, a row after the last episode's end to the last (a
    pre-treatment assessment, a follow-up), so a client with one episode keeps every row as
    without episodes. A row in a gap between two episodes belongs to neither: its value is
    missing (:func:`load_data` lists it as an error and leaves it out), as is that of a client
    not in ``clients``.

    Parameters
    ----------
    table : DataFrame
        With ``client_id`` and ``date`` (observations, items or sessions).
    clients : DataFrame
        With ``client_id``, ``episode_id``, ``start_date`` and ``end_date``; episodes of one
        client must not overlap (:func:`read_clients` checks this).

    Returns
    -------
    Series
        ``episode_id`` aligned with ``table``'s index (text; missing where no episode fits).

    Examples
    --------
    >>> import pandas as pd
    >>> clients = pd.DataFrame({"client_id": ["a", "a"], "episode_id": ["1", "2"],
    ...     "start_date": pd.to_datetime(["2025-01-06", "2025-09-01"]),
    ...     "end_date": pd.to_datetime(["2025-05-30", None])})
    >>> obs = pd.DataFrame({"client_id": "a", "date": pd.to_datetime(
    ...     ["2025-01-06", "2025-05-30", "2025-07-01", "2025-09-01", "2026-03-02"])})
    >>> assign_episodes(obs, clients).tolist()
    ['1', '1', None, '2', '2']
    """
    if EPISODE not in clients:
        raise ValueError("clients has no episode_id column: without it every client has one "
                         "episode")
    pos, gap, ep = _episode_rows(table, clients)
    pos = np.where(gap, -1, pos)
    values = ep[EPISODE].to_numpy(dtype=object)[np.maximum(pos, 0)] if len(ep) else \
        np.full(len(table), None, dtype=object)
    return pd.Series(np.where(pos >= 0, values, None), index=table.index, name=EPISODE,
                     dtype=object)


def _apply_episodes(frame: pd.DataFrame, lines: np.ndarray, file: str, clients: pd.DataFrame,
                    client_lines: np.ndarray, client_file: str, row_word: str = "line"
                    ) -> tuple[pd.DataFrame, np.ndarray, list[dict]]:
    """Give every row its episode; a row between episodes, or whose own ``episode_id``
    disagrees with its date, is a problem on its line and left out."""
    pos, gap, ep = _episode_rows(frame, clients)
    problems: list[dict] = []
    dates = frame["date"].to_numpy(dtype="datetime64[D]") if len(frame) else []
    rejected = clients.attrs.get(_REJECTED, {})
    if rejected and len(frame):
        # the client's episodes are not known for sure: none of its rows is assigned
        line_of = frame["client_id"].map(rejected)
        orphan = line_of.notna().to_numpy()
        for i in np.flatnonzero(orphan):
            problems.append({"file": file, "line": int(lines[i]), "column": "client_id",
                             "value": shorten(frame["client_id"].iat[i], 200),
                             "severity": "error",
                             "reason": f"client {shorten(frame['client_id'].iat[i])!r} has an "
                                       f"episode rejected on {client_file} {row_word} "
                                       f"{int(line_of.iat[i])}: its rows cannot be given an "
                                       "episode until that is fixed"})
        pos = np.where(orphan, -1, pos)
        gap = gap & ~orphan
    eid = ep[EPISODE].to_numpy(dtype=object)
    src = ep["_row"].to_numpy()

    def where(j: int) -> str:
        end = ep["end_date"].iat[j]
        return (f"episode {shorten(eid[j])!r} ({ep['start_date'].iat[j]:%Y-%m-%d} to "
                f"{'open' if pd.isna(end) else f'{end:%Y-%m-%d}'}, {client_file} {row_word} "
                f"{int(client_lines[src[j]])})")

    for i in np.flatnonzero(gap):
        j, day = int(pos[i]), str(dates[i])
        problems.append({"file": file, "line": int(lines[i]), "column": "date",
                         "value": day, "severity": "error",
                         "reason": f"date {day} of client {shorten(frame['client_id'].iat[i])!r}"
                                   f" falls between {where(j)} and {where(j + 1)}: it belongs to "
                                   "no episode"})
    keep = (pos >= 0) & ~gap
    assigned = np.where(keep, eid[np.maximum(pos, 0)] if len(ep) else None, None)
    if EPISODE in frame:  # the table's own episode_id must agree with its date
        given = frame[EPISODE].astype(str).str.strip().to_numpy(dtype=object)
        clash = keep & (given != "") & (given != assigned)
        for i in np.flatnonzero(clash):
            problems.append({"file": file, "line": int(lines[i]), "column": EPISODE,
                             "value": shorten(given[i], 200), "severity": "error",
                             "reason": f"episode_id {shorten(given[i])!r} disagrees with the "
                                       f"date {dates[i]}, which falls in {where(pos[i])}"})
        keep &= ~clash
    out = frame.assign(**{EPISODE: assigned})[keep].reset_index(drop=True)
    return out, lines[keep], problems


def problems_to_text(problems: pd.DataFrame, *, group: bool = True) -> str:
    """The problems table as text, the way the CLI prints it.

    One line per problem; with ``group`` (default), three or more problems of the same kind in
    the same file and column become one line that counts them and lists their lines (the
    table itself still has one row per problem).
    """
    if group:
        return "\n".join(summarise_problems(problems))
    lines = []
    for _, row in problems.iterrows():
        prefix = "warning: " if row["severity"] == "warning" else ""
        lines.append(prefix + format_problem(row))
    return "\n".join(lines)


def is_url(source: object) -> bool:
    """True for a database URL (``sqlite:///clinic.db``, ``postgresql+psycopg://...``).

    Examples
    --------
    >>> is_url("sqlite:///clinic.db"), is_url("data/demo")
    (True, False)
    """
    return isinstance(source, str) and "://" in source


# ---------------------------------------------------------------- validation API for other readers
# progress_kit.ingest (FHIR, REDCap, wide exports, SQL) builds its tables with these public
# functions and never with the private helpers above, so this module can change its insides
# without breaking the readers built on it. They are the kit's internals for readers of other
# sources, not part of the top-level ``progress_kit`` namespace (hence not in ``__all__``).

VALIDATION_API = ("read_observations", "read_clients", "read_sessions", "read_items",
                  "ClinicData", "csv_ready", "problems_to_text", "is_url", "RawTable", "read_raw",
                  "problem_table", "report_or_raise", "unknown_clients", "reconcile_items",
                  "apply_episodes", "assign_episodes", "EPISODE", "split_booked")
"""The names :mod:`progress_kit.ingest` may import from this module."""

RawTable = _Raw
"""A table read as text: ``frame`` (every cell as text), ``file``, ``lines`` (each row's line in
the file, header = 1) and ``problems`` (records) found while reading."""


def read_raw(src: Source, table: str, date_format: str | None = None) -> RawTable:
    """Read a CSV, Parquet or Excel file (or a DataFrame) as text, keeping each row's line.

    The header is checked (empty, repeated or blank column names are problems, in
    ``.problems``); nothing else is. ``table`` names the source in messages when ``src`` is a
    DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = read_raw(pd.DataFrame({"id": ["007"], "score": [12]}), "records")
    >>> raw.frame["id"].tolist(), raw.file, raw.lines.tolist()
    (['007'], 'records (DataFrame)', [2])
    """
    return _read_raw(src, table, date_format)


def problem_table(problems: list[dict]) -> pd.DataFrame:
    """Problem records (``file``, ``line``, ``column``, ``value``, ``reason``, ``severity``) as the
    problems table, ``line`` as a nullable integer.

    Examples
    --------
    >>> problem_table([{"file": "x.csv", "line": 3, "column": "score", "value": "31",
    ...                 "reason": "out of range", "severity": "error"}])["line"].dtype
    Int64Dtype()
    """
    return _problem_frame(problems)


def report_or_raise(frame: pd.DataFrame, problems: pd.DataFrame, errors: Errors):
    """End a reader the way every reader of the kit ends.

    ``errors="report"`` returns ``(frame, problems)``. ``errors="raise"`` raises
    :class:`DataValidationError` when any problem is an error, warns
    (:class:`DataValidationWarning`) for the warnings, and returns ``frame`` with the problems in
    ``frame.attrs["problems"]``.
    """
    return _finish(frame, problems, errors)


def unknown_clients(frame: pd.DataFrame, lines: np.ndarray, file: str,
                    known: pd.Series | set[str]) -> tuple[np.ndarray, list[dict]]:
    """Rows whose ``client_id`` is not among ``known``: a boolean mask and one problem per row.

    ``lines`` holds each row's line (or result row) for the messages; an ID that lost its
    leading zeros (``123`` where the clients table has ``00123``) gets a hint.
    """
    return _unknown_clients(frame, lines, file, known)


def reconcile_items(observations: pd.DataFrame, obs_lines: np.ndarray, obs_file: str,
                    items: pd.DataFrame, item_lines: np.ndarray, items_file: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Check observed totals against their items and derive the totals only items give.

    The rule of :func:`load_data`: a total must equal :func:`progress_kit.score_items` of its
    items (else the total and the items are errors and dropped); items with no total give a
    derived one. Returns the observations (with a boolean ``derived`` column), the items kept,
    and the problems (records).
    """
    return _apply_items(observations, obs_lines, obs_file, items, item_lines, items_file)


def apply_episodes(frame: pd.DataFrame, lines: np.ndarray, file: str, clients: pd.DataFrame,
                   client_lines: np.ndarray, client_file: str, row_word: str = "line"
                   ) -> tuple[pd.DataFrame, np.ndarray, list[dict]]:
    """Give each row of ``frame`` its episode (:func:`assign_episodes`), as :func:`load_data`
    does when ``clients`` has an ``episode_id`` column.

    A row between two episodes, or whose own ``episode_id`` disagrees with its date, is a
    problem (records) on its line and left out. ``row_word`` names a line in messages
    (``"result row"`` for a query). Returns the rows kept (with ``episode_id``), their lines and
    the problems.
    """
    return _apply_episodes(frame, lines, file, clients, client_lines, client_file, row_word)
