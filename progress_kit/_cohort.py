"""One factorisation and one sort per frame, shared by the cohort statistics (layer 2 helper).

``reliable_change``, ``slopes`` and ``talking_therapies_outcomes`` each need the rows' client
codes, and two of them need the rows ordered by client and time. On a national-scale table
(24 million rows) factorising the text IDs and sorting shuffled rows cost seconds each, and each
function used to pay them again, per measure. :func:`prepared` computes them once per frame and
keeps them while the frame lives and is unchanged:

* the frame is held by a weak reference, so the cache never keeps it alive;
* the entry also holds the subject and time columns it was computed from. Under pandas'
  copy-on-write, any later write into those columns (``df.loc[i, "client_id"] = ...``,
  assigning a new column, an in-place sort) then copies them, so the frame's column no longer
  shares memory with the held one and the entry is recomputed. A frame of another length, or
  with other columns under those names, never matches.

Only text (or other non-categorical) subject columns take this path; categorical IDs already
carry their codes. Results are identical to each function's plain path: the tests compare both
on shuffled rows.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_NAT = np.iinfo(np.int64).min
_MAX_ENTRIES = 4  # frames whose preparation is kept (each costs ~8 bytes per row)
_lock = threading.Lock()
_cache: OrderedDict[tuple[int, str, str], _Entry] = OrderedDict()
_enabled = True


@dataclass
class Prepared:
    """Client codes of every row (order of first appearance) and a (client, time) order.

    ``codes[i]`` indexes ``uniques`` (-1 where the subject is missing). ``order`` lists the rows
    with a time value, sorted by client code and then time (stable); ``None`` when the rows
    already are in that order. ``rank`` (lazy) is each unique's position in sorted order.
    """

    codes: np.ndarray
    uniques: pd.Index
    key: np.ndarray  # time as int64 (datetime64[ns] view) or float; NaT/NaN where missing
    present: np.ndarray | None  # rows with a time value; None when every row has one
    order: np.ndarray | None
    _rank: np.ndarray | None = field(default=None, repr=False)

    @property
    def rank(self) -> np.ndarray:
        if self._rank is None:
            perm = self.uniques.argsort()
            rank = np.empty(len(perm), dtype=np.int64)
            rank[perm] = np.arange(len(perm))
            self._rank = rank
        return self._rank

    def sorted_rows(self, mask: np.ndarray) -> np.ndarray:
        """Indices of the rows in ``mask`` (which must only hold rows with a time value),
        ordered by client and time."""
        if self.order is None:
            return np.flatnonzero(mask)
        return self.order[mask[self.order]]

    def subset_codes(self, mask: np.ndarray) -> tuple[np.ndarray, pd.Index]:
        """Codes of the clients in ``mask`` in their order of first appearance among those rows
        (as ``pd.factorize`` of the subset gives them), and a lookup from full to subset codes.

        Returns ``(sub_of, uniques)``: ``sub_of[code]`` is the subset code of a full code
        (-1 for clients absent from the subset).
        """
        present_codes = pd.unique(self.codes[mask])
        sub_of = np.full(len(self.uniques), -1, dtype=np.int64)
        sub_of[present_codes] = np.arange(len(present_codes))
        return sub_of, self.uniques[present_codes]

    def sorted_codes(self, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
        """Codes of ``rows`` in sorted-ID order, as ``pd.factorize(..., sort=True)`` gives them."""
        full = self.rank[self.codes[rows]]
        seen = np.bincount(full, minlength=len(self.uniques)) > 0
        remap = np.cumsum(seen) - 1
        perm = np.empty(len(self.uniques), dtype=np.int64)
        perm[self.rank] = np.arange(len(self.uniques))
        return remap[full], self.uniques[perm[seen]]


@dataclass
class _Entry:
    ref: weakref.ref
    columns: tuple[pd.Series, pd.Series]
    n_rows: int
    prepared: Prepared


def _same_memory(a: pd.Series, b: pd.Series) -> bool:
    """True when two Series views share their data buffer (same column, never written since)."""
    if len(a) != len(b) or a.dtype != b.dtype:
        return False
    va, vb = a.array, b.array
    if va is vb:  # extension arrays (text IDs): the same array object
        return True
    na = getattr(va, "_ndarray", None)
    nb = getattr(vb, "_ndarray", None)
    if not isinstance(na, np.ndarray) or not isinstance(nb, np.ndarray):
        return False
    return (na.__array_interface__["data"][0] == nb.__array_interface__["data"][0]
            and na.strides == nb.strides and na.dtype == nb.dtype)


def _time_key(t: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_datetime64_any_dtype(t):
        return t.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t):
        return t.to_numpy(dtype=float, na_value=np.nan)
    return None


def _prepare(frame: pd.DataFrame, subject: str, time: str) -> Prepared | None:
    from .change import _sort_order

    key = _time_key(frame[time])
    if key is None:
        return None
    codes, uniques = pd.factorize(frame[subject], sort=False)
    codes = codes.astype(np.int64, copy=False)
    present = key != _NAT if key.dtype.kind == "i" else ~np.isnan(key)
    rows = None
    if not present.all():
        rows = np.flatnonzero(present)
        c, k = codes[rows], key[rows]
    else:
        present = None
        c, k = codes, key
    order = _sort_order(c, k) if not (c < 0).any() else np.lexsort((k, c))
    if order is not None and rows is not None:
        order = rows[order]
    elif order is None and rows is not None:
        order = rows
    if order is not None and len(frame) < 2**31:
        order = order.astype(np.int32)
    return Prepared(codes=codes, uniques=pd.Index(uniques), key=key, present=present, order=order)


def prepared(frame, subject: str, time: str) -> Prepared | None:
    """The shared codes and order for ``frame``'s ``subject`` and ``time`` columns, or None when
    the plain path applies (not a pandas DataFrame, a categorical subject, a time column that is
    neither numeric nor dates)."""
    if not _enabled:
        return None
    if not isinstance(frame, pd.DataFrame) or subject not in frame.columns or time not in frame.columns:
        return None
    if not frame.columns.is_unique:
        return None
    subj, tcol = frame[subject], frame[time]
    if isinstance(subj.dtype, pd.CategoricalDtype) or len(frame) < 2:
        return None
    cache_key = (id(frame), subject, time)
    with _lock:
        entry = _cache.get(cache_key)
        if entry is not None and entry.ref() is frame and entry.n_rows == len(frame) and \
                _same_memory(entry.columns[0], subj) and _same_memory(entry.columns[1], tcol):
            _cache.move_to_end(cache_key)
            return entry.prepared
    prep = _prepare(frame, subject, time)
    if prep is None:
        return None

    def _drop(_ref, k=cache_key):
        with _lock:
            e = _cache.get(k)
            if e is not None and e.ref is _ref:
                del _cache[k]

    with _lock:
        _cache[cache_key] = _Entry(weakref.ref(frame, _drop), (subj, tcol), len(frame), prep)
        while len(_cache) > _MAX_ENTRIES:
            _cache.popitem(last=False)
    return prep


@contextmanager
def plain_path():
    """Within this block every cohort function takes its plain path (for tests and benchmarks)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def clear() -> None:
    """Forget every prepared frame (frees their codes and orders)."""
    with _lock:
        _cache.clear()
