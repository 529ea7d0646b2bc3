"""Client decision layer: one clinical status per client, with stated rules (layer 3, judgement).

:func:`client_flags` combines the statistics below it (reliable change, the expected-response
band of :mod:`progress_kit.on_track`, the registry's cut-offs, severity bands and critical
items) into one status per client: ``"alert"``, ``"watch"``, ``"on track"``, ``"no flags"`` or
``"insufficient data"``, with the reasons in plain clinical language. Each client is judged on
the measure of their own problem (the registry's ``problems``), and every questionnaire they
have can raise an alert. Reports and widgets read this table; they never recompute a rule.

:func:`evaluate_on_track` backtests the not-on-track signal on the service's own finished
courses, so that a claim about the signal comes with its sensitivity and specificity.
All work is vectorised across clients (sorted arrays and ``bincount``), no per-client loop.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _cohort, _episodes
from .change import _sort_order
from .measures import (
    Measure,
    get_measure,
    primary_measure_for,
    reaches,
    registry_state,
    severity_band,
)
from .on_track import ExpectedResponse

__all__ = ["client_flags", "client_flags_by_measure", "client_course", "evaluate_on_track",
           "FLAG_STATUSES", "FLAG_RULES"]

#: The statuses, from most to least urgent. "on track" is said only when the latest primary score
#: was judged against an expected-response band and lies inside it; "no flags" when no rule fired
#: but that could not be checked.
FLAG_STATUSES = ("alert", "watch", "on track", "no flags", "insufficient data")

#: Quantile level of the expected-response band and the minimum reference size, as in
#: :func:`progress_kit.expected_response` (its ``outer`` and ``min_per_session`` defaults).
_OUTER = 0.90
_MIN_PER_SESSION = 20

#: The default rules in words; ``attrs["method"]`` of :func:`client_flags` gives them with the
#: measure's own thresholds filled in.
FLAG_RULES = """\
primary measure: the registry measure of the client's problem (social anxiety SPIN, PTSD PCL-5, \
GAD GAD-7; otherwise PHQ-9).
reliable deterioration (any measure): latest minus first score is at least the reliable-change \
threshold, in the worse direction.
critical item (any measure): at the latest administration that has item data, a critical item \
is answered 1 or more.
no reliable improvement (primary): at least {stall_after} scores spanning at least \
{stall_weeks} weeks, improvement below the threshold and the latest score still in the clinical \
range.
not on track (primary): the latest score lies beyond the expected-response band for its session \
(Finch, Lambert & Schaalje 2001); NA when there is no band.
status: alert if reliable deterioration or a critical item; otherwise insufficient data with \
fewer than 2 primary scores; otherwise watch if not on track or no reliable improvement; \
otherwise on track if judged against a band and inside it; otherwise no flags."""

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
              judged: np.ndarray, m: Measure, measure: str, level: float = 0.90) -> _Band:
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
    # a singular fit (all intakes equal, or one client) gives NaN coefficients: its residuals
    # are NaN and the band is then missing with a reason, so the warning would say nothing new
    # (it reached users through --quiet, issue 24 item 16)
    with np.errstate(invalid="ignore"):
        resid = ch - (coef_full[0] * x0 + coef_full[1] * x1)
    ses = s[later]
    counts = np.bincount(ses)
    enough = np.flatnonzero(counts >= _MIN_PER_SESSION)
    last = int(enough.max()) if len(enough) else 1
    pool = np.minimum(ses, last)

    q = level if m.direction == -1 else 1 - level
    bound = np.full(k, np.nan)
    expected = np.full(k, np.nan)
    why = np.full(k, "", dtype=object)
    who = np.flatnonzero(judged >= 0)
    row = judged[who]
    sj = s[row]
    with np.errstate(invalid="ignore"):  # NaN coefficients of a singular fit stay NaN
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


def _judge(observations: pd.DataFrame, items: pd.DataFrame | None,
           sessions: pd.DataFrame | None, measure: str, expected: ExpectedResponse | None,
           as_of: Any, stall_after: int, stall_weeks: float,
           warning: tuple[float, float] = (0.5, 1 / 3), level: float = 0.90
           ) -> tuple[pd.Index, dict[str, Any]]:
    """Every rule on one measure: the clients with a score or item data of it, and one array
    per column (plus the reasons in groups: ``_alert``, ``_watch``, ``_other``, ``_summary``)."""
    m = _measure_for_rules(measure)
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
        band = _loo_band(c.code, s, c.y, y0_row, k_obs, judged, m, measure, level)

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
    prev = spread(c.y[np.maximum(last_row - 1, 0)], np.nan)
    limit = _warning_limit(first, prev, d, rc, warning)
    with np.errstate(invalid="ignore"):
        rd = (n >= 2) & reaches(worse, rc)
        weeks = (t_last - t_first) / (7 * _DAY_NS) if c.is_date else (t_last - t_first) / 7.0
        clinical = np.asarray(m.is_clinical(latest), bool) & ~np.isnan(latest)
        # a reliably worse course is reported as that, not also as "no reliable improvement"
        stalled = ((n >= stall_after) & reaches(weeks, stall_weeks) & ~reaches(-worse, rc)
                   & clinical & ~rd)
        warned = (n >= 2) & reaches(d * (latest - limit), 0.0)
    judged_k = spread(judged >= 0, False, bool)
    has_band = judged_k & ~np.isnan(bound)
    above = _beyond(latest, bound, m) & has_band
    not_on_track = pd.array(warned, dtype="boolean")
    not_on_track[n < 2] = pd.NA
    outside = pd.array(above, dtype="boolean")
    outside[~has_band] = pd.NA

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
            crit_parts.append(_put(k, hit, f"{measure} item {number} ({desc}) answered "
                                   + _num(vv[hit]) + " on " + day[hit]))
            crit_parts.append(_put(k, missing, f"{measure} item {number} ({desc}) not answered on "
                                   + day[missing] + ", ask about it"))

    status = _status(rd | crit, n, warned | stalled, has_band & ~above)
    band_session = pd.array(np.where(judged_k, s_last, 0), dtype="Int64")
    band_session[~judged_k] = pd.NA
    # plain arrays, not a DataFrame: client_flags combines several measures' columns without a
    # round trip through pandas' string and index machinery (it dominated at a million clients)
    cols = {
        "status": status, "reliable_deterioration": rd, "not_on_track": not_on_track,
        "stalled": stalled, "outside_expected": outside, "critical_item": crit, "n_scores": n,
        "first_score": first, "first_date": _times(t_first, n, c.is_date),
        "latest_score": latest, "latest_date": _times(t_last, n, c.is_date),
        "severity": severity_band(latest, measure), "band_session": band_session,
        "warning_limit": np.where(n >= 2, limit, np.nan),
        "expected_score": np.where(judged_k, exp_, np.nan),
        "band_limit": np.where(has_band, bound, np.nan)}
    cols["_alert"], cols["_watch"], cols["_other"] = _reasons(
        m, measure, k, n, first, latest, t_last, c.is_date, rd, worse, stalled, weeks, judged_k,
        has_band, above & ~warned, warned, limit, s_last, exp_, bound, why, crit_parts, warning)
    cols["_summary"] = _summary(m, measure, status, first, latest, s_last, exp_, bound, limit)
    return ids, cols


#: The public columns of one measure's judgement, in order (client_flags_by_measure).
_MEASURE_COLUMNS = ("status", "reliable_deterioration", "not_on_track", "stalled",
                    "outside_expected", "critical_item", "n_scores", "first_score", "first_date",
                    "latest_score", "latest_date", "severity", "band_session", "warning_limit",
                    "expected_score", "band_limit")


def _status(alert: np.ndarray, n: np.ndarray, watch: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The status rule (FLAG_RULES), vectorised: the first that applies of alert, insufficient
    data, watch, on track (judged against the expected range and inside it) and no flags."""
    return np.select([alert, n < 2, watch, inside],
                     ["alert", "insufficient data", "watch", "on track"], "no flags").astype(object)


