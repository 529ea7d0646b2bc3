"""One rule for the trend labels "improving", "stable" and "worsening" (layer 2 helper).

Every trend label in the kit (questionnaire slopes in :func:`progress_kit.slopes`, the diary
trend in :func:`progress_kit.daily_trend_data`, the progress-score trend in
:func:`progress_kit.progress_score`) comes from :func:`trend_direction`, so the labels cannot
contradict each other's definition; their slopes and intervals come from :func:`slope_ci`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ._dist import stats  # scipy.stats on first use of anything but norm and t
from .measures import get_measure, reaches

__all__ = ["trend_direction", "default_min_change", "slope_ci", "TREND_RULE", "MIN_CHANGE_SHARE"]

#: Without a published reliable-change threshold, the minimum change over the window is this
#: share of the measure's range (10 points on the 0-100 progress score, 0.9 on mood 1-10).
MIN_CHANGE_SHARE = 0.10

#: The rule in words, for reports and ``attrs``.
TREND_RULE = ("improving or worsening only when the slope's 95% confidence interval excludes "
              "zero, the change over the window (slope x window length) reaches the stated "
              "minimum, and the window holds the minimum number of points; otherwise stable, "
              "or insufficient data when there are too few points")


def default_min_change(measure: str | None) -> float:
    """The stated minimum change for a measure's trend label.

    The registry's reliable-change threshold when it has one (PHQ-9: 6 points), otherwise
    :data:`MIN_CHANGE_SHARE` of its range (mood 1-10: 0.9), and 0 without a measure or range.

    Examples
    --------
    >>> default_min_change("PHQ-9"), default_min_change("mood"), default_min_change(None)
    (6.0, 0.9, 0.0)
    """
    if measure is None:
        return 0.0
    m = get_measure(measure)
    if m.reliable_change:
        return float(m.reliable_change)
    if math.isfinite(m.max):
        return round(MIN_CHANGE_SHARE * (m.max - m.min), 10)
    return 0.0


def slope_ci(n: Any, sxx: Any, sxy: Any, syy: Any, *, alpha: float = 0.05,
             valid: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Least-squares slope and the half-width of its confidence interval, from centred sums.

    The one implementation behind every trend slope in the kit (:func:`progress_kit.slopes`,
    the rolling progress-score trend and the diary trend), vectorised over any number of lines.

    Parameters
    ----------
    n : array-like of float
        Number of points on each line.
    sxx, sxy, syy : array-like of float
        Centred sums :math:`\sum (t - \bar t)^2`, :math:`\sum (t - \bar t)(y - \bar y)` and
        :math:`\sum (y - \bar y)^2` of each line.
    alpha : float, default 0.05
        1 - confidence level of the interval.
    valid : array-like of bool, optional
        Lines the caller accepts (e.g. its own minimum number of points); the others get NaN.

    Returns
    -------
    slope, half : ndarray
        :math:`b = S_{xy} / S_{xx}` and :math:`h = t_{1-\alpha/2,\,n-2} \cdot \sqrt{\mathrm{RSS} /
        ((n - 2)\,S_{xx})}` with :math:`\mathrm{RSS} = S_{yy} - b\,S_{xy}`, so the interval is
        ``slope - half`` to ``slope + half``. ``slope`` is NaN where the line is not valid, has
        fewer than 2 points or no spread in time; ``half`` is NaN as well with fewer than 3.

    Notes
    -----
    Assumptions: a straight line, independent errors of constant variance, normal errors for the
    t interval. Rounding in sums taken as differences of raw sums (rolling windows) can make the
    residual sum slightly negative; it counts as 0. Reference: Montgomery, Peck & Vining (2012),
    *Introduction to Linear Regression Analysis*, 5th ed., sections 2.2-2.4.

    Examples
    --------
    Five points; the textbook interval, as :func:`scipy.stats.linregress` gives it:

    >>> t, y = np.arange(1.0, 6.0), np.array([2.0, 4.0, 5.0, 4.0, 5.0])
    >>> tc, yc = t - t.mean(), y - y.mean()
    >>> slope, half = slope_ci([5], [tc @ tc], [tc @ yc], [yc @ yc])
    >>> round(float(slope[0]), 6), round(float(half[0]), 4)
    (0.6, 0.9001)
    >>> fit = stats.linregress(t, y)
    >>> bool(np.isclose(half[0], stats.t.ppf(0.975, 3) * fit.stderr))
    True
    """
    n, sxx = np.asarray(n, float), np.asarray(sxx, float)
    sxy, syy = np.asarray(sxy, float), np.asarray(syy, float)
    ok = (n >= 2) & (sxx > 0)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(ok, sxy / sxx, np.nan)
        rss = np.maximum(syy - slope * sxy, 0.0)
        se = np.sqrt(rss / (n - 2) / sxx)
    tcrit = np.full(n.shape, np.nan)
    fits = ok & (n > 2)
    if fits.any():  # one quantile per distinct df, not one per line
        dfs, inverse = np.unique(n[fits] - 2, return_inverse=True)
        tcrit[fits] = stats.t.ppf(1 - alpha / 2, dfs)[inverse]
    return slope, tcrit * se


