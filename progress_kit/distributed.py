"""Dask support for the cohort functions: the same results, without collecting the data.

``slopes``, ``reliable_change``, ``clinical_significance`` and ``talking_therapies_outcomes``
accept a ``dask.dataframe.DataFrame`` wherever they take a pandas one. Two strategies keep the raw
rows on the workers; only one small row per client comes back to the calling process:

* **Partial sums** (slopes): every partition reduces its rows to per-client sums
  (n, Σt, Σy, Σt², Σty, Σy²; :func:`progress_kit.slope_sums`); the sums are added per client
  across partitions with a distributed ``groupby().sum()``, and the slope and its CI are derived
  from the totals. Sums are exact to floating-point rounding (relative error below 1e-12 here).
* **Per-client partitions** (reliable change, Talking Therapies outcomes): the rows are shuffled
  by client so that every client's rows (and sessions, and client record) share one partition;
  the in-memory function then runs on each partition and returns one row per client. A client's
  first and last score, or whether they finished, never depends on rows in another partition,
  so the result is identical to the pandas path. The cohort-level statistics that JT and the
  cut-offs need (mean and SD of the complete-case pre scores) are then computed on those
  per-client rows.

**Data partitioned by client on disk** (ten million clients, docs/scaling.md): a table written
by :func:`write_parquet_by_client` keeps each client's rows in one row group, row groups in client
order. :func:`read_parquet_by_client` reads it with one partition per row group and the client ID
as a sorted index with known divisions, so every partition already holds whole clients: the
per-client strategy then skips the shuffle, and every function streams the file a row group at a
time through the same in-memory kernels (partial sums for the slopes).

Dask is an optional extra: ``pip install "progress-kit[dask]"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

# this module sits above the statistics modules: it imports them, and they reach it only
# through the registry in ``_dask`` (see that module), so the imports go one way
from ._dask import is_dask_collection, register
from .change import pre_post as pre_post_pandas
from .outcomes import talking_therapies_outcomes as outcomes_pandas
from .trajectories import (
    _check_rule,
    _resolve_better,
    _time_range,
    slope_sums,
    slopes_from_sums,
)
from .trajectories import slopes as slopes_pandas

__all__ = ["is_dask_collection", "write_parquet_by_client", "read_parquet_by_client"]


def _to_dask(frame: Any, npartitions: int):
    import dask.dataframe as dd

    return frame if is_dask_collection(frame) else dd.from_pandas(frame, npartitions=npartitions)


def per_client_partitions(fn: Callable[..., pd.DataFrame], frames: list[Any], *,
                          partition_on: str = "client_id", **kwargs: Any) -> list[pd.DataFrame]:
    """Run ``fn`` on partitions that each hold every row of their clients, in all ``frames``.

    ``frames`` are dask (or pandas) DataFrames sharing the ``partition_on`` column; ``None``
    entries are passed through as ``None``. All are hash-partitioned on it into the same number
    of partitions, so partition *i* of each frame holds the same clients. ``fn(*parts, **kwargs)``
    is called once per partition that has rows; its results come back as a list.
    """
    import dask

    present = [f for f in frames if f is not None]
    if _whole_clients(present, partition_on):
        # partitioned by client already (read_parquet_by_client): no shuffle, one task per part
        n = present[0].npartitions
        parts = [None if f is None else f.to_delayed() for f in frames]
        run = dask.delayed(_on_columns(fn, partition_on))
    else:
        n = max(f.npartitions for f in present if is_dask_collection(f))
        parts = [None if f is None else
                 _to_dask(f, n).shuffle(on=partition_on, npartitions=n).to_delayed() for f in frames]
        run = dask.delayed(fn)
    tasks = [run(*[None if s is None else s[i] for s in parts], **kwargs) for i in range(n)]
    return [r for r in dask.compute(*tasks) if r is not None]


def _whole_clients(frames: list[Any], on: str) -> bool:
    """True when every frame is a dask frame indexed by ``on`` with the same known divisions:
    then partition *i* of each holds whole clients, and the same ones."""
    if not all(is_dask_collection(f) and f.index.name == on and f.known_divisions for f in frames):
        return False
    return all(tuple(f.divisions) == tuple(frames[0].divisions) for f in frames)


def _on_columns(fn: Callable[..., Any], on: str) -> Callable[..., Any]:
    """``fn`` on partitions whose client index is turned back into the ``on`` column."""
    def run(*parts: Any, **kwargs: Any) -> Any:
        return fn(*[p.reset_index() if p is not None and p.index.name == on else p
                    for p in parts], **kwargs)

    return run


def write_parquet_by_client(frame: pd.DataFrame, path: str, *, subject: str = "client_id",
                            clients_per_group: int = 50_000, append: bool = False) -> None:
    """Write ``frame`` to the Parquet file ``path`` in client order, whole clients per row group.

    For :func:`read_parquet_by_client`: each row group holds the rows of ``clients_per_group``
    clients (none split across groups), so each can be processed on its own. Rows are sorted by
    ``subject`` (stable: a client's rows keep their order). With ``append``, ``frame`` must hold
    clients that sort after those already written; call it with one open
    ``pyarrow.parquet.ParquetWriter`` path per file, or write one file per chunk of clients.
    A folder of such files, in client order, reads as one table.

    Examples
    --------
    >>> import tempfile, os, pandas as pd
    >>> obs = pd.DataFrame({"client_id": ["b", "a", "c", "a", "b"],
    ...                     "date": pd.to_datetime(["2026-01-05"] * 5),
    ...                     "measure": "PHQ-9", "score": [10.0, 12, 9, 11, 8]})
    >>> path = os.path.join(tempfile.mkdtemp(), "obs.parquet")
    >>> write_parquet_by_client(obs, path, clients_per_group=2)
    >>> import pyarrow.parquet as pq
    >>> [pq.ParquetFile(path).metadata.row_group(i).num_rows for i in range(2)]  # a, a, b, b | c
    [4, 1]
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if subject not in frame.columns:
        raise ValueError(f"write_parquet_by_client: no {subject!r} column")
    if clients_per_group < 1:
        raise ValueError("clients_per_group must be at least 1")
    frame = frame.sort_values(subject, kind="stable", ignore_index=True)
    ids = frame[subject].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([0])
    cuts = [*starts[::clients_per_group][1:], len(frame)]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pq.ParquetWriter(path, table.schema) as writer:
        lo = 0
        for hi in cuts:
            writer.write_table(table.slice(lo, hi - lo), row_group_size=max(1, hi - lo))
            lo = hi


def read_parquet_by_client(path: str, *, subject: str = "client_id", columns: list[str] | None = None):
    """A dask DataFrame of Parquet data written by :func:`write_parquet_by_client`: one
    partition per row group, indexed by ``subject`` with known divisions.

    Raises ValueError when the row groups overlap in clients (the data were not written in
    client order, whole clients per row group): then use ``dd.read_parquet``, and the functions
    shuffle by client instead.

    Examples
    --------
    >>> import tempfile, os, pandas as pd
    >>> obs = pd.DataFrame({"client_id": ["b", "a", "c", "a", "b"],
    ...                     "date": pd.to_datetime(["2026-01-05"] * 5),
    ...                     "measure": "PHQ-9", "score": [10.0, 12, 9, 11, 8]})
    >>> path = os.path.join(tempfile.mkdtemp(), "obs.parquet")
    >>> write_parquet_by_client(obs, path, clients_per_group=2)
    >>> ddf = read_parquet_by_client(path)
    >>> ddf.npartitions, ddf.divisions
    (2, ('a', 'c', 'c'))
    """
    import dask.dataframe as dd

    ddf = dd.read_parquet(path, columns=columns, index=subject, calculate_divisions=True,
                          split_row_groups=True)
    if not ddf.known_divisions:
        raise ValueError(f"{path}: the row groups are not in client order with whole clients "
                         f"each (write them with write_parquet_by_client)")
    return ddf


@register("slopes")
def slopes(ddf: Any, *, subject: str, time: str, value: str, measure: str | None, per: str,
           better: str | None, alpha: float, min_change: float | None = None,
           min_points: int = 3) -> pd.DataFrame:
    """OLS slopes from per-partition sums added per client (see the module docstring); the
    time span for the trend rule combines by min and max. Data partitioned by client
    (:func:`read_parquet_by_client`) go through the pandas function per partition instead:
    each client's sums then come from one partition, bit for bit the in-memory result."""
    if _whole_clients([ddf], subject):
        kwargs = dict(subject=subject, time=time, value=value, measure=measure, per=per,
                      better=better, alpha=alpha, min_change=min_change, min_points=min_points)
        parts = per_client_partitions(_skip_empty(slopes_pandas), [ddf], partition_on=subject,
                                      **kwargs)
        if not parts:
            return slopes_pandas(ddf._meta.reset_index(), **kwargs)
        attrs = dict(parts[0].attrs)
        out = _concat(parts)
        out.attrs = attrs
        return out
    better = _resolve_better(better, measure)
    min_change, min_points = _check_rule(min_change, min_points, measure)
    ids = ddf.index if ddf.index.name == subject else ddf[subject]
    meta = _empty_sums(subject, ids.dtype, span=True)
    parts = ddf.map_partitions(_partition_sums, subject=subject, time=time, value=value,
                               measure=measure, per=per, span=True, meta=meta)
    how = {c: "sum" for c in _SUMS} | {"t_min": "min", "t_max": "max"}
    total = parts.groupby(parts.index).agg(how).compute()
    total.index.name = subject
    total["span"] = total.pop("t_max") - total.pop("t_min")
    return slopes_from_sums(total.sort_index(), alpha=alpha, better=better,
                            min_change=min_change, min_points=min_points)


def _partition_sums(part: pd.DataFrame, *, span: bool = False, **kwargs: Any) -> pd.DataFrame:
    if part.index.name == kwargs["subject"]:  # read_parquet_by_client: the client ID is the index
        part = part.reset_index()
    if kwargs["measure"] is not None:
        part = part[part["measure"] == kwargs["measure"]]
    if part.empty:
        return _empty_sums(kwargs["subject"], part[kwargs["subject"]].dtype, span=span)
    sums = slope_sums(part, **kwargs).astype(float)
    if span:
        sums = sums.join(_time_range(part, **kwargs))
    return sums


_SUMS = ["n", "sum_t", "sum_y", "sum_tt", "sum_ty", "sum_yy"]


def _empty_sums(subject: str, dtype: Any, span: bool = False) -> pd.DataFrame:
    """No clients: the shape of :func:`progress_kit.slope_sums` output (also dask's ``meta``),
    with ``t_min`` and ``t_max`` when ``span``."""
    cols = _SUMS + (["t_min", "t_max"] if span else [])
    return pd.DataFrame({c: pd.Series(dtype=float) for c in cols},
                        index=pd.Index([], name=subject, dtype=dtype))


@register("pre_post")
def pre_post(ddf: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`progress_kit.pre_post` per client partition, concatenated with merged ``attrs``."""
    measure = kwargs.get("measure")
    if measure is not None:
        ddf = ddf[ddf["measure"] == measure]
    parts = per_client_partitions(_skip_empty(pre_post_pandas), [ddf],
                                  partition_on=kwargs.get("subject", "client_id"), **kwargs)
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError(f"no rows{f' for measure {measure!r}' if measure else ''} in the data")
    attrs = [p.attrs for p in parts]
    wide = _concat(parts)
    excluded = [a["excluded"] for a in attrs if len(a.get("excluded", ()))]
    wide.attrs = dict(attrs[0])
    wide.attrs["excluded"] = (pd.concat(excluded, ignore_index=True).sort_values(
        kwargs.get("subject", "client_id"), ignore_index=True) if excluded
        else attrs[0]["excluded"].iloc[:0])
    return wide


def _skip_empty(fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame | None]:
    def wrapped(part: pd.DataFrame, **kwargs: Any) -> pd.DataFrame | None:
        return None if part.empty else fn(part, **kwargs)

    return wrapped


@register("talking_therapies_outcomes")
def talking_therapies_outcomes(observations: Any, sessions: Any, clients: Any,
                               **kwargs: Any) -> pd.DataFrame:
    """Talking Therapies outcomes per client partition (see the module docstring)."""
    def run(obs: pd.DataFrame, sess: pd.DataFrame | None, cli: pd.DataFrame | None):
        if obs.empty and (sess is None or sess.empty) and (cli is None or cli.empty):
            return None
        return outcomes_pandas(obs, sess, clients=cli, **kwargs)

    parts = per_client_partitions(run, [observations, sessions, clients])
    attrs = dict(parts[0].attrs) if parts else {}
    out = _concat(parts)
    out.attrs = attrs
    return out


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-partition results in client order; attrs are merged by the caller
    (pandas would compare them, and they may hold DataFrames)."""
    for p in parts:
        p.attrs = {}
    return pd.concat(parts).sort_index()
