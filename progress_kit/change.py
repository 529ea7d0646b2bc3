"""Reliable and clinically significant change between two time points.

The work is split in two steps so that each can run on its own (and, later, per partition of a
dask dataframe):

1. :func:`pre_post` reduces a long table to one row per subject with its ``pre`` and ``post``
   score (vectorised: factorise + one sort, no per-subject Python loop).
2. :func:`classify_change` turns that wide table into RCIs and categories; it needs only the
   pre-treatment mean and SD of the complete cases (and, for HLL and HA, the post mean and SD),
   which are cheap to combine across partitions.

:func:`reliable_change` and :func:`clinical_significance` chain the two.
The methods follow the R package clinicalsignificance (Claus, Wager & Bonnet 2024).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _cohort, _episodes
from ._dask import dask_dispatch, is_dask_collection
from ._dist import norm  # scipy.stats.norm's ppf without importing scipy.stats
from .measures import Measure, get_measure, reaches

__all__ = ["reliable_change", "clinical_significance", "pre_post", "classify_change",
           "jacobson_plot_data", "RCI_METHODS"]

RCI_METHODS = ("JT", "GLN", "HLL", "EN", "NK", "HA", "threshold")

_METHOD_NAMES = {
    "JT": "Jacobson & Truax (1991)",
    "GLN": "Gulliksen, Lord & Novick (Hsu 1989, 1995)",
    "HLL": "Hsu, Linn & Lord (Hsu 1989)",
    "EN": "Edwards & Nunnally (Speer 1992)",
    "NK": "Nunnally & Kotsch (1983)",
    "HA": "Hageman & Arrindell (1999)",
}

RC_CATEGORIES = ["improved", "unchanged", "deteriorated"]
CS_CATEGORIES = ["recovered", "improved", "unchanged", "deteriorated", "harmed"]


# --------------------------------------------------------------------------------------------
# step 1: long -> one row per subject


def _time_key(t: pd.Series, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Time values as numbers that sort like the time points, and where they are present."""
    if isinstance(t.dtype, pd.CategoricalDtype):
        if not t.cat.ordered:
            raise ValueError(f"time column {column!r} is an unordered categorical; make it ordered "
                             "or give pre= and post=")
        codes = t.cat.codes.to_numpy().astype(np.int64)
        return codes, codes >= 0
    if pd.api.types.is_datetime64_any_dtype(t):
        # int64 nanoseconds keep exact order (a float would round them)
        key = t.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return key, key != np.iinfo(np.int64).min
    if pd.api.types.is_bool_dtype(t) or not pd.api.types.is_numeric_dtype(t):
        sample = list(pd.unique(t.dropna())[:3])
        raise ValueError(f"time column {column!r} holds {t.dtype} values such as {sample}, which "
                         "have no natural order; give pre= and post= (e.g. pre='pre', "
                         "post='post') or use numbers, dates or an ordered categorical")
    key = t.to_numpy(dtype=float)
    return key, ~np.isnan(key)


_DAY_NS = 86_400_000_000_000


def _sort_order(codes: np.ndarray, key: np.ndarray) -> np.ndarray | None:
    """Permutation that orders rows by (codes, key); None when they are already in that order.

    ROM exports usually arrive sorted by client and date, so the O(n) check often saves the
    sort. Otherwise one int64 composite key is sorted (a stable sort is near linear on data that
    are sorted in blocks, e.g. one measure after the other); lexsort only as a fallback.
    """
    if len(codes) < 2:
        return None
    dc = np.diff(codes)
    same = dc == 0
    if (dc >= 0).all() and (np.diff(key)[same] >= 0).all():
        return None
    k = key
    if k.dtype.kind == "f":
        if not np.array_equal(k, np.floor(k)):
            return np.lexsort((k, codes))
        k = k.astype(np.int64)
    k = k - k.min()
    span = int(k.max()) + 1
    if span > 1 and span * (int(codes.max()) + 1) >= 2**62 and not (k % _DAY_NS).any():
        k = k // _DAY_NS
        span = int(k.max()) + 1
    if span * (int(codes.max()) + 1) >= 2**62:
        return np.lexsort((k, codes))
    composite = codes * span + k
    rbits = (len(codes) - 1).bit_length()
    if int(composite.min()) >= 0 and int(composite.max()).bit_length() + rbits <= 63:
        # sorting values is several times faster than an argsort; the row number in the low
        # bits makes the order stable and is all that is kept
        order = _cohort._packed_sort(composite, 0, None, rbits)
        order &= (1 << rbits) - 1
        return order
    # many descents: data are shuffled, quicksort is faster than the run-exploiting stable sort
    kind = "quicksort" if np.count_nonzero(dc < 0) > len(codes) // 100 else "stable"
    return np.argsort(composite, kind=kind)


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    if isinstance(s.dtype, pd.CategoricalDtype):
        # categorical codes are free; unused categories are dropped below by the caller
        return s.cat.codes.to_numpy().astype(np.int64), pd.Index(s.cat.categories)
    codes, uniques = pd.factorize(s, sort=False)
    return codes.astype(np.int64), pd.Index(uniques)


