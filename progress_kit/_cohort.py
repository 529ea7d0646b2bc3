"""One sort per frame, shared by the cohort statistics (layer 2 helper).

``reliable_change``, ``slopes`` and ``talking_therapies_outcomes`` each need the rows' client
codes and the rows ordered by client and time. On a national-scale table (24 million shuffled
rows) a hash factorisation of the text IDs costs about 10 s and an argsort about 6 s, and each
function used to pay them again, per measure. :func:`prepared` instead turns the IDs into
order-preserving integer keys, packs key, time, measure and row number into one int64 per row
and sorts those as values (several times faster than an argsort, and stable): the sorted array
is both the factorisation (a new key starts a new client, in sorted-ID order) and the order.
Scores are then read in that order once (:meth:`Prepared.sorted_column`), so every statistic
works on contiguous arrays. See docs/performance.md for the measurements.

The preparation is kept while the frame lives and is unchanged:

* the frame is held by a weak reference, so the cache never keeps it alive;
* the entry also holds the subject, time and measure columns it was computed from (and each
  kept column the column it was read from). Under pandas' copy-on-write, any later write into
  those columns (``df.loc[i, "client_id"] = ...``, assigning a new column, an in-place sort)
  then copies them, so the frame's column no longer shares memory with the held one and the
  entry is recomputed. A frame of another length, or with other columns under those names,
  never matches. Without copy-on-write (pandas 2 with the option off) a write goes into the
  held memory itself, so nothing is kept: every call prepares afresh (:func:`copy_on_write`).

Text, integer and categorical subject columns take this path (a categorical's codes are its
keys); missing IDs, time-zone-aware or fractional times and keys wider than 63 bits take each
function's plain path. Results are identical to the plain path: the tests compare both.
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
_MAX_ENTRIES = 4  # frames whose preparation is kept (8 bytes per row, 16 with scores)
_lock = threading.Lock()
_cache: OrderedDict[tuple[int, str, str], _Entry] = OrderedDict()
_enabled = True


@dataclass
class Prepared:
    """Every row of a frame ordered by (client, time, row), packed into one sorted int64 array.

    ``packed[i] = (code + 1) << (tbits + mbits + rbits) | time_offset << (mbits + rbits)
    | (measure + 1) << rbits | row`` where ``code`` indexes ``uniques`` (the IDs in sorted
    order, as ``pd.factorize(..., sort=True)`` numbers them), the time offset is 0 for a missing
    time, else ``1 + (time - t0) / unit``, and ``measure`` indexes ``mcats`` (the frame's
    ``measure`` column, when it has one; 0 where missing). Other columns are read in this order
    once and kept (:meth:`sorted_column`), so each statistic then works on contiguous arrays
    and never gathers at random positions again.
    """

    uniques: pd.Index
    packed: np.ndarray = field(repr=False)
    tbits: int
    rbits: int
    t0: int | float
    unit: int
    float_time: bool
    missing_time: bool
    mbits: int = 0
    mcats: pd.Index | None = None
    categorical: bool = False  # categorical IDs: uniques is a CategoricalIndex
    _columns: dict = field(default_factory=dict, repr=False)

    def decode(self, sel: np.ndarray | None = None, rows: bool = True):
        """``(rows, codes, time_offsets)`` of the selected positions (a boolean array in this
        order; all rows when None), in (client, time, row) order; ``rows`` is None unless
        asked for."""
        p = self.packed if sel is None else self.packed[sel]
        toff = p >> (self.rbits + self.mbits)
        codes = toff >> self.tbits
        codes -= 1
        toff &= (1 << self.tbits) - 1
        if rows:
            p = p & ((1 << self.rbits) - 1) if sel is None else np.bitwise_and(
                p, (1 << self.rbits) - 1, out=p)
        return (p if rows else None), codes, toff

    def time_offsets(self) -> np.ndarray:
        """Time offset of every position (0: no time)."""
        out = self.packed >> (self.rbits + self.mbits)
        out &= (1 << self.tbits) - 1
        return out

    def measure_codes(self) -> np.ndarray:
        """Index into ``mcats`` of every position's measure (-1: missing), as int16."""
        out = np.empty(len(self.packed), dtype=np.int16 if self.mbits < 15 else np.int64)
        for b in _blocks(len(out)):
            block = self.packed[b] >> self.rbits
            block &= (1 << self.mbits) - 1
            block -= 1
            out[b] = block
        return out

    def times(self, offsets: np.ndarray) -> np.ndarray:
        """Time values (int64 nanoseconds, or float) of time offsets (none of them 0)."""
        if self.float_time:
            out = offsets.astype(float)
            out += self.t0 - 1
            return out
        out = offsets * self.unit
        out += self.t0 - self.unit
        return out

    def sorted_column(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        """``frame[name]`` as floats in this order, read once and kept while the column is
        unchanged (the same memory check as for the subject and time columns)."""
        col = frame[name]
        held = self._columns.get(("values", name))
        if held is None or not _same_memory(held[0], col):
            values = col.to_numpy(dtype=float, na_value=np.nan)
            out = np.empty(len(values))
            for b in _blocks(len(out)):
                out[b] = values[self.packed[b] & ((1 << self.rbits) - 1)]
            held = (col, out)
            self._columns[("values", name)] = held
        return held[1]

    def measure_mask(self, value: object) -> np.ndarray:
        """Boolean array in this order: the frame's ``measure`` equals ``value`` (the measure is
        packed with the order, so this is a sequential decode)."""
        hit = -1 if self.mcats is None else self.mcats.get_indexer([value])[0]
        if hit < 0:
            return np.zeros(len(self.packed), dtype=bool)
        out = np.empty(len(self.packed), dtype=bool)
        mask, want = (1 << self.mbits) - 1, hit + 1
        for b in _blocks(len(out)):
            block = self.packed[b] >> self.rbits
            block &= mask
            np.equal(block, want, out=out[b])
        return out

    def sorted_numbers(self, codes: np.ndarray) -> tuple[np.ndarray, pd.Index]:
        """Per row, the client numbered in sorted-ID order among these rows only (as
        ``pd.factorize(..., sort=True)`` of those rows numbers them), and those clients.
        ``codes`` come from :meth:`decode` (sorted)."""
        new = _runs(codes)
        return np.cumsum(new, dtype=np.int64) - 1, self.uniques[codes[new]]

    def first_appearance(self, rows: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, pd.Index]:
        """Per row, the client numbered by order of first appearance among ``rows`` (as
        ``pd.factorize`` of those rows numbers them), and those clients.

        ``rows`` and ``codes`` come from :meth:`decode` (grouped by client)."""
        if not len(rows):
            return np.zeros(0, dtype=np.int64), self.uniques[:0]
        starts = np.flatnonzero(_runs(codes))
        # the first rows are distinct: a values sort carrying the run number is the argsort
        bits = max(1, (len(starts) - 1).bit_length())
        order = _packed_sort(np.minimum.reduceat(rows, starts), 0, None, bits)
        order &= (1 << bits) - 1
        number = np.empty(len(starts), dtype=np.int32 if len(starts) < 2**31 else np.int64)
        number[order] = np.arange(len(starts))
        per_row = np.repeat(number, np.diff(np.append(starts, len(rows))))
        return per_row, self.uniques[codes[starts][order]]


@dataclass
class _Entry:
    ref: weakref.ref
    columns: tuple[tuple[str, pd.Series], ...]
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


def copy_on_write() -> bool:
    """True when pandas copies a column on write (always from pandas 3; on pandas 2 only with
    ``pd.options.mode.copy_on_write = True``). Only then can :func:`unchanged` tell a written
    column from an untouched one by its memory: without it, ``df.loc[0, "client_id"] = "X"``
    writes into the very buffer the cache holds. Callers keep nothing when this is False."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    return pd.get_option("mode.copy_on_write") is True


def hold_columns(frame: pd.DataFrame, names=None) -> tuple[tuple[str, pd.Series], ...]:
    """References to ``frame``'s columns (all, or ``names`` where present) that tell later
    whether they were written: holding them makes pandas' copy-on-write copy a column on its
    next write, so the frame's column then lives in other memory (see :func:`unchanged`)."""
    names = frame.columns if names is None else [n for n in names if n in frame.columns]
    return tuple((n, frame[n]) for n in names)


def unchanged(held: tuple[tuple[str, pd.Series], ...], frame: pd.DataFrame, names=None) -> bool:
    """True when ``frame`` still has exactly the held columns (all, or ``names`` where
    present), none of them written since :func:`hold_columns`. Always False without
    copy-on-write (:func:`copy_on_write`): an in-place write would leave the memory the same."""
    if not copy_on_write():
        return False
    now = list(frame.columns if names is None else [n for n in names if n in frame.columns])
    return [n for n, _ in held] == now and all(_same_memory(s, frame[n]) for n, s in held)


def _time_key(t: pd.Series) -> np.ndarray | None:
    if getattr(t.dtype, "tz", None) is not None:
        return None  # the statistics read local wall time; the plain path does that
    if pd.api.types.is_datetime64_any_dtype(t):
        return t.to_numpy(dtype="datetime64[ns]").view(np.int64)
    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t):
        return t.to_numpy(dtype=float, na_value=np.nan)
    return None


