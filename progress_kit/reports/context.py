"""Loading the data a report needs, once, and cutting it to the report month.

A report notebook gets either a data folder (``data_dir``), a pre-validated cache written by the
batch (``data_cache``), or neither: then it generates the demo clinic in memory with a fixed seed
and end date, so that every notebook runs with its default parameters on a fresh clone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import EPISODE, EXTENSIONS, TABLES, ClinicData, load_data
from .safe import parse_month

__all__ = ["DEMO", "DEFAULT_CLIENT", "client_or_demo", "DEFAULT_MONTH", "load_clinic", "write_cache",
           "input_files", "files_digest", "clients_active_in", "ReportData", "client_data",
           "client_data_until", "parse_day", "last_full_month", "preload"]

DEMO = {"n_clients": 60, "months": 6, "seed": 0, "end": "2026-10-31"}
"""The demo clinic the notebooks use when no data folder is given (fixed, so runs are repeatable)."""
DEFAULT_MONTH = "2026-10"
DEFAULT_CLIENT = "C002"


def input_files(data_dir: str | Path) -> list[Path]:
    """The table files of a data folder that a report reads (for up-to-date checks)."""
    folder = Path(data_dir)
    return sorted(folder / f"{t}{ext}" for t in TABLES for ext in EXTENSIONS
                  if (folder / f"{t}{ext}").exists())


def files_digest(paths) -> str:
    """SHA-256 over the names and contents of ``paths``."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _attribute_problems(folder: Path, problems: pd.DataFrame) -> pd.DataFrame:
    """Add the ``client_id`` of the rejected row to each problem (blank when unknown).

    The problems table names file and line; the client is looked up in the raw file so that a
    client's report can show that client's rejected rows and nobody else's.
    """
    from ..data import read_raw

    out = problems.copy()
    out["client_id"] = ""
    for name in out["file"].dropna().unique():
        path = folder / str(name)
        if not path.exists():
            continue
        raw = read_raw(path, path.stem)
        if "client_id" not in raw.frame.columns:
            continue
        by_line = pd.Series(raw.frame["client_id"].astype(str).str.strip().to_numpy(),
                            index=raw.lines)
        sel = (out["file"] == name) & out["line"].notna()
        lines = out.loc[sel, "line"].astype(int)
        out.loc[sel, "client_id"] = by_line.reindex(lines.to_numpy()).fillna("").to_numpy()
    return out


def load_clinic(data_dir: str | Path | None = None, data_cache: str | Path | None = None,
                measures: str | Path | None = None, date_format: str | None = None) -> ClinicData:
    """The validated clinic for a report, with every problem attributed to its client.

    Parameters
    ----------
    data_dir : path, optional
        A data folder, read with ``load_data(..., errors="report")``: invalid rows are left
        out and listed in ``.problems`` (with a ``client_id`` column added).
    data_cache : path, optional
        A cache written by :func:`write_cache` (the batch validates once, then every report
        reads the cache). Takes precedence over ``data_dir``; the cache brings the measures
        registry it was validated with.
    measures : path, optional
        The service's measures file for ``data_dir`` (default: :func:`~progress_kit.measures_file`,
        i.e. ``$PROGRESS_KIT_MEASURES`` or the folder's own ``measures.toml``, if any).
    date_format : str, optional
        A ``strptime`` format for dates that are not ISO days (``"%d/%m/%Y"``), as in
        :func:`progress_kit.load_data`.

    With neither, the demo clinic :data:`DEMO` is generated in memory.

    The reports then use the wording of ``data_dir`` (its ``wording.toml``, if any; see
    :func:`~progress_kit.reports.wording.use_wording`), or the built-in wording without one.
    """
    from .wording import use_wording

    use_wording(data_dir=data_dir)
    if data_cache:
        if str(data_cache) in _PRELOADED:
            return _PRELOADED[str(data_cache)]
        from .files import read_cache_file

        return _unpack(read_cache_file(data_cache))  # checked (owner, mode, digest) first
    if data_dir is None:
        from ..demo import demo_data

        clinic = demo_data(**DEMO)
        clinic.problems = clinic.problems.assign(client_id=pd.Series(dtype=str))
        return clinic
    from ..measures import use_measures

    use_measures(data_dir, measures)  # the service's measures.toml (or --measures, via the environment)
    data = load_data(data_dir, errors="report", date_format=date_format)
    data.problems = _attribute_problems(Path(data_dir), data.problems)
    return data


