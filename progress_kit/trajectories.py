"""Per-client change over time: linear slopes, growth (mixed) models and trajectory plot data.

:func:`slopes` fits one straight line per client. Its OLS path is built on per-client
sufficient statistics (:func:`slope_sums`, :func:`slopes_from_sums`) so that it runs on millions
of clients with a handful of vectorised passes, and so that partial sums computed on separate
partitions (e.g. dask) can simply be added before the slopes are derived.
:func:`growth_model` fits a linear mixed model with statsmodels and matches lme4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _cohort, _episodes
from ._dask import dask_dispatch, is_dask_collection
from ._dist import stats  # scipy.stats on first use of anything but norm and t
from .measures import get_measure, reaches
from .trend import TREND_RULE, default_min_change, direction_column, slope_ci

__all__ = ["slopes", "slope_sums", "slopes_from_sums", "growth_model", "GrowthModel",
           "trajectory_plot_data", "TIME_UNITS"]

#: Length of the ``per`` units in days. A month is a mean Gregorian month, 365.2425 / 12 days.
TIME_UNITS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 30.436875}

_SUM_COLUMNS = ["n", "sum_t", "sum_y", "sum_tt", "sum_ty", "sum_yy"]
#: Default origin of date-valued time in :func:`slope_sums` (any fixed day works; a recent one
#: keeps the raw sums of squares small).
DEFAULT_ORIGIN = pd.Timestamp("2000-01-01")


# ---------------------------------------------------------------------------------------------
# input handling shared by the module
# ---------------------------------------------------------------------------------------------

def _select(data: pd.DataFrame, subject: str, time: str, value: str,
            measure: str | None, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Check the columns; return the needed ones for one measure, without rows lacking a score."""
    mask = _select_mask(data, subject, time, value, measure, keep)
    # one copy of only the needed columns: inputs may hold tens of millions of rows
    cols = list(dict.fromkeys([subject, time, value, *keep]))
    return data.loc[mask, cols]


def _select_mask(data: pd.DataFrame, subject: str, time: str, value: str,
                 measure: str | None, keep: tuple[str, ...] = ()) -> np.ndarray:
    """Check the columns; the rows of one measure that have a score and a time."""
    _check_select(data, subject, time, value, measure, keep)
    t = data[time]
    # nullable/pyarrow dtypes give object arrays from to_numpy() unless told otherwise
    mask = data[value].notna().to_numpy(bool) & t.notna().to_numpy(bool)
    if measure is not None and "measure" in data.columns:
        mask &= (data["measure"] == measure).to_numpy(bool, na_value=False)
    return mask


