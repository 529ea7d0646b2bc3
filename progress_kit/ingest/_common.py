"""Shared helpers of the ingest readers: one result type and one validation path.

Every reader builds the kit's long tables as DataFrames and passes them through the same readers
as a data folder (:func:`progress_kit.read_observations`), then maps each problem back to where
it came from in the source (file, line, record), so a message names the source, never an
intermediate DataFrame.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..data import (
    ClinicData,
    csv_ready,
    problem_table,
    read_items,
    read_observations,
    report_or_raise,
    split_booked,
)
from ..errors import PROBLEM_COLUMNS, DataValidationError, csv_cell, shorten

Errors = Literal["raise", "report"]

ITEM_COLUMNS = ["client_id", "date", "measure", "item", "response"]
CLIENT_DEFAULTS = {"therapist_id": "unknown", "status": "active", "problem": "",
                   "session_frequency": "weekly"}


@dataclass
class ImportedData(ClinicData):
    """The tables read from an outside source, plus every problem and what was skipped.

    ``observations`` and ``items`` are validated like a data folder (:func:`read_observations`,
    :func:`read_items`). ``clients`` holds stub rows
    (one per client seen, ``start_date`` = first score, ``therapist_id`` "unknown") when the
    source has no clients table; ``sessions`` is empty unless the source has one. ``skipped``
    counts what the source held that is not a registered measure (one row per kind).
    """

    skipped: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["source", "what", "count"]))

    def write(self, folder: str | Path) -> Path:
        """Write a data folder: observations, clients, sessions and (when any) items as CSV.

        The folder is created private (mode 700) and each file exclusively (mode 600): an
        existing table file is never overwritten. With problems, ``problems.csv`` lists them.
        """
        folder = Path(folder)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tables = {"observations": self.observations, "clients": self.clients,
                  "sessions": self.sessions}
        if len(self.items):  # a header-only items.csv would read as an empty-file problem
            tables["items"] = self.items
        if len(self.problems):
            tables["problems"] = self.problems
        clash = [f"{n}.csv" for n in tables if (folder / f"{n}.csv").exists()]
        if clash:
            raise FileExistsError(f"{folder}: {', '.join(clash)} already there; choose an empty folder")
        for name, frame in tables.items():
            out = csv_ready(frame)
            if name == "problems":  # read by people, in a spreadsheet: raw source text is inert
                out = out.map(csv_cell)
            fd = os.open(folder / f"{name}.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                out.to_csv(handle, index=False, lineterminator="\n")
        return folder


def empty_items() -> pd.DataFrame:
    return pd.DataFrame({"client_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "measure": pd.Series(dtype=str), "item": pd.Series(dtype="int64"),
                         "response": pd.Series(dtype=float)})


def problem(file: str, line: int | float | None, column: str, value: object, reason: str,
            severity: str = "error") -> dict:
    """One row of the problems table; values and reasons are bounded (a 1 MB id gives a short row)."""
    return {"file": shorten(file, 300), "line": np.nan if line is None else line,
            "column": shorten(column, 100), "value": "" if value is None else shorten(value, 200),
            "reason": shorten(reason, MAX_REASON), "severity": severity}


MAX_REASON = 1000
"""Longest reason kept; the parts quoting source values are already cut much shorter."""


_LINES_REF = re.compile(r"line\(s\) ([\d, ]+)|of line (\d+)")


def validate_observations(frame: pd.DataFrame, origins: list[tuple[str, float, str]],
                          today: dt.date | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Run candidate observations through :func:`read_observations`; map problems to the source.

    ``origins[i]`` is ``(file, line, label)`` for row ``i`` of ``frame``: the file and line the
    row came from and a label put in front of each reason (e.g. ``"Observation/abc: "``).
    Returns the valid rows and the problems as records.
    """
    if frame.empty:
        return _empty_observations(), []
    valid, problems = read_observations(frame.reset_index(drop=True), errors="report", today=today)
    return valid, map_problems(problems, origins)


def map_problems(problems: pd.DataFrame, origins: list[tuple[str, float, str]]) -> list[dict]:
    """Problems of a frame built from a source (line 2 = its first row) as problems of the
    source: ``origins[i]`` is ``(file, line, label)`` of row ``i``."""
    out = []
    for rec in problems.to_dict("records"):
        row = int(rec["line"]) - 2 if pd.notna(rec["line"]) else None
        if row is None or not 0 <= row < len(origins):
            out.append(problem("(converted rows)", None, rec["column"], rec["value"], rec["reason"],
                               rec["severity"]))
            continue
        file, line, label = origins[row]
        reason = _LINES_REF.sub(lambda m: _remap_lines(m, origins), rec["reason"])
        out.append(problem(file, line, rec["column"], rec["value"], f"{label}{reason}", rec["severity"]))
    return out


