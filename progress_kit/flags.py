"""Client decision layer: one clinical status per client, with stated rules (layer 3, judgement).

:func:`client_flags` combines the statistics below it (reliable change, the expected-response
band of :mod:`progress_kit.on_track`, the registry's cut-offs, severity bands and critical
items) into one status per client: ``"alert"``, ``"watch"``, ``"on track"`` or
``"insufficient data"``, with the reasons in plain clinical language. Reports and widgets read
this table; they never recompute a rule.

:func:`evaluate_on_track` backtests the not-on-track signal on the service's own finished
courses, so that a claim about the signal comes with its sensitivity and specificity.
All work is vectorised across clients (sorted arrays and ``bincount``), no per-client loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _cohort
from .change import _sort_order
from .measures import Measure, get_measure, severity_band
from .on_track import ExpectedResponse

__all__ = ["client_flags", "evaluate_on_track", "FLAG_STATUSES", "FLAG_RULES"]

#: The statuses, from most to least urgent.
FLAG_STATUSES = ("alert", "watch", "on track", "insufficient data")

#: Quantile level of the expected-response band and the minimum reference size, as in
#: :func:`progress_kit.expected_response` (its ``outer`` and ``min_per_session`` defaults).
_OUTER = 0.90
_MIN_PER_SESSION = 20

#: The default rules in words; ``attrs["method"]`` of :func:`client_flags` gives them with the
#: measure's own thresholds filled in.
FLAG_RULES = """\
reliable deterioration: latest minus first score is at least the reliable-change threshold, in \
the worse direction.
critical item: at the latest administration that has item data, a critical item is answered 1 \
or more.
stalled: at least {stall_after} scores spanning at least {stall_weeks} weeks, no reliable \
improvement (improvement below the threshold) and the latest score still in the clinical range.
not on track: the latest score lies beyond the 90% expected-response band for its session number \
(Finch, Lambert & Schaalje 2001), fitted leave-one-client-out on the service's own data or taken \
from a reference (expected=); NA when there is no band.
status: alert if reliable deterioration or a critical item; otherwise insufficient data with \
fewer than 2 scores; otherwise watch if not on track or stalled; otherwise on track."""

_DAY_NS = 86_400_000_000_000


# ---------------------------------------------------------------------------------------------
# input: one measure's scores as sorted arrays
# ---------------------------------------------------------------------------------------------

@dataclass
class _Courses:
    """One measure's scores sorted by client and date; per-client offsets."""

    ids: pd.Index          # client ids, sorted
    code: np.ndarray       # per row: position of the client in ids
    t: np.ndarray          # per row: time key (int64 ns for dates, float otherwise)
    y: np.ndarray          # per row: score
    start: np.ndarray      # per client: first row (valid where n > 0)
    n: np.ndarray          # per client: number of scores
    is_date: bool