def _no_missing_subject(codes: np.ndarray, subject: str) -> None:
    if (codes < 0).any():
        raise ValueError(f"subject column {subject!r} has missing values (row "
                         f"{int(np.flatnonzero(codes < 0)[0])}); every row needs a subject")


def _shared_rows(data: pd.DataFrame, subject: str, time: str, value: str, measure: str | None):
    """:func:`pre_post`'s inputs from the frame's shared factorisation and sort, or None.

    Returns the number of scored rows per subject (subjects numbered in order of first
    appearance in the subset, as the plain path numbers them), the subjects, and the scored
    rows with a time, ordered by subject and time: ``(n_scored, uniques, c, k, v)``. None where
    the plain path applies.
    """
    vdtype = data[value].dtype
    if not (isinstance(vdtype, np.dtype) and vdtype.kind in "fiu"):
        return None
    prep = _cohort.prepared(data, subject, time)
    if prep is None:
        return None
    sel = None if measure is None else prep.measure_mask(measure)
    if sel is not None and not sel.any():
        return None
    rows, c, toff = prep.decode(sel)
    if prep.categorical:
        # the plain path numbers categorical subjects by their categories: sorted order here
        sub, present = prep.sorted_numbers(c)
        uniques = present.categories.take(present.codes)
    else:
        sub, uniques = prep.first_appearance(rows, c)
    v = prep.sorted_column(data, value)
    if sel is not None:
        v = v[sel]
    scored = ~np.isnan(v)
    if scored.all():  # the usual case: no copies
        n_scored = np.bincount(sub, minlength=len(uniques))
    else:
        n_scored = np.bincount(sub[scored], minlength=len(uniques))
    if prep.missing_time:
        scored &= toff > 0
    if scored.all():
        return n_scored, uniques, sub, prep.times(toff), v
    return n_scored, uniques, sub[scored], prep.times(toff[scored]), v[scored]