_DAY_NS = 86_400_000_000_000
_CHUNK = 1 << 18  # rows per block when building keys: a block's columns stay in cache


def _blocks(n: int, step: int = 1 << 20):
    """Slices of ``range(n)``. Working a block at a time avoids 24-million-row temporaries:
    each new large array is fresh memory from the system, and faulting its pages in costs
    about as much as the arithmetic on it."""
    for a in range(0, n, step):
        yield slice(a, min(a + step, n))


def _time_offsets(key: np.ndarray, present: np.ndarray | None):
    """Times as small non-negative integers that sort like them: ``(offsets, bits, t0, unit)``
    with offset 0 for a missing time and ``1 + (time - t0) / unit`` otherwise; None when the
    times are not whole multiples of one unit (fractional numbers)."""
    known = key if present is None else key[present]
    if not len(known):
        return np.zeros(len(key), dtype=np.int64), 1, 0, 1
    if key.dtype.kind == "f":
        if not np.array_equal(known, np.floor(known)) or np.abs(known).max() >= 2**53:
            return None
        t0, unit = int(known.min()), 1
        off = np.zeros(len(key), dtype=np.int64)
        if present is None:
            off[:] = key - t0
        else:
            off[present] = known - t0
    else:
        t0 = int(known.min())
        unit = _DAY_NS if not any((known[b] % _DAY_NS).any() for b in _blocks(len(known))) else 1
        off = key - t0
        off //= unit
    off += 1
    if present is not None:
        off[~present] = 0
    return off, int(off.max()).bit_length(), t0, unit


