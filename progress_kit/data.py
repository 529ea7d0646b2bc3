"""Readers and validation for the three tables of a data folder.

A data folder holds ``observations``, ``clients`` and ``sessions`` as CSV, Parquet or Excel
(``.xlsx``). Every reader validates at the boundary: invalid input raises
:class:`~progress_kit.DataValidationError`, whose ``.problems`` table names the file, the line
(1-based, header = line 1), the column, the value and the reason. With ``errors="report"`` the
readers return the valid rows together with that table instead. No row is ever dropped without
being listed. See ``docs/data-format.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .errors import PROBLEM_COLUMNS, DataValidationError, DataValidationWarning, format_problem
from .measures import _REGISTRY, suggest_measure

__all__ = ["read_observations", "read_clients", "read_sessions", "load_data", "ClinicData",
           "TABLES", "problems_to_text"]

Source = str | Path | pd.DataFrame
Errors = Literal["raise", "report"]

TABLES = {
    "observations": ["client_id", "date", "measure", "score"],
    "clients": ["client_id", "therapist_id", "start_date", "end_date", "status", "problem",
                "session_frequency"],
    "sessions": ["client_id", "date", "attended", "kind"],
}
OPTIONAL = {"clients": {"end_date"}}
STATUSES = ("active", "finished", "dropped")
FREQUENCIES = ("weekly", "fortnightly", "monthly")
SESSION_KINDS = ("assessment", "treatment", "follow_up")
TRUE_WORDS = {"true", "yes", "1", "y", "t"}
FALSE_WORDS = {"false", "no", "0", "n", "f"}
EXTENSIONS = (".csv", ".parquet", ".xlsx")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class ClinicData:
    """The three validated tables of a data folder, plus every problem found."""

    observations: pd.DataFrame
    clients: pd.DataFrame
    sessions: pd.DataFrame
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    truth: pd.DataFrame | None = None

    def __iter__(self):
        return iter((self.observations, self.clients, self.sessions))

    def write(self, folder: str | Path) -> Path:
        """Write the tables as CSV into ``folder`` (see :func:`progress_kit.write_data`)."""
        from .demo import write_data

        return write_data(self, folder)


# ---------------------------------------------------------------- raw reading


@dataclass
class _Raw:
    """A table as text, with the file name and each row's line number for messages."""

    frame: pd.DataFrame
    file: str
    lines: np.ndarray
    problems: list[dict] = field(default_factory=list)

    def add(self, mask: np.ndarray | pd.Series, column: str,
            reason: Callable[[str], str] | str, severity: str = "error") -> None:
        """Record one problem per row where ``mask`` is true."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        values = self.frame[column].to_numpy()[idx] if column in self.frame else [""] * len(idx)
        for i, value in zip(idx, values, strict=True):
            text = reason(value) if callable(reason) else reason
            self.problems.append({"file": self.file, "line": int(self.lines[i]), "column": column,
                                  "value": value, "reason": text, "severity": severity})


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
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in frame.columns:
        frame[col] = [_cell_text(v) for v in frame[col].to_numpy(dtype=object)]
    return frame


def _read_raw(src: Source, table: str) -> _Raw:
    """Read any source into text columns, remembering line numbers (header = line 1)."""
    if isinstance(src, pd.DataFrame):
        frame = _as_text(src.reset_index(drop=True))
        return _Raw(frame, f"{table} (DataFrame)", np.arange(len(frame)) + 2)
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    name = path.name
    if path.stat().st_size == 0:
        return _empty(name, "file is empty")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            # utf-8-sig strips a BOM; skip_blank_lines=False keeps line numbers true to the file
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                                skip_blank_lines=False)
        except pd.errors.EmptyDataError:
            return _empty(name, "file is empty")
        except UnicodeDecodeError as exc:
            return _empty(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        except pd.errors.ParserError as exc:
            return _empty(name, f"not a readable CSV ({exc})")
        frame.columns = [str(c).strip() for c in frame.columns]
        lines = np.arange(len(frame)) + 2
        blank = (frame == "").all(axis=1).to_numpy() if len(frame.columns) else np.zeros(0, bool)
        return _Raw(frame[~blank].reset_index(drop=True), name, lines[~blank])
    if suffix == ".parquet":
        frame = _as_text(pd.read_parquet(path))
    elif suffix in (".xlsx", ".xlsm"):
        frame = _as_text(pd.read_excel(path, dtype=object, keep_default_na=False))
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv, .parquet or .xlsx")
    return _Raw(frame, name, np.arange(len(frame)) + 2)


def _empty(name: str, reason: str) -> _Raw:
    raw = _Raw(pd.DataFrame(), name, np.zeros(0, dtype=int))
    raw.problems.append({"file": name, "line": np.nan, "column": "", "value": "",
                         "reason": reason, "severity": "error"})
    return raw


# ---------------------------------------------------------------- field checks


def _strip(raw: _Raw, column: str) -> pd.Series:
    return raw.frame[column].astype(str).str.strip()


def _check_columns(raw: _Raw, table: str, allow_empty: bool = False) -> bool:
    """Required columns present and at least one row; False when nothing more can be checked."""
    if raw.problems:
        return False
    missing = [c for c in TABLES[table] if c not in raw.frame.columns
               and c not in OPTIONAL.get(table, set())]
    for col in missing:
        raw.problems.append({"file": raw.file, "line": 1, "column": col, "value": "",
                             "reason": f"required column {col!r} is missing "
                                       f"(columns are {', '.join(map(str, raw.frame.columns))})",
                             "severity": "error"})
    if not missing and raw.frame.empty and not allow_empty:
        raw.problems.append({"file": raw.file, "line": np.nan, "column": "", "value": "",
                             "reason": "file is empty: a header but no data rows",
                             "severity": "error"})
    return not missing


def _check_ids(raw: _Raw, column: str = "client_id") -> pd.Series:
    ids = _strip(raw, column)
    raw.add(ids == "", column, f"blank {column}")
    return ids


def _parse_days(raw: _Raw, column: str, today: dt.date, required: bool = True) -> pd.Series:
    """Strict ISO days (YYYY-MM-DD); impossible, unparseable and future dates are problems."""
    text = _strip(raw, column)
    blank = text == ""
    shaped = text.str.match(_ISO_DAY)
    parsed = pd.to_datetime(text.where(shaped), format="%Y-%m-%d", errors="coerce")
    if required:
        raw.add(blank, column, f"blank {column}")
    raw.add(~blank & ~shaped, column,
            lambda v: f"{column} {v!r} is not a date in the form YYYY-MM-DD")
    raw.add(shaped & parsed.isna(), column, lambda v: f"{column} {v!r} is an impossible date")
    future = parsed.notna() & (parsed > pd.Timestamp(today))
    raw.add(future, column, lambda v: f"{column} {v} is in the future (today is {today})")
    return parsed.where(~future).astype("datetime64[ns]")


def _check_choice(raw: _Raw, column: str, allowed: tuple[str, ...],
                  allow_blank: bool = False) -> pd.Series:
    text = _strip(raw, column)
    bad = ~text.isin(allowed) & ~((text == "") & allow_blank)
    raw.add(bad, column, lambda v: f"{column} {v!r} is not one of {', '.join(allowed)}")
    return text


def _dedupe_warning(raw: _Raw, dup: np.ndarray, key_cols: list[str], keep_line: np.ndarray) -> None:
    """Exact duplicates are collapsed into their first row, and each removed row is listed."""
    for i in np.flatnonzero(dup):
        raw.problems.append({"file": raw.file, "line": int(raw.lines[i]), "column": "",
                             "value": "", "severity": "warning",
                             "reason": f"exact duplicate of line {int(keep_line[i])} "
                                       f"({', '.join(key_cols)}); collapsed"})


# ---------------------------------------------------------------- tables


def _validate_observations(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "observations"):
        return _empty_table("observations")
    ids = _check_ids(raw)
    dates = _parse_days(raw, "date", today)
    measure = _strip(raw, "measure")
    known = measure.isin(list(_REGISTRY))
    raw.add(measure == "", "measure", "blank measure")
    raw.add((measure != "") & ~known, "measure",
            lambda v: f"unknown measure {v!r}{suggest_measure(v)}")
    text = _strip(raw, "score")
    score = pd.to_numeric(text, errors="coerce")
    raw.add(text == "", "score", "blank score")
    raw.add((text != "") & score.isna(), "score", lambda v: f"score {v!r} is not a number")
    _check_scores(raw, measure, score, known)
    frame = pd.DataFrame({"client_id": ids, "date": dates, "measure": measure,
                          "score": score.astype(float)})
    extra = [c for c in raw.frame.columns if c not in TABLES["observations"]]
    for col in extra:
        frame[col] = raw.frame[col].to_numpy()
    return frame


def _check_scores(raw: _Raw, measure: pd.Series, score: pd.Series, known: pd.Series) -> None:
    """Range and step per measure, vectorised by looking the limits up for every row."""
    spec = {n: (m.min, m.max, m.step or 0.0) for n, m in _REGISTRY.items()}
    lo = measure.map(lambda n: spec.get(n, (np.nan,) * 3)[0]).astype(float)
    hi = measure.map(lambda n: spec.get(n, (np.nan,) * 3)[1]).astype(float)
    step = measure.map(lambda n: spec.get(n, (np.nan,) * 3)[2]).astype(float)
    valid = known & score.notna()
    out = valid & ((score < lo) | (score > hi))

    def range_reason(i: int) -> str:
        m = _REGISTRY[measure.iloc[i]]
        top = "" if np.isinf(m.max) else f"{m.max:g}"
        return f"score {raw.frame['score'].iloc[i].strip()} out of range {m.min:g}–{top} for {m.name}"

    for i in np.flatnonzero(out.to_numpy()):
        raw.add(_one(len(score), i), "score", range_reason(i))
    units = (score - lo) / step.where(step > 0)
    off_step = valid & ~out & (step > 0) & ((units - units.round()).abs() > 1e-6)
    for i in np.flatnonzero(off_step.to_numpy()):
        m = _REGISTRY[measure.iloc[i]]
        what = "a whole number" if m.step == 1 else f"a multiple of {m.step:g}"
        raw.add(_one(len(score), i), "score",
                f"score {raw.frame['score'].iloc[i].strip()} is not on the step of {m.name} "
                f"(must be {what})")


def _one(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


def _check_duplicate_observations(raw: _Raw, frame: pd.DataFrame, bad: np.ndarray) -> np.ndarray:
    """Conflicting duplicates are errors; exact duplicates are collapsed with a warning."""
    keys = ["client_id", "date", "measure"]
    ok = frame[~bad]
    grouped = ok.groupby(keys, sort=False, dropna=False)["score"]
    size = grouped.transform("size")
    multi = size > 1
    drop = np.zeros(len(frame), dtype=bool)
    if not multi.any():
        return drop
    n_distinct = grouped.transform("nunique")
    first_pos = pd.Series(np.arange(len(frame))[~bad], index=ok.index).groupby(
        [ok[k] for k in keys], sort=False, dropna=False).transform("first")
    conflict = (multi & (n_distinct > 1)).to_numpy()
    positions = np.flatnonzero(~bad)
    for p in positions[conflict]:
        row = frame.iloc[p]
        same = positions[conflict][(frame.iloc[positions[conflict]][keys] == row[keys]).all(axis=1)
                                   .to_numpy()]
        others = [int(raw.lines[q]) for q in same if q != p]
        raw.add(_one(len(frame), p), "score",
                f"conflicting duplicate: {row['measure']} for client {row['client_id']} on "
                f"{row['date']:%Y-%m-%d} is {row['score']:g} here but differs on line(s) "
                f"{', '.join(map(str, others))}")
        drop[p] = True
    exact = (multi & (n_distinct == 1)).to_numpy() & (first_pos.to_numpy() != positions)
    dup_rows = np.zeros(len(frame), dtype=bool)
    dup_rows[positions[exact]] = True
    keep_line = np.zeros(len(frame), dtype=int)
    keep_line[positions] = raw.lines[first_pos.to_numpy()]
    _dedupe_warning(raw, dup_rows, keys, keep_line)
    return drop | dup_rows


def _validate_clients(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "clients"):
        return _empty_table("clients")
    ids = _check_ids(raw)
    repeated = ids.duplicated(keep="first") & (ids != "")
    first_line = pd.Series(raw.lines, index=ids.index).groupby(ids).transform("first")
    for i in np.flatnonzero(repeated.to_numpy()):
        raw.add(_one(len(ids), i), "client_id",
                f"client_id {ids.iloc[i]!r} is listed again (first on line {first_line.iloc[i]})")
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
    return pd.DataFrame({"client_id": ids, "therapist_id": therapist, "start_date": start,
                         "end_date": end, "status": status, "problem": problem.replace("", None),
                         "session_frequency": frequency})


def _validate_sessions(raw: _Raw, today: dt.date) -> pd.DataFrame:
    if not _check_columns(raw, "sessions", allow_empty=True):
        return _empty_table("sessions")
    ids = _check_ids(raw)
    dates = _parse_days(raw, "date", today)
    attended_text = _strip(raw, "attended").str.lower()
    yes = attended_text.isin(TRUE_WORDS)
    no = attended_text.isin(FALSE_WORDS)
    raw.add(~yes & ~no, "attended",
            lambda v: f"attended {v!r} is not true/false (also accepted: yes/no, 1/0)")
    kind = _check_choice(raw, "kind", SESSION_KINDS)
    return pd.DataFrame({"client_id": ids, "date": dates, "attended": yes.to_numpy(),
                         "kind": kind})


def _empty_table(table: str) -> pd.DataFrame:
    dtypes = {"date": "datetime64[ns]", "start_date": "datetime64[ns]",
              "end_date": "datetime64[ns]", "score": float, "attended": bool}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "str")) for c in TABLES[table]})


_VALIDATORS = {"observations": _validate_observations, "clients": _validate_clients,
               "sessions": _validate_sessions}


def _problem_frame(problems: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    table["line"] = table["line"].astype("Int64")
    return table


def _read_table(src: Source, table: str, today: dt.date | None
                ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Validated rows, the problems table, and the line number of each kept row."""
    raw = _read_raw(src, table)
    frame = _VALIDATORS[table](raw, today or dt.date.today())
    bad_lines = {p["line"] for p in raw.problems if p["severity"] == "error"}
    bad = np.isin(raw.lines, list(bad_lines)) if len(frame) else np.zeros(0, bool)
    if table == "observations" and len(frame):
        bad = bad | _check_duplicate_observations(raw, frame, bad)
    keep = ~bad
    lines = raw.lines[keep] if len(frame) else np.zeros(0, int)
    frame = frame[keep].reset_index(drop=True) if len(frame) else frame
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
        warnings.warn("\n".join(format_problem(r) for _, r in warned.iterrows()),
                      DataValidationWarning, stacklevel=3)
    if len(problems):
        # plain records, not a DataFrame, so the result still serialises (Parquet, JSON)
        frame.attrs["problems"] = [
            {k: (None if pd.isna(v) else (int(v) if k == "line" else str(v))) for k, v in r.items()}
            for r in problems.to_dict("records")]
    return frame


