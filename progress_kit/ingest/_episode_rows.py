"""Episodes of care from a column of an export (wide recipes, REDCap arms).

A wide export names each row's episode in a column (a referral number, a REDCap arm) and, where
it has them, the episode's start and end dates in two more. This builds the clients table (one
row per client and episode) from them and gives each score its episode through the kit's
validation API (:func:`progress_kit.data.read_clients` for overlaps and dates,
:func:`progress_kit.data.apply_episodes` for rows between episodes or whose episode disagrees
with their date), with every problem naming the export's file, line, column and value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import EPISODE, apply_episodes, read_clients
from ..errors import shorten
from ._common import CLIENT_DEFAULTS, kept_rows, problem

CLIENT_COLUMNS = ["client_id", EPISODE, "therapist_id", "start_date", "end_date", "status",
                  "problem", "session_frequency"]


@dataclass
class EpisodeSpec:
    """Where an export keeps its episodes: ``column`` names the episode in messages, ``start`` and
    ``end`` the columns of its dates (None: the episode runs from its first to its last score)."""

    column: str
    start: str | None = None
    end: str | None = None
    label: str | None = None  # what reasons call the episode's value (default: the column)

    @property
    def called(self) -> str:
        return self.label or self.column


def episodes_by_column(valid: pd.DataFrame, lines: np.ndarray, file: str, spec: EpisodeSpec,
                       periods: pd.DataFrame | None, today: dt.date | None
                       ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, list[dict]]:
    """Clients and each score's episode.

    Parameters
    ----------
    valid : DataFrame
        Validated scores with ``client_id``, ``date`` and ``episode_id`` (text; blank: by date).
    lines : array
        Each score's line in ``file``.
    periods : DataFrame, optional
        ``client_id``, ``episode_id``, ``start``, ``end`` (text days) and ``line``: the rows of
        the export that give an episode's dates. Without it, an episode runs from its first to
        its last score, and a client's latest episode is open.

    Returns
    -------
    The scores kept (with ``episode_id``), their lines, the clients table and the problems.
    """
    problems: list[dict] = []
    named = valid.assign(**{EPISODE: valid[EPISODE].fillna("").astype(str).str.strip()})
    if periods is None:
        rows, where = _spans_from_scores(named, lines)
    else:
        rows, where = _spans_from_periods(periods, spec, file, problems)
    dated = set(zip(rows["client_id"], rows[EPISODE], strict=True))
    pairs = pd.MultiIndex.from_arrays([named["client_id"], named[EPISODE]])
    unknown = (named[EPISODE] != "").to_numpy() & ~pairs.isin(list(dated))
    for i in np.flatnonzero(unknown):
        problems.append(problem(file, int(lines[i]), spec.column, named[EPISODE].iat[i],
                                f"{spec.called} {shorten(named[EPISODE].iat[i])!r} of client "
                                f"{shorten(named['client_id'].iat[i])!r} has no {spec.start} "
                                "in any row, so its dates are not known; the score is not "
                                "assigned to an episode"))
    named, lines = named[~unknown].reset_index(drop=True), lines[~unknown]
    # a client without any named episode has one, unnamed, from its first score
    alone = named.loc[~named["client_id"].isin(rows["client_id"])].groupby("client_id")["date"].min()
    stubs = pd.DataFrame({"client_id": alone.index.astype(str), EPISODE: "",
                          "start_date": alone.dt.strftime("%Y-%m-%d").to_numpy(), "end_date": "",
                          "status": CLIENT_DEFAULTS["status"]})
    frame = pd.concat([rows, stubs], ignore_index=True)
    for col, value in CLIENT_DEFAULTS.items():
        if col != "status":
            frame[col] = value
    frame = frame[CLIENT_COLUMNS]
    where += [("from its first score", None, "")] * len(stubs)
    if frame.empty:  # no score and no episode dates: nothing to check
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in CLIENT_COLUMNS}).astype(
            {"start_date": "datetime64[ns]", "end_date": "datetime64[ns]"})
        return named, lines, empty, problems
    clients, found = read_clients(frame, errors="report", today=today)
    heads = [f"episode {shorten(e)!r} of client {shorten(c)!r}"
             for c, e in zip(frame["client_id"], frame[EPISODE], strict=True)]
    labels = [f"{h} ({w[0]})" for h, w in zip(heads, where, strict=True)]
    short = [w[0] for w in where]
    for rec in found.to_dict("records"):
        i = int(rec["line"]) - 2 if pd.notna(rec["line"]) else -1
        _, line, value = where[i] if 0 <= i < len(where) else ("", None, "")
        column = (spec.start if rec["column"] == "start_date" else spec.end
                  if rec["column"] == "end_date" else None) or spec.column
        reason = _LINE.sub(lambda m: _label(short, m), rec["reason"])
        if 0 <= i < len(labels):  # name the episode once, with where its dates came from
            head = heads[i] + " "
            reason = (labels[i] + " " + reason[len(head):] if reason.startswith(head)
                      else f"{labels[i]}: {reason}")
        problems.append(problem(file, line, column, value or rec["value"], reason, rec["severity"]))
    kept, kept_lines, found = apply_episodes(named, lines, file, clients,
                                             kept_rows(frame, found) + 1, "\x00")
    for p in found:
        # "episode 'R1' (2024-01-08 to open, <row>)": the row's own lines; elsewhere in full
        p["reason"] = _IN_SPAN.sub(lambda m: f", {_label(short, m)})", p["reason"])
        p["reason"] = _CLIENT_ROW.sub(lambda m: _label(labels, m), p["reason"])
        if p["column"] == EPISODE:
            p["column"] = spec.column
            p["reason"] = p["reason"].replace(f"{EPISODE} ", f"{spec.called} ", 1)
        problems.append(problem(p["file"], p["line"], p["column"], p["value"], p["reason"]))
    return kept, kept_lines, clients.reset_index(drop=True), problems


_LINE = re.compile(r"\bline (\d+)")
_CLIENT_ROW = re.compile(r"\x00 line (\d+)")
_IN_SPAN = re.compile(r", \x00 line (\d+)\)")


def _label(labels: list[str], m: re.Match) -> str:
    i = int(m.group(1)) - 2
    return labels[i] if 0 <= i < len(labels) else m.group(0)


def _spans_from_scores(named: pd.DataFrame, lines: np.ndarray) -> tuple[pd.DataFrame, list]:
    """An episode from its first score to its last; each client's latest episode open."""
    given = named.assign(_line=lines)[named[EPISODE] != ""]
    if given.empty:
        return pd.DataFrame(columns=["client_id", EPISODE, "start_date", "end_date", "status"]), []
    spans = given.groupby(["client_id", EPISODE], sort=False).agg(
        start=("date", "min"), end=("date", "max"), line=("_line", "min"),
        last=("_line", "max")).reset_index()
    spans = spans.sort_values(["client_id", "start"], kind="stable", ignore_index=True)
    latest = spans.groupby("client_id").cumcount(ascending=False).to_numpy() == 0
    rows = pd.DataFrame({"client_id": spans["client_id"], EPISODE: spans[EPISODE],
                         "start_date": spans["start"].dt.strftime("%Y-%m-%d"),
                         "end_date": np.where(latest, "", spans["end"].dt.strftime("%Y-%m-%d")),
                         # placeholders, like stub clients: an earlier episode has ended
                         "status": np.where(latest, "active", "finished")})
    # (what to call it, its line, its value) for messages
    where = [(f"scores on line {int(a)}" if a == b else f"scores on lines {int(a)} to {int(b)}",
              int(a), e) for a, b, e in zip(spans["line"], spans["last"], spans[EPISODE],
                                            strict=True)]
    return rows, where