def _text_keys(values: pd.api.extensions.ExtensionArray):
    """Order-preserving integer keys for pyarrow-backed text, or None.

    Each byte position becomes one digit of a mixed-radix number whose base is that position's
    range of byte values (plus one for "no byte here" in shorter IDs), so IDs such as
    ``P0001234`` take about 24 bits. UTF-8 byte order is code-point order, the order Python and
    pandas sort text in. Returns ``(keys, bits)``; None for missing values or when the keys
    would need more than 44 bits.
    """
    import pyarrow as pa

    try:
        arr = values.__arrow_array__()
    except (AttributeError, TypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        # combine_chunks copies even a single chunk: 384 MB for 24 million 8-byte IDs, which
        # pyarrow's allocator then keeps (peak memory 3.00x the input against 2.5x without)
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else \
        np.zeros(1, dtype=np.uint8)
    if not n:
        return None
    first, step = int(offsets[0]), int(offsets[1] - offsets[0])
    if all((np.diff(offsets[b.start:b.stop + 1]) == step).all() for b in _blocks(n)):
        matrix = data[first:first + n * step].reshape(n, step)
        return _fixed_width_keys(matrix)
    lengths = np.diff(offsets)
    return _variable_width_keys(data, offsets, lengths)


def _fixed_width_keys(matrix: np.ndarray):
    """:func:`_text_keys` for IDs of one length: a block of rows at a time, transposed so that
    each byte position is a contiguous row (the columns of a C-ordered block are strided)."""
    n, width = matrix.shape
    lo = np.full(width, 255, dtype=np.int64)
    hi = np.zeros(width, dtype=np.int64)
    for b in _blocks(n, _CHUNK):
        block = np.ascontiguousarray(matrix[b].T)
        np.minimum(lo, block.min(axis=1), out=lo)
        np.maximum(hi, block.max(axis=1), out=hi)
    digits = [(j, int(lo[j]), int(hi[j] - lo[j] + 1)) for j in range(width) if hi[j] > lo[j]]
    if sum(np.log2(base) for _, _, base in digits) > 44:
        return None
    keys = np.zeros(n, dtype=np.int64)
    for b in _blocks(n, _CHUNK):
        block = np.ascontiguousarray(matrix[b].T)
        k = keys[b]
        for j, low, base in digits:
            k *= base
            k += block[j]
            k -= low
    return keys, max(1, int(keys.max()).bit_length())


def _variable_width_keys(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray):
    """:func:`_text_keys` for IDs of several lengths: digit 0 means "no byte here", so a
    shorter ID sorts before its extensions."""
    n = len(lengths)
    longest = int(lengths.max())
    starts = offsets[:-1].astype(np.int64)
    last = len(data) - 1

    def column(rows: slice, j: int) -> np.ndarray:
        return np.where(lengths[rows] > j, data[np.minimum(starts[rows] + j, last)], 0)

    digits = []
    bits = 0.0
    for j in range(longest):
        col = column(slice(None), j)
        lo = int(col[lengths > j].min())
        base = int(col.max()) - lo + 2
        if base > 1:
            bits += np.log2(base)
            if bits > 44:
                return None
            digits.append((j, lo, base))
    keys = np.zeros(n, dtype=np.int64)
    for b in _blocks(n, _CHUNK):
        k = keys[b]
        for j, lo, base in digits:
            d = column(b, j).astype(np.int64) - (lo - 1)
            d[lengths[b] <= j] = 0
            k *= base
            k += d
    return keys, max(1, int(keys.max()).bit_length())


def _id_keys(subj: pd.Series):
    """``(keys, bits)``: non-negative int64 keys that sort and compare like the IDs, for integer
    and pyarrow text IDs without missing values; None otherwise (the factorising fallback)."""
    dtype = subj.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # the codes sort in category order
        codes = subj.cat.codes.to_numpy().astype(np.int64)
        return codes, max(1, (len(dtype.categories) - 1).bit_length())
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        v = subj.to_numpy()
        if not len(v):
            return None
        lo, hi = int(v.min()), int(v.max())
        if hi - lo >= 2**44:
            return None
        return v.astype(np.int64) - lo, max(1, (hi - lo).bit_length())
    if isinstance(dtype, pd.StringDtype) and getattr(dtype, "storage", "") == "pyarrow":
        return _text_keys(subj.array)
    return None


def starts(*keys: np.ndarray) -> np.ndarray:
    """True at the first row and wherever any of the (equally long) keys differs from the row
    before: the starts of the runs of grouped rows."""
    new = np.empty(len(keys[0]), dtype=bool)
    if len(new):
        new[0] = True
        np.not_equal(keys[0][1:], keys[0][:-1], out=new[1:])
        for k in keys[1:]:
            new[1:] |= k[1:] != k[:-1]
    return new


def ends(run_starts: np.ndarray) -> np.ndarray:
    """True at the last row of each run, from :func:`starts`."""
    out = np.empty_like(run_starts)
    if len(out):
        out[:-1], out[-1] = run_starts[1:], True
    return out


def _runs(sorted_keys: np.ndarray, shift: int = 0) -> np.ndarray:
    """True where a new value of ``sorted_keys >> shift`` starts in a sorted array."""
    if not shift or not len(sorted_keys):
        return starts(sorted_keys)
    new = np.empty(len(sorted_keys), dtype=bool)
    new[0] = True
    # sorted, so the high bits differ exactly where x ^ previous reaches them
    for b in _blocks(len(new) - 1):
        diff = np.bitwise_xor(sorted_keys[b.start + 1:b.stop + 1], sorted_keys[b])
        np.greater_equal(diff, 1 << shift, out=new[b.start + 1:b.stop + 1])
    return new


def _packed_sort(high: np.ndarray, low_bits: int, low: np.ndarray | None, rbits: int) -> np.ndarray:
    """Sort ``high << (low_bits + rbits) | low << rbits | row`` (values, not an argsort: the
    values sort is several times faster, and carrying the row makes it stable). ``high`` and
    ``low`` are overwritten: at 24 million rows every int64 copy costs 192 MB."""
    packed = high
    packed <<= low_bits + rbits
    if low is not None:
        low <<= rbits
        packed |= low
    for a in range(0, len(packed), _CHUNK):
        b = min(a + _CHUNK, len(packed))
        packed[a:b] |= np.arange(a, b, dtype=np.int64)
    packed.sort()
    return packed


def _prepare(frame: pd.DataFrame, subject: str, time: str) -> Prepared | None:
    key = _time_key(frame[time])
    subj = frame[subject]
    if key is None or subj.isna().any():
        return None  # the plain path gives the errors and handles odd time columns
    present = key != _NAT if key.dtype.kind == "i" else ~np.isnan(key)
    missing_time = not present.all()
    n = len(frame)
    rbits = max(1, (n - 1).bit_length())
    times = _time_offsets(key, present if missing_time else None)
    if times is None:
        return None
    toff, tbits, t0, unit = times
    mcodes, mcats = _measure_codes(frame)
    mbits = 0 if mcats is None else max(1, len(mcats).bit_length())
    if mcodes is not None:  # the measure rides along below the time: (time, measure, row)
        toff <<= mbits
        toff |= mcodes
        del mcodes
    low = tbits + mbits
    ids = _id_keys(subj)
    if ids is not None and ids[1] + low + rbits <= 63:
        # one sort by (ID, time, measure, row) gives both the codes and the order
        packed = _packed_sort(ids[0], low, toff, rbits)
        del ids, toff
        new = _runs(packed, low + rbits)
        uniques = pd.Index(subj.array.take(packed[new] & ((1 << rbits) - 1)))
        packed &= (1 << (low + rbits)) - 1
        code = 0
        for b in _blocks(n):
            block = np.cumsum(new[b], dtype=np.int64)
            block += code
            code = int(block[-1])
            block <<= low + rbits
            packed[b] |= block
    else:
        codes, uniques = _sorted_codes(subj, ids, rbits)
        if max(1, len(uniques).bit_length()) + low + rbits > 63:
            return None
        codes += 1
        packed = _packed_sort(codes, low, toff, rbits)
    return Prepared(uniques=uniques, packed=packed, tbits=tbits, rbits=rbits, t0=t0, unit=unit,
                    float_time=key.dtype.kind == "f", missing_time=missing_time, mbits=mbits,
                    mcats=mcats, categorical=isinstance(subj.dtype, pd.CategoricalDtype))


def _measure_codes(frame: pd.DataFrame) -> tuple[np.ndarray | None, pd.Index | None]:
    """1 + the code of each row's measure (0 where missing) and the measures, or (None, None)
    for a frame without a ``measure`` column."""
    if "measure" not in frame.columns:
        return None, None
    col = frame["measure"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes, cats = col.cat.codes.to_numpy(), col.cat.categories
    else:
        codes, cats = pd.factorize(col)
    # small integers: ORed into the int64 time offsets without an int64 copy
    out = codes.astype(np.int16 if len(cats) < 2**15 - 1 else np.int64)
    out += 1
    return out, pd.Index(cats)


def sorted_codes(col: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``col`` in sorted-ID order and the sorted unique IDs (what
    ``pd.factorize(col, sort=True)`` gives), by the key sort where the IDs allow it."""
    ids = None if col.isna().any() else _id_keys(col)
    return _sorted_codes(col, ids, max(1, (len(col) - 1).bit_length()))


def _sorted_codes(subj: pd.Series, ids, rbits: int) -> tuple[np.ndarray, pd.Index]:
    """Codes in sorted-ID order: from order-preserving keys by one values sort where they fit,
    else by factorising and sorting only the unique IDs."""
    if ids is not None and ids[1] + rbits <= 63:
        packed = _packed_sort(ids[0], 0, None, rbits)
        new = _runs(packed, rbits)
        rows = packed & ((1 << rbits) - 1)
        codes = np.empty(len(rows), dtype=np.int64)
        codes[rows] = np.cumsum(new, dtype=np.int64) - 1
        return codes, pd.Index(subj.array.take(rows[new]))
    codes, uniques = pd.factorize(subj, sort=False)
    perm = np.asarray(pd.Index(uniques).argsort())
    rank = np.empty(len(perm), dtype=np.int64)
    rank[perm] = np.arange(len(perm))
    return rank[codes], pd.Index(uniques).take(perm)


def prepared(frame, subject: str, time: str) -> Prepared | None:
    """The shared codes and order for ``frame``'s ``subject`` and ``time`` columns, or None when
    the plain path applies (not a pandas DataFrame, a time column that is
    neither numeric nor dates)."""
    if not _enabled:
        return None
    if not isinstance(frame, pd.DataFrame) or subject not in frame.columns or time not in frame.columns:
        return None
    if not frame.columns.is_unique:
        return None
    if len(frame) < 2:
        return None
    cache_key = (id(frame), subject, time)
    used = (subject, time, "measure")
    with _lock:
        entry = _cache.get(cache_key)
        if entry is not None and entry.ref() is frame and entry.n_rows == len(frame) and \
                unchanged(entry.columns, frame, used):
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

    if not copy_on_write():
        return prep  # nothing could tell a later in-place edit: computed afresh every time
    with _lock:
        _cache[cache_key] = _Entry(weakref.ref(frame, _drop), hold_columns(frame, used), len(frame),
                                   prep)
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
