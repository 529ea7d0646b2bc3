"""A 0-100 daily progress score from the diary fields, with its confidence and a trend label.

The score is a descriptive summary for clinicians, defined by progress-kit: it has no published
norms, cut-offs or reliability. Read it with its ``confidence`` and never instead of the
validated questionnaires.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import _episodes
from .measures import get_measure
from .trend import TREND_RULE, slope_ci, trend_direction

__all__ = ["DEFAULT_WEIGHTS", "DEFAULT_CAPS", "progress_score"]

#: Default field weights (sum 1). Mood carries the most; the other four share the rest.
DEFAULT_WEIGHTS: dict[str, float] = {"mood": 0.40, "homework": 0.15, "goals_on_track": 0.15,
                                     "sleep_quality": 0.15, "takeaways": 0.15}

#: Upper caps for count fields without a registry maximum: 3 or more take-aways count as 1.
DEFAULT_CAPS: dict[str, float] = {"takeaways": 3.0}


def _field_ranges(weights: Mapping[str, float], caps: Mapping[str, float]
                  ) -> dict[str, tuple[float, float, int]]:
    ranges = {}
    for field in weights:
        m = get_measure(field)
        top = caps.get(field, m.max)
        if not math.isfinite(top):
            raise ValueError(f"field {field!r} has no registry maximum; give a cap, e.g. "
                             f"caps={{{field!r}: 3}}")
        if top <= m.min:
            raise ValueError(f"cap {top!r} for {field!r} must lie above its minimum {m.min:g}")
        ranges[field] = (float(m.min), float(top), m.direction)
    return ranges


def progress_score(daily: pd.DataFrame, *, window: str = "14D",
                   weights: Mapping[str, float] | None = None,
                   caps: Mapping[str, float] | None = None, threshold: float = 10.0,
                   min_days: int = 7, alpha: float = 0.05, subject: str = "client_id",
                   time: str = "date") -> pd.DataFrame:
    """Daily 0-100 progress score per client-day, its confidence and a trend over a window.

    Parameters
    ----------
    daily : DataFrame
        The wide daily table (:func:`progress_kit.daily_table`): one row per client-day, a
        column per diary field. Rows of NaN (missing days) are kept and score NaN.
    window : str, default ``"14D"``
        Trailing window for the trend, in whole days (pandas offset, e.g. ``"7D"``, ``"28D"``).
        The window of day t covers days t - window + 1 .. t.
    weights : mapping, optional
        Field name -> weight (>= 0), replacing :data:`DEFAULT_WEIGHTS` entirely. Fields must
        be registry measures and columns of ``daily``; weights need not sum to 1.
    caps : mapping, optional
        Upper caps that replace the registry maximum in the rescaling (merged over
        :data:`DEFAULT_CAPS`); needed for fields without a maximum.
    threshold : float, default 10
        The trend rule's minimum change: the change over the window (slope x window days) must
        reach ``threshold`` score points (10% of the 0-100 range) for "improving" or
        "worsening".
    min_days : int, default 7
        Scored days needed in the window for a trend; fewer gives "insufficient data".
    alpha : float, default 0.05
        1 - confidence level of the slope's interval used by the trend rule.
    subject, time : str
        The person and calendar-day columns.

    Returns
    -------
    DataFrame
        ``client_id``, ``date``, ``progress_score`` (0-100, NaN on a day with no field),
        ``confidence`` (weight share present, 0-1), ``n_fields``, ``trend_slope`` (points per
        day), ``trend_ci_low`` and ``trend_ci_high`` (its interval), ``trend_change`` (points
        over the window), ``trend_days`` (scored days in the window) and ``trend``
        ("improving", "stable", "worsening" or "insufficient data").
        ``attrs`` record the weights, caps and trend rule used. Where ``daily`` has an
        ``episode_id`` column (:func:`progress_kit.daily_table` of episodes of care), each
        episode is scored on its own, so no trend window reaches across two episodes: an
        ``episode_id`` column follows ``client_id`` and ``attrs["method"]`` says so.

    Raises
    ------
    ValueError
        Unknown or missing fields, negative weights, a bad window, or duplicate client-days.

    Notes
    -----
    Each field is rescaled to 0-1 by its registry range, in the good direction:
    :math:`s_f = (v_f - \\min_f) / (\\max_f - \\min_f)` (or :math:`1 - s_f` when lower is
    better), clipped to [0, 1]. Take-aways are a count without a maximum, so they are capped:
    :math:`s = \\min(v, 3) / 3` by default (3 or more in a day count fully). With weights
    :math:`w_f` and :math:`P` the fields present that day,

    .. math:: \\text{score} = 100 \\frac{\\sum_{f \\in P} w_f s_f}{\\sum_{f \\in P} w_f},
              \\qquad \\text{confidence} = \\frac{\\sum_{f \\in P} w_f}{\\sum_f w_f}.

    A missing field is not filled in: the score is the weighted mean of the fields present,
    and ``confidence`` shows how much of the intended weight it rests on. Default weights:
    mood 0.40; homework, goals on track, sleep quality and take-aways 0.15 each.

    Trend: the least-squares slope of the score on the day number over the scored days of the
    trailing window (missing days are skipped, not filled), with its t-based confidence
    interval (df = n - 2), when at least ``min_days`` days are scored.
    ``trend_change = slope * window_days``. The label follows the kit's one trend rule
    (:func:`progress_kit.trend_direction`): "improving" when the interval lies above 0
    **and** ``trend_change >= threshold``, "worsening" when it lies below 0 **and**
    ``trend_change <= -threshold``, otherwise "stable". 10 points is a progress-kit convention
    (10% of the range), not a published reliable-change threshold. The interval treats the
    days as independent; serial correlation of diary days makes it too narrow, which the
    minimum change guards against.

    Assumptions: the fields are on comparable footing once rescaled (a judgement, which is why
    the weights are exposed), and a day's missing fields are not systematically the bad ones.

    Examples
    --------
    >>> daily = pd.DataFrame({"client_id": "a", "date": pd.date_range("2024-03-01", periods=3),
    ...     "mood": [10.0, 1.0, np.nan], "homework": [5.0, np.nan, np.nan],
    ...     "goals_on_track": [5.0, 0.0, np.nan], "sleep_quality": [5.0, 1.0, np.nan],
    ...     "takeaways": [4.0, 0.0, np.nan]})
    >>> progress_score(daily)[["date", "progress_score", "confidence", "n_fields"]]
            date  progress_score  confidence  n_fields
    0 2024-03-01           100.0        1.00         5
    1 2024-03-02             0.0        0.85         4
    2 2024-03-03             NaN        0.00         0
    """
    if _episodes.has_episodes(daily, subject):
        out = _episodes.per_episode(progress_score, {"daily": daily}, column=subject,
                                    window=window, weights=weights, caps=caps,
                                    threshold=threshold, min_days=min_days, alpha=alpha,
                                    subject=subject, time=time)
        out[subject] = out[subject].astype(daily[subject].dtype)
        return out
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    caps = {**DEFAULT_CAPS, **(caps or {})}
    if not weights:
        raise ValueError("weights is empty; give at least one field with a positive weight")
    for field, w in weights.items():
        if not isinstance(w, int | float | np.floating | np.integer) or not w >= 0:
            raise ValueError(f"weight for {field!r} must be a number >= 0, not {w!r}")
    weights = {f: float(w) for f, w in weights.items() if w > 0}
    if not weights:
        raise ValueError("all weights are zero; give at least one field a positive weight")
    missing = [c for c in [subject, time, *weights] if c not in daily.columns]
    if missing:
        raise ValueError(f"daily has no column(s) {missing} (needed for the weights); its "
                         f"columns are {list(daily.columns)}. Drop a field from weights= if "
                         "your diary does not collect it")
    ranges = _field_ranges(weights, caps)
    try:
        step = pd.Timedelta(window)
    except (ValueError, TypeError):
        raise ValueError(f"window must be a number of days such as '14D', not {window!r}"
                         ) from None
    if step < pd.Timedelta(days=2) or step % pd.Timedelta(days=1):
        raise ValueError(f"window must be a whole number of days >= 2, not {window!r}")
    window_days = step.days
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 3:
        raise ValueError(f"min_days must be a whole number >= 3, not {min_days!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha!r}")

    names = list(weights)
    args = (weights, ranges, window_days, threshold, min_days, alpha, subject, time)
    out = _one_client(daily, *args)
    if out is None:
        out = _scores_frames(daily, *args)
    out.attrs.update({
        "weights": weights, "caps": {f: caps[f] for f in names if f in caps},
        "trend_rule": (f"least-squares slope over the trailing {window_days} days: {TREND_RULE} "
                       f"(minimum change {threshold:g} points over the {window_days} days, "
                       f"at least {min_days} scored days, {1 - alpha:.0%} interval)")})
    return out


def _day_scores(values: np.ndarray, weights: dict, ranges: dict):
    """Each day's score (0-100, NaN without a field), confidence and fields filled in, from the
    fields' values (one column per weight, in its order)."""
    names = list(weights)
    lo = np.array([ranges[f][0] for f in names])
    hi = np.array([ranges[f][1] for f in names])
    sign = np.array([ranges[f][2] for f in names])
    scaled = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    scaled = np.where(sign > 0, scaled, 1.0 - scaled)
    w = np.array([weights[f] for f in names])
    present = ~np.isnan(scaled)
    w_present = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = 100 * np.nansum(scaled * w, axis=1) / w_present
    return np.where(w_present > 0, score, np.nan), w_present / w.sum(), present.sum(axis=1)