def _check_columns(data: pd.DataFrame, columns: dict[str, str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    for role, col in columns.items():
        if col not in data.columns:
            raise ValueError(f"{role} column {col!r} is not in the data; columns are "
                             f"{list(data.columns)}")


def pre_post(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
             value: str = "score", measure: str | None = None, pre: Any = None,
             post: Any = None) -> pd.DataFrame:
    """Reduce a long table to each subject's pre and post score.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per subject and time point (and measure, see ``measure``).
    subject, time, value : str
        Column names.
    measure : str, optional
        Keep only rows whose ``measure`` column equals this registry name.
    pre, post : optional
        Time values to use as pre and post. By default each subject's first and last *scored*
        observation (rows with a missing value are ignored).

    Returns
    -------
    DataFrame
        Indexed by subject, with columns ``pre`` and ``post`` (float) for the subjects that have
        both. ``attrs["excluded"]`` lists the others (columns ``subject``, ``reason``), and
        ``attrs["pre_time"]``/``attrs["post_time"]`` say which time points were used. Where
        ``data`` has an ``episode_id`` column (episodes of care), each episode is a course of
        its own: indexed by (``client_id``, ``episode_id``), and ``attrs["method"]`` says so.

    Notes
    -----
    One factorisation of the subject column and at most one sort (skipped when the data are
    already ordered by subject and time), so the cost is linear in the number of rows plus
    one sort. A subject with two rows at the same time point is an error.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": ["a", "a", "b"], "date": [1, 2, 1],
    ...                    "score": [20.0, 12.0, 15.0]})
    >>> pp = pre_post(df)
    >>> pp  # doctest: +NORMALIZE_WHITESPACE
               pre  post
    client_id
    a         20.0  12.0
    >>> pp.attrs["excluded"]  # doctest: +NORMALIZE_WHITESPACE
      client_id                         reason
    0         b  only one scored observation
    """
    if _episodes.has_episodes(data, subject):
        return _episodes.per_episode(pre_post, {"data": data}, subject=subject, time=time,
                                     value=value, measure=measure, pre=pre, post=post)
    _check_columns(data, {"subject": subject, "time": time, "value": value})
    if measure is not None:
        _check_columns(data, {"measure": "measure"})
    shared = _shared_rows(data, subject, time, value, measure) if pre is None and post is None \
        else None
    if shared is not None:  # the frame's shared codes and order (progress_kit._cohort)
        n_scored, uniques, c, k, v = shared
        n_subj = len(uniques)
        seen = np.ones(n_subj, dtype=bool)  # the uniques are exactly the subset's subjects
    else:
        if measure is not None:
            data = data[data["measure"] == measure]
        codes, uniques = _codes(data[subject])
        _no_missing_subject(codes, subject)
        vals = pd.to_numeric(data[value], errors="raise").to_numpy(dtype=float)
        n_subj = len(uniques)
        scored = ~np.isnan(vals)
        n_scored = np.bincount(codes[scored], minlength=n_subj)
        seen = np.bincount(codes, minlength=n_subj) > 0

    pre_v = np.full(n_subj, np.nan)
    post_v = np.full(n_subj, np.nan)
    if pre is None and post is None:
        if shared is None:
            key, present = _time_key(data[time], time)
            ok = scored & present
            c, k, v = codes[ok], key[ok], vals[ok]
            order = _sort_order(c, k)
            if order is not None:
                c, k, v = c[order], k[order], v[order]
        if len(c):
            dup = c[1:] == c[:-1]
            dup &= k[1:] == k[:-1]
            if dup.any():
                i = int(np.flatnonzero(dup)[0])
                raise ValueError(f"subject {uniques[c[i]]!r} has two scored rows at the same "
                                 f"{time!r}; pre_post needs one row per subject and time point")
            start = _cohort.starts(c)
            end = _cohort.ends(start)
            multi = start & ~end
            pre_v[c[multi]] = v[multi]
            last_of_multi = end & ~start
            post_v[c[last_of_multi]] = v[last_of_multi]
        reasons = np.where(n_scored == 0, "no scored observation",
                           np.where(n_scored == 1, "only one scored observation", ""))
        pre_desc, post_desc = "first scored observation", "last scored observation"
    else:
        if pre is None or post is None:
            raise ValueError("give both pre= and post=, or neither (first and last observation)")
        tcol = data[time]
        for label, t_value, target in (("pre", pre, pre_v), ("post", post, post_v)):
            at = (tcol == t_value).to_numpy() & scored
            if not at.any() and not (tcol == t_value).any():
                raise ValueError(f"{label}={t_value!r} does not occur in time column {time!r}; "
                                 f"values are {list(pd.unique(tcol))[:10]}")
            counts = np.bincount(codes[at], minlength=n_subj)
            if (counts > 1).any():
                bad = uniques[int(np.flatnonzero(counts > 1)[0])]
                raise ValueError(f"subject {bad!r} has several {value} rows at {time}={t_value!r}")
            target[codes[at]] = vals[at]
        no_pre, no_post = np.isnan(pre_v), np.isnan(post_v)
        reasons = np.where(no_pre & no_post, f"no score at pre ({time}={pre!r}) or post "
                           f"({time}={post!r})",
                           np.where(no_pre, f"no score at pre ({time}={pre!r})",
                                    np.where(no_post, f"no score at post ({time}={post!r})", "")))
        pre_desc, post_desc = f"{time} = {pre!r}", f"{time} = {post!r}"

    complete = ~np.isnan(pre_v) & ~np.isnan(post_v)
    # rename, not pd.Index(...): re-wrapping a million text IDs re-validates every one
    index = uniques.rename(subject) if isinstance(uniques, pd.Index) else pd.Index(uniques, name=subject)
    out = pd.DataFrame({"pre": pre_v[complete], "post": post_v[complete]}, index=index[complete])
    drop = seen & ~complete
    excluded = pd.DataFrame({subject: index[drop].to_numpy(), "reason": reasons[drop]})
    out.attrs = {"excluded": excluded, "pre_time": pre_desc, "post_time": post_desc}
    return out


# --------------------------------------------------------------------------------------------
# step 2: classification


@dataclass
class _Rule:
    """rci = (post - (intercept + slope * pre)) / scale; reliable when |rci| beyond critical."""

    method: str
    intercept: float
    slope: float
    scale: float
    critical: float
    inclusive: bool = False
    params: dict[str, float] = field(default_factory=dict)


def _pre_post_any(data: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`pre_post` on a pandas or (per client partition) a dask dataframe."""
    if is_dask_collection(data):
        return dask_dispatch("pre_post", data, **kwargs)
    return pre_post(data, **kwargs)


def _rule(method: str, pre: np.ndarray, post: np.ndarray, reliability: float | None,
          reliability_post: float | None, alpha: float, threshold: float | None) -> _Rule:
    if method == "threshold":
        if threshold is None or not threshold > 0:
            raise ValueError(f"method 'threshold' needs a positive reliable-change threshold in "
                             f"points, not {threshold!r}")
        return _Rule(method, 0.0, 1.0, float(threshold), 1.0, inclusive=True,
                     params={"threshold": float(threshold)})
    if reliability is None:
        raise ValueError(f"method {method!r} needs reliability= (a number between 0 and 1)")
    r = float(reliability)
    if not 0 < r < 1:
        raise ValueError(f"reliability must lie strictly between 0 and 1, not {reliability!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    n = len(pre)
    if n < 2:
        raise ValueError(f"method {method!r} needs at least 2 subjects with pre and post scores "
                         f"to estimate the pre-treatment SD; there are {n}")
    m_pre, sd_pre = float(pre.mean()), float(pre.std(ddof=1))
    if not sd_pre > 0:
        # every standard error below is a multiple of the pre SD: with SD 0 each RCI would be
        # +-inf or NaN and every client would still get a label
        raise ValueError(f"method {method!r} needs variation in the pre scores: all {n} pre "
                         f"scores equal {m_pre:g} (SD 0), so the standard error of measurement "
                         "is 0. Use method='threshold' with a published reliable-change value")
    se_meas = sd_pre * np.sqrt(1 - r)
    crit = float(norm.ppf(1 - alpha / 2))
    p: dict[str, float] = {"n": n, "m_pre": m_pre, "sd_pre": sd_pre, "reliability": r,
                           "se_measurement": se_meas}
    if method == "JT":
        s_diff = float(np.sqrt(2 * se_meas**2))
        p["s_diff"] = s_diff
        return _Rule(method, 0.0, 1.0, s_diff, crit, params=p)
    if method == "GLN":
        se_pred = sd_pre * np.sqrt(1 - r**2)
        p["se_prediction"] = se_pred
        return _Rule(method, m_pre * (1 - r), r, se_pred, crit, params=p)
    if method == "HLL":
        m_post = float(post.mean())
        se_pred = sd_pre * np.sqrt(1 - r**2)
        p.update(m_post=m_post, se_prediction=se_pred)
        return _Rule(method, m_post - r * m_pre, r, se_pred, crit, params=p)
    if method == "EN":
        return _Rule(method, m_pre * (1 - r), r, se_meas, crit, params=p)
    if method == "NK":
        r2 = r if reliability_post is None else float(reliability_post)
        if not 0 < r2 < 1:
            raise ValueError(f"reliability_post must lie between 0 and 1, not {reliability_post!r}")
        denom = float(np.sqrt(r**2 * sd_pre**2 * (1 - r) + sd_pre**2 * (1 - r2)))
        p.update(reliability_post=r2, se_nk=denom)
        return _Rule(method, m_pre * (1 - r), r, denom, crit, params=p)
    if method == "HA":
        m_post, sd_post = float(post.mean()), float(post.std(ddof=1))
        r_pre = (sd_pre**2 - se_meas**2) / sd_pre**2
        if not sd_post > se_meas:
            raise ValueError(f"Hageman-Arrindell needs the post SD ({sd_post:.3f}) to exceed the "
                             f"standard error of measurement ({se_meas:.3f}, from the pre SD and "
                             f"reliability {r:g}); otherwise the post reliability "
                             f"(SD_post^2 - SEM^2) / SD_post^2 is not positive")
        r_post = (sd_post**2 - se_meas**2) / sd_post**2
        rho = float(np.corrcoef(pre, post)[0, 1])
        num = sd_pre**2 * r_pre + sd_post**2 * r_post - 2 * sd_pre * sd_post * rho
        den = sd_pre**2 + sd_post**2 - 2 * sd_pre * sd_post * rho
        r_dd = num / den
        if not r_dd > 0:
            raise ValueError(f"Hageman-Arrindell reliability of the difference is {r_dd:.3f}; it "
                             "must be positive (pre and post too highly correlated for this "
                             "reliability)")
        s_diff = float(np.sqrt(2 * se_meas**2))
        p.update(m_post=m_post, sd_post=sd_post, r_pre=r_pre, r_post=r_post, r_prepost=rho,
                 r_dd=r_dd, s_diff=s_diff)
        return _Rule(method, -(m_post - m_pre) * (1 - r_dd) / r_dd, 1.0,
                     np.sqrt(r_dd) * s_diff / r_dd, float(norm.ppf(1 - alpha)), params=p)
    raise ValueError(f"method must be one of {list(RCI_METHODS)}, not {method!r}")


def _describe(rule: _Rule, better: str, measure: str | None) -> str:
    name = measure or "the score"
    if rule.method == "threshold":
        return (f"reliable change by the published threshold: a change of at least "
                f"{rule.scale:g} points on {name} in the good direction ({better} is better)")
    p = rule.params
    side = "one-sided" if rule.method == "HA" else "two-sided"
    text = (f"reliable change by the {rule.method} method, {_METHOD_NAMES[rule.method]}: "
            f"reliability {p['reliability']:g}, pre-treatment mean {p['m_pre']:.2f} and SD "
            f"{p['sd_pre']:.2f} (n = {int(p['n'])}), reliable when |RCI| > {rule.critical:.3f} "
            f"({side}), {better} is better")
    if rule.method == "JT":
        text += f", i.e. a change of more than {rule.critical * rule.scale:.2f} points"
    return text


def _resolve(measure: str | None, better: str | None, reliability: float | None,
             method: str | None) -> tuple[Measure | None, str, float | None, str, float | None]:
    m = get_measure(measure) if measure is not None else None
    if better is None:
        if m is None:
            raise ValueError("give better='lower' or better='higher' (or measure= to take it "
                             "from the registry)")
        better = m.better
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    if reliability is None and m is not None:
        reliability = m.reliability
    threshold = m.reliable_change if m is not None else None
    if method is None:
        method = "threshold" if threshold else "JT"
    if method not in RCI_METHODS:
        raise ValueError(f"method must be one of {list(RCI_METHODS)}, not {method!r}")
    if method == "threshold" and not threshold:
        raise ValueError("method 'threshold' needs measure= with a published reliable-change "
                         f"threshold in the registry; {measure!r} has none")
    return m, better, reliability, method, threshold


def classify_change(wide: pd.DataFrame, *, better: str, method: str = "JT",
                    reliability: float | None = None, reliability_post: float | None = None,
                    alpha: float = 0.05, threshold: float | None = None,
                    measure: str | None = None) -> pd.DataFrame:
    """Reliable-change classification of a wide pre/post table (step 2 of reliable_change).

    Parameters
    ----------
    wide : DataFrame
        Columns ``pre`` and ``post`` without missing values, one row per subject
        (as :func:`pre_post` returns).
    better : {"lower", "higher"}
    method : str
        One of ``RCI_METHODS``; ``"threshold"`` needs ``threshold`` (points).
    reliability, reliability_post, alpha, threshold
        See :func:`reliable_change`.
    measure : str, optional
        Only used to word ``attrs["method"]``.

    Returns
    -------
    DataFrame
        ``wide`` plus ``change``, ``rci`` and ``category``; ``attrs`` describe the rule.

    Examples
    --------
    >>> wide = pd.DataFrame({"pre": [20.0, 15, 18], "post": [12.0, 14, 25]}, index=["a", "b", "c"])
    >>> classify_change(wide, better="lower", method="threshold", threshold=6)["category"].tolist()
    ['improved', 'unchanged', 'deteriorated']
    """
    direction = 1 if better == "higher" else -1
    pre = wide["pre"].to_numpy(dtype=float)
    post = wide["post"].to_numpy(dtype=float)
    rule = _rule(method, pre, post, reliability, reliability_post, alpha, threshold)
    rci = (post - (rule.intercept + rule.slope * pre)) / rule.scale
    signed = direction * rci
    if rule.inclusive:
        # a change equal to the threshold up to rounding reaches it (ORS 16.4 -> 11.4 is 5.0)
        improved, deteriorated = reaches(signed, rule.critical), reaches(-signed, rule.critical)
    else:
        improved, deteriorated = signed > rule.critical, signed < -rule.critical
    codes = np.where(improved, 0, np.where(deteriorated, 2, 1)).astype(np.int8)
    out = pd.DataFrame({"pre": pre, "post": post, "change": post - pre, "rci": rci},
                       index=wide.index)
    out["category"] = pd.Categorical.from_codes(codes, categories=RC_CATEGORIES)
    out.attrs = dict(wide.attrs)
    out.attrs.update(method=_describe(rule, better, measure), rci_method=method,
                     better=better, critical_value=rule.critical,
                     band={"intercept": rule.intercept, "slope": rule.slope,
                           "half_width": rule.critical * rule.scale,
                           "inclusive": rule.inclusive},
                     parameters=dict(rule.params))
    return out


_RC_DOC_PARAMS = """
    data : DataFrame
        Long table, one row per subject and time point. With ``measure`` it also has a
        ``measure`` column and only that measure's rows are used.
    subject, time, value : str
        Column names (defaults follow the progress-kit data model).
    measure : str, optional
        Registry name, e.g. ``"PHQ-9"`` (registry mode). ``better``, ``reliability`` and the
        published reliable-change threshold come from the registry.
    pre, post : optional
        Time values to compare. Default: each subject's first and last scored observation.
    reliability : float, optional
        The instrument's reliability (0-1). Required for the RCI methods outside registry mode.
    better : {"lower", "higher"}, optional
        Which direction is improvement. Required outside registry mode.
    method : str, optional
        ``"JT"``, ``"GLN"``, ``"HLL"``, ``"EN"``, ``"NK"``, ``"HA"`` or ``"threshold"``.
        Default ``"threshold"`` in registry mode when the measure has a published threshold,
        else ``"JT"``."""


def reliable_change(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
                    value: str = "score", measure: str | None = None, pre: Any = None,
                    post: Any = None, reliability: float | None = None,
                    better: str | None = None, method: str | None = None, alpha: float = 0.05,
                    reliability_post: float | None = None) -> pd.DataFrame:
    """Reliable change per subject between two time points.

    Parameters
    ----------{params}
    alpha : float
        Significance level; the critical value is ``z(1 - alpha/2)`` (1.96 at 0.05), except HA,
        which is one-sided, ``z(1 - alpha)`` (1.645).
    reliability_post : float, optional
        Post-treatment reliability for NK (default: ``reliability``).

    Returns
    -------
    DataFrame
        One row per subject with both scores, indexed by subject (by ``client_id`` and
        ``episode_id`` when ``data`` has an ``episode_id`` column: one row per episode of
        care, each with its own pre and post, see docs/change.md): ``pre``, ``post``,
        ``change`` (post - pre), ``rci`` and ``category`` (improved / unchanged /
        deteriorated, a categorical). ``attrs["excluded"]`` (columns subject, reason) lists the
        subjects without both scores; ``attrs["method"]`` says in words which method and
        thresholds produced the labels; ``attrs["parameters"]`` holds the numbers.

    Raises
    ------
    ValueError
        For a bad argument; when an RCI method meets pre scores without variation (SD 0: every
        RCI would be infinite); for HA when the post SD does not exceed the standard error of
        measurement (the post reliability would not be positive).

    Notes
    -----
    With :math:`M_1, SD_1` the mean and SD (n - 1) of the complete-case pre scores, :math:`r`
    the reliability, :math:`SE = SD_1\\sqrt{{1-r}}`:

    - JT: :math:`RCI = (x_2 - x_1) / \\sqrt{{2 SE^2}}`
    - GLN: :math:`RCI = ((x_2 - M_1) - r(x_1 - M_1)) / (SD_1\\sqrt{{1-r^2}})`
    - HLL: as GLN with :math:`x_2 - M_2` (post mean) in the numerator
    - EN: :math:`RCI = (x_2 - (r(x_1 - M_1) + M_1)) / SE`
    - NK: :math:`RCI = (x_2 - (r_1(x_1 - M_1) + M_1)) /
      \\sqrt{{r_1^2 SD_1^2 (1-r_1) + SD_1^2 (1-r_2)}}`
    - HA: :math:`RCI = ((x_2-x_1) r_{{dd}} + (M_2-M_1)(1-r_{{dd}})) / (\\sqrt{{r_{{dd}}}}
      \\sqrt{{2 SE^2}})`, with :math:`r_{{dd}}` the reliability of the difference
      (Hageman & Arrindell 1999, eq. 6) and a one-sided critical value.
    - threshold: improved when the change in the good direction is at least the published
      threshold in points (e.g. 6 on the PHQ-9); ``rci`` is then change / threshold.

    Improved: :math:`d \\cdot RCI > z`, deteriorated: :math:`d \\cdot RCI < -z` (strict), with
    :math:`d = +1` when higher is better, -1 when lower is better. Assumes the reliability holds
    for this population and that the complete cases are representative. Matches
    ``clinicalsignificance::cs_distribution()`` (R, version 2.x) on its ``claus_2020`` data.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). J Consult Clin Psychol 59(1), 12-19.
    Claus, B. B., Wager, J., & Bonnet, U. (2024). clinicalsignificance: Clinical significance
    analyses of intervention studies in R. J Stat Softw 111(1).
    Hageman, W. J., & Arrindell, W. A. (1999). Behav Res Ther 37(12), 1169-1193.

    Examples
    --------
    >>> df = pd.DataFrame({{"client_id": list("aabbcc"), "date": [1, 2] * 3,
    ...                    "score": [20.0, 8, 15, 14, 12, 19]}})
    >>> rc = reliable_change(df, reliability=0.9, better="lower")
    >>> rc[["change", "category"]]  # doctest: +NORMALIZE_WHITESPACE
               change      category
    client_id
    a           -12.0      improved
    b            -1.0     unchanged
    c             7.0  deteriorated
    >>> print(rc.attrs["method"])  # doctest: +ELLIPSIS
    reliable change by the JT method, ... i.e. a change of more than 3.54 points
    """
    if _episodes.has_episodes(data, subject):
        return _episodes.per_episode(
            reliable_change, {"data": data}, subject=subject, time=time, value=value,
            measure=measure, pre=pre, post=post, reliability=reliability, better=better,
            method=method, alpha=alpha, reliability_post=reliability_post)
    m, better, reliability, method, threshold = _resolve(measure, better, reliability, method)
    wide = _pre_post_any(data, subject=subject, time=time, value=value, measure=measure,
                         pre=pre, post=post)
    return classify_change(wide, better=better, method=method, reliability=reliability,
                           reliability_post=reliability_post, alpha=alpha, threshold=threshold,
                           measure=measure)


reliable_change.__doc__ = reliable_change.__doc__.format(params=_RC_DOC_PARAMS)


def _cutoff(cutoff_type: str, direction: int, m_c: float, sd_c: float, m_f: float | None,
            sd_f: float | None) -> float:
    if cutoff_type == "a":
        return m_c + direction * 2 * sd_c
    if m_f is None or sd_f is None:
        raise ValueError(f"cutoff_type {cutoff_type!r} needs functional_mean= and functional_sd= "
                         "(mean and SD of a functional, non-clinical population)")
    if cutoff_type == "b":
        return m_f - direction * 2 * sd_f
    if cutoff_type == "c":
        return (sd_c * m_f + sd_f * m_c) / (sd_c + sd_f)
    raise ValueError(f"cutoff_type must be 'a', 'b', 'c' or 'registry', not {cutoff_type!r}")


def clinical_significance(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
                          value: str = "score", measure: str | None = None, pre: Any = None,
                          post: Any = None, reliability: float | None = None,
                          better: str | None = None, method: str | None = None,
                          cutoff_type: str | None = None, clinical_mean: float | None = None,
                          clinical_sd: float | None = None, functional_mean: float | None = None,
                          functional_sd: float | None = None,
                          reliability_post: float | None = None,
                          alpha: float = 0.05) -> pd.DataFrame:
    """Clinically significant change: reliable change combined with a clinical cut-off.

    Parameters
    ----------{params}
    cutoff_type : {{"a", "b", "c", "registry"}}, optional
        Default ``"registry"`` in registry mode (the measure's published cut-off and caseness
        rule), else ``"c"``.
    clinical_mean, clinical_sd : float, optional
        Clinical population; default the complete-case pre-treatment mean and SD.
    functional_mean, functional_sd : float, optional
        Functional population; needed for cut-offs b and c.
    reliability_post : float, optional
        Post-treatment reliability for NK.
    alpha : float
        Significance level of the RCI (see :func:`reliable_change`).

    Returns
    -------
    DataFrame
        As :func:`reliable_change` plus ``cutoff``, ``clinical_pre``, ``functional_post``;
        ``category`` is recovered / improved / unchanged / deteriorated / harmed.

    Notes
    -----
    Cut-offs (Jacobson & Truax 1991), with :math:`d` = +1 when higher is better, -1 when lower
    is better: :math:`a = M_c + 2d\\,SD_c`, :math:`b = M_f - 2d\\,SD_f`,
    :math:`c = (SD_c M_f + SD_f M_c) / (SD_c + SD_f)`. Clinical at pre: :math:`d x_1 < d\\,cut`;
    functional at post: :math:`d x_2 > d\\,cut` (strict). In registry mode the measure's
    caseness rule decides instead (PHQ-9: clinical when >= 10).

    - recovered: clinical at pre, functional at post and reliably improved;
    - harmed: not clinical at pre, not functional at post and reliably deteriorated;
    - otherwise the reliable-change category.

    HA uses its own true-score cut-offs (Hageman & Arrindell 1999): :math:`a = M_c + 2d\\,SD_c
    \\sqrt{{r_c}}`, :math:`c = (SD_c\\sqrt{{r_c}} M_f + SD_f\\sqrt{{r_f}} M_c) /
    (SD_c\\sqrt{{r_c}} + SD_f\\sqrt{{r_f}})` with :math:`r_x = (SD_x^2 - SE^2)/SD_x^2`, and an
    individual test :math:`CS = (M_2 + (x_2 - M_2) r_2 - cut) / (\\sqrt{{r_2}} SE)`; functional
    at post when clinical at pre and :math:`d\\,CS > z(1-\\alpha)`; harmed when not clinical at
    pre, :math:`d\\,CS < -z` and reliably deteriorated. (The R package reports no "harmed" for
    HA.) Matches ``clinicalsignificance::cs_combined()`` on ``claus_2020``.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). J Consult Clin Psychol 59(1), 12-19.
    Claus, B. B., Wager, J., & Bonnet, U. (2024). J Stat Softw 111(1).

    Examples
    --------
    >>> df = pd.DataFrame({{"client_id": list("aabbcc"), "date": [1, 2] * 3,
    ...                    "measure": "PHQ-9", "score": [20.0, 8, 15, 12, 6, 13]}})
    >>> cs = clinical_significance(df, measure="PHQ-9")
    >>> cs[["pre", "post", "category"]]  # doctest: +NORMALIZE_WHITESPACE
                pre  post   category
    client_id
    a          20.0   8.0  recovered
    b          15.0  12.0  unchanged
    c           6.0  13.0     harmed
    """
    if _episodes.has_episodes(data, subject):
        return _episodes.per_episode(
            clinical_significance, {"data": data}, subject=subject, time=time, value=value,
            measure=measure, pre=pre, post=post, reliability=reliability, better=better,
            method=method, cutoff_type=cutoff_type, clinical_mean=clinical_mean,
            clinical_sd=clinical_sd, functional_mean=functional_mean,
            functional_sd=functional_sd, reliability_post=reliability_post, alpha=alpha)
    m, better, reliability, method, threshold = _resolve(measure, better, reliability, method)
    direction = 1 if better == "higher" else -1
    if cutoff_type is None:
        cutoff_type = "registry" if (m is not None and m.cutoff is not None) else "c"
    wide = _pre_post_any(data, subject=subject, time=time, value=value, measure=measure,
                         pre=pre, post=post)
    out = classify_change(wide, better=better, method=method, reliability=reliability,
                          reliability_post=reliability_post, alpha=alpha, threshold=threshold,
                          measure=measure)
    pre_v, post_v = out["pre"].to_numpy(), out["post"].to_numpy()
    m_c = float(pre_v.mean()) if clinical_mean is None else float(clinical_mean)
    sd_c = float(pre_v.std(ddof=1)) if clinical_sd is None else float(clinical_sd)
    clinical_post = None
    if cutoff_type == "registry":
        if m is None or m.cutoff is None:
            raise ValueError("cutoff_type 'registry' needs measure= with a cut-off in the registry")
        cut = float(m.cutoff)
        clinical_pre = m.is_clinical(pre_v)
        functional_post = ~m.is_clinical(post_v)
        cut_text = f"registry cut-off: {m.describe_cutoff()}"
    elif method == "HA":
        p = out.attrs["parameters"]
        se = p["se_measurement"]
        if functional_sd is not None and functional_sd**2 <= se**2:
            raise ValueError(f"functional_sd {functional_sd} is not above the standard error of "
                             f"measurement {se:.3f}; HA cut-offs need a larger SD")
        r_c = (sd_c**2 - se**2) / sd_c**2
        r_f = None if functional_sd is None else (functional_sd**2 - se**2) / functional_sd**2
        if cutoff_type == "a":
            cut = m_c + direction * 2 * sd_c * np.sqrt(r_c)
        elif cutoff_type == "b":
            _cutoff("b", direction, m_c, sd_c, functional_mean, functional_sd)
            cut = functional_mean - direction * 2 * functional_sd * np.sqrt(r_f)
        else:
            _cutoff(cutoff_type, direction, m_c, sd_c, functional_mean, functional_sd)
            a_c, a_f = sd_c * np.sqrt(r_c), functional_sd * np.sqrt(r_f)
            cut = (a_c * functional_mean + a_f * m_c) / (a_c + a_f)
        m_post, r_post = p["m_post"], p["r_post"]
        cs_indiv = (m_post + (post_v - m_post) * r_post - cut) / (np.sqrt(r_post) * se)
        z = out.attrs["critical_value"]
        clinical_pre = direction * pre_v < direction * cut
        functional_post = clinical_pre & (direction * cs_indiv > z)
        clinical_post = ~clinical_pre & (direction * cs_indiv < -z)
        out["cs_indiv"] = cs_indiv
        cut_text = (f"Hageman-Arrindell true-score cut-off {cutoff_type} = {cut:.3f}; functional "
                    f"at post when the individual test exceeds {z:.3f} (one-sided)")
    else:
        cut = float(_cutoff(cutoff_type, direction, m_c, sd_c, functional_mean, functional_sd))
        clinical_pre = direction * pre_v < direction * cut
        functional_post = direction * post_v > direction * cut
        cut_text = f"cut-off {cutoff_type} = {cut:.3f} (clinical mean {m_c:.2f}, SD {sd_c:.2f}" + (
            f"; functional mean {functional_mean:g}, SD {functional_sd:g})"
            if functional_mean is not None and functional_sd is not None else ")")
    rc_codes = out["category"].cat.codes.to_numpy()
    improved, deteriorated = rc_codes == 0, rc_codes == 2
    not_functional = ~functional_post if clinical_post is None else clinical_post
    recovered = clinical_pre & functional_post & improved
    harmed = ~clinical_pre & not_functional & deteriorated
    codes = np.where(recovered, 0, np.where(harmed, 4, rc_codes + 1)).astype(np.int8)
    out["cutoff"] = cut
    out["clinical_pre"] = clinical_pre
    out["functional_post"] = functional_post
    out["category"] = pd.Categorical.from_codes(codes, categories=CS_CATEGORIES)
    cols = ["pre", "post", "change", "rci", "cutoff", "clinical_pre", "functional_post"]
    cols += [c for c in out.columns if c not in cols and c != "category"] + ["category"]
    attrs = dict(out.attrs)
    out = out[cols]
    attrs.update(cutoff=cut, cutoff_type=cutoff_type,
                 method=attrs["method"] + "; " + cut_text + "; recovered = clinical at pre, "
                 "functional at post and reliably improved; harmed = not clinical at pre, "
                 "not functional at post and reliably deteriorated")
    out.attrs = attrs
    return out


clinical_significance.__doc__ = clinical_significance.__doc__.format(params=_RC_DOC_PARAMS)


def jacobson_plot_data(result: pd.DataFrame, *, n_points: int = 2) -> pd.DataFrame:
    """Lines for a Jacobson plot (pre on x, post on y) from a reliable-change result.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`reliable_change` or :func:`clinical_significance`.
    n_points : int
        Points per line (the lines are straight, 2 suffice).

    Returns
    -------
    DataFrame
        Long table with columns ``line`` (``no_change``: post = pre, ``band_lower`` and
        ``band_upper``: the reliable-change boundaries, ``cutoff_x`` / ``cutoff_y``: the
        cut-off when the result has one), ``x`` and ``y``. The points themselves are
        ``result[["pre", "post", "category"]]``.

    Notes
    -----
    Every method's boundary is a straight line ``post = intercept + slope * pre +/- half_width``
    (``result.attrs["band"]``): JT and threshold have slope 1 around the diagonal; GLN, HLL, EN
    and NK are centred on the regression-to-the-mean prediction.

    Examples
    --------
    >>> df = pd.DataFrame({"client_id": list("aabbcc"), "date": [1, 2] * 3,
    ...                    "measure": "PHQ-9", "score": [20.0, 8, 15, 12, 6, 13]})
    >>> lines = jacobson_plot_data(reliable_change(df, measure="PHQ-9"))
    >>> lines[lines["line"] == "band_lower"][["x", "y"]].values.tolist()
    [[6.0, 0.0], [20.0, 14.0]]
    """
    band = result.attrs["band"]
    lo = float(min(result["pre"].min(), result["post"].min()))
    hi = float(max(result["pre"].max(), result["post"].max()))
    x = np.linspace(lo, hi, max(int(n_points), 2))
    centre = band["intercept"] + band["slope"] * x
    parts = [("no_change", x, x), ("band_lower", x, centre - band["half_width"]),
             ("band_upper", x, centre + band["half_width"])]
    if "cutoff" in result.attrs:
        c = np.full_like(x, result.attrs["cutoff"])
        parts += [("cutoff_x", c, x), ("cutoff_y", x, c)]
    return pd.DataFrame({"line": np.concatenate([[n] * len(xs) for n, xs, _ in parts]),
                         "x": np.concatenate([xs for _, xs, _ in parts]),
                         "y": np.concatenate([ys for _, _, ys in parts])})
