"""Daily diary dynamics: the daily table, within-person correlation and lagged effects.

A diary answers questions about *the same person on different days* ("on days after a good
night, is this client's mood better?"). Those are within-person questions; the relation between
people ("clients who sleep well have better mood") can be different, even of the opposite sign.
Every function here keeps the two apart. See ``docs/daily.md`` for the guide.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import _episodes
from ._dist import stats  # scipy.stats on first use of anything but norm and t
from .measures import get_measure, registry_state
from .trend import TREND_RULE, default_min_change, slope_ci, trend_direction

__all__ = ["daily_table", "within_person_correlation", "lagged_effect", "daily_trend_data",
           "lag_scatter_data", "diary_summary"]


# --------------------------------------------------------------------------- validation helpers

def _require_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, not {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing}; its columns are {list(data.columns)}")


def _as_days(values: pd.Series, column: str) -> pd.Series:
    """Dates as datetime64 at midnight; a time of day is dropped (the unit is the calendar day)."""
    if values.dtype == "datetime64[ns]" and not np.isnat(values.to_numpy()).any():
        # already naive dates (a daily table's): numpy's cast to days floors as normalize does
        days = values.to_numpy().astype("datetime64[D]").astype("datetime64[ns]")
        return pd.Series(days, index=values.index, name=values.name)
    try:
        out = pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {column!r} must hold dates ({exc})") from None
    if out.isna().any():
        i = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise ValueError(f"column {column!r} has a missing date in row {i}; every row needs a day")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def _as_numeric(data: pd.DataFrame, column: str) -> pd.Series:
    if data[column].dtype == np.float64:  # already numbers: nothing to coerce, nothing to refuse
        return data[column].copy()
    values = pd.to_numeric(data[column], errors="coerce").astype(float)
    bad = values.isna() & data[column].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"column {column!r} must be numeric; row {i} holds "
                         f"{data[column].iloc[i]!r}")
    return values


def _check_unique_days(data: pd.DataFrame, subject: str, time: str) -> None:
    days = data[time]
    if days.dtype.kind == "M":  # sorted keys with no two alike need no further look
        who = pd.factorize(data[subject])[0]
        when = days.to_numpy().view(np.int64)
        order = np.lexsort((when, who))
        if not ((np.diff(who[order]) == 0) & (np.diff(when[order]) == 0)).any():
            return
    dup = data.duplicated([subject, time], keep=False)
    if dup.any():
        row = data.loc[dup].iloc[0]
        raise ValueError(f"more than one row for {subject} {row[subject]!r} on {time} "
                         f"{row[time]:%Y-%m-%d}; pass one row per {subject} and day "
                         "(daily_table() builds it)")


# --------------------------------------------------------------------------------- daily table

def daily_table(observations: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per client per calendar day, from the client's first to last diary day.

    Parameters
    ----------
    observations : DataFrame
        Long observations as :func:`progress_kit.read_observations` returns them: ``client_id``,
        ``date``, ``measure`` and ``score`` (see ``docs/conventions.md``).
    measures : sequence of str, optional
        The measures to spread into columns. Default: every registry measure of kind
        ``"diary"`` (``mood``, ``sleep_quality``, ``homework``, ``goals_on_track``,
        ``takeaways`` in the built-in registry).

    Returns
    -------
    DataFrame
        ``client_id``, ``date``, one float column per measure and ``n_fields`` (how many of the
        measures were filled in that day). A client's span runs from the first to the last day
        with any of the measures; a day inside the span without an entry is a row of NaN with
        ``n_fields == 0``. Sorted by client and date, with a fresh index. Where
        ``observations`` has an ``episode_id`` column (episodes of care), the span is each
        episode's (the months between two episodes get no rows), an ``episode_id`` column
        follows ``client_id`` and ``attrs["method"]`` says so; :func:`progress_kit.progress_score`
        then never lets a trend window reach across two episodes.

    Raises
    ------
    ValueError
        When a column is missing, a date or score is not valid, or a client has two rows for the
        same measure on the same day.

    Notes
    -----
    Nothing is imputed: a missing day stays visible as a row of NaN, so gaps show in plots and
    lagged analyses can see that the day before was missing (:func:`lagged_effect` never pairs
    across a gap). Clients with no diary entry at all get no rows. A time of day in ``date`` is
    dropped; the unit is the calendar day.

    Examples
    --------
    >>> obs = pd.DataFrame({
    ...     "client_id": ["a", "a", "a", "b"],
    ...     "date": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-03", "2024-03-02"]),
    ...     "measure": ["mood", "homework", "mood", "mood"],
    ...     "score": [6.0, 2.0, 7.0, 4.0]})
    >>> daily_table(obs, measures=["mood", "homework"])
      client_id       date  mood  homework  n_fields
    0         a 2024-03-01   6.0       2.0         2
    1         a 2024-03-02   NaN       NaN         0
    2         a 2024-03-03   7.0       NaN         1
    3         b 2024-03-02   4.0       NaN         1
    """
    _require_columns(observations, ["client_id", "date", "measure", "score"], "observations")
    if _episodes.has_episodes(observations):
        coded, pairs = _episodes.keyed({"observations": observations})
        out = daily_table(coded["observations"], measures)
        out = _episodes.decoded_column(out.astype({"client_id": np.int64}), pairs)
        out["client_id"] = out["client_id"].astype("string")
        return out.sort_values(["client_id", "date"], kind="stable", ignore_index=True)
    if measures is None:
        # the registry's diary measures in its order (pk.measures() builds the whole table)
        measures = [m.name for m in registry_state().values() if m.kind == "diary"]
    else:
        if isinstance(measures, str):
            measures = [measures]
        measures = list(dict.fromkeys(measures))
        if not measures:
            raise ValueError("measures is empty; name at least one measure")
    obs = observations.loc[observations["measure"].isin(measures),
                           ["client_id", "date", "measure", "score"]].copy()
    obs["client_id"] = obs["client_id"].astype("string")
    obs["date"] = _as_days(obs["date"], "date")
    obs["score"] = _as_numeric(obs, "score")
    dup = obs.duplicated(["client_id", "date", "measure"], keep=False)
    if dup.any():
        row = obs.loc[dup].iloc[0]
        raise ValueError(f"client_id {row['client_id']!r} has more than one {row['measure']!r} "
                         f"score on {row['date']:%Y-%m-%d}; keep one row per client, day and "
                         "measure")
    # an explicit NaN score is no entry: it must not stretch the client's diary span
    obs = obs[obs["score"].notna()]
    fast = _daily_grid(obs, measures)
    if fast is not None:
        return fast
    return _daily_frames(obs, measures)