def _spans_from_periods(periods: pd.DataFrame, spec: EpisodeSpec, file: str,
                        problems: list[dict]) -> tuple[pd.DataFrame, list]:
    """One row per client and episode from the rows giving its dates (the first non-blank
    date of each kind); a row of one episode giving another date is an error on its line.

    Vectorised: the first date per episode by one groupby, the disagreeing rows by a join.
    """
    keys = ["client_id", EPISODE]
    firsts = {}
    for col, name in (("start", spec.start), ("end", spec.end)):
        if name is None:
            continue
        given = periods[periods[col] != ""]
        first = given.groupby(keys, sort=False)[[col, "line"]].first()
        firsts[col] = first
        joined = given.merge(first.add_suffix("_first"), left_on=keys, right_index=True,
                             how="left")
        for r in joined[joined[col] != joined[f"{col}_first"]].itertuples():  # errors only
            value = getattr(r, col)
            problems.append(problem(file, int(r.line), name, value,
                                    f"{name} {shorten(value)!r} of {spec.called} "
                                    f"{shorten(getattr(r, EPISODE))!r} (client "
                                    f"{shorten(r.client_id)!r}) differs from "
                                    f"{getattr(r, f'{col}_first')!r} on line "
                                    f"{int(r.line_first)}; the first is used"))
    start = firsts["start"]
    end = firsts["end"]["end"].reindex(start.index).fillna("") if "end" in firsts else \
        pd.Series("", index=start.index)
    frame = pd.DataFrame({"client_id": start.index.get_level_values(0),
                          EPISODE: start.index.get_level_values(1),
                          "start_date": start["start"].to_numpy(), "end_date": end.to_numpy(),
                          # placeholders, like stub clients: an episode with an end has ended
                          "status": np.where(end.to_numpy() != "", "finished", "active")})
    where = [(f"dates on line {int(line)}", int(line), e)
             for line, e in zip(start["line"], frame[EPISODE], strict=True)]
    return frame, where
