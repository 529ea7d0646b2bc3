"""Sudden gains and sudden losses between consecutive sessions (Tang & DeRubeis, 1999).

Follows the R package suddengains (Wiedemann et al., 2020): the same three criteria, the same
range of intervals checked and the same adjustment of the critical value for missing sessions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _episodes
from ._dist import stats  # scipy.stats on first use of anything but norm and t
from .measures import get_measure, reaches
from .trajectories import _resolve_better, _select_sessions

__all__ = ["sudden_gains"]

_COLUMNS = ["client_id", "type", "session", "pre", "post", "magnitude", "pre_time",
            "post_time", "pre_mean", "post_mean", "consecutive"]


def sudden_gains(data: pd.DataFrame, *, subject: str = "client_id", time: str = "date",
                 value: str = "score", cutoff: float | None = None, measure: str | None = None,
                 better: str | None = None, session: str | None = None, pct: float = 0.25,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Find sudden gains and sudden losses, one row per gain or loss.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per subject and session score (e.g. ``pk.read_observations()``).
    subject, time, value : str
        Column names. Scores are put in ``time`` order within each subject.
    cutoff : float, optional
        Criterion 1, the minimum change in points. Default: the measure's reliable-change
        threshold from the registry.
    measure : str, optional
        Registry name: keeps only rows of that ``measure`` and gives ``better`` and ``cutoff``.
    better : {"lower", "higher"}, optional
        Direction of improvement when no ``measure`` is given; default ``"lower"`` (as in
        suddengains, written for symptom scales).
    session : str, optional
        Column with session numbers. When given, a missed session leaves a gap: an interval is
        only checked between session ``n`` and ``n + 1`` and the windows of criterion 3 are
        sessions ``n-2 .. n`` and ``n+1 .. n+3`` by number, as with suddengains' wide data.
        Without it, consecutive scores in time order are consecutive sessions.
    pct : float
        Criterion 2, the minimum change as a fraction of the pre-gain score (0.25).
    alpha : float
        Two-sided level of the t critical value of criterion 3 (0.05).

    Returns
    -------
    DataFrame
        One row per sudden gain or loss: ``client_id`` (the subject), ``type`` (``gain`` or
        ``loss``), ``session`` (number ``n`` of the pre-gain session, 1 = first; the change
        happens from session ``n`` to ``n + 1``, suddengains' ``sg_session_n``), ``pre`` and
        ``post`` (the scores at ``n`` and ``n + 1``), ``magnitude`` (``|post - pre|``, points),
        ``pre_time`` and ``post_time``, ``pre_mean`` and ``post_mean`` (the criterion-3 window
        means) and ``consecutive`` (the same subject has a gain or loss of the same type in an
        adjacent interval). Sorted by subject and session; empty with these columns if none.
        Where ``data`` has an ``episode_id`` column, sessions are counted within each episode of
        care (a gain never spans two episodes) and ``episode_id`` follows ``client_id``.

    Notes
    -----
    With improvement written as :math:`d = x_n - x_{n+1}` (lower is better; the sign flips when
    higher is better), an interval is a sudden gain when

    1. :math:`d \\ge` ``cutoff``;
    2. :math:`d \\ge` ``pct`` :math:`\\times x_n`;
    3. :math:`\\bar x_{pre} - \\bar x_{post} > t_{1-\\alpha/2,\\;n_{pre}+n_{post}-2}\\;
       s_p`, with the pre window :math:`x_{n-2}, x_{n-1}, x_n` and the post window
       :math:`x_{n+1}, x_{n+2}, x_{n+3}`, using the values available (at least 2 on each side,
       otherwise the interval is not checked) and the pooled SD
       :math:`s_p = \\sqrt{((n_{pre}-1)s^2_{pre} + (n_{post}-1)s^2_{post})/(n_{pre}+n_{post}-2)}`.
       With complete windows the critical value is 2.776; with one value missing 3.182; with one
       missing on each side 4.303 (Lutz et al., 2013).

    A sudden loss mirrors all three criteria in the bad direction. As in suddengains, the first
    interval checked is session 2 to 3 and the last is the second-last to the last session, so
    that each window has at least two scores. Like suddengains' ``identify_sg`` and
    ``create_bysg``, every interval that meets the criteria is reported, including gains in
    consecutive intervals and several gains per client; ``consecutive`` marks the former. To keep
    one gain per client (suddengains' ``multiple_sg_select``), e.g. the first:
    ``result.query("type == 'gain'").groupby("client_id").head(1)``.

    Assumes scores at roughly equal intervals (sessions). Everything is vectorised over a dense
    subject x session grid; there is no per-client loop.

    References
    ----------
    Tang, T. Z. & DeRubeis, R. J. (1999). Sudden gains and critical sessions in cognitive-
    behavioral therapy for depression. J Consult Clin Psychol 67(6), 894-904.
    Lutz, W., Ehrlich, T., Rubel, J., et al. (2013). The ups and downs of psychotherapy: sudden
    gains and sudden losses identified with session reports. Psychother Res 23(1), 14-24.
    Wiedemann, M., Thew, G. R., Stott, R. & Ehlers, A. (2020). suddengains: an R package to
    identify sudden gains in longitudinal data. PLOS ONE 15(3), e0230276.

    Examples
    --------
    >>> d = pd.DataFrame({"client_id": "a", "date": pd.date_range("2024-01-01", periods=5,
    ...                   freq="W"), "score": [28.0, 19, 23, 11, 12]})
    >>> sudden_gains(d, cutoff=7)[["client_id", "type", "session", "pre", "post", "magnitude"]]
      client_id  type  session   pre  post  magnitude
    0         a  gain        3  23.0  11.0       12.0
    """
    if _episodes.has_episodes(data, subject):
        return _episodes.per_episode(
            sudden_gains, {"data": data}, column="client_id", subject=subject, time=time,
            value=value, cutoff=cutoff, measure=measure, better=better, session=session, pct=pct,
            alpha=alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), not {alpha}")
    if pct < 0:
        raise ValueError(f"pct must be non-negative, not {pct}")
    better = _resolve_better(better, measure) or "lower"
    if cutoff is None:
        if measure is None:
            raise ValueError("give cutoff= (criterion 1, in points) or a measure whose "
                             "reliable-change threshold is in the registry")
        cutoff = get_measure(measure).reliable_change
        if cutoff is None:
            raise ValueError(f"{measure} has no reliable-change threshold in the registry; "
                             "give cutoff= explicitly")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be a positive number of points, not {cutoff}")
    d = _select_sessions(data, subject, time, value, measure, session,
                         "sudden gains need one score per session")
    codes, uniques = pd.factorize(d[subject], sort=True)
    y = d[value].to_numpy(dtype=float)
    tt = d[time].to_numpy()
    if session is None:
        pos = _positions(codes)
    else:
        s = d[session].to_numpy()
        if not np.all(np.isfinite(s.astype(float))) or np.any(s != np.round(s)):
            raise ValueError(f"session column {session!r} must hold whole numbers")
        pos = (s - s.min()).astype(np.int64)
        if np.any(np.diff(pos)[np.diff(codes) == 0] <= 0):
            raise ValueError(f"session column {session!r} must increase with {time} "
                             "within each subject, with no repeats")
    # dense subject x session grid: NaN where a session has no score
    k = len(uniques)
    length = np.zeros(k, np.int64)
    np.maximum.at(length, codes, pos + 1)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    slot = start[codes] + pos
    total = int(length.sum())
    grid = np.full(total, np.nan)
    grid[slot] = y
    row_of = np.full(total, -1)
    row_of[slot] = np.arange(len(y))
    owner = np.repeat(np.arange(k), length)
    local = np.arange(total) - start[owner]

    def shifted(offset: int) -> np.ndarray:
        idx = np.arange(total) + offset
        inside = (local + offset >= 0) & (local + offset < length[owner])
        out = np.full(total, np.nan)
        out[inside] = grid[idx[inside]]
        return out

    # slot i is the post-gain session n+1; pre-gain session n is i-1
    pre_w = np.column_stack([shifted(-3), shifted(-2), shifted(-1)])
    post_w = np.column_stack([grid, shifted(1), shifted(2)])
    n_pre = np.sum(~np.isnan(pre_w), axis=1)
    n_post = np.sum(~np.isnan(post_w), axis=1)
    x_n, x_n1 = pre_w[:, 2], post_w[:, 0]
    # suddengains never checks session 1 to 2: its pre window would hold a single score
    checkable = (local >= 2) & (n_pre >= 2) & (n_post >= 2) & ~np.isnan(x_n) & ~np.isnan(x_n1)
    idx = np.flatnonzero(checkable)
    pre_w, post_w, n_pre, n_post = pre_w[idx], post_w[idx], n_pre[idx], n_post[idx]
    x_n, x_n1 = x_n[idx], x_n1[idx]
    m_pre, m_post = np.nanmean(pre_w, axis=1), np.nanmean(post_w, axis=1)
    v_pre, v_post = np.nanvar(pre_w, axis=1, ddof=1), np.nanvar(post_w, axis=1, ddof=1)
    pooled = np.sqrt(((n_pre - 1) * v_pre + (n_post - 1) * v_post) / (n_pre + n_post - 2))
    crit = stats.t.ppf(1 - alpha / 2, n_pre + n_post - 2)
    sign = 1.0 if better == "lower" else -1.0
    improvement = sign * (x_n - x_n1)
    mean_improvement = sign * (m_pre - m_post)
    threshold = pct * np.abs(x_n)
    gain = reaches(improvement, cutoff) & reaches(improvement, threshold) & (
        mean_improvement > crit * pooled)
    loss = reaches(-improvement, cutoff) & reaches(-improvement, threshold) & (
        -mean_improvement > crit * pooled)
    hit = gain | loss
    rows_post = row_of[idx[hit]]
    rows_pre = row_of[idx[hit] - 1]
    out = pd.DataFrame({
        "client_id": np.asarray(uniques)[owner[idx[hit]]],
        "type": np.where(gain[hit], "gain", "loss"),
        "session": local[idx[hit]].astype(np.int64),  # 0-based post slot = 1-based pre session
        "pre": x_n[hit], "post": x_n1[hit], "magnitude": np.abs(x_n[hit] - x_n1[hit]),
        "pre_time": tt[rows_pre], "post_time": tt[rows_post],
        "pre_mean": m_pre[hit], "post_mean": m_post[hit],
    })
    if session is not None:
        # grid slot 0 is the lowest session number in the data
        out["session"] = (out["session"] + int(d[session].min()) - 1).astype(np.int64)
    same = (out["client_id"].to_numpy()[1:] == out["client_id"].to_numpy()[:-1]) & (
        out["type"].to_numpy()[1:] == out["type"].to_numpy()[:-1]) & (
        np.diff(out["session"].to_numpy()) == 1)
    if len(out):
        out["consecutive"] = np.r_[same, False] | np.r_[False, same]
    else:
        out["consecutive"] = np.zeros(0, bool)
    return out.reset_index(drop=True)[_COLUMNS]


def _positions(codes: np.ndarray) -> np.ndarray:
    """0-based position of each row within its (sorted, contiguous) group."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n) - first