_PRELOADED: dict[str, ClinicData] = {}


def preload_cache(data_cache: str | Path) -> None:
    """Keep a batch's cache in memory for :func:`load_clinic`.

    Only the fork server's zygotes call this: each report then runs in a forked child that
    gets a copy-on-write view of the cache, so no report can change what another one reads.
    """
    from .files import read_cache_file

    _PRELOADED[str(data_cache)] = _unpack(read_cache_file(data_cache))


def _unpack(payload) -> ClinicData:
    """The clinic from a cache, with the measures registry it was validated with made current:
    a service's own measures reach every report process (zygotes, kernels, Dask workers)."""
    from ..measures import restore_registry

    restore_registry(payload["measures"])
    return payload["clinic"]


def preload(data_cache: str | Path, clinic: ClinicData) -> None:
    """Let :func:`load_clinic` answer ``data_cache`` with ``clinic``, already in memory.

    For the command line's warm path (:func:`progress_kit.reports.engine.warm_here`): the
    command has validated the clinic (or read it from its private cache) before it renders, so
    the report it runs in its own process, or the ones it forks, take that very object.
    """
    _PRELOADED[str(data_cache)] = clinic


def write_cache(clinic: ClinicData, path: str | Path) -> Path:
    """Write a validated clinic for :func:`load_clinic`, privately (mode 0600) and atomically.

    The registry of measures goes with it (:func:`load_clinic` makes it current). The file is
    ``<stem of path>-<SHA-256>.pkl`` beside ``path`` (returned): :func:`load_clinic`
    unpickles it only after checking its owner, its mode, its folder's and that digest. The
    batch puts it in a private folder (mode 0700) of its own making.
    """
    from ..measures import registry_state
    from .files import make_folder, write_cache_file

    path = Path(path)
    payload = {"clinic": clinic, "measures": registry_state()}
    return write_cache_file(payload, make_folder(path.parent), path.stem)


def client_or_demo(client_id: str | None, data_dir=None, data_cache=None) -> str:
    """The client a notebook reports on: ``client_id``, or the demo's example client.

    The client notebook's parameter cell holds no client ID (every executed notebook keeps
    that cell, so a default ID would sit in every client's audit trail); only a run on the
    built-in demo clinic, with no data at all, falls back to :data:`DEFAULT_CLIENT`.

    Examples
    --------
    >>> client_or_demo(None), client_or_demo("00123", "/data")
    ('C002', '00123')
    """
    if client_id is not None:
        return client_id
    if data_dir is None and data_cache is None:
        return DEFAULT_CLIENT
    raise ValueError("set client_id: the notebook needs a client ID when it reads a data folder")


def last_full_month(today: pd.Timestamp | None = None) -> str:
    """``YYYY-MM`` of the last calendar month that has ended."""
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today)
    return (today.replace(day=1) - pd.Timedelta(days=1)).strftime("%Y-%m")


def clients_active_in(clinic: ClinicData, month: str) -> list[str]:
    """Clients with any observation or session dated in ``month``, sorted."""
    start, end = parse_month(month)
    ids = set()
    for frame in (clinic.observations, clinic.sessions):
        inside = (frame["date"] >= start) & (frame["date"] <= end)
        ids.update(frame.loc[inside, "client_id"].astype(str))
    return sorted(ids)