def _daily_grid(obs: pd.DataFrame, measures: list[str]) -> pd.DataFrame | None:
    """:func:`daily_table`'s table built from arrays: each client's days numbered from their
    first diary day, each score put in its row and measure's column. The same table as
    :func:`_daily_frames` (the pandas pivot, kept as the tested reference), in a fraction of
    the time for one client, which is how a report calls it (docs/performance.md, round five).
    None for an empty diary (the reference then builds the empty table)."""
    if not len(obs):
        return None
    code, ids = pd.factorize(obs["client_id"], sort=True)
    when = obs["date"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    day = np.int64(86_400_000_000_000)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), np.iinfo(np.int64).min)
    np.minimum.at(first, code, when)
    np.maximum.at(last, code, when)
    n_days = (last - first) // day + 1
    begin = np.cumsum(n_days) - n_days
    values = np.full((int(n_days.sum()), len(measures)), np.nan)
    column = pd.Index(measures).get_indexer(obs["measure"])
    values[begin[code] + (when - first[code]) // day, column] = obs["score"].to_numpy(dtype=float)
    offset = np.arange(len(values)) - np.repeat(begin, n_days)
    out = pd.DataFrame({"client_id": pd.array(np.repeat(ids.to_numpy(), n_days), dtype="string"),
                        "date": (np.repeat(first, n_days) + offset * day).astype("datetime64[ns]")})
    for j, m in enumerate(measures):
        out[m] = values[:, j]
    out["n_fields"] = (~np.isnan(values)).sum(axis=1).astype(int)
    return out


def _daily_frames(obs: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """:func:`daily_table`'s table by a pandas pivot onto the grid of each client's days: the
    reference that :func:`_daily_grid` is tested against, and the path for an empty diary."""
    wide = obs.pivot(index=["client_id", "date"], columns="measure", values="score")
    wide = wide.reindex(columns=measures)

    span = obs.groupby("client_id", sort=True)["date"].agg(["min", "max"])
    n_days = ((span["max"] - span["min"]).dt.days + 1).to_numpy()
    ids = np.repeat(span.index.to_numpy(), n_days)
    start = np.repeat(span["min"].to_numpy(), n_days)
    offset = np.arange(n_days.sum()) - np.repeat(np.cumsum(n_days) - n_days, n_days)
    days = start + offset.astype("timedelta64[D]")
    grid = pd.MultiIndex.from_arrays([pd.array(ids, dtype="string"),
                                      pd.DatetimeIndex(days).astype("datetime64[ns]")],
                                     names=["client_id", "date"])
    out = wide.reindex(grid).astype(float)
    out.columns.name = None
    out["n_fields"] = out[measures].notna().sum(axis=1).astype(int)
    return out.reset_index()


# ------------------------------------------------------------------ within-person correlation

def within_person_correlation(data: pd.DataFrame, *, x: str, y: str, subject: str = "client_id",
                              level: float = 0.95) -> pd.DataFrame:
    """Repeated-measures correlation (rmcorr) with the between-person correlation beside it.

    Parameters
    ----------
    data : DataFrame
        One row per observation occasion, e.g. the table from :func:`daily_table`.
    x, y : str
        The two numeric columns.
    subject : str, default ``"client_id"``
        The column naming the person.
    level : float, default 0.95
        Confidence level of the interval for ``r``.

    Returns
    -------
    DataFrame
        One row: ``r`` (within-person, rmcorr), ``dof``, ``pval``, ``ci_low``, ``ci_high``
        (unrounded), ``n_subjects`` and ``n_obs`` (subjects and pairs that contribute),
        ``between_r`` (Pearson r of the person means) and ``between_pval``.
        ``attrs`` hold ``n_rows``, ``n_rows_incomplete`` (rows dropped for a NaN in x or y),
        ``excluded_subjects`` (fewer than 2 complete pairs: they contribute nothing) and
        ``ci_method``.

    Raises
    ------
    ValueError
        When a column is missing or not numeric, ``level`` is not in (0, 1), or fewer than
        2 error degrees of freedom remain.

    Notes
    -----
    Bakdash & Marusich (2017): with :math:`\\tilde x_{ij} = x_{ij} - \\bar x_i` and
    :math:`\\tilde y_{ij} = y_{ij} - \\bar y_i` (person means over the person's complete pairs),

    .. math:: r_{rm} = \\frac{\\sum \\tilde x \\tilde y}
              {\\sqrt{\\sum \\tilde x^2 \\sum \\tilde y^2}}, \\qquad \\nu = N - k - 1,

    the same number as the ANCOVA form :math:`\\operatorname{sign}(b)\\sqrt{SS_x/(SS_x+SS_e)}`
    (a common slope, one intercept per person). ``N`` is the number of complete pairs and ``k``
    the number of persons. ``pval`` is the two-sided t test
    :math:`t = r\\sqrt{\\nu/(1-r^2)}` on :math:`\\nu` degrees of freedom. The interval is the
    Fisher-z interval with the effective sample size :math:`\\nu + 2`, as in rmcorr >= 0.5.4:
    :math:`\\tanh(\\operatorname{atanh} r \\pm z_{1-\\alpha/2} / \\sqrt{\\nu - 1})`. Earlier rmcorr
    versions used :math:`\\sqrt{\\nu - 3}` (too wide). pingouin 0.7.0's ``rm_corr`` computes
    the same interval but prints it rounded to two decimals; here it is unrounded.

    Rows with a NaN in ``x`` or ``y`` are dropped pairwise. A person with fewer than two complete
    pairs has no within-person variation and contributes nothing (dropping them leaves ``r`` and
    ``dof`` exactly as rmcorr gives them with them); they are listed in ``attrs``.

    ``between_r`` is the Pearson correlation of the person means of the contributing persons,
    tested on :math:`k - 2` degrees of freedom (NaN with fewer than 3 persons). It answers a
    different question (do people who are high on x tend to be high on y?) and can have the
    opposite sign of ``r``.

    Assumptions: a common within-person slope for everyone, linearity, independent
    residuals (serial correlation of diary days makes the p-value optimistic), and roughly
    normal residuals for the interval.

    A perfect within-person relation (``|r| = 1``: no residual error) gives ``r = +-1``,
    ``pval = 0`` and a degenerate interval at ``r``, as rmcorr does.

    Matches rmcorr 0.5.4+ on ``bland1995``: r = -0.5067697, df = 38, p = 0.000847,
    95% CI [-0.7067146, -0.2318631], and on ``gilden2010``, ``raz2005`` and
    ``marusich2016_exp2`` (see ``tests/test_daily.py``).

    References
    ----------
    Bakdash, J. Z., & Marusich, L. R. (2017). Repeated measures correlation. Frontiers in
    Psychology, 8, 456. https://doi.org/10.3389/fpsyg.2017.00456

    Bland, J. M., & Altman, D. G. (1995). Calculating correlation coefficients with repeated
    observations: Part 1 - correlation within subjects. BMJ, 310, 446.

    Examples
    --------
    >>> from progress_kit import read_dataset
    >>> res = within_person_correlation(read_dataset("bland1995"), x="PaCO2", y="pH",
    ...                                 subject="Subject")
    >>> res[["r", "dof", "pval", "ci_low", "ci_high"]].round(7).iloc[0].tolist()
    [-0.5067697, 38.0, 0.0008471, -0.7067146, -0.2318631]
    >>> round(float(res["between_r"].iloc[0]), 2)  # the person means barely correlate
    0.08
    """
    _require_columns(data, [subject, x, y], "data")
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, not {level!r}")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; name two different columns")
    xv, yv = _as_numeric(data, x).to_numpy(), _as_numeric(data, y).to_numpy()
    fast = _within_one(data[subject], xv, yv, level)
    if fast is not None:
        return fast
    df = pd.DataFrame({"s": data[subject].to_numpy(), "x": xv, "y": yv})
    if df["s"].isna().any():
        raise ValueError(f"column {subject!r} has missing values; every row needs a subject")
    n_rows = len(df)
    df = df.dropna(subset=["x", "y"])
    counts = df.groupby("s", sort=True)["x"].transform("size")
    excluded = (set(df.loc[counts < 2, "s"].tolist())
                | (set(data[subject].dropna().tolist()) - set(df["s"].tolist())))
    try:
        excluded = sorted(excluded)
    except TypeError:  # mixed id types
        excluded = sorted(excluded, key=str)
    df = df[counts >= 2]
    n_obs = len(df)
    k = df["s"].nunique()
    dof = n_obs - k - 1
    if dof < 2:
        raise ValueError(f"only {n_obs} complete pair(s) from {k} subject(s) with at least two "
                         f"pairs: {dof} error degrees of freedom; at least 2 are needed")
    g = df.groupby("s", sort=True)
    xc = df["x"] - g["x"].transform("mean")
    yc = df["y"] - g["y"].transform("mean")
    sxx, syy, sxy = (xc * xc).sum(), (yc * yc).sum(), (xc * yc).sum()
    r = float(np.clip(sxy / np.sqrt(sxx * syy), -1, 1)) if sxx > 0 and syy > 0 else np.nan
    means = g[["x", "y"]].mean()
    if k >= 3 and means["x"].std() > 0 and means["y"].std() > 0:
        between = stats.pearsonr(means["x"], means["y"])
        between_r, between_p = float(between.statistic), float(between.pvalue)
    else:
        between_r = between_p = np.nan
    return _correlation_table(r, dof, level, k, n_obs, between_r, between_p, n_rows,
                              n_rows - int(counts.size), excluded)


def _correlation_table(r, dof, level, k, n_obs, between_r, between_p, n_rows, incomplete,
                       excluded) -> pd.DataFrame:
    """:func:`within_person_correlation`'s row: the test, the interval and what was left out."""
    # NumPy floats, not Python floats: a perfect within-person fit (|r| = 1, no residual error)
    # gives t = +-inf and p = 0, as rmcorr's ANCOVA F test does, instead of ZeroDivisionError.
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float64(r) * np.sqrt(dof / (1 - np.float64(r) ** 2))
        pval = float(2 * stats.t.sf(abs(t), dof))
        z = np.arctanh(np.float64(r))
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(dof - 1)
    out = pd.DataFrame({"r": [r], "dof": [dof], "pval": [pval], "ci_low": [np.tanh(z - half)],
                        "ci_high": [np.tanh(z + half)], "n_subjects": [k], "n_obs": [n_obs],
                        "between_r": [between_r], "between_pval": [between_p]})
    out.attrs.update({
        "n_rows": n_rows, "n_rows_incomplete": incomplete,
        "excluded_subjects": excluded,
        "excluded_reason": "fewer than 2 complete (x, y) pairs: no within-person variation",
        "ci_method": f"Fisher z, effective N = dof + 2 (rmcorr >= 0.5.4), level {level}"})
    return out


def _within_one(who: pd.Series, xv: np.ndarray, yv: np.ndarray, level: float
                ) -> pd.DataFrame | None:
    """:func:`within_person_correlation` of one person's diary (how a report calls it) from
    arrays: the person's means added as pandas' grouped means add them (:func:`_kahan_sums`),
    the sums of products as its Series sums do (NumPy's pairwise sum): the pandas path's row to
    the last bit (tested). None for anything else (several people, a missing ID, fewer than
    four complete pairs): the pandas path then answers or says why not."""
    if not len(who) or who.isna().any() or not (who == who.iloc[0]).all():
        return None
    keep = ~np.isnan(xv) & ~np.isnan(yv)
    x1, y1 = xv[keep], yv[keep]
    n_obs = len(x1)
    dof = n_obs - 2
    if dof < 2:
        return None
    (sx, sy), _ = _kahan_sums(np.vstack([x1, y1]))
    xc, yc = x1 - sx / n_obs, y1 - sy / n_obs
    sxx, syy, sxy = np.sum(xc * xc), np.sum(yc * yc), np.sum(xc * yc)
    r = float(np.clip(sxy / np.sqrt(sxx * syy), -1, 1)) if sxx > 0 and syy > 0 else np.nan
    return _correlation_table(r, dof, level, 1, n_obs, np.nan, np.nan, len(who),
                              len(who) - n_obs, [])


# --------------------------------------------------------------------------- lagged effects

def _lag_pairs(data: pd.DataFrame, *, x: str, y: str, subject: str, time: str, lag: int,
               autoregressive: bool) -> pd.DataFrame:
    """Calendar-exact pairs: y on day t with x on day t - lag (and y on day t - max(lag, 1))."""
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag < 0:
        raise ValueError(f"lag must be a whole number of days >= 0, not {lag!r}")
    _require_columns(data, [subject, time, x, y], "data")
    df = pd.DataFrame({"s": data[subject].to_numpy(), "t": _as_days(data[time], time).to_numpy(),
                       "x": _as_numeric(data, x).to_numpy(), "y": _as_numeric(data, y).to_numpy()})
    if df["s"].isna().any():
        raise ValueError(f"column {subject!r} has missing values; every row needs a subject")
    _check_unique_days(df.rename(columns={"s": subject, "t": time}), subject, time)
    # Matching on the calendar day, never on the row before: a missing day (absent row or a row
    # of NaN) breaks the pair instead of silently pairing with an older day.
    pairs = df[["s", "t", "y"]]
    if lag == 0:
        pairs = pairs.assign(x_lag=df["x"].to_numpy())
    else:
        earlier = df[["s", "t", "x"]].rename(columns={"x": "x_lag"})
        earlier = earlier.assign(t=earlier["t"] + pd.Timedelta(days=lag))
        pairs = pairs.merge(earlier, on=["s", "t"], how="left")
    needed = ["y", "x_lag"]
    if autoregressive:
        ar_lag = max(lag, 1)
        prev = df[["s", "t", "y"]].rename(columns={"y": "y_lag"})
        prev = prev.assign(t=prev["t"] + pd.Timedelta(days=ar_lag))
        pairs = pairs.merge(prev, on=["s", "t"], how="left")
        needed.append("y_lag")
    pairs = pairs.dropna(subset=needed).sort_values(["s", "t"], kind="stable")
    g = pairs.groupby("s", sort=False)
    pairs["x_mean"] = g["x_lag"].transform("mean")
    pairs["x_within"] = pairs["x_lag"] - pairs["x_mean"]
    pairs["y_mean"] = g["y"].transform("mean")
    if autoregressive:
        pairs["y_lag_within"] = pairs["y_lag"] - g["y_lag"].transform("mean")
    return pairs.reset_index(drop=True)


def _ols(endog: np.ndarray, exog: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Ordinary least squares as ``statsmodels`` ``OLS(endog, exog).fit()`` computes it.

    Coefficients :math:`\\hat\\beta = X^+ y` with the Moore-Penrose pseudo-inverse from the SVD
    (singular values below :math:`10^{-15} s_{max}` treated as zero, as statsmodels'
    ``pinv_extended`` does), residual variance :math:`s^2 = \\lVert y - X\\hat\\beta\\rVert^2 /
    (n - r)` with r the rank of X, and standard errors :math:`\\sqrt{s^2 \\,
    \\mathrm{diag}(X^+ X^{+T})}`. Returns ``(params, bse, df_resid)``. Checked against the NIST
    StRD Longley certified values (tests/test_daily.py). Here rather than statsmodels because a
    client's report fits only this, and importing statsmodels costs more than the report.
    """
    u, s, vt = np.linalg.svd(exog, full_matrices=False)
    keep = s > 1e-15 * s.max()
    pinv = (vt.T[:, keep] / s[keep]) @ u[:, keep].T
    params = pinv @ endog
    df_resid = len(endog) - int(np.linalg.matrix_rank(exog))
    resid = endog - exog @ params
    scale = float(resid @ resid) / df_resid
    bse = np.sqrt(scale * np.einsum("ij,ij->i", pinv, pinv))
    return params, bse, df_resid


def lagged_effect(data: pd.DataFrame, *, x: str, y: str, subject: str = "client_id",
                  time: str = "date", lag: int = 1, autoregressive: bool = True,
                  random_slope: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Within-person effect of x on day t - lag on y on day t, apart from between-person effects.

    Parameters
    ----------
    data : DataFrame
        The wide daily table (:func:`daily_table`): one row per client-day. Missing days may be
        rows of NaN or absent rows; both give the same result.
    x, y : str
        Predictor and outcome columns, e.g. ``x="homework"``, ``y="mood"``.
    subject, time : str
        The person and calendar-day columns.
    lag : int, default 1
        Days between x and y. ``lag=0`` is the same-day within-person association. The diary's
        ``sleep_quality`` rates the night that *begins* on the diary day, so "last night's sleep
        on today's mood" is ``lag=1`` (x on day t - 1, y on day t).
    autoregressive : bool, default True
        Adjust for y on day t - lag (for ``lag=0``: y on the day before), person-mean centred.
    random_slope : bool, default False
        Let the within-person slope of x vary between persons (random slope, correlated with
        the random intercept). The reported estimate is then the average within-person slope.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    DataFrame
        One row: ``estimate`` (within-person effect of a one-point change in x, in y points),
        ``se``, ``ci_low``, ``ci_high``, ``pval``, ``n_pairs``, ``n_subjects``, and for
        context ``between_estimate`` (coefficient of the person mean of x), ``ar_estimate``
        (NaN without the autoregressive term) and ``method`` (``"MixedLM"`` or ``"OLS"``).
        ``attrs`` hold the model formula, whether the fit converged and the warnings raised.

    Raises
    ------
    ValueError
        Bad arguments, too few pairs to fit the model, or x or y without within-person variation
        across the usable pairs (no estimate is possible; the message says which).

    Notes
    -----
    A pair (y on day t, x on day t - lag) is used only when both days exist with values and are
    exactly ``lag`` calendar days apart; a lag never crosses a missing day. With
    ``autoregressive`` y on day t - lag (t - 1 for ``lag=0``) must be present too. With
    :math:`\\bar x_i` the person mean of the lagged x over person i's pairs, the model is

    .. math:: y_{it} = \\beta_0 + \\beta_W (x_{i,t-\\ell} - \\bar x_i) + \\beta_B \\bar x_i
              + \\phi (y_{i,t-\\ell} - \\bar y^{lag}_i) + u_{0i} [+ u_{1i}(x_{i,t-\\ell}
              - \\bar x_i)] + e_{it}

    fitted by REML with ``statsmodels`` ``MixedLM`` (random intercept per person, optional
    random slope); with a single person it is OLS without the between term. ``estimate`` is
    :math:`\\beta_W`. Person-mean centring is what separates the two questions: the uncentred
    slope of a pooled regression mixes :math:`\\beta_W` with the between-person relation
    :math:`\\beta_B`, which in clinical data often has the opposite sign (Curran & Bauer 2011).
    Intervals and p-values are Wald (normal for MixedLM, t for OLS); with few persons they are
    optimistic.

    Dynamic-panel (Nickell) bias. The autoregressive term is person-mean centred (Hamaker &
    Grasman 2015). Centring on a mean that includes the later days makes the centred lagged y
    correlate with the error, so :math:`\\hat\\phi` is biased downward by about
    :math:`-(1+\\phi)/(T-1)` with T days per person (Nickell 1981): about -0.04 for
    :math:`\\phi = 0.3` and six weeks of diary, worse for short diaries. The bias reaches
    :math:`\\hat\\beta_W` only through the correlation of the centred x with the centred lagged
    y, small when x is not itself driven by yesterday's y. Not centring instead makes the
    lagged y correlate with the random intercept, an upward bias of the same order. Treat
    ``ar_estimate`` as descriptive; for short diaries prefer ``autoregressive=False`` and say so.

    Assumptions: linear effects, the same lag for everyone, no time trend shared by x and y
    (detrend first if both drift over treatment), missing days unrelated to the values that
    would have been recorded (missing at random given the model).

    References
    ----------
    Curran, P. J., & Bauer, D. J. (2011). The disaggregation of within-person and
    between-person effects in longitudinal models of change. Annual Review of Psychology, 62,
    583-619.

    Hamaker, E. L., & Grasman, R. P. P. P. (2015). To center or not to center? Investigating
    inertia with a multilevel autoregressive model. Frontiers in Psychology, 5, 1492.

    Nickell, S. (1981). Biases in dynamic models with fixed effects. Econometrica, 49(6),
    1417-1426.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> days = pd.date_range("2024-01-01", periods=200)
    >>> sleep = rng.normal(3, 1, 200)
    >>> mood = 5 + 0.8 * np.r_[np.nan, sleep[:-1] - 3] + rng.normal(0, 0.5, 200)
    >>> one = pd.DataFrame({"client_id": "a", "date": days, "sleep_quality": sleep, "mood": mood})
    >>> res = lagged_effect(one, x="sleep_quality", y="mood", autoregressive=False)
    >>> round(float(res["estimate"].iloc[0]), 1), int(res["n_pairs"].iloc[0]), res["method"].iloc[0]
    (0.8, 199, 'OLS')
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, not {level!r}")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; for the autoregression of one column use "
                         "two columns or a dedicated AR model")
    pairs = _lag_pairs(data, x=x, y=y, subject=subject, time=time, lag=lag,
                       autoregressive=autoregressive)
    n_pairs, k = len(pairs), pairs["s"].nunique()
    cols = ["x_within"] + (["y_lag_within"] if autoregressive else [])
    single = k == 1
    if not single:
        cols.append("x_mean")
    n_par = len(cols) + 1
    if n_pairs < n_par + 2:
        raise ValueError(f"only {n_pairs} usable (y on day t, {x} on day t-{lag}) pair(s) from "
                         f"{k} subject(s); at least {n_par + 2} are needed")
    if not (pairs["x_within"] != 0).any():
        raise ValueError(f"{x!r} never varies within a person across the usable pairs; "
                         "a within-person effect cannot be estimated")
    y_within = pairs["y"] - pairs.groupby("s")["y"].transform("mean")
    if not (y_within.abs() > 1e-12 * max(1.0, float(pairs["y"].abs().max()))).any():
        # no residual variance: the fit would report an effect of ~1e-16 with a zero-width
        # interval, which reads as a precise null instead of "cannot be estimated"
        raise ValueError(f"{y!r} never varies within a person across the {n_pairs} usable pairs; "
                         "a within-person effect on it cannot be estimated")
    exog = np.column_stack([np.ones(n_pairs)] + [pairs[c].to_numpy() for c in cols])
    names = ["const"] + cols
    endog = pairs["y"].to_numpy()
    caught: list[str] = []
    converged = True
    if single:
        params, bse, df_resid = _ols(endog, exog)
        crit = stats.t.ppf(0.5 + level / 2, df_resid)
        pvals = 2 * stats.t.sf(np.abs(params / bse), df_resid)
        method = "OLS"
    else:
        # deferred, and only the model module: importing statsmodels costs 0.75 s of CPU, which
        # a client's report (one person: OLS above) never needs
        from statsmodels.regression.mixed_linear_model import MixedLM

        exog_re = (np.column_stack([np.ones(n_pairs), pairs["x_within"].to_numpy()])
                   if random_slope else np.ones((n_pairs, 1)))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            model = MixedLM(endog, exog, groups=pairs["s"].astype(str).to_numpy(),
                               exog_re=exog_re)
            # statsmodels' default optimiser; a list of methods in 0.15 stalls at the start values
            fit = model.fit(reml=True)
        caught = sorted({str(w.message) for w in record})
        converged = bool(getattr(fit, "converged", True))
        if not converged:
            warnings.warn(f"MixedLM for {y} on lagged {x} did not converge; see .attrs['warnings']",
                          RuntimeWarning, stacklevel=2)
        params, bse = fit.fe_params, fit.bse_fe
        crit = stats.norm.ppf(0.5 + level / 2)
        pvals = 2 * stats.norm.sf(np.abs(params / bse))
        method = "MixedLM"
    i = names.index("x_within")
    est, se = float(params[i]), float(bse[i])
    out = pd.DataFrame({
        "estimate": [est], "se": [se], "ci_low": [est - crit * se], "ci_high": [est + crit * se],
        "pval": [float(pvals[i])], "n_pairs": [n_pairs], "n_subjects": [k],
        "between_estimate": [float(params[names.index("x_mean")]) if not single else np.nan],
        "ar_estimate": [float(params[names.index("y_lag_within")]) if autoregressive
                        else np.nan],
        "method": [method]})
    ar_term = f" + phi*({y}[t-{max(lag, 1)}] - person mean)" if autoregressive else ""
    between = f" + b_B*mean_i({x})" if not single else ""
    re = "" if single else (" + u0_i + u1_i*x_within" if random_slope else " + u0_i")
    out.attrs.update({
        "model": f"{y}[t] ~ b0 + b_W*({x}[t-{lag}] - person mean){between}{ar_term}{re} + e",
        "converged": converged, "warnings": caught})
    return out


# ------------------------------------------------------------------------- plot-data helpers

def daily_trend_data(daily: pd.DataFrame, *, measures: Sequence[str] = ("mood", "homework"),
                     days: int = 14, end: str | pd.Timestamp | None = None,
                     min_days: int = 7, min_change: dict[str, float] | None = None,
                     alpha: float = 0.05, subject: str = "client_id",
                     time: str = "date") -> pd.DataFrame:
    """The last ``days`` calendar days per client, with a straight-line trend per measure.

    Parameters
    ----------
    daily : DataFrame
        The wide daily table (:func:`daily_table`).
    measures : sequence of str, default ``("mood", "homework")``
        Columns to include.
    days : int, default 14
        Window length in calendar days.
    end : date, optional
        Last day of the window (e.g. the report date). Default: each client's last row.
    min_days : int, default 7
        Days with a value needed in the window for a direction label.
    min_change : dict, optional
        Measure -> minimum change over the window for an improving or worsening label.
        Default: 10% of the measure's registry range (mood 1-10: 0.9; homework 0-5: 0.5), or
        its reliable-change threshold where the registry has one.
    alpha : float, default 0.05
        1 - confidence level of the slope's interval.
    subject, time : str
        The person and calendar-day columns.

    Returns
    -------
    DataFrame
        Tidy long table, one row per client, day and measure: ``client_id``, ``date``,
        ``day`` (1 .. days), ``measure``, ``value`` (NaN on a missing day: every day of the
        window has a row), ``trend`` (the least-squares line through the client's values
        in the window, evaluated on that day; NaN when fewer than 2 values), ``change`` (the
        line's change over the window, slope x days) and ``direction`` ("improving",
        "stable", "worsening" or "insufficient data"; the same on every row of a client and
        measure). ``attrs["trend_rule"]`` states the rule.

    Notes
    -----
    The trend is ordinary least squares of value on day within the window, fitted per client
    and measure over the days with a value; missing days are not filled in. The direction
    follows the kit's one trend rule (:func:`progress_kit.trend_direction`): the slope's
    t-based interval (df = n - 2) excludes 0, ``|change| >= min_change`` and at least
    ``min_days`` days have a value. Which direction is better comes from the registry.

    Examples
    --------
    >>> daily = pd.DataFrame({"client_id": "a",
    ...                       "date": pd.date_range("2024-03-01", periods=4),
    ...                       "mood": [4.0, np.nan, 6.0, 7.0]})
    >>> daily_trend_data(daily, measures=["mood"], days=3)[["date", "value", "trend", "direction"]]
            date  value  trend          direction
    0 2024-03-02    NaN    5.0  insufficient data
    1 2024-03-03    6.0    6.0  insufficient data
    2 2024-03-04    7.0    7.0  insufficient data
    """
    df, ends, measures, thresholds = _trend_input(daily, measures, days, end, min_days,
                                                  min_change, alpha, subject, time)
    fast = _trend_lines(df, ends, measures, days, min_days, thresholds, alpha, subject, time)
    if fast is not None:
        return fast
    return _trend_lines_frames(df, ends, measures, days, min_days, thresholds, alpha, subject, time)


def _trend_input(daily, measures, days, end, min_days, min_change, alpha, subject, time):
    """:func:`daily_trend_data`'s checks and its input: the days and measures as numbers (one
    row per client and day), each client's window end, the measures and their minimum changes.
    :func:`progress_kit.tracker_prompts` prepares its two windows with one call."""
    if isinstance(measures, str):
        measures = [measures]
    measures = list(measures)
    _require_columns(daily, [subject, time, *measures], "daily")
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, not {days!r}")
    if isinstance(min_days, bool) or not isinstance(min_days, int | np.integer) or min_days < 3:
        raise ValueError(f"min_days must be a whole number >= 3, not {min_days!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha!r}")
    thresholds = {m: (min_change or {}).get(m, None) for m in measures}
    thresholds = {m: default_min_change(m) if v is None else float(v) for m, v in thresholds.items()}
    df = daily[[subject, time]].copy()
    df[time] = _as_days(df[time], time)
    for m in measures:
        df[m] = _as_numeric(daily, m)
    _check_unique_days(df, subject, time)
    return df, _window_ends(df, end, subject, time), measures, thresholds


def _window_ends(df: pd.DataFrame, end, subject: str, time: str) -> pd.Series:
    """Each client's last window day (sorted by client): ``end``, or their last row's day."""
    if end is None:
        return df.groupby(subject, sort=True)[time].max()
    clients = pd.Index(df[subject].unique()).sort_values()
    return pd.Series(pd.Timestamp(end).normalize(), index=clients)


def _trend_rule(days: int, min_days: int, thresholds: dict[str, float]) -> str:
    return (f"{TREND_RULE} (minimum change over the {days} days: "
            + ", ".join(f"{m} {v:g}" for m, v in thresholds.items())
            + f"; at least {min_days} days with a value)")


def _kahan_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums and counts of the non-NaN values of each row of ``x``, added left to right with
    Kahan's compensation, as pandas' grouped ``sum`` and ``mean`` add each group's values in
    row order (so the results are theirs to the last bit, not just close).

    A few rows (one client's lines, as a report has them) are added value by value in Python
    floats, the same IEEE operations in the same order as the columns' loop below, which
    pays numpy's call overhead once per day for every row at once."""
    if x.shape[0] <= _FEW_ROWS:
        return _kahan_rows(x)
    total = np.zeros(x.shape[0])
    comp = np.zeros(x.shape[0])
    count = np.zeros(x.shape[0], dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for j in range(x.shape[1]):
            val = x[:, j]
            have = ~np.isnan(val)
            y = val - comp
            t = total + y
            c = t - total - y
            c[np.isnan(c)] = 0.0  # an infinite value: pandas keeps the sum infinite, not NaN
            total = np.where(have, t, total)
            comp = np.where(have, c, comp)
            count += have
    return total, count


_FEW_ROWS = 4


def _kahan_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_kahan_sums` of each row of ``x`` value by value (tested equal to the columns'
    loop and to pandas)."""
    total = np.zeros(x.shape[0])
    count = np.zeros(x.shape[0], dtype=np.int64)
    for i, row in enumerate(x.tolist()):
        s = comp = 0.0
        k = 0
        for v in row:
            if v != v:  # NaN: no value
                continue
            y = v - comp
            t = s + y
            c = t - s - y
            comp = 0.0 if c != c else c  # an infinite value: the sum stays infinite, not NaN
            s = t
            k += 1
        total[i], count[i] = s, k
    return total, count


def _trend_lines(df, ends, measures, days, min_days, thresholds, alpha, subject, time):
    """:func:`daily_trend_data`'s table built from arrays: one row of ``days`` values per client
    and measure, the sums of the least-squares line per row (:func:`_kahan_sums`), the table
    laid out already in its final order. The same table as :func:`_trend_lines_frames` (the
    pandas reference, tested equal to the last bit), in a tenth of the time for one client,
    which is how a report calls it (docs/performance.md, round five). None when the input is
    not the plain case it handles (missing client IDs, an empty table): the reference then
    builds it."""
    a = _trend_arrays(df, ends, measures, days, min_days, thresholds, alpha, subject, time)
    if a is None:
        return None
    ids, last, day, v, n_c, n_m = a["ids"], a["last"], a["day"], a["values"], a["n_c"], a["n_m"]
    mt, mv, slope, change, direction = a["mt"], a["mv"], a["slope"], a["change"], a["direction"]
    lines = n_c * n_m
    out = pd.DataFrame({
        subject: np.repeat(ids.to_numpy(), n_m * days),
        time: (np.repeat(last, n_m * days)
               - np.tile(days - day, lines).astype("timedelta64[D]")),
        "day": np.tile(day, lines),
        "measure": pd.array(np.tile(np.repeat(np.asarray(measures, dtype=object), days), n_c),
                            dtype="str"),
        "value": v.ravel(),
        "trend": (np.repeat(mv, days) + np.repeat(slope, days)
                  * (np.tile(day, lines) - np.repeat(mt, days))),
        "change": np.repeat(change, days),
        "direction": pd.array(np.repeat(direction, days), dtype="str"),
    })
    out.attrs["trend_rule"] = _trend_rule(days, min_days, thresholds)
    return out


def _trend_arrays(df, ends, measures, days, min_days, thresholds, alpha, subject, time):
    """The least-squares lines of :func:`_trend_lines` as arrays, one row per client and measure
    (clients sorted, measures in their order): ``values`` (``days`` per row, NaN on a missing
    day), ``n`` (days with a value), ``mt`` and ``mv`` (mean day and mean value), ``slope``,
    ``change`` and ``direction``, with ``ids``, ``last`` (each client's last day) and ``day``
    (1 .. days). None when the input is not the plain case they handle."""
    ids = ends.index
    if (not len(df) or ids.hasnans or not measures or len(set(measures)) < len(measures)
            or df[subject].isna().any()):
        return None
    n_c, n_m = len(ids), len(measures)
    last = ends.to_numpy().astype("datetime64[ns]")
    client = ids.get_indexer(df[subject])
    when = df[time].to_numpy(dtype="datetime64[ns]")
    offset = (when - last[np.maximum(client, 0)]) // np.timedelta64(1, "D") + (days - 1)
    keep = (client >= 0) & (offset >= 0) & (offset < days)
    values = np.full((n_c, n_m, days), np.nan)
    for k, m in enumerate(measures):
        values[client[keep], k, offset[keep]] = df[m].to_numpy(dtype=float)[keep]
    day = np.arange(1, days + 1)
    v = values.reshape(n_c * n_m, days)
    ok = ~np.isnan(v)
    t = np.where(ok, day.astype(float), np.nan)
    st, n = _kahan_sums(t)
    sv, _ = _kahan_sums(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mt = np.where(n > 0, st / np.maximum(n, 1), np.nan)
        mv = np.where(n > 0, sv / np.maximum(n, 1), np.nan)
        dt, dv = t - mt[:, None], v - mv[:, None]
        # an infinite diary value makes inf - inf here: its line is NaN, as the pandas reference
        # gives it, without a RuntimeWarning for the reader of a report's log
        sxy, _ = _kahan_sums(dt * dv)
        sxx, _ = _kahan_sums(dt ** 2)
        syy, _ = _kahan_sums(dv ** 2)
    slope, half = slope_ci(n, sxx, sxy, syy, alpha=alpha)
    change = slope * days
    direction = np.empty(n_c * n_m, dtype=object)
    for k, m in enumerate(measures):
        rows = np.arange(n_c) * n_m + k
        direction[rows] = trend_direction(
            (slope - half)[rows], (slope + half)[rows], change[rows], n[rows],
            min_change=thresholds[m], min_points=min_days, better=get_measure(m).better)
    return {"ids": ids, "last": last, "day": day, "values": v, "n_c": n_c, "n_m": n_m,
            "n": n, "mt": mt, "mv": mv, "slope": slope, "change": change, "direction": direction}


def _trend_lines_frames(df, ends, measures, days, min_days, thresholds, alpha, subject, time):
    """:func:`daily_trend_data`'s table built with pandas joins and grouped transforms: the
    reference that :func:`_trend_lines` is tested against, and the path for what it leaves."""
    ids = np.repeat(ends.index.to_numpy(), days)
    day = np.tile(np.arange(1, days + 1), len(ends))
    dates = np.repeat(ends.to_numpy().astype("datetime64[ns]"), days) \
        - (days - day).astype("timedelta64[D]")
    grid = pd.DataFrame({subject: ids, time: dates, "day": day})
    grid = grid.merge(df, on=[subject, time], how="left")
    long = grid.melt(id_vars=[subject, time, "day"], value_vars=measures, var_name="measure",
                     value_name="value")
    ok = long["value"].notna()
    t = long["day"].where(ok).astype(float)
    v = long["value"]
    keys = [long[subject], long["measure"]]
    n = ok.groupby(keys).transform("sum")
    mt = t.groupby(keys).transform("mean")
    mv = v.groupby(keys).transform("mean")
    sxy = ((t - mt) * (v - mv)).groupby(keys).transform("sum")
    sxx = ((t - mt) ** 2).groupby(keys).transform("sum")
    syy = ((v - mv) ** 2).groupby(keys).transform("sum")
    slope, half = slope_ci(n, sxx, sxy, syy, alpha=alpha)
    long["trend"] = mv + slope * (long["day"] - mt)
    long["change"] = slope * days
    long["direction"] = "insufficient data"
    for m in measures:
        rows = (long["measure"] == m).to_numpy()
        long.loc[rows, "direction"] = trend_direction(
            (slope - half)[rows], (slope + half)[rows], long["change"][rows], n[rows],
            min_change=thresholds[m], min_points=min_days, better=get_measure(m).better)
    long["_order"] = long["measure"].map({m: i for i, m in enumerate(measures)})
    long = long.sort_values([subject, "_order", time], kind="stable").drop(columns="_order")
    long = long.reset_index(drop=True)
    long.attrs["trend_rule"] = _trend_rule(days, min_days, thresholds)
    return long


def lag_scatter_data(data: pd.DataFrame, *, x: str, y: str, subject: str = "client_id",
                     time: str = "date", lag: int = 1) -> pd.DataFrame:
    """Points for a within-person lag scatter: x on day t - lag against y on day t.

    Parameters
    ----------
    data : DataFrame
        The wide daily table (:func:`daily_table`).
    x, y : str
        Predictor (lagged) and outcome columns.
    subject, time : str
        The person and calendar-day columns.
    lag : int, default 1
        Days between x and y, as in :func:`lagged_effect`.

    Returns
    -------
    DataFrame
        One row per usable pair (exactly ``lag`` calendar days apart, both present):
        ``client_id``, ``date`` (day t), ``x_lag``, ``y``, ``x_mean``, ``y_mean`` (person means
        over the pairs) and the person-centred ``x_within`` and ``y_within`` to plot.

    Examples
    --------
    >>> daily = pd.DataFrame({"client_id": "a", "date": pd.date_range("2024-03-01", periods=4),
    ...                       "sleep_quality": [2.0, 4.0, np.nan, 3.0],
    ...                       "mood": [5.0, 4.0, 7.0, 6.0]})
    >>> lag_scatter_data(daily, x="sleep_quality", y="mood")[["date", "x_lag", "y", "x_within"]]
            date  x_lag    y  x_within
    0 2024-03-02    2.0  4.0      -1.0
    1 2024-03-03    4.0  7.0       1.0
    """
    pairs = _lag_pairs(data, x=x, y=y, subject=subject, time=time, lag=lag,
                       autoregressive=False)
    pairs["y_within"] = pairs["y"] - pairs["y_mean"]
    out = pairs.rename(columns={"s": subject, "t": time})
    return out[[subject, time, "x_lag", "y", "x_mean", "y_mean", "x_within", "y_within"]]


# ------------------------------------------------------------------------- window summaries

def diary_summary(daily: pd.DataFrame, *, end: str | pd.Timestamp | None = None, days: int = 14,
                  measures: Sequence[str] = ("mood", "homework", "sleep_quality",
                                             "goals_on_track", "takeaways"),
                  subject: str = "client_id", time: str = "date") -> pd.DataFrame:
    """What a diary holds over the last ``days`` days: days with a value, mean, total, per measure.

    For a window too sparse for a trend, this is what can still be said ("homework on 5 of 14
    days, mean 2.4"): nothing is filled in and no minimum applies.

    Parameters
    ----------
    daily : DataFrame
        The wide daily table (:func:`daily_table`).
    end : date, optional
        The window's last day. Default: each client's last row.
    days : int, default 14
        Window length in calendar days (``end - days + 1`` .. ``end``).
    measures : sequence of str
        Columns to summarise; absent ones are left out.
    subject, time : str
        The person and calendar-day columns.

    Returns
    -------
    DataFrame
        One row per client and measure present in ``daily``: ``client_id``, ``measure``,
        ``first`` and ``last`` (the window), ``days`` (its length), ``n_days`` (days with a
        value), ``mean`` (over those days; NaN when none), ``total`` (their sum) and
        ``text`` ("homework on 5 of 14 days, mean 2.4", or "no homework in the 14 days").

    Examples
    --------
    >>> daily = pd.DataFrame({"client_id": "a", "date": pd.date_range("2024-03-01", periods=14),
    ...                       "homework": [2.0, np.nan, 3.0] + [np.nan] * 11})
    >>> diary_summary(daily, measures=["homework"])["text"].tolist()
    ['homework on 2 of 14 days, mean 2.5']
    """
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, not {days!r}")
    if isinstance(measures, str):
        measures = [measures]
    present = [m for m in measures if m in daily.columns]
    _require_columns(daily, [subject, time], "daily")
    df = daily[[subject, time]].copy()
    df[time] = _as_days(df[time], time)
    for m in present:
        df[m] = _as_numeric(daily, m)
    last = (df.groupby(subject, sort=True)[time].transform("max") if end is None
            else pd.Series(pd.Timestamp(end).normalize(), index=df.index))
    first = last - pd.Timedelta(days=days - 1)
    inside = df[(df[time] >= first) & (df[time] <= last)]
    long = df[[subject]].assign(first=first, last=last).drop_duplicates(subject)
    long = long.merge(pd.DataFrame({"measure": present}), how="cross")
    if present and len(inside):
        melted = inside.melt(id_vars=[subject], value_vars=present, var_name="measure").dropna()
        agg = melted.groupby([subject, "measure"])["value"].agg(n_days="count", mean="mean",
                                                                 total="sum").reset_index()
        long = long.merge(agg, on=[subject, "measure"], how="left")
    else:
        long = long.assign(n_days=0, mean=np.nan, total=0.0)
    long["n_days"] = long["n_days"].fillna(0).astype(int)
    long["total"] = long["total"].fillna(0.0)
    long.insert(4, "days", days)
    name = long["measure"].str.replace("_", " ")
    have = name + " on " + long["n_days"].astype(str) + f" of {days} days, mean " \
        + long["mean"].map(lambda v: f"{v:.1f}" if pd.notna(v) else "")
    long["text"] = have.where(long["n_days"] > 0, "no " + name + f" in the {days} days")
    order = {m: i for i, m in enumerate(present)}
    long = long.sort_values([subject, "measure"], key=lambda s: s.map(order) if s.name == "measure"
                            else s, kind="stable")
    return long.reset_index(drop=True)