def _scores_frames(daily, weights, ranges, window_days, threshold, min_days, alpha, subject,
                   time) -> pd.DataFrame:
    """:func:`progress_score`'s table for any number of clients, by pandas: the reference that
    :func:`_one_client` is tested against."""
    out = daily[[subject, time]].reset_index(drop=True)
    out[time] = pd.to_datetime(out[time]).dt.normalize().astype("datetime64[ns]")
    dup = out.duplicated([subject, time], keep=False)
    if dup.any():
        row = out.loc[dup].iloc[0]
        raise ValueError(f"more than one row for {subject} {row[subject]!r} on "
                         f"{row[time]:%Y-%m-%d}; pass one row per client-day")
    names = list(weights)
    values = (daily[names].reset_index(drop=True).apply(pd.to_numeric, errors="coerce")
              .to_numpy(dtype=float))
    out["progress_score"], out["confidence"], out["n_fields"] = _day_scores(values, weights, ranges)

    # Rolling least squares from rolling sums, per client, over the scored days only.
    s = out.sort_values([subject, time], kind="stable")
    t = ((s[time] - s.groupby(subject)[time].transform("min")).dt.days).astype(float)
    ok = s["progress_score"].notna()
    sums = pd.DataFrame({subject: s[subject], time: s[time],
                         "n": ok.astype(float), "t": t.where(ok, 0.0),
                         "y": s["progress_score"].fillna(0.0),
                         "tt": (t * t).where(ok, 0.0),
                         "ty": (t * s["progress_score"]).fillna(0.0),
                         "yy": (s["progress_score"] ** 2).fillna(0.0)})
    rolled = (sums.groupby(subject, sort=False)
              .rolling(f"{window_days}D", on=time)[["n", "t", "y", "tt", "ty", "yy"]].sum())
    # groupby-rolling returns the rows group by group in the (sorted) order of ``s``; its index
    # differs across pandas versions, so put the positions back on s's labels
    rolled = pd.DataFrame(rolled.to_numpy(), index=s.index, columns=rolled.columns)
    rolled = rolled.reindex(out.index)
    n = rolled["n"]
    sxx = rolled["tt"] - rolled["t"] ** 2 / n.where(n > 0)
    sxy = rolled["ty"] - rolled["t"] * rolled["y"] / n.where(n > 0)
    syy = rolled["yy"] - rolled["y"] ** 2 / n.where(n > 0)
    # rolling sums of squares cancel: a near-zero spread in time is none
    enough = (n >= min_days) & (sxx > 1e-9)
    slope, half = slope_ci(n, sxx, sxy, syy, alpha=alpha, valid=enough)
    out["trend_slope"] = slope
    out["trend_ci_low"] = slope - half
    out["trend_ci_high"] = slope + half
    out["trend_change"] = slope * window_days
    out["trend_days"] = n.astype(int)
    out["trend"] = trend_direction(out["trend_ci_low"], out["trend_ci_high"], out["trend_change"],
                                   n.where(enough, 0), min_change=threshold, min_points=min_days,
                                   better="higher")
    return out.sort_values([subject, time], kind="stable").reset_index(drop=True)