def trend_direction(ci_low: Any, ci_high: Any, change: Any, n: Any, *, min_change: float,
                    min_points: int, better: str | None = None) -> np.ndarray:
    """Label each trend "improving", "stable", "worsening" or "insufficient data".

    Parameters
    ----------
    ci_low, ci_high : array-like of float
        Confidence interval of the slope (NaN where there is no slope).
    change : array-like of float
        Change over the window, slope x window length, in score points.
    n : array-like of int
        Points the slope rests on.
    min_change : float
        The stated minimum size of ``change`` (>= 0).
    min_points : int
        Fewer points give "insufficient data".
    better : {"lower", "higher"}, optional
        Which direction is improvement; without it the labels are "increasing" and
        "decreasing".

    Returns
    -------
    ndarray of str

    Notes
    -----
    A trend moves up (down) when ``ci_low > 0`` (``ci_high < 0``) **and** ``|change| >=
    min_change`` **and** ``n >= min_points``. A significant but small slope is "stable": the
    confidence interval alone would call tiny drifts a trend once there are enough points, and
    the size alone would call noise a trend when there are few. A missing slope (NaN interval)
    with enough points is "insufficient data" (e.g. all points on one day).

    Examples
    --------
    >>> trend_direction([0.2, 0.01, -3, -0.5], [1.0, 0.05, -1, 0.5], [8, 0.6, -20, -1],
    ...                 [10, 10, 10, 10], min_change=6, min_points=3, better="lower").tolist()
    ['worsening', 'stable', 'improving', 'stable']
    """
    codes, words = _direction_codes(ci_low, ci_high, change, n, min_change=min_change,
                                    min_points=min_points, better=better)
    return np.asarray(words)[codes]


def direction_column(ci_low: Any, ci_high: Any, change: Any, n: Any, *, min_change: float = 0.0,
                     min_points: int = 3, better: str | None = None) -> Any:
    """:func:`trend_direction` as a pandas text array, built from codes: for a million rows it
    is ten times faster than converting an array of Python strings."""
    codes, words = _direction_codes(ci_low, ci_high, change, n, min_change=min_change,
                                    min_points=min_points, better=better)
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pandas without pyarrow
        return np.asarray(words)[codes]
    decoded = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                             pa.array(words, pa.large_string()))
    return pd.array(decoded.cast(pa.large_string()), dtype="str")


def _direction_codes(ci_low: Any, ci_high: Any, change: Any, n: Any, *, min_change: float,
                     min_points: int, better: str | None) -> tuple[np.ndarray, list[str]]:
    if not min_change >= 0:
        raise ValueError(f"min_change must be a number >= 0, not {min_change!r}")
    lo, hi = np.asarray(ci_low, float), np.asarray(ci_high, float)
    ch, n = np.asarray(change, float), np.asarray(n, float)
    up_word, down_word = {"higher": ("improving", "worsening"), "lower": ("worsening", "improving"),
                          None: ("increasing", "decreasing")}[better]
    ok = (n >= min_points) & ~np.isnan(lo) & ~np.isnan(hi)
    # a change of exactly min_change reaches it; rounding in the slope must not decide that
    with np.errstate(invalid="ignore"):
        up = ok & (lo > 0) & reaches(ch, min_change)
        down = ok & (hi < 0) & reaches(-ch, min_change)
    words = ["stable", "insufficient data", up_word, down_word]
    codes = np.select([~ok, up, down], [1, 2, 3], 0).astype(np.int8)
    return codes, words