@dataclass
class ReportData:
    """One client's data up to the end of the report month (nobody else's rows)."""

    client_id: str
    month: str
    start: pd.Timestamp
    end: pd.Timestamp
    client: pd.Series | None
    observations: pd.DataFrame
    sessions: pd.DataFrame
    problems: pd.DataFrame
    questionnaires: list[str]
    diary: pd.DataFrame  # long diary rows (measure kind "diary")
    items: pd.DataFrame | None = None  # questionnaire item responses (issue 10), when the clinic has them
    # results several sections derive from this client's rows (the daily table: four sections)
    derived: dict = field(default_factory=dict, repr=False, compare=False)
    # episodes of care (issue 26): the rows above are the current episode's; ``episodes`` lists
    # every episode of the client up to the report's end (the clients table's rows, with
    # ``number``), ``history`` holds the questionnaire scores of all of them (for the long-term
    # chart); both None without an episode_id column
    episodes: pd.DataFrame | None = None
    history: pd.DataFrame | None = None

    @property
    def returning(self) -> bool:
        """True for a client in a second (or later) episode of care."""
        return self.episodes is not None and len(self.episodes) > 1

    @property
    def finished(self) -> bool:
        """True when the client's therapy ended on or before the report's last day."""
        c = self.client
        return c is not None and pd.notna(c["end_date"]) and c["end_date"] <= self.end


def client_data(clinic: ClinicData, client_id: str, month: str,
                as_of: pd.Timestamp | None = None, episode: str | None = None) -> ReportData:
    """Cut the clinic to one client and to the end of ``month``.

    With episodes of care (an ``episode_id`` column), the rows are the client's current
    episode's, the latest to start by the end of the month (or by ``as_of``, a day of a
    session-preparation sheet), or those of ``episode`` (the explorer's choice): a returning
    client's report is about the current episode. ``rd.episodes`` and ``rd.history`` keep
    every episode up to then, for the long-term chart.
    """
    from ..measures import get_measure

    if not isinstance(client_id, str):
        raise ValueError(f"client_id must be text, not {type(client_id).__name__} {client_id!r}")
    start, end = parse_month(month)
    index = _client_index(clinic)
    obs = _rows_until(clinic.observations, client_id, end, index, "observations")
    ses = _rows_until(clinic.sessions, client_id, end, index, "sessions")
    items = getattr(clinic, "items", None)
    if items is not None:
        items = _rows_until(items, client_id, end, index, "items")
    rows = _rows_until(clinic.clients, client_id, None, index, "clients")
    episodes = history = None
    if episode is not None and EPISODE not in clinic.clients.columns:
        raise ValueError(f"episode={episode!r}, but the clients table has no episode_id column")
    if EPISODE in clinic.clients.columns and EPISODE in obs.columns and len(rows):
        episodes = _episodes_until(rows, end if as_of is None else as_of)
        current = episodes[EPISODE].iloc[-1] if len(episodes) else None
        if episode is not None:
            if str(episode) not in set(episodes[EPISODE].astype(str)):
                raise ValueError(f"client_id {client_id!r} has no episode {episode!r} by "
                                 f"{month}; it has {episodes[EPISODE].astype(str).tolist()}")
            current = str(episode)
        history = obs
        obs, ses = obs[obs[EPISODE] == current], ses[ses[EPISODE] == current]
        if items is not None and EPISODE in items.columns:
            items = items[items[EPISODE] == current]
        rows = rows[rows[EPISODE] == current]
    probs = clinic.problems
    if "client_id" in probs.columns:
        probs = _rows_until(probs, client_id, None, index, "problems")
    else:
        probs = probs.iloc[0:0]
    kinds = {m: get_measure(m).kind for m in obs["measure"].unique()}
    is_diary = obs["measure"].map(kinds).eq("diary").to_numpy(dtype=bool) if len(obs) else \
        np.zeros(0, bool)
    quest = [m for m in ("PHQ-9", "GAD-7") if m in kinds] + sorted(
        m for m, k in kinds.items() if k != "diary" and m not in ("PHQ-9", "GAD-7"))
    if items is not None:
        items = items.reset_index(drop=True)
    if history is not None:
        scored = history["measure"].map(
            {m: get_measure(m).kind for m in history["measure"].unique()}).ne("diary")
        history = history[scored.to_numpy(dtype=bool)].reset_index(drop=True)
    return ReportData(client_id, month, start, end, rows.iloc[0] if len(rows) else None,
                      obs.reset_index(drop=True), ses.reset_index(drop=True),
                      probs.reset_index(drop=True), quest, obs[is_diary].reset_index(drop=True),
                      items, episodes=episodes, history=history)