def _need_columns(frame: Any, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, not {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; columns are {list(frame.columns)}")


def _time_key(t: pd.Series, what: str) -> tuple[np.ndarray, bool]:
    if pd.api.types.is_datetime64_any_dtype(t):
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_localize(None)
        return t.to_numpy(dtype="datetime64[ns]").view(np.int64), True
    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t):
        return t.to_numpy(dtype=float), False
    raise ValueError(f"{what} column 'date' must hold dates (datetime64) or numbers, not {t.dtype}")


def _as_of_key(as_of: Any, is_date: bool) -> float | int | None:
    if as_of is None:
        return None
    if is_date:
        return pd.Timestamp(as_of).value
    return float(as_of)


def _courses(observations: pd.DataFrame, measure: str, as_of: Any) -> _Courses:
    _need_columns(observations, ("client_id", "date", "measure", "score"), "observations")
    if not pd.api.types.is_numeric_dtype(observations["score"]):
        raise ValueError(f"observations column 'score' must be numeric, not {observations['score'].dtype}")
    t_all, is_date = _time_key(observations["date"], "observations")
    keep = (observations["measure"] == measure).to_numpy(bool, na_value=False).copy()
    y_all = observations["score"].to_numpy(dtype=float, na_value=np.nan)
    keep &= ~np.isnan(y_all)
    keep &= (t_all != np.iinfo(np.int64).min) if is_date else ~np.isnan(t_all)
    cut = _as_of_key(as_of, is_date)
    if cut is not None:
        keep &= t_all <= cut
    col = observations["client_id"]
    codes, ids = _cohort.sorted_codes(col if keep.all() else col[keep])
    t, y = t_all[keep], y_all[keep]
    order = _sort_order(codes, t)
    if order is not None:
        codes, t, y = codes[order], t[order], y[order]
    dup = (np.diff(codes) == 0) & (np.diff(t) == 0)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        when = pd.Timestamp(int(t[i])).date() if is_date else t[i]
        raise ValueError(f"two {measure} scores for client_id {ids[codes[i]]!r} on {when}; "
                         "client_flags needs one score per client and date")
    n = np.bincount(codes, minlength=len(ids))
    start = (np.cumsum(n) - n).astype(np.int64)
    return _Courses(pd.Index(ids, name="client_id"), codes, t, y, start, n, is_date)


def _session_numbers(c: _Courses, sessions: pd.DataFrame | None, as_of: Any) -> np.ndarray:
    """Session number of every score: 0 for the first; then, without a sessions table, the
    score's position in the course, and with one, the number of attended sessions after the
    first score's date up to and including the score's date (so missed questionnaires do not
    pull later scores back to earlier sessions)."""
    first_row = c.start[c.code]
    if sessions is None:
        return np.arange(len(c.code), dtype=np.int64) - first_row
    _need_columns(sessions, ("client_id", "date"), "sessions")
    st, is_date = _time_key(sessions["date"], "sessions")
    if is_date != c.is_date:
        raise ValueError("sessions 'date' and observations 'date' must both be dates or both numbers")
    keep = np.ones(len(sessions), bool)
    if "attended" in sessions.columns:
        keep &= sessions["attended"].fillna(False).to_numpy(bool)
    cut = _as_of_key(as_of, is_date)
    if cut is not None:
        keep &= st <= cut
    scode = c.ids.get_indexer(sessions["client_id"].to_numpy()[keep])
    st = st[keep]
    ok = scode >= 0
    scode, st = scode[ok].astype(np.int64), st[ok]
    # rank the session and score times together so one int64 key per (client, time) sorts both
    tt = np.concatenate([st, c.t])
    _, tr = np.unique(tt, return_inverse=True)
    span = np.int64(tr.max() + 2 if len(tr) else 1)
    skey = np.sort(scode * span + tr[:len(st)])
    rkey = c.code * span + tr[len(st):]
    upto = np.searchsorted(skey, rkey, side="right")
    return (upto - upto[first_row]).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the expected-response band, leave one client out
# ---------------------------------------------------------------------------------------------

@dataclass
class _Band:
    """For each judged client: the band limit in the bad direction and the expected score."""

    bound: np.ndarray      # NaN where there is no band
    expected: np.ndarray
    why: np.ndarray        # object: reason where bound is NaN ("" otherwise)


def _loo_band(code: np.ndarray, s: np.ndarray, y: np.ndarray, y0: np.ndarray, n_clients: int,
              judged: np.ndarray, m: Measure, measure: str) -> _Band:
    """Expected-response band of :func:`progress_kit.expected_response` for each judged row
    (``judged[i]`` is client i's row, -1 for none), fitted without that client.

    The curve ``y0 + (b0 + b1 y0) log(1 + s)`` is refitted without the client exactly, by
    removing its contribution from the normal equations. The band is the 90% quantile of the
    other clients' residuals at the session (pooled beyond the last session with 20 residuals,
    as expected_response pools them); the client's own residuals are removed from the pool
    exactly. The residuals are those around the curve fitted to all clients: refitting the curve
    for each left-out client moves them by O(1/N), and that refit is not redone.
    """
    later = s > 0
    lc, ls_, lyo = code[later], np.log1p(s[later].astype(float)), y0[later]
    x0, x1 = ls_, ls_ * lyo
    ch = y[later] - lyo
    k = n_clients
    sums = [np.bincount(lc, w, minlength=k) for w in (x0 * x0, x0 * x1, x1 * x1, x0 * ch, x1 * ch)]
    tot = [w.sum() for w in sums]
    coef_full = _solve2(*tot)
    a00, a01, a11, b0, b1 = (t - si for t, si in zip(tot, sums, strict=True))
    c0, c1 = _solve2(a00, a01, a11, b0, b1)

    has_later = np.bincount(lc, minlength=k) > 0
    n_other = int(has_later.sum()) - has_later.astype(int)
    resid = ch - (coef_full[0] * x0 + coef_full[1] * x1)
    ses = s[later]
    counts = np.bincount(ses)
    enough = np.flatnonzero(counts >= _MIN_PER_SESSION)
    last = int(enough.max()) if len(enough) else 1
    pool = np.minimum(ses, last)

    q = _OUTER if m.direction == -1 else 1 - _OUTER
    bound = np.full(k, np.nan)
    expected = np.full(k, np.nan)
    why = np.full(k, "", dtype=object)
    who = np.flatnonzero(judged >= 0)
    row = judged[who]
    sj = s[row]
    expected[who] = y0[row] + (c0[who] + c1[who] * y0[row]) * np.log1p(sj.astype(float))

    too_few = n_other[who] < _MIN_PER_SESSION
    why[who[too_few]] = _too_few_text(n_other[who[too_few]], measure)

    offset = _loo_quantile(lc, pool, resid, who, np.clip(sj, 1, last), q, k)
    offset = np.where(sj == 0, 0.0, offset)
    no_pool = np.isnan(offset) & ~too_few
    why[who[no_pool]] = f"no other client has a {measure} score at that session"
    ok = ~too_few & ~no_pool
    hi = m.max if np.isfinite(m.max) else np.inf
    bound[who[ok]] = np.clip(expected[who[ok]] + offset[ok], m.min, hi)
    expected[who] = np.clip(expected[who], m.min, hi)
    return _Band(bound, expected, why)


def _too_few_text(n_other: np.ndarray, measure: str) -> np.ndarray:
    # no "; " inside a reason: reasons are "; "-separated
    nums = _num(n_other)
    who = np.where(n_other == 1, " other client has", " other clients have")
    return ("only " + nums + who + f" 2 or more {measure} scores (the expected-response band "
            f"needs at least {_MIN_PER_SESSION})")


def _solve2(a00, a01, a11, b0, b1):
    """Solve the 2x2 normal equations [[a00, a01], [a01, a11]] c = [b0, b1] elementwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        det = a00 * a11 - a01 * a01
        return (a11 * b0 - a01 * b1) / det, (a00 * b1 - a01 * b0) / det


def _loo_quantile(lc: np.ndarray, pool: np.ndarray, resid: np.ndarray, who: np.ndarray,
                  band_session: np.ndarray, q: float, k: int) -> np.ndarray:
    """Quantile ``q`` (linear interpolation, as pandas) of the residuals in each judged client's
    band pool, without that client's own residuals. NaN where the pool is empty."""
    out = np.full(len(who), np.nan)
    if len(resid) == 0:
        return out
    keys = np.flatnonzero(np.bincount(pool))
    # a band session with no residuals takes the band of the session before it (forward fill)
    at = np.searchsorted(keys, band_session, side="right") - 1
    have = at >= 0
    bp = np.where(have, keys[np.maximum(at, 0)], -1)
    # only the pools some judged client needs are sorted (often one session out of many)
    needed = np.zeros(len(keys) and int(keys[-1]) + 1, bool)
    needed[bp[have]] = True
    use = needed[pool]
    lc, pool, resid = lc[use], pool[use], resid[use]
    order = np.lexsort((resid, pool))
    sr, sp = resid[order], pool[order]
    p_start = np.searchsorted(sp, bp, side="left")
    p_n = np.searchsorted(sp, bp, side="right") - p_start

    # the judged clients' own residuals in their band pool, as sorted global positions
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    band_of = np.full(k, -1, np.int64)
    band_of[who] = bp
    own = pool == band_of[lc]
    span = np.int64(len(order) + 1)
    own_key = np.sort(lc[own] * span + pos[own])
    base = who.astype(np.int64) * span
    own_lo = np.searchsorted(own_key, base, side="left")
    n_own = np.searchsorted(own_key, base + span, side="left") - own_lo

    n_left = p_n - n_own
    valid = have & (n_left > 0)
    h = (np.maximum(n_left, 1) - 1) * q
    lo = np.floor(h).astype(np.int64)
    frac = h - lo
    hi = np.minimum(lo + 1, np.maximum(n_left - 1, 0))

    def full_position(m: np.ndarray) -> np.ndarray:
        # the m-th remaining residual sits at full rank f = m + (own residuals at ranks <= f)
        f = m.copy()
        for _ in range(int(n_own.max(initial=0)) + 1):
            below = np.searchsorted(own_key, base + p_start + f, side="right") - own_lo
            nxt = m + below
            if np.array_equal(nxt, f):
                break
            f = nxt
        return p_start + f

    g_lo = np.where(valid, full_position(lo), 0)
    g_hi = np.where(valid, full_position(hi), 0)
    val = sr[g_lo] + frac * (sr[g_hi] - sr[g_lo])
    out[valid] = val[valid]
    return out


def _reference_band(expected: ExpectedResponse, measure: str, m: Measure, y0: np.ndarray,
                    s: np.ndarray, judged: np.ndarray, k: int) -> _Band:
    if not isinstance(expected, ExpectedResponse):
        raise ValueError("expected must be the result of expected_response(), not "
                         f"{type(expected).__name__}")
    if expected.measure != measure:
        raise ValueError(f"expected was learned for {expected.measure}, not {measure}")
    bound = np.full(k, np.nan)
    exp_ = np.full(k, np.nan)
    who = np.flatnonzero(judged >= 0)
    row = judged[who]
    curve = expected.curve(y0[row], s[row])
    bound[who] = curve["upper" if m.direction == -1 else "lower"].to_numpy()
    exp_[who] = curve["expected"].to_numpy()
    return _Band(bound, exp_, np.full(k, "", dtype=object))


def _beyond(score: np.ndarray, bound: np.ndarray, m: Measure) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return score > bound if m.direction == -1 else score < bound


# ---------------------------------------------------------------------------------------------
# critical items
# ---------------------------------------------------------------------------------------------

def _critical(items: pd.DataFrame | None, ids: pd.Index, measure: str, m: Measure,
              as_of: Any) -> tuple[pd.Index, np.ndarray, list[np.ndarray]]:
    """Clients with item data, the day of their latest administration, and each critical
    item's response there (NaN when not answered)."""
    empty = pd.Index([], name="client_id")
    if items is None or len(items) == 0:
        return empty, np.array([], np.int64), []
    _need_columns(items, ("client_id", "date", "measure", "item", "response"), "items")
    it_t, is_date = _time_key(items["date"], "items")
    keep = (items["measure"] == measure).to_numpy(bool, na_value=False).copy()
    cut = _as_of_key(as_of, is_date)
    if cut is not None:
        keep &= it_t <= cut
    col = items["client_id"]
    codes, iids = _cohort.sorted_codes(col if keep.all() else col[keep])
    t = it_t[keep]
    # the latest administration per client: a grouped max (np.maximum.at is ~10x slower)
    last = pd.Series(t).groupby(codes, sort=True).max().to_numpy() if len(t) else t
    at_last = t == last[codes]
    item_no = pd.to_numeric(items["item"], errors="coerce").to_numpy(dtype=float)[keep]
    resp = pd.to_numeric(items["response"], errors="coerce").to_numpy(dtype=float)[keep]
    values = []
    for number, _ in m.critical_items:
        v = np.full(len(iids), np.nan)
        sel = at_last & (item_no == number) & ~np.isnan(resp)
        v[codes[sel]] = resp[sel]
        values.append(v)
    return pd.Index(iids, name="client_id"), last, values


# ---------------------------------------------------------------------------------------------
# words
# ---------------------------------------------------------------------------------------------

def _num(x: Any) -> np.ndarray:
    """Numbers as text with at most one decimal ("7", "12.5", "-0.4"), vectorised: a Python
    format call per client would dominate the run time on a million clients. Scores span a
    small range, so each distinct value is formatted once and looked up."""
    x = np.asarray(x, dtype=float)
    nan = np.isnan(x)
    tenths = np.rint(np.where(nan, 0, x) * 10).astype(np.int64)
    if len(tenths) == 0:
        return np.array([], dtype=object)
    lo, hi = int(tenths.min()), int(tenths.max())
    if hi - lo > 1_000_000:  # a very wide range: format the distinct values only
        values, inverse = np.unique(tenths, return_inverse=True)
        table, index = np.array([_tenths(v) for v in values], dtype=object), inverse
    else:
        table = np.array([_tenths(v) for v in range(lo, hi + 1)], dtype=object)
        index = tenths - lo
    return np.where(nan, "NA", table[index])


def _tenths(v: int) -> str:
    sign = "-" if v < 0 else ""
    whole, frac = divmod(abs(int(v)), 10)
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def _day(t: np.ndarray, is_date: bool) -> np.ndarray:
    if is_date:
        return pd.Series(np.asarray(t).astype("datetime64[ns]")).dt.strftime("%Y-%m-%d").to_numpy(
            dtype=object)
    return _num(t)


def _join(parts: list[np.ndarray], k: int) -> np.ndarray:
    acc = np.full(k, "", dtype=object)
    for p in parts:
        has = p != ""
        both = has & (acc != "")
        acc[both] = acc[both] + "; " + p[both]
        only = has & ~both
        acc[only] = p[only]
    return acc


def _put(k: int, where: np.ndarray, text: Any) -> np.ndarray:
    out = np.full(k, "", dtype=object)
    out[where] = text
    return out


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------

def _measure_for_rules(measure: str) -> Measure:
    m = get_measure(measure)
    if m.reliable_change is None:
        raise ValueError(f"{measure} has no reliable-change threshold in the registry; set one "
                         "with pk.load_measures() to use client_flags")
    if m.cutoff is None:
        raise ValueError(f"{measure} has no clinical cut-off in the registry; set one with "
                         "pk.load_measures() to use client_flags")
    return m


def client_flags(observations: pd.DataFrame, *, items: pd.DataFrame | None = None,
                 sessions: pd.DataFrame | None = None, measure: str = "PHQ-9",
                 expected: ExpectedResponse | None = None, as_of: Any = None,
                 stall_after: int = 6, stall_weeks: float = 6) -> pd.DataFrame:
    """One clinical status per client, with the rules that produced it.

    Parameters
    ----------
    observations : DataFrame
        Long table (``pk.read_observations()`` format): ``client_id``, ``date``, ``measure``,
        ``score``. Only rows of ``measure`` are used; at most one score per client and date.
    items : DataFrame, optional
        Item responses (``pk.read_items()`` format): ``client_id``, ``date``, ``measure``,
        ``item`` (1-based), ``response``. Needed for the critical-item rule.
    sessions : DataFrame, optional
        Sessions (``client_id``, ``date``, optional ``attended``). When given, a score's session
        number counts the attended sessions since the first score; otherwise it is the score's
        position in the course (0 = first score).
    measure : str
        Registry name; gives direction, reliable-change threshold, cut-off, severity bands and
        critical items.
    expected : ExpectedResponse, optional
        A reference from :func:`progress_kit.expected_response` fitted on other data. Default:
        the band is fitted on this service's own data, leaving the judged client out.
    as_of : date, optional
        Use only data dated on or before this day (the status as it was then).
    stall_after : int
        Minimum number of scores before a course can count as stalled.
    stall_weeks : float
        Minimum weeks between the first and latest score before a course can count as stalled.

    Returns
    -------
    DataFrame
        Indexed by ``client_id`` (every client with a score or item data), columns ``status``,
        ``reliable_deterioration``, ``not_on_track`` (nullable boolean: NA when there is no
        band), ``stalled``, ``critical_item``, ``reasons`` ("; "-separated), ``n_scores``,
        ``first_score``, ``first_date``, ``latest_score``, ``latest_date`` and ``severity`` (the
        latest score's published severity band, or None). ``attrs["method"]`` states the rules.

    Notes
    -----
    With :math:`d` = +1 when lower scores are better (PHQ-9) and -1 when higher are better
    (ORS), :math:`RC` the registry's reliable-change threshold, and first and latest score
    :math:`y_0, y_L`:

    * reliable deterioration: :math:`d (y_L - y_0) \\ge RC`;
    * critical item: at the latest administration with item data, a registry critical item
      (PHQ-9 item 9, CORE-10 item 6) is answered 1 or more. An unanswered critical item is
      named in ``reasons`` but does not raise the flag;
    * stalled: at least ``stall_after`` scores over at least ``stall_weeks`` weeks,
      :math:`d (y_0 - y_L) < RC` and :math:`y_L` still clinical (registry cut-off);
    * not on track: :math:`y_L` lies beyond the 90% band of the expected response for its
      intake and session number (Finch, Lambert & Schaalje 2001; see
      :func:`progress_kit.expected_response`). The band is fitted on the other clients of the
      same data (leave one client out: the judged client never shapes its own band) or taken
      from ``expected``. NA, with the reason, where the service has fewer than 20 other
      clients with 2 or more scores or no other client reached that session;
    * status: ``alert`` if reliable deterioration or a critical item; otherwise ``insufficient
      data`` with fewer than 2 scores; otherwise ``watch`` if not on track or stalled;
      otherwise ``on track``.

    A flag is a prompt to review the case with the client, not a verdict. The sensitivity of
    the not-on-track signal on your own data is given by :func:`evaluate_on_track`.

    References
    ----------
    Jacobson, N. S. & Truax, P. (1991). J Consult Clin Psychol 59(1), 12-19 (reliable change).
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Clin Psychol Psychother 8, 231-242.
    Kroenke, K., Spitzer, R. L. & Williams, J. B. (2001). J Gen Intern Med 16(9), 606-613.
    Lambert, M. J., Whipple, J. L. & Kleinstäuber, M. (2018). Collecting and delivering
    progress feedback: a meta-analysis of routine outcome monitoring. Psychotherapy 55(4),
    520-537.

    Examples
    --------
    >>> obs = pd.DataFrame({"client_id": ["a"] * 3 + ["b"] * 2 + ["c"],
    ...     "date": pd.to_datetime(["2026-09-01", "2026-09-08", "2026-09-15", "2026-09-01",
    ...                             "2026-09-08", "2026-09-01"]),
    ...     "measure": "PHQ-9", "score": [12.0, 15, 19, 18, 12, 14]})
    >>> items = pd.DataFrame({"client_id": "b", "date": pd.Timestamp("2026-09-08"),
    ...     "measure": "PHQ-9", "item": range(1, 10), "response": [2, 2, 1, 2, 1, 1, 1, 0, 2]})
    >>> flags = client_flags(obs, items=items)
    >>> cols = ["status", "reliable_deterioration", "critical_item", "severity"]
    >>> print(flags[cols].to_string())  # doctest: +NORMALIZE_WHITESPACE
                          status  reliable_deterioration  critical_item           severity
    client_id
    a                      alert                    True          False  moderately severe
    b                      alert                   False           True           moderate
    c          insufficient data                   False          False           moderate
    >>> print(flags.loc["b", "reasons"])  # doctest: +NORMALIZE_WHITESPACE
    item 9 (thoughts of being better off dead or of hurting oneself) answered 2 on 2026-09-08;
    on-track band not available: only 1 other client has 2 or more PHQ-9 scores (the
    expected-response band needs at least 20)
    >>> print(flags.loc["a", "reasons"])  # doctest: +NORMALIZE_WHITESPACE
    PHQ-9 up 7 points since the first score (reliable deterioration, threshold 6);
    on-track band not available: only 1 other client has 2 or more PHQ-9 scores (the
    expected-response band needs at least 20)
    """
    m = _measure_for_rules(measure)
    stall_after, stall_weeks = _check_stall(stall_after, stall_weeks)
    c = _courses(observations, measure, as_of)
    k_obs = len(c.ids)
    s = _session_numbers(c, sessions, as_of)
    y0_row = c.y[c.start[c.code]] if len(c.code) else np.array([])
    # every client in c.ids has at least one score (the IDs come from the rows)
    last_row = c.start + c.n - 1
    judged = np.where(c.n >= 2, last_row, -1)
    if expected is not None:
        band = _reference_band(expected, measure, m, y0_row, s, judged, k_obs)
    else:
        band = _loo_band(c.code, s, c.y, y0_row, k_obs, judged, m, measure)

    # clients with item data but no score of the measure still get a row
    iids, ilast, ivalues = _critical(items, c.ids, measure, m, as_of)
    ids = c.ids.union(iids) if len(iids) else c.ids
    ids.name = "client_id"
    k = len(ids)
    at = ids.get_indexer(c.ids)

    def spread(values: np.ndarray, fill: Any, dtype: Any = None) -> np.ndarray:
        out = np.full(k, fill, dtype=dtype or np.asarray(values).dtype)
        out[at] = values
        return out

    n = spread(c.n, 0)
    first = spread(c.y[c.start], np.nan)
    latest = spread(c.y[last_row], np.nan)
    t_first = spread(c.t[c.start], 0, c.t.dtype)
    t_last = spread(c.t[last_row], 0, c.t.dtype)
    s_last = spread(s[np.maximum(judged, 0)] if len(s) else judged, 0, np.int64)
    bound = spread(band.bound, np.nan)
    exp_ = spread(band.expected, np.nan)
    why = spread(band.why, "", object)

    d = float(-m.direction)  # +1 when lower is better: worse = up
    rc = float(m.reliable_change)
    worse = d * (latest - first)
    with np.errstate(invalid="ignore"):
        rd = (n >= 2) & (worse >= rc)
        weeks = (t_last - t_first) / (7 * _DAY_NS) if c.is_date else (t_last - t_first) / 7.0
        clinical = np.asarray(m.is_clinical(latest), bool) & ~np.isnan(latest)
        stalled = (n >= stall_after) & (weeks >= stall_weeks) & (-worse < rc) & clinical
    judged_k = spread(judged >= 0, False, bool)
    has_band = judged_k & ~np.isnan(bound)
    beyond = _beyond(latest, bound, m) & has_band
    not_on_track = pd.array(np.where(has_band, beyond, False), dtype="boolean")
    not_on_track[~has_band] = pd.NA

    crit = np.zeros(k, bool)
    crit_parts: list[np.ndarray] = []
    if len(iids):
        iat = ids.get_indexer(iids)
        iday = _day(ilast, c.is_date)
        for (number, desc), v in zip(m.critical_items, ivalues, strict=True):
            vv = np.full(k, np.nan)
            vv[iat] = v
            day = np.full(k, "", dtype=object)
            day[iat] = iday
            with np.errstate(invalid="ignore"):
                hit = vv >= 1
            crit |= hit
            had = np.zeros(k, bool)
            had[iat] = True
            missing = had & np.isnan(vv)
            crit_parts.append(_put(k, hit, f"item {number} ({desc}) answered " + _num(vv[hit])
                                   + " on " + day[hit]))
            crit_parts.append(_put(k, missing, f"item {number} ({desc}) not answered on "
                                   + day[missing] + ", ask about it"))

    status = np.select([rd | crit, n < 2, np.asarray(beyond) | stalled],
                       ["alert", "insufficient data", "watch"], "on track").astype(object)
    reasons = _reasons(m, measure, k, n, first, latest, t_first, t_last, c.is_date, rd, worse,
                       stalled, weeks, judged_k, has_band, beyond, s_last, exp_, bound, why,
                       crit_parts, status)
    out = pd.DataFrame({
        "status": status, "reliable_deterioration": rd, "not_on_track": not_on_track,
        "stalled": stalled, "critical_item": crit, "reasons": reasons, "n_scores": n,
        "first_score": first, "first_date": _times(t_first, n, c.is_date),
        "latest_score": latest, "latest_date": _times(t_last, n, c.is_date),
        "severity": severity_band(latest, measure)}, index=ids)
    out.attrs["method"] = _method(m, measure, stall_after, stall_weeks, expected)
    out.attrs["measure"] = measure
    out.attrs["as_of"] = None if as_of is None else str(as_of)
    return out


def _check_stall(stall_after: Any, stall_weeks: Any) -> tuple[int, float]:
    if isinstance(stall_after, bool) or not isinstance(stall_after, (int, np.integer)) or stall_after < 2:
        raise ValueError(f"stall_after must be a whole number of scores, 2 or more, not {stall_after!r}")
    if isinstance(stall_weeks, bool) or not isinstance(stall_weeks, (int, float, np.number)) \
            or not stall_weeks >= 0:
        raise ValueError(f"stall_weeks must be a number of weeks, 0 or more, not {stall_weeks!r}")
    return int(stall_after), float(stall_weeks)


def _times(t: np.ndarray, n: np.ndarray, is_date: bool) -> Any:
    if is_date:
        out = t.astype("datetime64[ns]")
        out[n == 0] = np.datetime64("NaT")
        return out
    return np.where(n == 0, np.nan, t)


def _reasons(m: Measure, measure: str, k: int, n, first, latest, t_first, t_last, is_date, rd,
             worse, stalled, weeks, judged, has_band, beyond, s_last, exp_, bound, why,
             crit_parts, status) -> np.ndarray:
    up, down = ("up", "down") if m.direction == -1 else ("down", "up")
    rc = f"{m.reliable_change:g}"
    parts = [_put(k, rd, f"{measure} {up} " + _num(np.abs(worse[rd])) + " points since the "
                  f"first score (reliable deterioration, threshold {rc})")]
    parts += crit_parts
    side = "above" if m.direction == -1 else "below"
    nb = np.asarray(beyond, bool)
    parts.append(_put(k, nb, f"not on track: {measure} " + _num(latest[nb]) + " at session "
                      + pd.Series(s_last[nb]).astype(str).to_numpy(dtype=object)
                      + f" is {side} the expected range (expected about " + _num(exp_[nb])
                      + ", limit " + _num(bound[nb]) + ")"))
    na = judged & ~has_band
    parts.append(_put(k, na, "on-track band not available: " + why[na]))
    parts.append(_put(k, stalled, "stalled: no reliable improvement over " + _num(n[stalled])
                      + " scores in " + _num(weeks[stalled]) + " weeks, still in the clinical "
                      f"range ({m.describe_cutoff()})"))
    none = n == 0
    one = n == 1
    parts.append(_put(k, none, f"no {measure} score yet"))
    parts.append(_put(k, one, f"only one {measure} score (" + _num(latest[one]) + " on "
                      + _day(t_last[one], is_date) + ")"))
    calm = status == "on track"
    summary = _put(k, calm, f"{measure} " + _num(first[calm]) + " to " + _num(latest[calm])
                   + ": no alert or watch rule met")
    return _join([summary] + parts, k)


def _method(m: Measure, measure: str, stall_after: int, stall_weeks: float,
            expected: ExpectedResponse | None) -> str:
    band = ("taken from the reference given as expected= "
            f"({expected.n_clients} reference clients)" if expected is not None else
            "fitted leave-one-client-out on this service's own data")
    crit = ", ".join(f"item {i}" for i, _ in m.critical_items) or "none in the registry"
    return (f"client_flags on {measure} ({'lower' if m.direction == -1 else 'higher'} is better). "
            f"Reliable deterioration: latest minus first score at least {m.reliable_change:g} "
            f"points in the worse direction. Critical item ({crit}): answered 1 or more at the "
            "latest administration with item data. Stalled: at least "
            f"{stall_after} scores over at least {stall_weeks:g} weeks, improvement below "
            f"{m.reliable_change:g} points and the latest score clinical ({m.describe_cutoff()}). "
            f"Not on track: latest score beyond the {_OUTER:.0%} expected-response band for its "
            f"session (Finch, Lambert & Schaalje 2001), {band}; NA where no band. Status: alert if "
            "reliable deterioration or a critical item; otherwise insufficient data with fewer "
            "than 2 scores; otherwise watch if not on track or stalled; otherwise on track.")


def evaluate_on_track(observations: pd.DataFrame, *, measure: str = "PHQ-9", at_session: int = 4,
                      outcome: str = "reliable_deterioration",
                      expected: ExpectedResponse | None = None) -> pd.DataFrame:
    """Backtest the not-on-track signal at one session against each client's final outcome.

    Parameters
    ----------
    observations : DataFrame
        Long table of finished (or long enough) courses: ``client_id``, ``date``, ``measure``,
        ``score``. Sessions are the scores in date order (0 = the first score).
    measure : str
        Registry name.
    at_session : int
        The session whose signal is judged (1 or more). A client counts when they have a score
        at this session and at least one later score.
    outcome : {"reliable_deterioration", "no_reliable_improvement"}
        The final outcome the signal should predict, from the first and the last score and the
        registry's reliable-change threshold: reliably worse, or not reliably better.
    expected : ExpectedResponse, optional
        A reference band fitted on other data. Default: leave-one-client-out bands fitted on
        ``observations`` itself, so no client shapes the band it is judged by.

    Returns
    -------
    DataFrame
        One row: ``sensitivity`` (flagged among clients with the outcome), ``specificity``
        (not flagged among those without), ``ppv``, ``npv``, ``base_rate`` (share with the
        outcome), ``n`` and the counts ``tp``, ``fp``, ``fn``, ``tn``. A ratio with a zero
        denominator is NaN. ``attrs["method"]`` states the rule.

    Notes
    -----
    The signal is :func:`client_flags`' not-on-track rule applied to the score at
    ``at_session`` (beyond the 90% expected-response band; Finch, Lambert & Schaalje 2001).
    With ``tp`` flagged clients who had the outcome, ``fn`` unflagged ones with it, and so on:
    sensitivity = tp / (tp + fn), specificity = tn / (tn + fp), ppv = tp / (tp + fp),
    npv = tn / (tn + fn), base rate = (tp + fn) / n. The developers of OQ-Analyst report that
    their empirical signal identifies most clients who go on to deteriorate (Lambert et al.
    2002; Hannan et al. 2005); independent replications report lower sensitivity (docs/flags.md
    sets the figures side by side). An on-track claim about your own service should rest on
    this backtest of your own data.

    References
    ----------
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Clin Psychol Psychother 8, 231-242.
    Lambert, M. J., Whipple, J. L., Bishop, M. J., et al. (2002). Clin Psychol Psychother 9(3),
    149-164.
    Hannan, C., Lambert, M. J., Harmon, C., et al. (2005). A lab test and algorithms for
    identifying clients at risk for treatment failure. J Clin Psychol 61(2), 155-163.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> n, k = 300, 10
    >>> intake = rng.uniform(12, 24, n)
    >>> worse = np.arange(n) < 30
    >>> s = np.tile(np.arange(k), n)
    >>> course = np.where(np.repeat(worse, k), 1.2 * s, -0.8 * s)
    >>> y = np.clip(np.repeat(intake, k) + course + rng.normal(0, 2, n * k), 0, 27).round()
    >>> obs = pd.DataFrame({"client_id": np.repeat(np.arange(n), k).astype(str), "date": s,
    ...                     "measure": "PHQ-9", "score": y})
    >>> r = evaluate_on_track(obs, at_session=4)
    >>> r[["n", "base_rate", "sensitivity", "specificity"]].round(2)
         n  base_rate  sensitivity  specificity
    0  300       0.08         0.88         0.96
    """
    m = _measure_for_rules(measure)
    if isinstance(at_session, bool) or not isinstance(at_session, (int, np.integer)) or at_session < 1:
        raise ValueError(f"at_session must be a whole number, 1 or more, not {at_session!r}")
    if outcome not in ("reliable_deterioration", "no_reliable_improvement"):
        raise ValueError(f"outcome must be 'reliable_deterioration' or 'no_reliable_improvement', "
                         f"not {outcome!r}")
    c = _courses(observations, measure, None)
    k = len(c.ids)
    s = _session_numbers(c, None, None)
    y0_row = c.y[c.start[c.code]] if len(c.code) else np.array([])
    counted = c.n >= at_session + 2
    judged = np.where(counted, c.start + at_session, -1)
    if expected is not None:
        band = _reference_band(expected, measure, m, y0_row, s, judged, k)
    else:
        band = _loo_band(c.code, s, c.y, y0_row, k, judged, m, measure)
    score_at = np.where(counted, c.y[np.maximum(judged, 0)], np.nan)
    no_band = counted & np.isnan(band.bound)
    if no_band.any():
        i = int(np.flatnonzero(no_band)[0])
        raise ValueError(f"no expected-response band at session {at_session} for client_id "
                         f"{c.ids[i]!r}: {band.why[i]}")
    flagged = _beyond(score_at, band.bound, m)[counted]
    first = c.y[c.start[counted]]
    last = c.y[(c.start + c.n - 1)[counted]]
    worse = float(-m.direction) * (last - first)
    rc = float(m.reliable_change)
    truth = worse >= rc if outcome == "reliable_deterioration" else -worse < rc
    tp = int((flagged & truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())
    tn = int((~flagged & ~truth).sum())
    total = tp + fp + fn + tn
    if total == 0:
        raise ValueError(f"no client has a {measure} score at session {at_session} and a later "
                         "one; nothing to evaluate")

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    out = pd.DataFrame([{"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
                         "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
                         "base_rate": ratio(tp + fn, total), "n": total,
                         "tp": tp, "fp": fp, "fn": fn, "tn": tn}])
    band_from = ("a reference given as expected=" if expected is not None
                 else "leave-one-client-out fits on the same data")
    out.attrs["method"] = (
        f"Backtest of the not-on-track signal on {measure} at session {at_session} (0 = first "
        f"score): flagged when that score lies beyond the {_OUTER:.0%} expected-response band "
        f"(Finch, Lambert & Schaalje 2001), bands from {band_from}. Outcome "
        f"{outcome.replace('_', ' ')}: last minus first score "
        + ("at least" if outcome == "reliable_deterioration" else "improving by less than")
        + f" {rc:g} points. Clients with a score at session {at_session} and a later one count.")
    out.attrs["measure"] = measure
    return out
