"""Read the kit's tables from any SQL database SQLAlchemy can reach (SQLite, PostgreSQL ...).

See :func:`load_sql` and ``docs/ingest.md``. ``pk.load_data(url)`` (:mod:`progress_kit.sources`)
comes here for any URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..data import (
    EPISODE,
    apply_episodes,
    assign_episodes,
    read_clients,
    read_items,
    read_observations,
    read_sessions,
    reconcile_items,
    report_or_raise,
    unknown_clients,
)
from ..errors import DataValidationError
from ._common import (
    Errors,
    empty_items,
    empty_sessions,
    finish,
    kept_rows,
    problem,
    stub_clients,
)

__all__ = ["load_sql"]

ROLES = ("observations", "clients", "sessions", "items")


def _engine(url: str):
    """The engine for ``url`` and the URL as shown in messages (never with its password)."""
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("reading a database needs SQLAlchemy and a driver: "
                          "pip install 'progress-kit[sql]'") from exc
    try:
        parsed = sqlalchemy.engine.make_url(url)
        shown = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_read_only(sqlalchemy, parsed), shown
        return sqlalchemy.create_engine(parsed), shown
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise ValueError(f"not a usable SQLAlchemy URL ({exc})") from None


def _sqlite_read_only(sqlalchemy, url):
    """An engine on an existing SQLite file, opened read-only.

    SQLite creates a missing file on connect, so ``sqlite:///typo.db`` would read an empty new
    database and leave the file behind. The kit only reads: the file must exist, and it is
    opened with ``mode=ro``, so nothing is ever created or changed.
    """
    import sqlite3
    from urllib.parse import quote

    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return sqlalchemy.create_engine(url)  # an in-memory or URI database, as given
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        what = "is a folder, not a database file" if path.is_dir() else "does not exist"
        raise ValueError(f"{url.render_as_string(hide_password=True)}: the database file {path} "
                         f"{what}; nothing was created")
    uri = f"file:{quote(str(path))}?mode=ro"
    return sqlalchemy.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def load_sql(url: str, *, tables: dict[str, str] | None = None,
             query: str | dict[str, str] | None = None, episode: str | None = None,
             errors: Errors = "raise", today: dt.date | None = None):
    """Read and validate the kit's tables from a database.

    Parameters
    ----------
    url : str
        Any SQLAlchemy URL: ``sqlite:///clinic.db``, ``postgresql+psycopg://user@host/db`` ...
        A password in the URL never appears in messages.
    tables : dict, optional
        Table names to read for each role, e.g. ``{"observations": "phq_scores"}``. Defaults are
        the role names: ``observations`` (required), ``clients``, ``sessions`` and ``items``
        (optional: without ``clients`` each client seen gets a stub row; without ``sessions`` the
        table is empty).
    query : str or dict, optional
        SQL giving a role's rows instead of a table: a string for ``observations``, or a dict by
        role. The result needs the same columns as the table (see ``docs/data-format.md``).
    episode : str, optional
        The column holding the episode of care (a referral number, say) where it is not called
        ``episode_id``: ``episode="referral_no"``. The clients table (or query) must have it,
        one row per client and episode with the episode's dates; observations, sessions and
        items may have it too. Every row then gets its episode as in a data folder
        (``docs/data-format.md``): a row between two episodes, or whose own episode disagrees
        with its date, is an error naming the table, result row, this column and the value.
    errors, today
        As in :func:`progress_kit.load_data`.

    Returns
    -------
    ImportedData
        Validated ``observations``, ``clients``, ``sessions``, ``items`` and ``problems``. A
        problem's ``line`` is the row number of the query result (1 = first row), and its
        message says so: there is no file line in a database.

    Examples
    --------
    >>> import sqlite3, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "clinic.db")
    ...     with sqlite3.connect(path) as con:
    ...         _ = con.execute("CREATE TABLE observations (client_id TEXT, date TEXT, measure TEXT,"
    ...                         " score REAL)")
    ...         _ = con.execute("INSERT INTO observations VALUES ('00123', '2024-01-08', 'PHQ-9', 18)")
    ...     data = load_sql(f"sqlite:///{path}")
    >>> data.observations
      client_id       date measure  score
    0     00123 2024-01-08   PHQ-9   18.0
    """
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    names = {role: role for role in ROLES} | dict(tables or {})
    queries = {"observations": query} if isinstance(query, str) else dict(query or {})
    unknown = (set(names) | set(queries)) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown table role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")
    engine, shown = _engine(url)
    import sqlalchemy

    frames, where = {}, {}
    try:
        with engine.connect() as con:
            present = set(sqlalchemy.inspect(con).get_table_names())
            for role in ROLES:
                if role in queries:
                    frames[role] = pd.read_sql_query(sqlalchemy.text(queries[role]), con)
                    where[role] = f"{shown} query for {role}"
                elif names[role] in present:
                    frames[role] = pd.read_sql_table(names[role], con)
                    where[role] = f"{shown} table {names[role]}"
                elif role == "observations":
                    raise ValueError(f"{shown}: no table {names[role]!r} (tables are "
                                     f"{', '.join(sorted(present)) or 'none'}); pass tables= or query=")
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise ValueError(f"{shown}: {type(exc).__name__}: {exc.args[0] if exc.args else exc}") from None
    finally:
        engine.dispose()
    if episode is not None:
        frames = _episode_column(frames, where, episode)
    found = _validate(frames, where, errors if episode is None else "report", today)
    if episode is None:
        return found
    return _renamed_episode(found, episode, errors)


def _episode_column(frames: dict[str, pd.DataFrame], where: dict[str, str], column: str
                    ) -> dict[str, pd.DataFrame]:
    """Each frame's ``column`` as ``episode_id``; the clients must have it (their rows give the
    episodes' dates)."""
    if not isinstance(column, str) or not column.strip():
        raise ValueError(f"episode= must name a column, not {column!r}")
    out = {}
    for role, frame in frames.items():
        if column != EPISODE and column in frame and EPISODE in frame:
            raise ValueError(f"{where[role]}: has both {column!r} (named by episode=) and "
                             f"{EPISODE!r}; keep one")
        out[role] = frame.rename(columns={column: EPISODE})
    if "clients" not in frames or column not in frames["clients"]:
        has = "no clients table" if "clients" not in frames else \
            f"no column {column!r} in {where['clients']} (columns are " \
            f"{', '.join(map(str, frames['clients'].columns))})"
        raise ValueError(f"episode={column!r}: {has}; the clients table gives each episode its "
                         "start_date and end_date, one row per client and episode")
    return out