def _client_index(clinic: ClinicData) -> dict | None:
    """The row index by client a batch's warm process made of ``clinic`` (one grouping per
    table for every client: :func:`~progress_kit.reports.sections.common.index_client_rows`),
    or None."""
    from .sections.common import client_rows

    return client_rows(clinic)


def _rows_until(frame: pd.DataFrame, client_id: str, end, index: dict | None,
                table: str) -> pd.DataFrame:
    """``frame``'s rows of ``client_id`` dated up to ``end`` (any date when None), in order and
    with their labels: taken by their positions in ``index`` when the batch made one (the same
    rows as the comparison over the whole table, without it)."""
    if index is None or table not in index:
        keep = frame["client_id"] == client_id
        return frame[keep & (frame["date"] <= end)] if end is not None else frame[keep]
    pos = index[table].get(client_id, np.zeros(0, np.intp))
    if end is None:
        return frame.take(pos)
    dates = frame["date"]
    if dates.dtype.kind != "M":  # what the comparison means for other dates is pandas' to say
        rows = frame.take(pos)
        return rows[rows["date"] <= end]
    return frame.take(pos[dates.to_numpy()[pos] <= np.datetime64(end)])


def _episodes_until(rows: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """A client's episodes (clients-table rows) that started by ``day``, in order, numbered;
    the first one when none had started yet (a score before the first episode belongs to it)."""
    rows = rows.sort_values("start_date", kind="stable", na_position="first")
    eps = rows[rows["start_date"].isna() | (rows["start_date"] <= day)]
    eps = eps if len(eps) else rows.head(1)
    return eps.assign(number=np.arange(1, len(eps) + 1)).reset_index(drop=True)


def parse_day(day: str) -> pd.Timestamp:
    """A ``YYYY-MM-DD`` date, strictly (a session-preparation sheet's date).

    Examples
    --------
    >>> parse_day("2026-10-20")
    Timestamp('2026-10-20 00:00:00')
    """
    if not isinstance(day, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise ValueError(f"date {day!r} is not a date in the form YYYY-MM-DD")
    try:
        return pd.Timestamp(day)
    except ValueError:
        raise ValueError(f"date {day!r} is not a calendar date") from None


def client_data_until(clinic: ClinicData, client_id: str, day: str) -> ReportData:
    """Cut the clinic to one client and to ``day`` (YYYY-MM-DD), for the session-preparation sheet.

    ``start`` is the day after the client's last attended session before ``day`` (so "since the
    last session" is ``start`` .. ``end``), or 14 days before ``day`` when there was none.
    """
    end = parse_day(day)
    rd = client_data(clinic, client_id, end.strftime("%Y-%m"), as_of=end)
    keep = {name: getattr(rd, name) for name in ("observations", "sessions", "diary", "items",
                                                  "history")}
    for name, frame in keep.items():
        if frame is not None:
            setattr(rd, name, frame[frame["date"] <= end].reset_index(drop=True))
    rd.end = end
    before = rd.sessions[rd.sessions["attended"] & (rd.sessions["date"] < end)]
    rd.start = (before["date"].max() + pd.Timedelta(days=1) if len(before)
                else end - pd.Timedelta(days=13))
    kinds = set(rd.observations["measure"])
    rd.questionnaires = [m for m in rd.questionnaires if m in kinds]
    return rd