def _check_select(data: pd.DataFrame, subject: str, time: str, value: str,
                  measure: str | None, keep: tuple[str, ...] = ()) -> None:
    """The columns exist and have usable types; the measure is registered."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    for role, col in (("subject", subject), ("time", time), ("value", value)) + tuple(
            ("extra", k) for k in keep):
        if col not in data.columns:
            raise ValueError(f"{role} column {col!r} is not in the data; "
                             f"columns are {list(data.columns)}")
    if not pd.api.types.is_numeric_dtype(data[value]):
        raise ValueError(f"value column {value!r} must be numeric, not {data[value].dtype}")
    t = data[time]
    if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_datetime64_any_dtype(t)):
        raise ValueError(f"time column {time!r} must be numeric or datetime64, not {t.dtype}")
    if measure is not None:
        get_measure(measure)  # unknown names raise with a suggestion


def _select_sessions(data: pd.DataFrame, subject: str, time: str, value: str,
                     measure: str | None, session: str | None, why: str) -> pd.DataFrame:
    """:func:`_select` for one score per session: checks the optional session column, refuses
    two scores at the same time (``why`` says what needs one per session), sorts by time."""
    if session is not None and session not in data.columns:
        raise ValueError(f"session column {session!r} is not in the data")
    d = _select(data, subject, time, value, measure, keep=(session,) if session else ())
    if d.duplicated([subject, time]).any():
        dup = d[d.duplicated([subject, time], keep=False)].iloc[0]
        raise ValueError(f"two {measure or value} scores for {subject} {dup[subject]!r} at {time} "
                         f"{dup[time]}; {why}")
    return d.sort_values([subject, time], kind="stable")


def _time_values(t: pd.Series, per: str, origin: Any = None) -> np.ndarray:
    """Time as float: numeric as is, dates in ``per`` units since ``origin``."""
    if pd.api.types.is_datetime64_any_dtype(t):
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_localize(None)
        return _seconds_in_units(t.to_numpy().astype("datetime64[s]").astype(np.int64), per, origin)
    if origin is not None:
        return t.to_numpy(dtype=float) - float(origin)
    return t.to_numpy(dtype=float)


def _seconds_in_units(secs: np.ndarray, per: str, origin: Any = None) -> np.ndarray:
    """Whole seconds since the epoch as ``per`` units since ``origin`` (default 2000-01-01)."""
    if per not in TIME_UNITS:
        raise ValueError(f"per={per!r} is not a time unit; use one of {list(TIME_UNITS)}")
    origin = DEFAULT_ORIGIN if origin is None else pd.Timestamp(origin)
    secs = secs - np.int64(origin.value // 1_000_000_000)
    return secs / (86400.0 * TIME_UNITS[per])


def _shared_time_values(prep: Any, toff: np.ndarray, per: str) -> np.ndarray:
    """:func:`_time_values` of the times a shared preparation decodes (same numbers)."""
    if prep.float_time:
        return prep.times(toff)
    sec = 1_000_000_000
    if prep.t0 % sec == 0 and prep.unit % sec == 0:
        # whole seconds: the same integers as datetime64[s] gives, without the nanoseconds
        secs = toff * (prep.unit // sec)
        secs += prep.t0 // sec - prep.unit // sec
        return _seconds_in_units(secs, per)
    return _time_values(pd.Series(prep.times(toff).view("datetime64[ns]")), per)


def _resolve_better(better: str | None, measure: str | None) -> str | None:
    if measure is not None:
        registry = get_measure(measure).better
        if better is not None and better != registry:
            raise ValueError(f"better={better!r} contradicts the registry: for {measure} "
                             f"{registry} is better")
        return registry
    if better is not None and better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower', 'higher' or None, not {better!r}")
    return better


# ---------------------------------------------------------------------------------------------
# OLS slopes from sufficient statistics
# ---------------------------------------------------------------------------------------------

def slope_sums(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
               value: str = "score", measure: str | None = None, per: str = "week",
               origin: Any = None) -> pd.DataFrame:
    """Per-subject sufficient statistics for a least-squares line: n, Σt, Σy, Σt², Σty, Σy².

    Sums from disjoint partitions of the rows (same ``per`` and ``origin``) add up to the sums
    of the whole data, so a distributed run computes this per partition, adds the tables
    (``pd.concat(parts).groupby(level=0).sum()`` or a dask ``groupby().sum()``) and passes the
    total to :func:`slopes_from_sums`.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per subject and time point.
    subject, time, value : str
        Column names. ``time`` is numeric (slope per unit) or datetime64 (slope per ``per``).
    measure : str, optional
        Keep only rows whose ``measure`` column equals this registry name.
    per : {"day", "week", "month"}
        Time unit for dates; a month is 30.436875 days (365.2425 / 12).
    origin : Timestamp or float, optional
        Time zero. It must be the same for every partition. Default 2000-01-01 for dates, 0 for
        numbers. Raw sums of squares lose precision when times are far from the origin and close
        together (relative error about ``1e-16 * (t / spread)**2``); with dates in days since
        2000 that is below 1e-9 for any realistic course of therapy.

    Returns
    -------
    DataFrame
        Indexed by subject (sorted), columns ``n``, ``sum_t``, ``sum_y``, ``sum_tt``,
        ``sum_ty``, ``sum_yy``.

    Examples
    --------
    >>> d = pd.DataFrame({"client_id": ["a"] * 3, "t": [0.0, 1.0, 2.0], "y": [5.0, 4.0, 3.0]})
    >>> slope_sums(d, time="t", value="y").loc["a"].tolist()
    [3.0, 3.0, 12.0, 5.0, 10.0, 50.0]
    """
    d = _select(data, subject, time, value, measure)
    codes, uniques = pd.factorize(d[subject], sort=True)
    t = _time_values(d[time], per, origin)
    y = d[value].to_numpy(dtype=float)
    k = len(uniques)
    out = np.column_stack([
        np.bincount(codes, minlength=k).astype(float),
        np.bincount(codes, t, k), np.bincount(codes, y, k),
        np.bincount(codes, t * t, k), np.bincount(codes, t * y, k), np.bincount(codes, y * y, k),
    ])
    return pd.DataFrame(out, index=pd.Index(uniques, name=subject), columns=_SUM_COLUMNS)


def _centred_sums(codes: np.ndarray, k: int, t: np.ndarray, y: np.ndarray):
    """n, means and centred (co)variation sums by two passes: exact for any time origin."""
    n = np.bincount(codes, minlength=k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tbar = np.bincount(codes, t, k) / n
        ybar = np.bincount(codes, y, k) / n
    # three row-length buffers, reused: at tens of millions of rows each new array costs as
    # much in page faults as the arithmetic on it
    tc = tbar[codes]
    np.subtract(t, tc, out=tc)
    yc = ybar[codes]
    np.subtract(y, yc, out=yc)
    buf = np.multiply(tc, tc)
    stt = np.bincount(codes, buf, k)
    sty = np.bincount(codes, np.multiply(tc, yc, out=buf), k)
    syy = np.bincount(codes, np.multiply(yc, yc, out=buf), k)
    return n, tbar, ybar, stt, sty, syy


def _ols_table(n, tbar, ybar, stt, sty, syy, index, alpha: float, better: str | None,
               span: np.ndarray | None = None, min_change: float = 0.0,
               min_points: int = 3) -> pd.DataFrame:
    slope, half = slope_ci(n, stt, sty, syy, alpha=alpha, valid=n >= 3)
    out = pd.DataFrame({"n": n.astype(np.int64), "slope": slope, "ci_low": slope - half,
                        "ci_high": slope + half}, index=index)
    return _label(out, span, better, min_change, min_points)


def _label(out: pd.DataFrame, span: np.ndarray | None, better: str | None, min_change: float,
           min_points: int) -> pd.DataFrame:
    """Add ``change`` (slope x time covered) and ``direction`` by the kit's one trend rule."""
    if span is None:
        if min_change > 0:
            raise ValueError("a minimum change needs each subject's time span: give sums a "
                             "'span' column or min_change=0")
        span = np.full(len(out), np.nan)
    out["change"] = out["slope"].to_numpy() * np.asarray(span, dtype=float)
    # with no minimum, only the sign of the change matters (and no span is needed)
    change = out["change"].to_numpy() if min_change > 0 else out["slope"].to_numpy()
    out["direction"] = direction_column(out["ci_low"], out["ci_high"], change, out["n"],
                                       min_change=min_change, min_points=min_points, better=better)
    out.attrs["trend_rule"] = (f"{TREND_RULE}; minimum change {min_change:g} points over the "
                               f"time span, minimum {min_points} points")
    return out


