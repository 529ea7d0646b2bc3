"""Pick the reader for a data source: a data folder or a database URL.

This sits above :mod:`progress_kit.data` (the folder reader and the validation every reader
shares) and :mod:`progress_kit.ingest` (other sources), so neither imports the other back: data
knows nothing of databases, and ingest builds on data's public validation API.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from . import data as _data
from .data import ClinicData, is_url

__all__ = ["load_data"]


def load_data(source: str | Path, *, errors: Literal["raise", "report"] = "raise",
              today: dt.date | None = None, date_format: str | None = None,
              tables: dict[str, str] | None = None,
              query: str | dict[str, str] | None = None,
              episode: str | None = None) -> ClinicData:
    """Read and validate a data folder or a database: observations, clients, sessions, items.

    A folder is read by :func:`progress_kit.data.load_data`; a SQLAlchemy URL
    (``sqlite:///clinic.db``, ``postgresql+psycopg://...``) by :func:`progress_kit.load_sql`.
    Both apply the same checks. Besides each table's own checks, observations, sessions and
    items must refer to clients in the clients table (an ID that lost its leading zeros gets a
    hint). Where items and an observed total share a client, date and measure, the total must
    equal what :func:`score_items` gives (the item sum, or the prorated total under the
    registry's missing-item rule); a disagreement is an error on the total's line and on each
    item's line. Where only items exist, the total is derived with :func:`score_items` and
    added to the observations with ``derived`` true.

    Parameters
    ----------
    source : str or Path
        A folder holding ``observations``, ``clients`` and ``sessions`` and, optionally,
        ``items`` as ``.csv``, ``.parquet`` or ``.xlsx`` (one format per table); or a database
        URL.
    errors : {"raise", "report"}
        ``"raise"`` (default) raises one :class:`DataValidationError` listing every problem in
        every table; ``"report"`` returns the valid rows with all problems in ``.problems``.
    today : date, optional
        Dates after this day are problems (default: today).
    date_format : str, optional
        Folders only: a ``strptime`` format for dates that are not ISO days, for every table.
    tables, query, episode
        Database URLs only: other table names (``{"observations": "phq_scores", ...}``), SQL
        queries per table, and the column holding the episode of care where it is not called
        ``episode_id`` (``episode="referral_no"``), as in :func:`progress_kit.load_sql`.

    Returns
    -------
    ClinicData
        With ``.observations``, ``.clients``, ``.sessions``, ``.items`` (empty, with its
        columns, when there is no items table) and ``.problems``; it also unpacks as
        ``obs, clients, sessions = load_data(folder)``. With items, ``observations`` has a
        boolean ``derived`` column (true for totals derived from items).

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
    if is_url(source):
        if date_format is not None:
            raise ValueError("date_format= applies to a data folder; a database has typed dates")
        from .ingest.sql import load_sql

        return load_sql(str(source), tables=tables, query=query, episode=episode, errors=errors,
                        today=today)
    if episode is not None:
        raise ValueError("episode= applies to a database URL; a data folder's tables name the "
                         f"episode in an episode_id column ({source})")
    if tables is not None or query is not None:
        raise ValueError("tables= and query= apply to a database URL, not to a data folder "
                         f"({source})")
    return _data.load_data(source, errors=errors, today=today, date_format=date_format)
