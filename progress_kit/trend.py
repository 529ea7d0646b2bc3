"""One rule for the trend labels "improving", "stable" and "worsening" (layer 2 helper).

Every trend label in the kit (questionnaire slopes in :func:`progress_kit.slopes`, the diary
trend in :func:`progress_kit.daily_trend_data`, the progress-score trend in
:func:`progress_kit.progress_score`) comes from :func:`trend_direction`, so the labels cannot
contradict each other's definition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .measures import get_measure, reaches

__all__ = ["trend_direction", "default_min_change", "TREND_RULE", "MIN_CHANGE_SHARE"]

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