def _measures_to_judge(observations: pd.DataFrame, items: pd.DataFrame | None,
                       measure: str | None) -> tuple[list[str], list[str]]:
    """The questionnaires to judge and, in words, those that cannot be (no threshold)."""
    if measure is not None:
        _measure_for_rules(measure)
        return [measure], []
    _need_columns(observations, ("client_id", "date", "measure", "score"), "observations")
    names = set(pd.unique(observations["measure"].dropna()))
    if items is not None and len(items) and "measure" in items.columns:
        names |= set(pd.unique(items["measure"].dropna()))
    judged, skipped = [], []
    known = set(registry_state())  # the registry's names (pk.measures() builds the whole table)
    for name in sorted(names, key=str):
        if name not in known:
            skipped.append(f"{name} (not in the registry)")
            continue
        mm = get_measure(name)
        if mm.kind == "diary":
            continue
        if mm.reliable_change is None or mm.cutoff is None:
            lacks = "reliable-change threshold" if mm.reliable_change is None else "cut-off"
            skipped.append(f"{name} (no {lacks} in the registry)")
            continue
        judged.append(name)
    return judged or ["PHQ-9"], skipped


def _primary(ids: pd.Index, clients: pd.DataFrame | None, measure: str | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Each client's primary measure and why (vectorised over the distinct problems)."""
    k = len(ids)
    if measure is not None:
        return np.full(k, measure, object), np.full(k, f"{measure} (measure= given)", object)
    if clients is None:
        return (np.full(k, "PHQ-9", object),
                np.full(k, "problem not known (no clients table given): PHQ-9 by default", object))
    _need_columns(clients, ("client_id",), "clients")
    if clients["client_id"].duplicated().any():
        dup = clients.loc[clients["client_id"].duplicated(), "client_id"].iloc[0]
        raise ValueError(f"clients lists client_id {dup!r} more than once; client_flags needs one "
                         "row per client")
    problem = (clients.set_index("client_id")["problem"] if "problem" in clients.columns
               else pd.Series(None, index=clients["client_id"], dtype=object))
    problem = problem.reindex(ids).astype(object)
    codes, uniq = pd.factorize(problem, use_na_sentinel=True)
    choice = [primary_measure_for(p) for p in uniq]
    name = np.array([c[0] for c in choice] + ["PHQ-9"], object)
    why = np.array([c[1] for c in choice] + ["problem not recorded: PHQ-9 by default"], object)
    return name[codes], why[codes]


def client_flags_by_measure(observations: pd.DataFrame, *, items: pd.DataFrame | None = None,
                            sessions: pd.DataFrame | None = None, measure: str | None = None,
                            expected: Any = None, as_of: Any = None, stall_after: int = 4,
                            stall_weeks: float = 8, warning: tuple[float, float] = (0.5, 1 / 3),
                            band_level: float = 0.90, clients: pd.DataFrame | None = None
                            ) -> pd.DataFrame:
    """Every rule of :func:`client_flags` on every questionnaire, one row per client and measure.

    The companion of :func:`client_flags`, which combines these rows into one status per client:
    use it to see *why* (which measure raised what). Parameters are those of
    :func:`client_flags`; ``measure=None`` judges every registry questionnaire in
    ``observations`` (or ``items``) that has a reliable-change threshold and a cut-off.
    ``clients`` matters only with episodes of care (below): its dates say which episode is
    current, as in :func:`client_flags`.

    Returns
    -------
    DataFrame
        Indexed by (``client_id``, ``measure``); the columns of :func:`client_flags` for that
        measure alone (``status`` is the measure's own status by the same rule) and
        ``reasons``. ``attrs["method"]`` states the rules; ``attrs["not_judged"]`` lists the
        measures that could not be judged and why. Where ``observations`` has an
        ``episode_id`` column, each client is judged on the current episode of care only (the
        latest by start date, as :func:`client_flags` does), an ``episode_id`` column says
        which, and ``attrs["method"]`` says so.

    Notes
    -----
    The rules are those of :func:`client_flags` (Notes there), applied to one measure at a time.

    Examples
    --------
    >>> obs = pd.DataFrame({"client_id": "a", "date": pd.to_datetime(
    ...     ["2026-09-01", "2026-09-29", "2026-09-01", "2026-09-29"]),
    ...     "measure": ["PHQ-9", "PHQ-9", "GAD-7", "GAD-7"], "score": [14.0, 13, 9, 14]})
    >>> client_flags_by_measure(obs)[["status", "reliable_deterioration"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                         status  reliable_deterioration
    client_id measure
    a         GAD-7       alert                    True
              PHQ-9    no flags                   False
    """
    if _episodes.has_episodes(observations):
        return _current_episode_by_measure(
            observations, items, sessions, clients, as_of, measure=measure, expected=expected,
            stall_after=stall_after, stall_weeks=stall_weeks, warning=warning,
            band_level=band_level)
    stall_after, stall_weeks = _check_stall(stall_after, stall_weeks)
    warning, band_level = _check_warning(warning, band_level)
    names, skipped = _measures_to_judge(observations, items, measure)
    parts = []
    for name, (ids, cols) in _judge_all(observations, items, sessions, names, measure, expected,
                                         as_of, stall_after, stall_weeks, warning,
                                         band_level).items():
        part = pd.DataFrame({c: cols[c] for c in _MEASURE_COLUMNS}, index=ids)
        part["reasons"] = _join([cols["_summary"], cols["_alert"], cols["_watch"], cols["_other"]],
                                len(part))
        part.index = pd.MultiIndex.from_arrays([part.index, np.full(len(part), name, object)],
                                               names=["client_id", "measure"])
        parts.append(part)
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    out = out.sort_index() if len(parts) > 1 else out
    out.attrs["method"] = _method(names, stall_after, stall_weeks, expected, warning, band_level)
    out.attrs["not_judged"] = skipped
    return out


def _judge_all(observations, items, sessions, names, measure, expected, as_of, stall_after,
               stall_weeks, warning, band_level) -> dict[str, tuple[pd.Index, dict[str, Any]]]:
    """:func:`_judge` on each measure (a few; each vectorised across clients)."""
    out = {}
    for name in names:
        ref = expected.get(name) if isinstance(expected, dict) else (
            expected if expected is None or expected.measure == name or measure is not None
            else None)
        out[name] = _judge(observations, items, sessions, name, ref, as_of, stall_after,
                           stall_weeks, warning, band_level)
    return out


def client_flags(observations: pd.DataFrame, *, items: pd.DataFrame | None = None,
                 sessions: pd.DataFrame | None = None, clients: pd.DataFrame | None = None,
                 measure: str | None = None, expected: Any = None, as_of: Any = None,
                 stall_after: int = 4, stall_weeks: float = 8,
                 warning: tuple[float, float] = (0.5, 1 / 3),
                 band_level: float = 0.90) -> pd.DataFrame:
    """One clinical status per client, judged on their own problem's measure, with the rules.

    Parameters
    ----------
    observations : DataFrame
        Long table (``pk.read_observations()`` format): ``client_id``, ``date``, ``measure``,
        ``score``; at most one score per client, measure and date.
    items : DataFrame, optional
        Item responses (``pk.read_items()`` format): ``client_id``, ``date``, ``measure``,
        ``item`` (1-based), ``response``. Needed for the critical-item rule.
    sessions : DataFrame, optional
        Sessions (``client_id``, ``date``, optional ``attended``). When given, a score's session
        number counts the attended sessions since the first score; otherwise it is the score's
        position in the course (0 = first score).
    clients : DataFrame, optional
        The clients table (``client_id``, ``problem``): each client's primary measure comes from
        their problem through the registry (:func:`progress_kit.primary_measure_for`: social
        anxiety to SPIN, PTSD to PCL-5, GAD to GAD-7; otherwise PHQ-9, with the reason). Without
        it every client is judged on PHQ-9 and the reason says so.
    measure : str, optional
        Judge only this registry measure (and make it everyone's primary measure). Default:
        every questionnaire in the data with a reliable-change threshold and a cut-off.
    expected : ExpectedResponse or dict, optional
        A reference from :func:`progress_kit.expected_response` fitted on other data (or a dict
        of them by measure). Default: the band is fitted on this service's own data, leaving the
        judged client out.
    as_of : date, optional
        Use only data dated on or before this day (the status as it was then).
    stall_after, stall_weeks : int, float
        The non-response rule's minimum number of scores and of weeks between the first and the
        latest score (default 4 scores over 8 weeks: weekly, fortnightly and monthly clients
        alike).

    Returns
    -------
    DataFrame
        Indexed by ``client_id``, one row per client with a score or item data. ``status``;
        ``primary_measure`` and ``primary_reason``; ``reliable_deterioration`` and
        ``critical_item`` (on any measure); ``not_on_track`` (nullable: NA without a band) and
        ``stalled`` (on the primary measure); ``reasons`` ("; "-separated); and, for the
        primary measure, ``n_scores``, ``first_score``, ``first_date``, ``latest_score``,
        ``latest_date``, ``severity``, ``band_session``, ``expected_score`` and ``band_limit``
        (the limit the latest score was judged against). ``attrs["method"]`` states the rules.
        :func:`client_flags_by_measure` gives the same rules per measure. Where
        ``observations`` has an ``episode_id`` column (episodes of care), each client is judged
        on the current episode only (the latest by start date), the columns ``episode_id`` and
        ``episode_number`` say which, and the reasons of a client who came back begin with
        "second episode: the first ended 2025-04, recovered on PHQ-9 (20 to 6)".

    Notes
    -----
    With :math:`d` = +1 when lower scores are better (PHQ-9) and -1 when higher are better
    (ORS), :math:`RC` the registry's reliable-change threshold, and first and latest score
    :math:`y_0, y_L` of a measure:

    * reliable deterioration, on **any** measure: :math:`d (y_L - y_0) \\ge RC`;
    * critical item, on any measure: at the latest administration with item data, a registry
      critical item (PHQ-9 item 9, CORE-10 item 6) is answered 1 or more. An unanswered
      critical item is named in ``reasons`` but does not raise the flag;
    * no reliable improvement (``stalled``), on the primary measure: at least ``stall_after``
      scores over at least ``stall_weeks`` weeks, :math:`d (y_0 - y_L) < RC` and :math:`y_L`
      still clinical (registry cut-off);
    * not on track, on the primary measure: :math:`y_L` lies beyond the expected-response band
      for its intake and session number (Finch, Lambert & Schaalje 2001; see
      :func:`progress_kit.expected_response`), fitted on the other clients of the same data
      (leave one client out) or taken from ``expected``. NA, with the reason, where there is no
      band;
    * status: ``alert`` if reliable deterioration or a critical item on any measure; otherwise
      ``insufficient data`` with fewer than 2 primary scores; otherwise ``watch`` if not on
      track or no reliable improvement; otherwise ``on track`` when the latest primary score
      was judged against a band and lies inside it; otherwise ``no flags`` (no rule fired, but
      on track could not be checked: the reasons say why).

    Every comparison with a threshold counts a difference equal to it, up to floating-point
    rounding, as reaching it (:func:`progress_kit.reaches`). A flag is a prompt to review the
    case with the client, not a verdict; :func:`evaluate_on_track` backtests the signal.

    References
    ----------
    Jacobson, N. S. & Truax, P. (1991). J Consult Clin Psychol 59(1), 12-19 (reliable change).
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Clin Psychol Psychother 8, 231-242.
    Kroenke, K., Spitzer, R. L. & Williams, J. B. (2001). J Gen Intern Med 16(9), 606-613.
    Clark, D. M., Canvin, L., Green, J., et al. (2018). Transparency about the outcomes of mental
    health services (IAPT approach). Lancet 391(10121), 679-686.
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
    PHQ-9 item 9 (thoughts of being better off dead or of hurting oneself) answered 2 on
    2026-09-08
    >>> clients = pd.DataFrame({"client_id": ["a", "b", "c"],
    ...                         "problem": ["social_anxiety", "depression", None]})
    >>> by_problem = client_flags(obs, clients=clients)
    >>> by_problem[["status", "primary_measure"]]  # doctest: +NORMALIZE_WHITESPACE
                          status primary_measure
    client_id
    a                      alert            SPIN
    b                   no flags           PHQ-9
    c          insufficient data           PHQ-9
    >>> print(by_problem.loc["a", "reasons"])  # doctest: +NORMALIZE_WHITESPACE
    PHQ-9 up 7 points since the first score (reliable deterioration, threshold 6); no SPIN score
    yet (social anxiety: its problem-specific measure)
    """
    if _episodes.has_episodes(observations):
        return _current_episode_flags(
            observations, items, sessions, clients, as_of, measure=measure, expected=expected,
            stall_after=stall_after, stall_weeks=stall_weeks, warning=warning,
            band_level=band_level)
    stall_after, stall_weeks = _check_stall(stall_after, stall_weeks)
    warning, band_level = _check_warning(warning, band_level)
    names, skipped = _measures_to_judge(observations, items, measure)
    judged = _judge_all(observations, items, sessions, names, measure, expected, as_of,
                        stall_after, stall_weeks, warning, band_level)
    out = _combine(judged, clients, measure)
    out.attrs["method"] = _method(names, stall_after, stall_weeks, expected, warning, band_level)
    out.attrs["not_judged"] = skipped
    out.attrs["measure"] = measure
    out.attrs["as_of"] = None if as_of is None else str(as_of)
    return out


def client_course(observations: pd.DataFrame, client_id: Any, *, measure: str,
                  sessions: pd.DataFrame | None = None, expected: ExpectedResponse | None = None,
                  as_of: Any = None, warning: tuple[float, float] = (0.5, 1 / 3),
                  band_level: float = 0.90, clients: pd.DataFrame | None = None,
                  episode: str | None = None) -> pd.DataFrame:
    """One client's scores with the limits :func:`client_flags` judges each of them by.

    For every score of ``client_id`` on ``measure``: the session number the rules use, the
    expected score and the expected range's limit for it (the same leave-one-client-out band,
    or ``expected``), and the early-warning limit. The last row is exactly what
    ``client_flags(...)`` reports for the client (``band_session``, ``expected_score``,
    ``band_limit``, ``warning_limit``), so a chart drawn from this table shows the band that
    decided the status.

    Parameters
    ----------
    observations, measure, sessions, expected, as_of, warning, band_level
        As in :func:`client_flags`; ``observations`` holds the whole service (the band is
        fitted on the other clients).
    client_id
        The client.
    clients : DataFrame, optional
        With episodes of care only: the clients table, whose dates say which episode is
        current (as in :func:`client_flags`).
    episode : str, optional
        With episodes of care only: this ``episode_id`` of the client instead of the current
        one (the other clients' band still comes from their current episodes as of ``as_of``).

    Returns
    -------
    DataFrame
        One row per score in date order: ``date``, ``score``, ``session``, ``expected``,
        ``band_limit`` (NaN at session 0 and where there is no band), ``warning_limit`` (NaN at
        the first score), ``outside_expected`` and ``not_on_track`` (nullable booleans).
        Where ``observations`` has an ``episode_id`` column (episodes of care), the course is
        the client's current episode (the latest by start date as of ``as_of``), whose first
        score is session 0, judged against the other clients' current episodes, exactly as
        :func:`client_flags` judges it; ``attrs["episode_id"]`` says which and
        ``attrs["method"]`` says so.

    Notes
    -----
    Each score is judged as :func:`client_flags` judges a latest score (Notes there): the
    band for score *r* is fitted leaving the client out, at the session of score *r*; the
    early-warning limit is :math:`\\min(y_0 + a\\,RC,\\; 2 (y_0 + b\\,RC) - y_{r-1})` in the
    worse direction.

    Examples
    --------
    >>> obs = pd.DataFrame({"client_id": "a", "date": [0, 7, 14], "measure": "PHQ-9",
    ...                     "score": [15.0, 16, 18]})
    >>> client_course(obs, "a", measure="PHQ-9")[["session", "score", "warning_limit",
    ...                                            "not_on_track"]]
       session  score  warning_limit  not_on_track
    0        0   15.0            NaN          <NA>
    1        1   16.0           18.0         False
    2        2   18.0           18.0          True
    """
    if _episodes.has_episodes(observations):
        return _current_episode_course(observations, client_id, sessions, clients, as_of,
                                       episode, measure=measure, expected=expected,
                                       warning=warning, band_level=band_level)
    if episode is not None:
        raise ValueError(f"episode={episode!r}, but observations have no episode_id column")
    m = _measure_for_rules(measure)
    warning, band_level = _check_warning(warning, band_level)
    c = _courses(observations, measure, as_of)
    pos = c.ids.get_indexer([client_id])[0]
    if pos < 0:
        raise ValueError(f"no {measure} scores for client_id {client_id!r}")
    s = _session_numbers(c, sessions, as_of)
    y0_row = c.y[c.start[c.code]] if len(c.code) else np.array([])
    rows = np.arange(c.start[pos], c.start[pos] + c.n[pos])
    expected_at = np.full(len(rows), np.nan)
    bound = np.full(len(rows), np.nan)
    for j, r in enumerate(rows[1:], start=1):  # one client's few scores, each its own band
        judged = np.full(len(c.ids), -1, np.int64)
        judged[pos] = r
        band = (_reference_band(expected, measure, m, y0_row, s, judged, len(c.ids))
                if expected is not None else
                _loo_band(c.code, s, c.y, y0_row, len(c.ids), judged, m, measure, band_level))
        expected_at[j], bound[j] = band.expected[pos], band.bound[pos]
    y = c.y[rows]
    d = float(-m.direction)
    first = np.full(len(rows), y[0])
    prev = np.concatenate([[np.nan], y[:-1]])
    limit = _warning_limit(first, prev, d, float(m.reliable_change), warning)
    warned = pd.array(reaches(d * (y - limit), 0.0), dtype="boolean")
    warned[0] = pd.NA
    outside = pd.array(_beyond(y, bound, m) & ~np.isnan(bound), dtype="boolean")
    outside[np.isnan(bound)] = pd.NA
    when = c.t[rows].astype("datetime64[ns]") if c.is_date else c.t[rows]
    return pd.DataFrame({"date": when, "score": y, "session": s[rows], "expected": expected_at,
                         "band_limit": bound, "warning_limit": limit,
                         "outside_expected": outside, "not_on_track": warned})


_PRIMARY_COLUMNS = ("not_on_track", "stalled", "outside_expected", "n_scores", "first_score",
                    "first_date", "latest_score", "latest_date", "severity", "band_session",
                    "warning_limit", "expected_score", "band_limit")


def _empty_like(values: Any, k: int) -> Any:
    """A column of ``k`` missing values of the same kind (NA, NaN, NaT, None, False or 0)."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return pd.array([pd.NA] * k, dtype=values.dtype)
    values = np.asarray(values)
    if values.dtype == bool:
        return np.zeros(k, bool)
    if values.dtype.kind in "iu":
        return np.zeros(k, values.dtype)
    if values.dtype.kind == "M":
        return np.full(k, np.datetime64("NaT"), values.dtype)
    if values.dtype.kind == "f":
        return np.full(k, np.nan)
    return np.full(k, None, object)


def _combine(judged: dict[str, tuple[pd.Index, dict[str, Any]]], clients: pd.DataFrame | None,
             measure: str | None) -> pd.DataFrame:
    """One row per client: alerts from any measure; on track and non-response from the primary.
    Vectorised: one pass per measure (a few), each over arrays aligned to the clients."""
    indexes = [ids for ids, _ in judged.values()]
    all_ids = indexes[0]
    for ids in indexes[1:]:
        all_ids = all_ids.union(ids)
    all_ids = pd.Index(all_ids, name="client_id")
    k = len(all_ids)
    primary, primary_why = _primary(all_ids, clients, measure)
    first_cols = next(iter(judged.values()))[1]
    cols = {c: _empty_like(first_cols[c], k) for c in _PRIMARY_COLUMNS}
    rd, crit, has = np.zeros(k, bool), np.zeros(k, bool), np.zeros(k, bool)
    texts = {t: np.full(k, "", object) for t in ("status", "_summary", "_alert", "_watch", "_other")}
    others = []
    for name, (ids, mc) in judged.items():
        pos = all_ids.get_indexer(ids)
        rd[pos] |= mc["reliable_deterioration"]
        crit[pos] |= mc["critical_item"]
        mine = primary[pos] == name
        at = pos[mine]
        has[at] = True
        for c in _PRIMARY_COLUMNS:
            cols[c][at] = mc[c][mine]
        for t in texts:
            texts[t][at] = mc[t][mine]
        # the other measures' alerts only: their on-track and non-response rules do not decide
        other = np.full(k, "", object)
        other[pos[~mine]] = mc["_alert"][~mine]
        others.append(other)
    n = np.asarray(cols["n_scores"])
    watch = np.asarray(pd.array(cols["not_on_track"]).fillna(False), bool) | np.asarray(
        cols["stalled"], bool)
    # inside the expected range and short of the warning limit: the primary measure's own verdict
    inside = has & (texts["status"] == "on track")
    status = _status(rd | crit, n, watch, inside)
    missing = _put(k, ~has, "no " + primary[~has].astype(object) + " score yet ("
                   + primary_why[~has] + ")")
    # a calm combined status implies the primary measure's own status is the same, so its
    # summary line is right; under an alert from another measure it is left out
    summary = np.where(np.isin(status, ["on track", "no flags"]), texts["_summary"], "")
    # what could not be checked matters only where nothing was flagged
    p_other = np.where(np.isin(status, ["alert", "watch"]) & (n >= 2), "", texts["_other"])
    reasons = _join([summary, texts["_alert"], *others, missing, texts["_watch"], p_other], k)
    out = pd.DataFrame({"status": status, "primary_measure": primary,
                        "primary_reason": primary_why, "reliable_deterioration": rd,
                        "not_on_track": cols["not_on_track"], "stalled": cols["stalled"],
                        "outside_expected": cols["outside_expected"], "critical_item": crit,
                        "reasons": reasons}, index=all_ids)
    for c in _PRIMARY_COLUMNS:
        if c not in out.columns:
            out[c] = cols[c]
    return out


def _warning_limit(first: np.ndarray, prev: np.ndarray, d: float, rc: float,
                   warning: tuple[float, float]) -> np.ndarray:
    """The early-warning limit of the latest score, from the intake and the score before it.

    With the rise fractions (a, b) of the reliable change RC (default 1/2 and 1/3) and d = +1
    when higher scores are worse: L = min(y0 + d a RC, 2 (y0 + d b RC) - y_prev) in the worse
    direction (max when d = -1). The latest score reaches L when it has risen a RC since
    intake, or when it and the score before it average b RC above intake. With two scores
    y_prev is the intake, and the second term never binds (2b > a).
    """
    a, b = warning
    single = first + d * a * rc
    pair = 2.0 * (first + d * b * rc) - prev
    with np.errstate(invalid="ignore"):
        return np.minimum(single, pair) if d > 0 else np.maximum(single, pair)


def _reasons(m: Measure, measure: str, k: int, n, first, latest, t_last, is_date, rd, worse,
             stalled, weeks, judged, has_band, above, warned, limit, s_last, exp_, bound, why,
             crit_parts, warning) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reasons of one measure, as three groups: alert, watch and the rest."""
    up = "up" if m.direction == -1 else "down"
    rc = f"{m.reliable_change:g}"
    alert = _join([_put(k, rd, f"{measure} {up} " + _num(np.abs(worse[rd])) + " points since the "
                        f"first score (reliable deterioration, threshold {rc})"), *crit_parts], k)
    side = "above" if m.direction == -1 else "below"
    single, pair = (_num([w * m.reliable_change])[0] for w in warning)
    watch = _join([
        _put(k, warned, f"not on track: {measure} " + _num(latest[warned]) + " at session "
             + _num(s_last[warned]) + " reached the early-warning limit " + _num(limit[warned])
             + f" ({single} {up} from the first score " + _num(first[warned]) + f", or the last "
             f"two scores averaging {pair} {up})"),
        _put(k, stalled, f"no reliable improvement: {measure} " + _num(first[stalled]) + " to "
             + _num(latest[stalled]) + " over " + _num(n[stalled]) + " scores in "
             + _num(weeks[stalled]) + f" weeks, less than the {rc}-point reliable change and "
             f"still in the clinical range ({m.describe_cutoff()})")], k)
    na = judged & ~has_band
    none, one = n == 0, n == 1
    # "other" reasons say what could not be checked: the combined status shows them only
    # where nothing was flagged; a missing or single score is always said
    other = _join([
        _put(k, none, f"no {measure} score yet"),
        _put(k, one, f"only one {measure} score (" + _num(latest[one]) + " on "
             + _day(t_last[one], is_date) + "), on track not checked"),
        _put(k, above, f"{side} the expected range at session " + _num(s_last[above])
             + " (expected about " + _num(exp_[above]) + ", up to " + _num(bound[above])
             + "), below the early-warning limit " + _num(limit[above])
             + ": on track not confirmed"),
        _put(k, na, "on track not checked, no expected-response band: " + why[na])], k)
    return alert, watch, other


def _summary(m: Measure, measure: str, status: np.ndarray, first, latest, s_last, exp_, bound,
             limit) -> np.ndarray:
    """The first reason of a calm status: what was checked, and the limits it was checked against."""
    k = len(status)
    on, calm = status == "on track", status == "no flags"
    return _join([
        _put(k, on, f"{measure} " + _num(first[on]) + " to " + _num(latest[on]) + ": within the "
             "expected range at session " + _num(s_last[on]) + " (expected about " + _num(exp_[on])
             + ", up to " + _num(bound[on]) + ") and short of the early-warning limit "
             + _num(limit[on])),
        _put(k, calm, f"{measure} " + _num(first[calm]) + " to " + _num(latest[calm])
             + ": no alert or watch rule met")], k)


def _method(names: list[str], stall_after: int, stall_weeks: float, expected: Any,
            warning: tuple[float, float], level: float) -> str:
    band = ("a reference given as expected=" if expected is not None else
            "fitted leave-one-client-out on this service")
    ms = [get_measure(n) for n in names]
    rc = ", ".join(f"{m.name} {m.reliable_change:g}" for m in ms)
    cut = "; ".join(m.describe_cutoff() for m in ms)
    crit = ", ".join(f"{m.name} item {i}" for m in ms for i, _ in m.critical_items) or "none"
    a, b = warning
    return (f"Status by pk.client_flags on each client's primary measure (the registry's measure "
            f"for their problem: social anxiety SPIN, PTSD PCL-5, GAD GAD-7; otherwise PHQ-9). "
            f"Alert, on any measure: reliable deterioration (latest minus first score at least the "
            f"reliable change RC: {rc}) or a critical item ({crit}) answered 1 or more at the "
            f"latest administration. Watch, on the primary measure: not on track (early warning: "
            f"risen {a:.2g} RC since the first score, or the last two scores averaging {b:.2g} RC "
            f"above it; chosen by backtest, docs/flags.md) or no reliable improvement (at least "
            f"{stall_after} scores over at least {stall_weeks:g} weeks, improvement below RC, "
            f"latest score clinical: {cut}). On track: the latest primary score inside the "
            f"{level:.0%} expected-response band for its intake and session (Finch, Lambert & "
            f"Schaalje 2001; {band}) and below the early-warning limit. Otherwise no flags; "
            "insufficient data with fewer than 2 primary scores. A difference equal to a "
            "threshold reaches it.")


def _check_warning(warning: Any, band_level: Any) -> tuple[tuple[float, float], float]:
    try:
        a, b = (float(w) for w in warning)
    except (TypeError, ValueError):
        raise ValueError("warning must be two fractions of the reliable change, e.g. (0.5, 1/3), "
                         f"not {warning!r}") from None
    if not (0 < b and 0 < a and a < 2 * b):
        raise ValueError("warning=(a, b) needs 0 < a < 2b (the single-score rise a and the "
                         f"two-score average rise b, as fractions of the reliable change), not {warning!r}")
    if isinstance(band_level, bool) or not isinstance(band_level, (int, float)) \
            or not 0.5 < band_level < 1:
        raise ValueError(f"band_level must be a quantile level between 0.5 and 1, not {band_level!r}")
    return (a, b), float(band_level)


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


def evaluate_on_track(observations: pd.DataFrame, *, measure: str = "PHQ-9", at_session: int = 4,
                      outcome: str = "reliable_deterioration",
                      expected: ExpectedResponse | None = None,
                      warning: tuple[float, float] = (0.5, 1 / 3),
                      band_level: float = 0.90) -> pd.DataFrame:
    """Backtest the not-on-track signal, and the alternatives, at one session against each
    client's final outcome, all on the same clients.

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
    warning, band_level : as in :func:`client_flags`
        The early-warning rise fractions and the expected-response band's quantile level.

    Returns
    -------
    DataFrame
        One row per method, the status's own signal first: ``method``; ``sensitivity``
        (flagged among clients with the outcome), ``specificity`` (not flagged among those
        without), ``ppv``, ``npv``, ``flag_rate``, ``simple_rule_at_same_specificity`` (the
        sensitivity of "risen since intake by c or more" at this row's specificity,
        interpolated between whole thresholds c: a method worth using beats it), ``base_rate``,
        ``n`` and the counts ``tp``, ``fp``, ``fn``, ``tn``. A ratio with a zero denominator is
        NaN; a method that cannot be computed (no band) has NaN and says why in ``note``.
        ``attrs["method"]`` states the rules. Where ``observations`` has an ``episode_id`` column,
        each episode of care is a course of its own (``n`` counts episodes); this needs
        ``expected`` fitted on other data, because the leave-one-client-out band would let a
        returning client's other episode shape the band that judges it.

    Notes
    -----
    The methods, each applied to the score :math:`y_s` at ``at_session`` with intake
    :math:`y_0`, previous score :math:`y_{s-1}`, reliable change :math:`RC` and the worse
    direction taken as up:

    * ``early warning`` (the status's not-on-track rule): :math:`y_s - y_0 \\ge a\\,RC` or
      :math:`(y_{s-1} + y_s)/2 - y_0 \\ge b\\,RC`, default :math:`a = 1/2, b = 1/3`
      (PHQ-9: 3 and 2 points);
    * ``expected range``: :math:`y_s` beyond the ``band_level`` expected-response band for its
      intake and session (Finch, Lambert & Schaalje 2001), leave-one-client-out; it flags about
      ``1 - band_level`` of the clients whatever the share who deteriorate;
    * ``risen a RC since intake``: the simple rule :math:`y_s - y_0 \\ge a\\,RC`;
    * ``early warning or expected range``: either.

    sensitivity = tp / (tp + fn), specificity = tn / (tn + fp), ppv = tp / (tp + fp),
    npv = tn / (tn + fn), base rate = (tp + fn) / n. The OQ-Analyst developers report 85% of
    eventual deteriorators flagged by session 3 (Hannan et al. 2005); a holdout replication
    found 71% (Warren, Nelson & Burlingame 2009). docs/flags.md gives the methods side by side
    on a simulated service built from published trajectory classes.

    References
    ----------
    Finch, A. E., Lambert, M. J. & Schaalje, B. G. (2001). Clin Psychol Psychother 8, 231-242.
    Hannan, C., Lambert, M. J., Harmon, C., et al. (2005). A lab test and algorithms for
    identifying clients at risk for treatment failure. J Clin Psychol 61(2), 155-163.
    Warren, J. S., Nelson, P. L. & Burlingame, G. M. (2009). Identifying youth at risk for
    treatment failure in outpatient community mental health services. J Child Fam Stud 18,
    690-701.

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
    >>> r[["method", "n", "base_rate", "sensitivity", "specificity"]].round(2)
    ... # doctest: +NORMALIZE_WHITESPACE
                                method    n  base_rate  sensitivity  specificity
    0                    early warning  300       0.08         0.96         0.95
    1             expected range (90%)  300       0.08         0.88         0.96
    2      risen 3 since intake (RC/2)  300       0.08         0.92         0.96
    3  early warning or expected range  300       0.08         0.96         0.95
    """
    if _episodes.has_episodes(observations):
        return _evaluate_episodes(observations, measure=measure, at_session=at_session,
                                  outcome=outcome, expected=expected, warning=warning,
                                  band_level=band_level)
    m = _measure_for_rules(measure)
    if isinstance(at_session, bool) or not isinstance(at_session, (int, np.integer)) or at_session < 1:
        raise ValueError(f"at_session must be a whole number, 1 or more, not {at_session!r}")
    if outcome not in ("reliable_deterioration", "no_reliable_improvement"):
        raise ValueError(f"outcome must be 'reliable_deterioration' or 'no_reliable_improvement', "
                         f"not {outcome!r}")
    warning, band_level = _check_warning(warning, band_level)
    c = _courses(observations, measure, None)
    k = len(c.ids)
    s = _session_numbers(c, None, None)
    y0_row = c.y[c.start[c.code]] if len(c.code) else np.array([])
    counted = c.n >= at_session + 2
    judged = np.where(counted, c.start + at_session, -1)
    if expected is not None:
        band = _reference_band(expected, measure, m, y0_row, s, judged, k)
    else:
        band = _loo_band(c.code, s, c.y, y0_row, k, judged, m, measure, band_level)
    if not counted.any():
        raise ValueError(f"no client has a {measure} score at session {at_session} and a later "
                         "one; nothing to evaluate")
    at = judged[counted]
    y_s, y_prev = c.y[at], c.y[at - 1]
    first = c.y[c.start[counted]]
    last = c.y[(c.start + c.n - 1)[counted]]
    d = float(-m.direction)
    rc = float(m.reliable_change)
    worse = d * (last - first)
    truth = reaches(worse, rc) if outcome == "reliable_deterioration" else ~reaches(-worse, rc)
    rise = d * (y_s - first)
    warned = reaches(d * (y_s - _warning_limit(first, y_prev, d, rc, warning)), 0.0)
    bound = band.bound[counted]
    no_band = np.isnan(bound)
    outside = _beyond(y_s, bound, m) & ~no_band
    simple = reaches(rise, warning[0] * rc)
    a_text = f"{warning[0] * rc:g}"
    rows = [("early warning", warned, ""),
            (f"expected range ({band_level:.0%})", outside,
             "" if not no_band.any() else f"no band for {int(no_band.sum())} of {len(bound)} "
             "clients: " + str(band.why[counted][no_band][0])),
            (f"risen {a_text} since intake (RC/{1 / warning[0]:g})", simple, ""),
            ("early warning or expected range", warned | outside, "")]
    out = pd.DataFrame([_confusion(name, flag, truth, rise, note) for name, flag, note in rows])
    for col in ("sensitivity", "specificity", "ppv", "npv", "flag_rate",
                "simple_rule_at_same_specificity"):
        out.loc[out["note"] != "", col] = np.nan
    band_from = ("a reference given as expected=" if expected is not None
                 else "leave-one-client-out fits on the same data")
    out.attrs["method"] = (
        f"Backtest on {measure} at session {at_session} (0 = first score), all methods on the "
        f"same clients. Early warning (the status's not-on-track rule): the score has risen "
        f"{warning[0]:.3g} x the reliable change ({a_text} points) since the first score, or it "
        f"and the score before average {warning[1]:.3g} x ({warning[1] * rc:.3g} points) above "
        f"it. Expected range: beyond the {band_level:.0%} expected-response band (Finch, Lambert "
        f"& Schaalje 2001), bands from {band_from}. Outcome {outcome.replace('_', ' ')}: last "
        "minus first score " + ("at least" if outcome == "reliable_deterioration" else
                                "improving by less than")
        + f" {rc:g} points. Clients with a score at session {at_session} and a later one count.")
    out.attrs["measure"] = measure
    return out


def _confusion(name: str, flagged: np.ndarray, truth: np.ndarray, rise: np.ndarray,
               note: str) -> dict:
    tp = int((flagged & truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())
    tn = int((~flagged & ~truth).sum())
    total = tp + fp + fn + tn

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    spec = ratio(tn, tn + fp)
    return {"method": name, "sensitivity": ratio(tp, tp + fn), "specificity": spec,
            "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
            "flag_rate": ratio(tp + fp, total),
            "simple_rule_at_same_specificity": _simple_rule_at(rise, truth, spec),
            "base_rate": ratio(tp + fn, total), "n": total, "tp": tp, "fp": fp, "fn": fn,
            "tn": tn, "note": note}


def _simple_rule_at(rise: np.ndarray, truth: np.ndarray, specificity: float) -> float:
    """Sensitivity of "rise >= c" at ``specificity``, interpolated between neighbouring
    thresholds c (the rule's ROC hull: randomising between two thresholds reaches any point
    between them)."""
    if np.isnan(specificity) or truth.all() or not truth.any():
        return float("nan")
    cuts = np.unique(rise)
    cuts = np.concatenate([cuts, [cuts[-1] + 1]])
    # flag when rise >= c, for every c at once through the sorted rises
    pos, neg = np.sort(rise[truth]), np.sort(rise[~truth])
    sens = 1 - np.searchsorted(pos, cuts, side="left") / len(pos)
    spec = np.searchsorted(neg, cuts, side="left") / len(neg)
    return float(np.interp(specificity, spec, sens))


# ---------------------------------------------------------------- episodes of care (issue 26)


def _current_episode_flags(observations: pd.DataFrame, items: pd.DataFrame | None,
                           sessions: pd.DataFrame | None, clients: pd.DataFrame | None,
                           as_of: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`client_flags` on each client's current episode (the latest by start date), with
    ``episode_id`` and ``episode_number`` columns and, for a client who came back, a first
    reason saying so and how the episode before ended."""
    eps = _episodes.episodes_of(observations, clients, as_of)
    if clients is not None:
        known = pd.MultiIndex.from_frame(eps[["client_id", _episodes.EPISODE]])
        if as_of is None:
            stray = ~_episodes.in_pairs(observations, known, "observations")
            if stray.any():
                row = observations[stray].iloc[0]
                raise ValueError(f"observations have {int(stray.sum())} row(s) of episodes not "
                                 f"in clients, e.g. client_id {row['client_id']!r} episode_id "
                                 f"{row[_episodes.EPISODE]!r}: give clients every episode, or "
                                 "leave clients out")
    last = ~eps["client_id"].duplicated(keep="last").to_numpy()
    current = eps[last].set_index("client_id")
    # a client's episodes are consecutive rows: the one before the current is the row above
    current["_before"] = np.flatnonzero(last) - 1
    pairs = pd.MultiIndex.from_frame(eps.loc[last, ["client_id", _episodes.EPISODE]])
    out = client_flags(_episodes.only(observations, pairs, "observations"),
                       items=_episodes.only(items, pairs, "items"),
                       sessions=_episodes.only(sessions, pairs, "sessions"),
                       clients=_episodes.only(clients, pairs, "clients"), as_of=as_of, **kwargs)
    attrs = dict(out.attrs)
    ids = out.index.astype(str)
    out.insert(1, _episodes.EPISODE, current[_episodes.EPISODE].reindex(ids).to_numpy())
    number = current["number"].reindex(ids).to_numpy(dtype=np.int64)
    out.insert(2, "episode_number", number)
    back = number > 1
    if back.any():
        before = eps.iloc[current["_before"].reindex(ids[back]).to_numpy()].set_index(
            "client_id")
        text = _came_back(observations, before, out["primary_measure"].to_numpy(object)[back],
                          number[back])
        reasons = out["reasons"].to_numpy(object).copy()
        reasons[back] = np.where(reasons[back] == "", text, text + "; " + reasons[back])
        out["reasons"] = reasons
    attrs["method"] = _episodes.add_to_method(attrs["method"], _CURRENT)
    out.attrs = attrs
    return out


def _current_pairs(observations: pd.DataFrame, clients: pd.DataFrame | None, as_of: Any
                   ) -> tuple[pd.DataFrame, pd.MultiIndex]:
    """Every (client, episode) as :func:`_episodes.episodes_of` lists them, and the pairs of
    each client's current episode (the latest by start date as of ``as_of``)."""
    eps = _episodes.episodes_of(observations, clients, as_of)
    last = ~eps["client_id"].duplicated(keep="last").to_numpy()
    return eps, pd.MultiIndex.from_frame(eps.loc[last, ["client_id", _episodes.EPISODE]])


_CURRENT = ("each client is judged on the current episode of care (the latest by start date), "
            "on its scores only; the expected-response band comes from the other clients' "
            "current episodes")


def _current_episode_by_measure(observations: pd.DataFrame, items: pd.DataFrame | None,
                                sessions: pd.DataFrame | None, clients: pd.DataFrame | None,
                                as_of: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`client_flags_by_measure` on each client's current episode, with ``episode_id``."""
    _, pairs = _current_pairs(observations, clients, as_of)
    out = client_flags_by_measure(_episodes.only(observations, pairs, "observations"),
                                  items=_episodes.only(items, pairs, "items"),
                                  sessions=_episodes.only(sessions, pairs, "sessions"),
                                  as_of=as_of, **kwargs)
    attrs = dict(out.attrs)
    current = pd.Series(pairs.get_level_values(1), index=pairs.get_level_values(0).astype(str))
    out.insert(0, _episodes.EPISODE, current.reindex(
        out.index.get_level_values("client_id").astype(str)).to_numpy(dtype=object))
    attrs["method"] = _episodes.add_to_method(attrs["method"], _CURRENT)
    out.attrs = attrs
    return out


def _current_episode_course(observations: pd.DataFrame, client_id: Any,
                            sessions: pd.DataFrame | None, clients: pd.DataFrame | None,
                            as_of: Any, episode: str | None, **kwargs: Any) -> pd.DataFrame:
    """:func:`client_course` on the client's current episode (or ``episode``), judged against
    the other clients' current episodes: the rows :func:`client_flags` judges."""
    eps, pairs = _current_pairs(observations, clients, as_of)
    if episode is not None:
        mine = eps[eps["client_id"] == str(client_id)]
        if str(episode) not in set(mine[_episodes.EPISODE]):
            raise ValueError(f"client_id {client_id!r} has no episode {episode!r}"
                             + (f" (as of {pd.Timestamp(as_of):%Y-%m-%d})" if as_of is not None
                                else "") + f"; it has {sorted(mine[_episodes.EPISODE])}")
        others = pairs[pairs.get_level_values(0) != str(client_id)]
        pairs = others.append(pd.MultiIndex.from_tuples([(str(client_id), str(episode))],
                                                        names=pairs.names))
    which = pairs[pairs.get_level_values(0) == str(client_id)]
    out = client_course(_episodes.only(observations, pairs, "observations"), client_id,
                        sessions=_episodes.only(sessions, pairs, "sessions"), as_of=as_of,
                        **kwargs)
    ep = str(which[0][1]) if len(which) else None
    out.attrs["episode_id"] = ep
    out.attrs["method"] = (f"episode of care {ep!r} of the client"
                           + (" (chosen)" if episode is not None else
                              " (the current one, the latest by start date)")
                           + ": its first score is session 0; the expected-response band comes "
                             "from the other clients' current episodes")
    return out


def _came_back(observations: pd.DataFrame, before: pd.DataFrame, primary: np.ndarray,
               number: np.ndarray) -> np.ndarray:
    """'second episode: the first ended 2025-04, recovered on PHQ-9 (20 to 6)' per client."""
    from .change import clinical_significance  # layer 2, imported where needed

    ids = before.index.to_numpy(object)
    when = np.where(before["dated_end"].to_numpy(bool),
                    "ended " + before["end"].dt.strftime("%Y-%m").to_numpy(object),
                    "had its last score in " + before["end"].dt.strftime("%Y-%m").to_numpy(object))
    which = np.where(number == 2, "the first", "the one before")
    outcome = np.full(len(ids), "", dtype=object)
    pairs = pd.MultiIndex.from_arrays([ids, before[_episodes.EPISODE].to_numpy(object)])
    earlier = observations[_episodes.in_pairs(observations, pairs, "observations")]
    for name in pd.unique(primary):  # a few measures, each vectorised over its clients
        m = get_measure(name)
        sel = primary == name
        rows = earlier[(earlier["measure"] == name).to_numpy()
                       & earlier["client_id"].isin(ids[sel]).to_numpy()]
        if m.cutoff is None or not m.reliable_change or rows["score"].notna().sum() < 2:
            continue
        try:
            with warnings.catch_warnings():
                # the registry cut-off decides; the cohort SD it also computes is unused and
                # warns for a single client
                warnings.simplefilter("ignore", RuntimeWarning)
                cs = clinical_significance(rows, measure=name)
        except ValueError:  # e.g. no client with two scores
            continue
        hit = cs.index.get_indexer(pairs[sel])
        found = hit >= 0
        pre, post = cs["pre"].to_numpy()[hit[found]], cs["post"].to_numpy()[hit[found]]
        cat = cs["category"].astype(str).to_numpy(object)[hit[found]]
        idx = np.flatnonzero(sel)[found]
        outcome[idx] = (", " + cat + f" on {name} (" + np.char.mod("%g", pre).astype(object)
                        + " to " + np.char.mod("%g", post).astype(object) + ")")
    # one reason, so no "; " inside it: reasons are "; "-separated
    return _episodes.ordinal(number) + " episode: " + which + " " + when + outcome


def _evaluate_episodes(observations: pd.DataFrame, *, expected: Any, **kwargs: Any
                       ) -> pd.DataFrame:
    """:func:`evaluate_on_track` with each episode of care a course of its own."""
    if expected is None:
        raise ValueError("evaluate_on_track with episodes (an episode_id column) needs expected= "
                         "fitted on other data: the leave-one-client-out band is fitted per "
                         "course, so a returning client's other episode would shape the band "
                         "that judges it. Fit one with progress_kit.expected_response on an "
                         "earlier period, or drop episode_id to judge whole clients")
    coded, _ = _episodes.keyed({"observations": observations})
    out = evaluate_on_track(coded["observations"], expected=expected, **kwargs)
    attrs = dict(out.attrs)
    attrs["method"] = _episodes.add_to_method(
        attrs.get("method", ""), "each episode of care is a course of its own (n counts episodes)")
    out.attrs = attrs
    return out