def _check_rule(min_change: float | None, min_points: int, measure: str | None) -> tuple[float, int]:
    if min_change is None:
        min_change = default_min_change(measure)
    if isinstance(min_change, bool) or not isinstance(min_change, (int, float)) or not min_change >= 0:
        raise ValueError(f"min_change must be a number >= 0, not {min_change!r}")
    if isinstance(min_points, bool) or not isinstance(min_points, (int, np.integer)) or min_points < 3:
        raise ValueError(f"min_points must be a whole number >= 3, not {min_points!r}")
    return float(min_change), int(min_points)


def slopes_from_sums(sums: pd.DataFrame, *, alpha: float = 0.05, better: str | None = None,
                     min_change: float = 0.0, min_points: int = 3) -> pd.DataFrame:
    """OLS slope, t-based confidence interval and direction from :func:`slope_sums` output.

    Parameters
    ----------
    sums : DataFrame
        Columns ``n``, ``sum_t``, ``sum_y``, ``sum_tt``, ``sum_ty``, ``sum_yy``, one row per
        subject (possibly the sum of several partitions' tables).
    alpha : float
        1 - confidence level of the interval.
    better : {"lower", "higher"}, optional
        Which direction is improvement; without it ``direction`` says increasing/decreasing.
    min_change, min_points : float, int
        The trend rule (see :func:`slopes`). A ``min_change`` above 0 needs a ``span`` column
        in ``sums`` (time covered per subject, in the sums' time unit).

    Returns
    -------
    DataFrame
        Same index, columns ``n``, ``slope``, ``ci_low``, ``ci_high``, ``change``,
        ``direction`` (see :func:`slopes`).

    Examples
    --------
    >>> d = pd.DataFrame({"client_id": ["a"] * 4, "t": [0.0, 1, 2, 3], "y": [9.0, 7, 6, 3]})
    >>> slopes_from_sums(slope_sums(d, time="t", value="y"), better="lower").round(3).reset_index()
      client_id  n  slope  ci_low  ci_high  change  direction
    0         a  4   -1.9  -3.038   -0.762     NaN  improving
    """
    missing = [c for c in _SUM_COLUMNS if c not in sums.columns]
    if missing:
        raise ValueError(f"sums lacks column(s) {missing}; make it with slope_sums()")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    min_change, min_points = _check_rule(min_change, min_points, None)
    span = sums["span"].to_numpy(dtype=float) if "span" in sums.columns else None
    n = sums["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tbar = sums["sum_t"].to_numpy() / n
        ybar = sums["sum_y"].to_numpy() / n
        stt = sums["sum_tt"].to_numpy() - n * tbar * tbar
        sty = sums["sum_ty"].to_numpy() - n * tbar * ybar
        syy = sums["sum_yy"].to_numpy() - n * ybar * ybar
    # cancellation can leave a tiny negative number where the true value is 0
    scale = np.maximum(np.abs(sums["sum_tt"].to_numpy()), 1.0)
    stt = np.where(stt <= 1e-12 * scale, 0.0, stt)
    return _ols_table(n, tbar, ybar, stt, sty, syy, sums.index, alpha,
                      _resolve_better(better, None), span, min_change, min_points)


def slopes(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
           value: str = "score", measure: str | None = None, method: str = "ols",
           per: str = "week", better: str | None = None, alpha: float = 0.05,
           min_change: float | None = None, min_points: int = 3) -> pd.DataFrame:
    """One straight-line slope per subject, with a confidence interval and a direction.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per subject and time point (e.g. ``pk.read_observations()``).
    subject, time, value : str
        Column names. A numeric ``time`` gives the slope per unit of time; a datetime64 ``time``
        gives it per ``per``.
    measure : str, optional
        Registry name. Rows whose ``measure`` column differs are ignored and ``better`` is
        taken from the registry.
    method : {"ols", "theil-sen"}
        Ordinary least squares with a t-based interval, or the Theil-Sen median of pairwise
        slopes with the interval of :func:`scipy.stats.theilslopes`.
    per : {"day", "week", "month"}
        Unit for date-valued time; a month is 30.436875 days (mean Gregorian month).
    better : {"lower", "higher"}, optional
        Which direction is improvement when no ``measure`` is given.
    alpha : float
        1 - confidence level of the interval (default 95 %).
    min_change : float, optional
        Minimum change over the subject's time span (slope x span, in score points) for an
        improving or worsening label. Default: the measure's reliable-change threshold (PHQ-9:
        6), or 10% of its range without one, or 0 without a measure.
    min_points : int
        Minimum points for a label (default 3, the least an interval needs).

    Returns
    -------
    DataFrame
        Indexed by subject (sorted; by ``client_id`` and ``episode_id`` when ``data`` has an
        ``episode_id`` column, one line per episode of care), columns ``n`` (points used),
        ``slope``, ``ci_low``,
        ``ci_high``, ``change`` (slope x time span covered) and ``direction``: ``improving`` /
        ``stable`` / ``worsening`` when ``better`` is known, else ``increasing`` / ``stable``
        / ``decreasing``. A subject with fewer than ``min_points`` points (or all at the same
        time) is kept with ``insufficient data``. ``attrs["trend_rule"]`` states the rule.

    Notes
    -----
    OLS: with centred sums :math:`S_{tt}=\\sum (t-\\bar t)^2`, :math:`S_{ty}=\\sum (t-\\bar t)
    (y-\\bar y)`, :math:`S_{yy}=\\sum (y-\\bar y)^2`, the slope is :math:`b=S_{ty}/S_{tt}`, its
    standard error :math:`\\sqrt{(S_{yy}-b S_{ty})/((n-2) S_{tt})}` and the interval
    :math:`b \\pm t_{1-\\alpha/2,\\,n-2}\\,SE` (identical to R's ``confint(lm(y ~ t))``).
    Time and score are centred on each subject's means in a first vectorised pass, so dates do
    not lose precision; everything is computed with ``np.bincount`` over factorized subject
    codes, with no per-subject Python loop. For partitioned data use :func:`slope_sums` and
    :func:`slopes_from_sums`.

    Direction follows the kit's one trend rule (:func:`progress_kit.trend_direction`):
    improving or worsening only when the interval excludes 0 **and** ``|change| >=
    min_change`` **and** ``n >= min_points``. *Stable* means the data cannot tell a direction of
    that size at this confidence level. It does not mean "no change"; with few points an
    interval is wide.

    Assumptions: a linear course over the period, independent residuals with constant variance
    (serial correlation of session scores makes the OLS interval too narrow). Theil-Sen is robust
    to outliers (breakdown point 29 %) and its interval is Sen's (1968) distribution-free one; it
    loops over subjects in Python (not the fast path).

    References
    ----------
    Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau. JASA 63,
    1379-1389. Theil, H. (1950). A rank-invariant method of linear and polynomial regression
    analysis. Indagationes Mathematicae 12, 85-91.

    Examples
    --------
    >>> d = pd.DataFrame({"client_id": ["a"] * 4 + ["b"] * 2,
    ...                   "date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15",
    ...                                           "2024-01-22", "2024-01-01", "2024-01-08"]),
    ...                   "measure": "PHQ-9", "score": [20.0, 17, 15, 11, 12, 10]})
    >>> slopes(d, measure="PHQ-9").round(2).reset_index()
      client_id  n  slope  ci_low  ci_high  change          direction
    0         a  4   -2.9   -4.04    -1.76    -8.7          improving
    1         b  2    NaN     NaN      NaN     NaN  insufficient data
    """
    if method not in ("ols", "theil-sen"):
        raise ValueError(f"method must be 'ols' or 'theil-sen', not {method!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    if _episodes.has_episodes(data, subject):
        return _episodes.per_episode(
            slopes, {"data": data}, subject=subject, time=time, value=value, measure=measure,
            method=method, per=per, better=better, alpha=alpha, min_change=min_change,
            min_points=min_points)
    if is_dask_collection(data):
        if method != "ols":
            raise ValueError("a dask dataframe supports method='ols' only (Theil-Sen needs all of a "
                             "client's rows together; compute per client first)")
        return dask_dispatch("slopes", data, subject=subject, time=time, value=value,
                             measure=measure, per=per, better=better, alpha=alpha,
                             min_change=min_change, min_points=min_points)
    better = _resolve_better(better, measure)
    min_change, min_points = _check_rule(min_change, min_points, measure)
    codes, index, t, y = _slope_inputs(data, subject, time, value, measure, per)
    lo, hi = _time_bounds(codes, len(index), t)
    if method == "ols":
        n, tbar, ybar, stt, sty, syy = _centred_sums(codes, len(index), t, y)
        return _ols_table(n, tbar, ybar, stt, sty, syy, index, alpha, better, hi - lo, min_change,
                          min_points)
    return _theil_sen(codes, len(index), t, y, index, alpha, better, hi - lo, min_change,
                      min_points)


def _slope_inputs(data: pd.DataFrame, subject: str, time: str, value: str, measure: str | None,
                  per: str) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Subject codes (in sorted-ID order), the subject index, time and value of the used rows.

    They come from the frame's shared factorisation and sort where it applies
    (:mod:`progress_kit._cohort`): no copy of the ID column and no new factorisation per call.
    """
    _check_select(data, subject, time, value, measure)
    prep = _cohort.prepared(data, subject, time)
    if prep is not None:
        sel = ~np.isnan(prep.sorted_column(data, value))
        if measure is not None and "measure" in data.columns:
            sel &= prep.measure_mask(measure)
        if prep.missing_time:
            sel &= prep.time_offsets() > 0
        _, full, toff = prep.decode(sel, rows=False)
        codes, uniques = prep.sorted_numbers(full)
        t = _shared_time_values(prep, toff, per)
        return (codes, uniques.rename(subject), t,
                prep.sorted_column(data, value)[sel])
    mask = _select_mask(data, subject, time, value, measure)
    d = data.loc[mask, list(dict.fromkeys([subject, time, value]))]
    codes, uniques = pd.factorize(d[subject], sort=True)
    return (codes, pd.Index(uniques, name=subject), _time_values(d[time], per),
            d[value].to_numpy(dtype=float))


def _time_bounds(codes: np.ndarray, k: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last time point per subject (codes 0 .. k-1, each present)."""
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, codes, t)
    np.maximum.at(hi, codes, t)
    return lo, hi


def _time_range(data: pd.DataFrame, *, subject: str, time: str, value: str, measure: str | None,
                per: str) -> pd.DataFrame:
    """``t_min`` and ``t_max`` per subject in the time units of :func:`slope_sums`, for the
    trend rule's change over the span on partitioned data (partitions combine by min and max)."""
    d = _select(data, subject, time, value, measure)
    codes, uniques = pd.factorize(d[subject], sort=True)
    lo, hi = _time_bounds(codes, len(uniques), _time_values(d[time], per))
    return pd.DataFrame({"t_min": lo, "t_max": hi}, index=pd.Index(uniques, name=subject))


def _theil_sen(codes, k, t, y, index, alpha, better, span, min_change, min_points) -> pd.DataFrame:
    order = np.argsort(codes, kind="stable")
    codes, t, y = codes[order], t[order], y[order]
    bounds = np.searchsorted(codes, np.arange(k + 1))
    res = np.full((k, 3), np.nan)
    n = np.diff(bounds)
    for g in range(k):  # scipy has no grouped Theil-Sen; this path is not the hot one
        lo, hi = bounds[g], bounds[g + 1]
        if hi - lo >= 3 and np.ptp(t[lo:hi]) > 0:
            r = stats.theilslopes(y[lo:hi], t[lo:hi], alpha=1 - alpha)
            res[g] = r.slope, r.low_slope, r.high_slope
    ok = ~np.isnan(res[:, 0])
    out = pd.DataFrame({"n": n.astype(np.int64), "slope": res[:, 0], "ci_low": res[:, 1],
                        "ci_high": res[:, 2]}, index=index)
    # scipy's interval can touch 0 exactly; the rule's strict inequalities treat that as
    # "includes 0", like the OLS path
    out.loc[~ok, ["ci_low", "ci_high"]] = np.nan
    return _label(out, span, better, min_change, min_points)


# ---------------------------------------------------------------------------------------------
# growth model
# ---------------------------------------------------------------------------------------------

@dataclass
class GrowthModel:
    """Result of :func:`growth_model`.

    Attributes
    ----------
    fixed : DataFrame
        Index ``intercept``, ``slope``; columns ``estimate``, ``se``, ``ci_low``, ``ci_high``
        (Wald intervals, estimate ± z SE).
    random : DataFrame
        One row per subject: ``intercept_re`` and ``slope_re`` are the empirical Bayes (BLUP)
        deviations (lme4 ``ranef``); ``intercept`` and ``slope`` are fixed + deviation
        (lme4 ``coef``).
    variance : DataFrame
        Variance components: ``variance`` and ``sd`` for the subject intercept, slope and the
        residual, and the intercept-slope correlation in ``corr``.
    result : statsmodels MixedLMResults
        The fitted model, for anything else.
    """

    fixed: pd.DataFrame
    random: pd.DataFrame
    variance: pd.DataFrame
    result: Any

    def summary(self) -> Any:
        """The statsmodels summary table."""
        return self.result.summary()


def _check_nobs_vs_random_effects(frame: pd.DataFrame, q: int, subject: str) -> None:
    """Refuse N <= q * groups, as lme4's check.nobs.vs.nRE does by default."""
    n_obs, n_groups = len(frame), int(frame["g"].nunique())
    if n_obs <= q * n_groups:
        term = "(time | subject)" if q == 2 else "(1 | subject)"
        raise ValueError(
            f"{n_obs} observations <= {q * n_groups} random effects ({q} per subject x {n_groups} "
            f"subjects in {subject!r}) for the term {term}: the random-effect and residual "
            "variances are not identifiable (lme4 check.nobs.vs.nRE). Use random_slope=False, "
            "or subjects with at least 3 scores")


def _fit_mixed(model: Any, reml: bool) -> Any:
    """Fit with L-BFGS, falling back to BFGS and Powell on a singular step or no convergence.

    statsmodels tries its list of optimisers only when one does not converge; a singular
    matrix inside L-BFGS (seen near a zero variance component) raises instead, so each
    optimiser is tried in turn here.
    """
    import warnings

    from numpy.linalg import LinAlgError

    failures = []
    for method in ("lbfgs", "bfgs", "powell"):
        # warnings of an attempt that is then abandoned would only confuse: keep the final one's
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model.fit(reml=reml, method=method)
            except LinAlgError as exc:
                failures.append(f"{method}: {exc}")
                continue
        if result.converged or method == "powell":
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            return result
        failures.append(f"{method}: did not converge")
    raise ValueError("the mixed model could not be fitted (" + "; ".join(failures) + ")")


def growth_model(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
                 value: str = "score", measure: str | None = None, random_slope: bool = True,
                 reml: bool = True, per: str = "week", alpha: float = 0.05) -> GrowthModel:
    """Linear growth model: a random intercept (and slope) per subject, by statsmodels MixedLM.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per subject and time point.
    subject, time, value : str
        Column names. A datetime64 ``time`` is converted to ``per`` units since each subject's
        first score, so the intercept is the expected score at the first assessment.
    measure : str, optional
        Keep only rows whose ``measure`` column equals this registry name.
    random_slope : bool
        ``value ~ time + (time | subject)`` when true (unstructured 2x2 covariance), else
        ``value ~ time + (1 | subject)``.
    reml : bool
        Restricted maximum likelihood (lme4's default) or maximum likelihood.
    per : {"day", "week", "month"}
        Unit for date-valued time.
    alpha : float
        1 - confidence level of the Wald intervals of the fixed effects.

    Returns
    -------
    GrowthModel
        ``.fixed``, ``.random``, ``.variance``, ``.result`` and ``.summary()``. Where ``data``
        has an ``episode_id`` column (episodes of care), each episode is a course of its own
        (its own random intercept and slope, time from its own first score): ``.random`` is
        indexed by (``client_id``, ``episode_id``) and ``.random.attrs["method"]`` says so.

    Raises
    ------
    ValueError
        Fewer than 2 subjects, or no more observations than random effects.

    Notes
    -----
    Model: :math:`y_{ij} = (\\beta_0 + u_{0i}) + (\\beta_1 + u_{1i}) t_{ij} + e_{ij}`, with
    :math:`(u_{0i}, u_{1i}) \\sim N(0, G)` and :math:`e_{ij} \\sim N(0, \\sigma^2)`.
    Assumes linear individual courses, normal random effects and residuals, and data missing at
    random. Like lme4's default ``check.nobs.vs.nRE = "stop"``, it refuses a model with no more
    observations than random effects (e.g. random slopes with two scores per subject): the
    random-effect variances and the residual variance are then not identifiable, although the
    optimiser would still report convergence. On lme4's ``sleepstudy``
    (``Reaction ~ Days + (Days | Subject)``, REML) it reproduces lme4: fixed effects 251.4051
    and 10.4673, SEs 6.8246 and 1.5458. lme4's ``confint`` default is a profile interval; the
    intervals here are Wald intervals.

    References
    ----------
    Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects models
    using lme4. Journal of Statistical Software 67(1), 1-48.
    Singer, J. D. & Willett, J. B. (2003). Applied Longitudinal Data Analysis. Oxford UP.

    Examples
    --------
    >>> from progress_kit import read_dataset
    >>> m = growth_model(read_dataset("sleepstudy"), subject="Subject", time="Days",
    ...                  value="Reaction")
    >>> m.fixed["estimate"].round(2).tolist()
    [251.41, 10.47]
    """
    if _episodes.has_episodes(data, subject):
        coded, pairs = _episodes.keyed({"data": data})
        model = growth_model(coded["data"], subject=subject, time=time, value=value,
                             measure=measure, random_slope=random_slope, reml=reml, per=per,
                             alpha=alpha)
        model.random = _episodes.decoded(model.random, pairs)
        return model
    import statsmodels.formula.api as smf  # heavy import, only when used

    d = _select(data, subject, time, value, measure)
    frame = pd.DataFrame({"y": d[value].to_numpy(dtype=float),
                          "g": d[subject].to_numpy()})
    if pd.api.types.is_datetime64_any_dtype(d[time]):
        t = _time_values(d[time], per)
        codes, uniques = pd.factorize(d[subject])
        first = np.full(len(uniques), np.inf)
        np.minimum.at(first, codes, t)
        frame["t"] = t - first[codes]
    else:
        frame["t"] = d[time].to_numpy(dtype=float)
    if frame["g"].nunique() < 2:
        raise ValueError(f"subject column {subject!r} has fewer than 2 subjects; a mixed model "
                         "needs several")
    _check_nobs_vs_random_effects(frame, 2 if random_slope else 1, subject)
    model = smf.mixedlm("y ~ t", frame, groups=frame["g"],
                        re_formula="~t" if random_slope else "~1")
    result = _fit_mixed(model, reml)
    z = stats.norm.ppf(1 - alpha / 2)
    est = result.fe_params.to_numpy()
    se = result.bse_fe.to_numpy()
    fixed = pd.DataFrame({"estimate": est, "se": se, "ci_low": est - z * se,
                          "ci_high": est + z * se}, index=pd.Index(["intercept", "slope"]))
    re = pd.DataFrame(result.random_effects).T
    re = re.set_axis(["intercept_re", "slope_re"][:re.shape[1]], axis=1)
    re.index.name = subject
    random = re.copy()
    random["intercept"] = est[0] + re["intercept_re"]
    random["slope"] = est[1] + (re["slope_re"] if random_slope else 0.0)
    random = random.sort_index()
    cov = np.asarray(result.cov_re)
    names = ["intercept", "slope"][:cov.shape[0]]
    variance = pd.DataFrame({"variance": list(np.diag(cov)) + [result.scale]},
                            index=pd.Index(names + ["residual"], name="component"))
    variance["sd"] = np.sqrt(variance["variance"])
    variance["corr"] = np.nan
    if cov.shape[0] == 2:
        variance.loc["slope", "corr"] = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    return GrowthModel(fixed=fixed, random=random, variance=variance, result=result)


# ---------------------------------------------------------------------------------------------
# plot data
# ---------------------------------------------------------------------------------------------

def trajectory_plot_data(observations: pd.DataFrame, client_id: str, measure: str, *,
                         subject: str = "client_id", time: str = "date",
                         value: str = "score", episode: str | None = None) -> pd.DataFrame:
    """Tidy data for one client's trajectory plot with the cut-off line and reliable-change band.

    Parameters
    ----------
    observations : DataFrame
        Long table with ``measure`` column (``pk.read_observations()``).
    client_id : str
        The client.
    measure : str
        Registry name; gives the cut-off and the reliable-change threshold.
    episode : str, optional
        With episodes of care (an ``episode_id`` column): the episode to draw. Default: the
        client's current one, the episode with the latest first score.

    Returns
    -------
    DataFrame
        One row per score in time order: ``date`` (the ``time`` column), ``score``, ``cutoff``
        (NaN if the measure has none), ``band_low`` and ``band_high`` (first score ±
        reliable_change: a later score outside the band is a reliable change; NaN if the measure
        has no threshold), ``reliable`` (``improved`` / ``deteriorated`` / ``no reliable
        change`` relative to the first score, by the measure's direction). With episodes of
        care, the rows and the first score are those of one episode (never a course glued
        across the gap); ``attrs["episode_id"]`` and ``attrs["method"]`` say which.

    Examples
    --------
    >>> obs = pd.DataFrame({"client_id": "a", "measure": "PHQ-9", "score": [18.0, 15, 11],
    ...                     "date": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-02-01"])})
    >>> trajectory_plot_data(obs, "a", "PHQ-9")[["score", "band_low", "band_high", "reliable"]]
       score  band_low  band_high            reliable
    0   18.0      12.0       24.0  no reliable change
    1   15.0      12.0       24.0  no reliable change
    2   11.0      12.0       24.0            improved
    """
    m = get_measure(measure)
    episodes = _episodes.has_episodes(observations, subject)
    d = _select(observations, subject, time, value, measure,
                keep=(_episodes.EPISODE,) if episodes else ())
    d = d[d[subject] == client_id].sort_values(time)
    if d.empty:
        raise ValueError(f"no {measure} scores for {subject} {client_id!r}")
    ep = None
    if episodes:
        if episode is None:  # the current episode: the one with the latest first score
            ep = d.groupby(_episodes.EPISODE)[time].min().idxmax()
        elif str(episode) in set(d[_episodes.EPISODE].astype(str)):
            ep = str(episode)
        else:
            raise ValueError(f"no {measure} scores for {subject} {client_id!r} in episode "
                             f"{episode!r}")
        d = d[d[_episodes.EPISODE].astype(str) == str(ep)]
    elif episode is not None:
        raise ValueError(f"episode={episode!r}, but observations have no episode_id column")
    scores = d[value].to_numpy(dtype=float)
    out = pd.DataFrame({time: d[time].to_numpy(), "score": scores})
    out["cutoff"] = np.nan if m.cutoff is None else float(m.cutoff)
    rc = np.nan if m.reliable_change is None else float(m.reliable_change)
    out["band_low"] = scores[0] - rc
    out["band_high"] = scores[0] + rc
    gain = (scores - scores[0]) * m.direction
    out["reliable"] = np.select([reaches(gain, rc), reaches(-gain, rc)], ["improved", "deteriorated"],
                                "no reliable change")
    if m.reliable_change is None:
        out["reliable"] = "no published threshold"
    if ep is not None:
        out.attrs["episode_id"] = ep
        out.attrs["method"] = (f"episode of care {ep!r}" + (" (chosen)" if episode is not None
                                                            else " (the current one)")
                               + ": reliable change relative to its first score")
    return out