def _remap_lines(match: re.Match, origins: list[tuple[str, float, str]]) -> str:
    numbers = match.group(1) or match.group(2)
    where = []
    for text in numbers.split(","):
        if text.strip().isdigit():
            i = int(text) - 2
            if 0 <= i < len(origins):
                file, line, label = origins[i]
                spot = f"{file} line {int(line)}" if pd.notna(line) else file
                where.append(f"{spot} ({label.rstrip(': ')})" if label else spot)
    if not where:
        return match.group(0)
    return ("line(s) " if match.group(1) else "of ") + "; ".join(where)


def _empty_observations() -> pd.DataFrame:
    return pd.DataFrame({"client_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "measure": pd.Series(dtype=str), "score": pd.Series(dtype=float)})


def validate_items(items: pd.DataFrame, origins: list[tuple[str, float, str]],
                   today: dt.date | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Run item rows through :func:`read_items`; map its problems back to the source rows."""
    if items.empty:
        return empty_items(), []
    frame = items.reset_index(drop=True).copy()
    if pd.api.types.is_datetime64_any_dtype(frame["date"]):
        frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    valid, problems = read_items(frame, errors="report", today=today)
    return valid, map_problems(problems, origins)


def items_of_valid(items: pd.DataFrame, origins: list, valid: pd.DataFrame
                   ) -> tuple[pd.DataFrame, list]:
    """The item rows (and their origins) of administrations whose score passed validation.

    A rejected score's items are left out rather than checked again: its problem is already
    listed, and the items and observations tables then agree.
    """
    if items.empty or valid.empty:
        return items.iloc[0:0], []
    keys = ["client_id", "date", "measure"]
    have = valid[keys].assign(date=valid["date"].dt.strftime("%Y-%m-%d")).drop_duplicates()
    tagged = items.reset_index(drop=True).assign(_row=np.arange(len(items)))
    kept = tagged.merge(have, on=keys, how="inner").sort_values("_row")
    return kept.drop(columns="_row").reset_index(drop=True), [origins[i] for i in kept["_row"]]


def stub_clients(observations: pd.DataFrame) -> pd.DataFrame:
    """One placeholder client per client seen: start at the first score, to be edited by hand."""
    if observations.empty:
        return pd.DataFrame(columns=["client_id", "therapist_id", "start_date", "end_date", "status",
                                     "problem", "session_frequency"])
    first = observations.groupby("client_id", sort=True)["date"].min()
    frame = pd.DataFrame({"client_id": first.index.astype(str), "start_date": first.to_numpy()})
    for col, value in CLIENT_DEFAULTS.items():
        frame[col] = value
    frame["end_date"] = pd.NaT
    return frame[["client_id", "therapist_id", "start_date", "end_date", "status", "problem",
                  "session_frequency"]]


def empty_sessions() -> pd.DataFrame:
    return pd.DataFrame({"client_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "attended": pd.Series(dtype=bool), "kind": pd.Series(dtype=str)})


def finish(observations: pd.DataFrame, items: pd.DataFrame, problems: list[dict],
           skipped: pd.DataFrame, errors: Errors, *, clients: pd.DataFrame | None = None,
           sessions: pd.DataFrame | None = None) -> ImportedData:
    """Assemble the result; with ``errors="raise"`` raise when any problem is an error."""
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    table = problem_table(problems) if problems else pd.DataFrame(columns=PROBLEM_COLUMNS)
    # a session with attended blank (NULL in a database) is a booking, kept apart as load_data
    # keeps it, so it is never counted as held or missed
    held, booked = split_booked(empty_sessions() if sessions is None else sessions)
    data = ImportedData(observations.reset_index(drop=True),
                        stub_clients(observations) if clients is None else clients,
                        held, table, items=items, skipped=skipped, booked=booked)
    if errors == "raise":
        if len(table) and (table["severity"] == "error").any():
            raise DataValidationError(table)
        report_or_raise(data.observations, table, "raise")
    return data


def kept_rows(frame: pd.DataFrame, found: pd.DataFrame) -> np.ndarray:
    """Row numbers (1 = first row) of the rows a reader kept from ``frame``: those with an error
    and collapsed duplicates are removed (``found`` counts the header as line 1)."""
    rows = np.arange(len(frame)) + 1
    dropped = found.loc[found["reason"].str.contains("collapsed") | (found["severity"] == "error"),
                        "line"]
    return rows[~np.isin(rows + 1, dropped.dropna().astype(int).to_numpy())]