def _renamed_episode(data, column: str, errors: Errors):
    """Problems that name ``episode_id`` name the source's own column instead; then raise as
    :func:`finish` does."""
    problems = data.problems
    if len(problems):
        problems.loc[problems["column"] == EPISODE, "column"] = column
        problems["reason"] = problems["reason"].str.replace(f"{EPISODE} ", f"{column} ",
                                                            regex=False)
    if errors == "raise":
        if len(problems) and (problems["severity"] == "error").any():
            raise DataValidationError(problems)
        report_or_raise(data.observations, problems, "raise")
    return data


def _validate(frames: dict[str, pd.DataFrame], where: dict[str, str], errors: Errors,
              today: dt.date | None):
    """The same checks as :func:`progress_kit.load_data`, with result rows for file lines."""
    problems: list[dict] = []
    readers: dict[str, Callable] = {"observations": read_observations, "clients": read_clients,
                                    "sessions": read_sessions, "items": read_items}
    out, rows = {}, {}
    for role, reader in readers.items():
        if role not in frames:
            continue
        frame = frames[role].reset_index(drop=True)
        valid, found = reader(frame, errors="report", today=today)
        problems.extend(_as_result_rows(found, where[role]))
        out[role] = valid
        rows[role] = kept_rows(frame, found)
    if "clients" in out:
        known = set(out["clients"]["client_id"])
        for role in ("observations", "sessions", "items"):
            if role in out:
                unknown, found = unknown_clients(out[role], rows[role], where[role], known)
                problems.extend(_with_row(found))
                out[role] = out[role][~unknown].reset_index(drop=True)
                rows[role] = rows[role][~unknown]
    if "clients" in out and EPISODE in out["clients"]:  # episodes of care, from the dates
        # the clients source without the URL, which the problem's own file column already gives
        named = where["clients"].rsplit(" table ", 1)
        clients_where = f"table {named[1]}" if len(named) == 2 else "the clients query"
        for role in ("observations", "sessions", "items"):
            if role in out:
                out[role], rows[role], found = apply_episodes(
                    out[role], rows[role], where[role], out["clients"], rows["clients"],
                    clients_where, row_word="result row")
                problems.extend(_with_row(found))
        out["clients"].attrs.pop("rejected_episodes", None)
    observations, items = out["observations"], out.get("items", empty_items())
    if len(items):
        observations, items, found = reconcile_items(
            observations, rows["observations"], where["observations"], items, rows["items"],
            where["items"])
        problems.extend(_with_row(found))
        if EPISODE in observations and observations[EPISODE].isna().any():  # derived totals
            observations[EPISODE] = observations[EPISODE].fillna(
                assign_episodes(observations, out["clients"]))
    return finish(observations, items, problems, pd.DataFrame(columns=["source", "what", "count"]),
                  errors, clients=out.get("clients", stub_clients(observations)),
                  sessions=out.get("sessions", empty_sessions()))


def _with_row(found: list[dict]) -> list[dict]:
    for p in found:
        if p.get("line") is not None and pd.notna(p["line"]):
            p["reason"] = f"result row {int(p['line'])}: {p['reason']}"
    return found


def _as_result_rows(found: pd.DataFrame, where: str) -> list[dict]:
    """A DataFrame reader counts the header as line 1; a query result has no header line."""
    out = []
    for rec in found.to_dict("records"):
        row = int(rec["line"]) - 1 if pd.notna(rec["line"]) else None
        reason = f"result row {row}: {rec['reason']}" if row is not None else rec["reason"]
        out.append(problem(where, row, rec["column"], rec["value"], reason, rec["severity"]))
    return out