def read_observations(src: Source, *, errors: Errors = "raise",
                      today: dt.date | None = None):
    """Read and validate the long observations table.

    Columns ``client_id``, ``date`` (ISO day), ``measure`` (a registry name) and ``score``.
    Questionnaire totals and daily diary fields are all measures in this one table.

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
    >>> obs = pd.DataFrame({"client_id": ["00123", "00123"], "date": ["2024-01-08", "2024-01-15"],
    ...                     "measure": ["PHQ-9", "PHQ-9"], "score": [18, 12]})
    >>> read_observations(obs)
      client_id       date measure  score
    0     00123 2024-01-08   PHQ-9   18.0
    1     00123 2024-01-15   PHQ-9   12.0
    >>> bad = obs.assign(score=[18, 31])
    >>> valid, problems = read_observations(bad, errors="report")
    >>> print(problems_to_text(problems))
    observations (DataFrame) line 3: score 31 out of range 0–27 for PHQ-9
    """
    frame, problems, _ = _read_table(src, "observations", today)
    return _finish(frame, problems, errors)


def read_clients(src: Source, *, errors: Errors = "raise", today: dt.date | None = None):
    """Read and validate the clients table.

    Columns ``client_id``, ``therapist_id``, ``start_date``, optional ``end_date``, ``status``
    (active/finished/dropped), ``problem`` (e.g. depression, gad, social_anxiety) and
    ``session_frequency`` (weekly/fortnightly/monthly). ``errors`` and ``today`` as in
    :func:`read_observations`. A client listed twice is an error.

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
    frame, problems, _ = _read_table(src, "clients", today)
    return _finish(frame, problems, errors)


def read_sessions(src: Source, *, errors: Errors = "raise", today: dt.date | None = None):
    """Read and validate the sessions table.

    Columns ``client_id``, ``date``, ``attended`` (true/false; yes/no and 1/0 are accepted) and
    ``kind`` (assessment/treatment/follow_up). A header with no rows is valid (no sessions yet).
    ``errors`` and ``today`` as in :func:`read_observations`.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"client_id": ["a"], "date": ["2024-01-08"], "attended": ["yes"],
    ...                   "kind": ["assessment"]})
    >>> read_sessions(s)
      client_id       date  attended        kind
    0         a 2024-01-08      True  assessment
    """
    frame, problems, _ = _read_table(src, "sessions", today)
    return _finish(frame, problems, errors)


def _find_table(folder: Path, table: str) -> Path:
    found = [folder / f"{table}{ext}" for ext in EXTENSIONS if (folder / f"{table}{ext}").exists()]
    if not found:
        raise FileNotFoundError(f"{folder}: no {table}.csv, {table}.parquet or {table}.xlsx")
    if len(found) > 1:
        raise ValueError(f"{folder}: more than one {table} file ({', '.join(p.name for p in found)});"
                         " keep one")
    return found[0]


def _unknown_clients(frame: pd.DataFrame, lines: np.ndarray, file: str,
                     known: set[str]) -> tuple[np.ndarray, list[dict]]:
    unknown = ~frame["client_id"].isin(known).to_numpy()
    problems = [{"file": file, "line": int(lines[i]), "column": "client_id",
                 "value": frame["client_id"].iloc[i], "severity": "error",
                 "reason": f"client_id {frame['client_id'].iloc[i]!r} is not in the clients table"}
                for i in np.flatnonzero(unknown)]
    return unknown, problems


def load_data(folder: str | Path, *, errors: Errors = "raise",
              today: dt.date | None = None) -> ClinicData:
    """Read and validate a data folder: observations, clients and sessions.

    Besides each table's own checks, observations and sessions must refer to clients listed in
    the clients table. ``errors="raise"`` raises one :class:`DataValidationError` listing every
    problem in every file; ``errors="report"`` returns the valid rows with all problems in
    ``.problems``.

    Parameters
    ----------
    folder : str or Path
        Holds ``observations``, ``clients`` and ``sessions`` as ``.csv``, ``.parquet`` or
        ``.xlsx`` (one format per table).

    Returns
    -------
    ClinicData
        With ``.observations``, ``.clients``, ``.sessions`` and ``.problems``; it also unpacks as
        ``obs, clients, sessions = load_data(folder)``.

    Examples
    --------
    >>> import tempfile
    >>> from progress_kit import demo_data
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = demo_data(n_clients=5, months=2, seed=1, end="2025-06-30").write(d)
    ...     data = load_data(d)
    >>> sorted(data.clients["client_id"])[:2]
    ['C001', 'C002']
    """
    if "://" in str(folder):  # a database URL (sqlite:///clinic.db, postgresql+psycopg://...)
        from .ingest.sql import load_sql
        return load_sql(str(folder), errors=errors, today=today)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    tables, all_problems = {}, []
    for table in TABLES:
        path = _find_table(folder, table)
        frame, problems, lines = _read_table(path, table, today)
        tables[table] = (frame, lines, path.name)
        all_problems.append(problems)
    known = set(tables["clients"][0]["client_id"])
    for table in ("observations", "sessions"):
        frame, lines, name = tables[table]
        unknown, problems = _unknown_clients(frame, lines, name, known)
        all_problems.append(_problem_frame(problems))
        tables[table] = (frame[~unknown].reset_index(drop=True), lines[~unknown], name)
    problems = pd.concat([p for p in all_problems if len(p)] or [_problem_frame([])],
                         ignore_index=True)
    data = ClinicData(tables["observations"][0], tables["clients"][0], tables["sessions"][0],
                      problems)
    if errors == "report":
        return data
    _finish(data.observations, problems, errors)
    return data


def problems_to_text(problems: pd.DataFrame) -> str:
    """The problems table as one line per problem, the way the CLI prints it."""
    lines = []
    for _, row in problems.iterrows():
        prefix = "warning: " if row["severity"] == "warning" else ""
        lines.append(prefix + format_problem(row))
    return "\n".join(lines)