def _one_client(daily, weights, ranges, window_days, threshold, min_days, alpha, subject,
                time) -> pd.DataFrame | None:
    """:func:`progress_score`'s table for one client's diary (how a report calls it) from
    arrays, with pandas' rolling sums over the client's days (the same sums as the grouped
    rolling sums of :func:`_scores_frames`, the reference, tested equal to the last bit). None
    for anything else: several clients, missing IDs or days, columns not already typed (dates
    datetime64[ns], fields float64), two rows on a day; the reference then handles it."""
    names = list(weights)
    who = daily[subject]
    days = daily[time]
    if (not len(daily) or days.dtype != "datetime64[ns]" or who.isna().any()
            or any(daily[f].dtype != np.float64 for f in names)):
        return None
    if not (who == who.iloc[0]).all():
        return None
    when = days.to_numpy().astype("datetime64[D]").astype("datetime64[ns]")
    order = np.argsort(when, kind="stable")
    when = when[order]
    if np.isnat(when).any() or (np.diff(when.view(np.int64)) == 0).any():
        return None
    values = np.column_stack([daily[f].to_numpy()[order] for f in names])
    score, confidence, n_fields = _day_scores(values, weights, ranges)
    t = ((when - when[0]) // np.timedelta64(1, "D")).astype(float)
    ok = ~np.isnan(score)
    sums = pd.DataFrame({time: when, "n": ok.astype(float), "t": np.where(ok, t, 0.0),
                         "y": np.where(ok, score, 0.0), "tt": np.where(ok, t * t, 0.0),
                         "ty": np.where(ok, t * score, 0.0),
                         "yy": np.where(ok, score ** 2, 0.0)})
    rolled = sums.rolling(f"{window_days}D", on=time)[["n", "t", "y", "tt", "ty", "yy"]].sum()
    n, st, sy, stt, sty, syy_raw = (rolled[c].to_numpy() for c in ("n", "t", "y", "tt", "ty", "yy"))
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(n > 0, n, np.nan)
        sxx = stt - st ** 2 / per
        sxy = sty - st * sy / per
        syy = syy_raw - sy ** 2 / per
        enough = (n >= min_days) & (sxx > 1e-9)
    slope, half = slope_ci(n, sxx, sxy, syy, alpha=alpha, valid=enough)
    out = pd.DataFrame({subject: who.iloc[order].reset_index(drop=True), time: when,
                        "progress_score": score, "confidence": confidence, "n_fields": n_fields,
                        "trend_slope": slope, "trend_ci_low": slope - half,
                        "trend_ci_high": slope + half, "trend_change": slope * window_days,
                        "trend_days": n.astype(int)})
    out["trend"] = trend_direction(out["trend_ci_low"], out["trend_ci_high"], out["trend_change"],
                                   np.where(enough, n, 0), min_change=threshold,
                                   min_points=min_days, better="higher")
    return out
