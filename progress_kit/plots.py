"""Clinical charts for reports and notebooks: trajectory, Jacobson plot, daily trend, lag, tunnel.

Every function draws on a matplotlib Axes (a new one when ``ax=None``) and returns it. The style
is shared: the Okabe-Ito colour-blind-safe palette, and every series also differs by marker or
line style so the charts stay readable when printed in greyscale. Labels use the words a
clinician uses ("clinical cut-off", "reliable improvement"), not column names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["plot_trajectory", "plot_jacobson", "plot_daily_trend", "plot_lag", "plot_tunnel",
           "plot_funnel", "plot_rate_trend", "plot_jacobson_binned", "plot_headline", "plot_diary",
           "plot_episodes", "CLINICAL_COLOURS"]

CLINICAL_COLOURS = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
                    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
                    "purple": "#CC79A7", "grey": "#7F7F7F"}
"""The Okabe-Ito palette (Okabe & Ito 2008), safe for the common colour-vision deficiencies."""

_C = CLINICAL_COLOURS
# category -> (colour, marker); markers carry the meaning in greyscale
_CATEGORY_STYLE = {
    "recovered": (_C["green"], "o"), "improved": (_C["blue"], "^"),
    "unchanged": (_C["grey"], "s"), "deteriorated": (_C["vermillion"], "v"),
    "harmed": (_C["black"], "X"), "insufficient data": (_C["grey"], "."),
}
_SIGNAL_STYLE = {
    "on track": (_C["green"], "o"), "at risk": (_C["orange"], "D"),
    "not on track": (_C["vermillion"], "X"), "insufficient data": (_C["grey"], "."),
}
_DIARY_STYLE = {"mood": (_C["blue"], "o", "-"), "homework": (_C["orange"], "s", "--"),
                "progress score": (_C["black"], "o", "-"),
                "sleep_quality": (_C["purple"], "^", "-."), "goals_on_track": (_C["green"], "D", ":")}
_DIARY_LABEL = {"mood": "mood (1-10)", "homework": "homework done (0-5)",
                "sleep_quality": "sleep quality (1-5)", "goals_on_track": "goals on track (0-5)",
                "takeaways": "take-aways used", "progress score": "progress score (0-100)"}


def _axes(ax, figsize=(7.0, 3.2)):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    # a bare Figure, not pyplot: no global state, nothing shown twice in a notebook
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _style(ax, *, xlabel: str, ylabel: str, title: str | None) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        # wrapped at the figure's edge: a long title was cut off there
        ax.set_title(title, loc="left", fontsize="medium", fontweight="bold", wrap=True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


_DIRECTION_GID = "progress-kit-direction"


def _direction(ax, m) -> None:
    """Which way is worse, above the axes' top right corner; in the y label when the axes
    have a title (left, centre or right), which a note on the title's line could overlap. A
    note an earlier call drew on the same axes is replaced, not repeated."""
    worse = "higher = worse" if m.better == "lower" else "higher = better"
    for old in [t for t in ax.texts if t.get_gid() == _DIRECTION_GID]:
        old.remove()
    if any(ax.get_title(loc=loc) for loc in ("left", "center", "right")):
        ax.set_ylabel(f"{ax.get_ylabel()} ({worse})")
    else:
        ax.text(1.0, 1.01, worse, transform=ax.transAxes, ha="right", va="bottom",
                fontsize="x-small", gid=_DIRECTION_GID)


def _legend(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize="small", frameon=False, **kw)


def _words(rule: str) -> str:
    """'clinical if PHQ-9 >= 10' -> 'PHQ-9 ≥ 10' for a legend."""
    return (rule.replace("clinical if ", "").replace(">=", "≥").replace("<=", "≤"))


def _segments(dates: pd.Series, gap_days: float) -> np.ndarray:
    """Segment number of each point: a new segment starts after a gap longer than gap_days."""
    d = pd.to_datetime(dates).to_numpy()
    if len(d) < 2:
        return np.zeros(len(d), dtype=int)
    step = np.diff(d) / np.timedelta64(1, "D")
    return np.r_[0, np.cumsum(step > gap_days)]


def plot_trajectory(data: pd.DataFrame, measure: str, *, date: str = "date", score: str = "score",
                    gap_days: float | None = None, ax=None, title: str | None = None):
    """One client's questionnaire scores over time with the cut-off line and reliable-change band.

    Parameters
    ----------
    data : DataFrame
        One client's scores: ``date`` and ``score`` columns (rows of other measures are ignored
        when there is a ``measure`` column).
    measure : str
        Registry name; gives the clinical cut-off, the reliable-change threshold and the range.
    gap_days : float, optional
        The line is broken where two scores are further apart than this (a gap in monitoring is
        shown as a gap). Default: twice the usual spacing, at least 15 days.
    ax : matplotlib Axes, optional
    title : str, optional
        Drawn above the axes, on the left, wrapped at the figure's edge; the note saying which
        way is worse then joins the y label (untitled, it sits above the axes' top right).

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    The band is the first score plus or minus the measure's published reliable-change threshold:
    a later score outside it is a reliable change from the start.

    Examples
    --------
    >>> d = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-03-01"]),
    ...                   "score": [18.0, 15, 9]})
    >>> ax = plot_trajectory(d, "PHQ-9")
    >>> ax.get_ylabel()
    'PHQ-9 score'
    """
    from .measures import get_measure

    m = get_measure(measure)
    ax = _axes(ax)
    d = data
    if "measure" in d.columns:
        d = d[d["measure"] == measure]
    d = d[[date, score]].dropna().sort_values(date)
    x, y = pd.to_datetime(d[date]), d[score].to_numpy(dtype=float)
    if len(d):
        spacing = np.median(np.diff(x.to_numpy()) / np.timedelta64(1, "D")) if len(d) > 1 else 7.0
        gap = gap_days if gap_days is not None else max(15.0, 2 * float(spacing))
        seg = _segments(x, gap)
        if m.reliable_change:
            lo, hi = y[0] - m.reliable_change, y[0] + m.reliable_change
            ax.axhspan(max(lo, m.min), min(hi, m.max), facecolor=_C["sky"], alpha=0.18,
                       hatch="///", edgecolor="#9FBFD0", linewidth=0,
                       label=f"no reliable change from first score (±{m.reliable_change:g})")
        for k in np.unique(seg):
            part = seg == k
            ax.plot(x[part], y[part], color=_C["black"], marker="o", linestyle="-", linewidth=1.6,
                    markersize=5, label=f"{measure} score" if k == 0 else None)
        if len(np.unique(seg)) > 1:
            ax.plot([], [], " ", label="line broken where monitoring paused")
    if m.cutoff is not None:
        ax.axhline(m.cutoff, color=_C["vermillion"], linestyle="--", linewidth=1.3,
                   label=f"clinical cut-off ({_words(m.describe_cutoff())})")
    top = m.max if np.isfinite(m.max) else (np.nanmax(y) * 1.1 if len(y) else 1.0)
    pad = 0.02 * (top - m.min)
    ax.set_ylim(m.min - pad, top + pad)
    _style(ax, xlabel="date", ylabel=f"{measure} score", title=title)
    _direction(ax, m)
    import matplotlib.dates as mdates

    if len(d):  # at least four weeks wide, so one or two scores still get a readable axis
        mid = x.min() + (x.max() - x.min()) / 2
        half = max(pd.Timedelta(days=14), (x.max() - x.min()) / 2 + pd.Timedelta(days=4))
        ax.set_xlim(mid - half, mid + half)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=7, interval_multiples=False))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_jacobson(result: pd.DataFrame, *, measure: str | None = None,
                  lines: pd.DataFrame | None = None, ax=None, title: str | None = None,
                  suppress_below: int | None = None):
    """Jacobson plot: first score (x) against latest score (y), one point per client.

    Parameters
    ----------
    result : DataFrame
        ``pre``, ``post`` and ``category`` per client, e.g. from ``pk.clinical_significance``.
    measure : str, optional
        Registry name, for the axis labels (and, without ``lines``, the cut-off and band).
    lines : DataFrame, optional
        ``line``, ``x``, ``y`` as from ``pk.jacobson_plot_data``: the no-change diagonal, the
        reliable-change band and the cut-off lines. Without it they are drawn from the registry.
    suppress_below : int, optional
        Category counts in the legend from 1 to ``suppress_below - 1`` are shown as ``<n``
        (small-cell suppression for cohort output).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> r = pd.DataFrame({"pre": [18.0, 15], "post": [8.0, 16], "category": ["recovered", "unchanged"]})
    >>> ax = plot_jacobson(r, measure="PHQ-9")
    >>> ax.get_xlabel()
    'first PHQ-9 score'
    """
    ax = _axes(ax, figsize=(5.6, 4.6))
    name = measure or "score"
    pre, post = result["pre"].to_numpy(float), result["post"].to_numpy(float)
    lo = float(np.nanmin(np.r_[pre, post, 0])) if len(pre) else 0.0
    hi = float(np.nanmax(np.r_[pre, post])) if len(pre) else 1.0
    if measure is not None:
        from .measures import get_measure

        m = get_measure(measure)
        lo, hi = m.min, m.max if np.isfinite(m.max) else hi
    if lines is not None and len(lines):
        styles = {"no_change": ("no change", _C["black"], "-"),
                  "band_lower": ("reliable-change boundary", _C["blue"], ":"),
                  "band_upper": (None, _C["blue"], ":"),
                  "cutoff_x": ("clinical cut-off", _C["vermillion"], "--"),
                  "cutoff_y": (None, _C["vermillion"], "--")}
        for key, part in lines.groupby("line", sort=False):
            label, colour, ls = styles.get(key, (key, _C["grey"], "-"))
            ax.plot(part["x"], part["y"], color=colour, linestyle=ls, linewidth=1.1, label=label)
    else:
        xs = np.array([lo, hi])
        ax.plot(xs, xs, color=_C["black"], linewidth=1.1, label="no change")
        if measure is not None and m.reliable_change:
            rc = m.reliable_change
            ax.plot(xs, xs - rc, color=_C["blue"], linestyle=":", label="reliable-change boundary")
            ax.plot(xs, xs + rc, color=_C["blue"], linestyle=":")
        if measure is not None and m.cutoff is not None:
            ax.axvline(m.cutoff, color=_C["vermillion"], linestyle="--", linewidth=1.1,
                       label="clinical cut-off")
            ax.axhline(m.cutoff, color=_C["vermillion"], linestyle="--", linewidth=1.1)
    cats = result["category"].astype(str)
    for cat in [c for c in _CATEGORY_STYLE if c in set(cats)] + sorted(set(cats) - set(_CATEGORY_STYLE)):
        colour, marker = _CATEGORY_STYLE.get(cat, (_C["grey"], "o"))
        sel = (cats == cat).to_numpy()
        n = int(sel.sum())
        shown = f"<{suppress_below}" if suppress_below and 0 < n < suppress_below else str(n)
        ax.scatter(pre[sel], post[sel], color=colour, marker=marker, s=30, edgecolor="black",
                   linewidth=0.4, label=f"{cat} ({shown})", zorder=3)
    pad = 0.02 * (hi - lo) if hi > lo else 0.5  # markers at the scale's ends stay whole
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_anchor("W")
    _style(ax, xlabel=f"first {name} score", ylabel=f"latest {name} score", title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_daily_trend(data: pd.DataFrame, *, measures: Sequence[str] = ("mood", "homework"),
                     ax=None, title: str | None = None):
    """Daily diary values over a window, with gaps left as gaps, and the trend line if given.

    Parameters
    ----------
    data : DataFrame
        Either long (``date``, ``measure``, ``value`` and optionally ``trend``, as from
        ``pk.daily_trend_data``) or wide (``date`` and one column per measure, as from
        ``pk.daily_table``). Missing days are NaN rows or absent rows; the line is broken there.
    measures : sequence of str
        The diary measures to draw.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> d = pd.DataFrame({"date": pd.date_range("2024-03-01", periods=4),
    ...                   "mood": [4.0, np.nan, 6.0, 7.0], "homework": [1.0, 2, np.nan, 3]})
    >>> plot_daily_trend(d).get_ylabel()
    'diary rating'
    """
    import matplotlib.dates as mdates

    ax = _axes(ax)
    if "measure" in data.columns and "value" in data.columns:
        long = data
    else:
        long = data.melt(id_vars=["date"], value_vars=[m for m in measures if m in data.columns],
                         var_name="measure", value_name="value")
    for name in measures:
        part = long[long["measure"] == name].sort_values("date")
        if part.empty:
            continue
        colour, marker, ls = _DIARY_STYLE.get(name, (_C["grey"], "o", "-"))
        full = pd.DataFrame({"date": pd.date_range(part["date"].min(), part["date"].max())})
        part = full.merge(part, on="date", how="left")  # absent days become NaN: a gap
        ax.plot(part["date"], part["value"], color=colour, marker=marker, linestyle=ls,
                linewidth=1.5, markersize=4.5, label=_DIARY_LABEL.get(name, name))
        if "trend" in part and part["trend"].notna().any():
            ax.plot(part["date"], part["trend"], color=colour, linestyle=(0, (1, 1)),
                    linewidth=1.0, label=f"trend in {name}")
    top = float(np.nanmax(long["value"])) if long["value"].notna().any() else 10.0
    ax.set_ylim(0, 105 if top > 10 else 10.5)
    if len(long):
        span = pd.to_datetime(long["date"])
        ax.set_xlim(span.min() - pd.Timedelta(hours=12), span.max() + pd.Timedelta(hours=12))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8, interval_multiples=False))
    ylabel = "progress score" if top > 10 else "diary rating"
    _style(ax, xlabel="day (blank where no diary was filled in)", ylabel=ylabel, title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_lag(pairs: pd.DataFrame, *, x_label: str = "sleep quality the night before",
             y_label: str = "mood", estimate: float | None = None, ax=None,
             title: str | None = None):
    """Within-person lag scatter: yesterday's x against today's y, both centred on the person.

    Parameters
    ----------
    pairs : DataFrame
        ``x_within`` and ``y_within`` (person-centred), as from ``pk.lag_scatter_data``.
        Identical points are drawn once, sized by how many days fall on them.
    estimate : float, optional
        The within-person effect (points of y per point of x); drawn as a line through 0.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> p = pd.DataFrame({"x_within": [-1.0, 0, 1, 1], "y_within": [-0.5, 0, 0.5, 0.5]})
    >>> plot_lag(p, estimate=0.5).get_xlabel()
    'sleep quality the night before (vs own average)'
    """
    ax = _axes(ax, figsize=(5.2, 3.6))
    counts = pairs.groupby(["x_within", "y_within"]).size().reset_index(name="n")
    ax.scatter(counts["x_within"], counts["y_within"], s=12 + 14 * counts["n"], color=_C["blue"],
               marker="o", alpha=0.7, edgecolor="black", linewidth=0.4, label="days (size = count)")
    if estimate is not None and np.isfinite(estimate) and len(pairs):
        xs = np.array([pairs["x_within"].min(), pairs["x_within"].max()])
        ax.plot(xs, estimate * xs, color=_C["vermillion"], linestyle="--", linewidth=1.4,
                label=f"estimated effect ({estimate:+.2f} per point)")
    ax.axhline(0, color=_C["grey"], linewidth=0.6)
    ax.axvline(0, color=_C["grey"], linewidth=0.6)
    _style(ax, xlabel=f"{x_label} (vs own average)", ylabel=f"{y_label} (vs own average)",
           title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_tunnel(track: pd.DataFrame, *, measure: str | None = None, x: str = "session", ax=None,
                title: str | None = None):
    """Expected-recovery tunnel: the client's scores against the expected range per session.

    Parameters
    ----------
    track : DataFrame
        One client's rows from ``pk.on_track``: ``x`` (default ``session``), ``score``,
        ``expected``, ``lower``, ``upper`` and ``signal``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> t = pd.DataFrame({"session": [1, 2, 3], "score": [18.0, 16, 15],
    ...                   "expected": [18.0, 15, 13], "lower": [14.0, 11, 9], "upper": [22.0, 19, 17],
    ...                   "signal": ["on track", "on track", "at risk"]})
    >>> plot_tunnel(t, measure="PHQ-9").get_xlabel()
    'session (0 = first score)'
    """
    ax = _axes(ax)
    t = track.sort_values(x)
    ax.fill_between(t[x], t["lower"], t["upper"], facecolor=_C["sky"], alpha=0.25, hatch="...",
                    edgecolor="#9FBFD0", linewidth=0, label="expected range (outer band)")
    if {"inner_lower", "inner_upper"} <= set(t.columns):
        ax.fill_between(t[x], t["inner_lower"], t["inner_upper"], facecolor=_C["sky"], alpha=0.35,
                        linewidth=0, label="inner band (beyond it: at risk)")
    ax.plot(t[x], t["expected"], color=_C["blue"], linestyle="--", linewidth=1.2,
            label="expected course")
    ax.plot(t[x], t["score"], color=_C["black"], linewidth=1.2)
    if x == "session":
        ax.xaxis.get_major_locator().set_params(integer=True)
    signals = t["signal"].astype(str)
    for sig in [s for s in _SIGNAL_STYLE if s in set(signals)]:
        colour, marker = _SIGNAL_STYLE[sig]
        sel = (signals == sig).to_numpy()
        ax.scatter(t[x][sel], t["score"][sel], color=colour, marker=marker, s=40, zorder=3,
                   edgecolor="black", linewidth=0.4, label=sig)
    xlabel = "session (0 = first score)" if x == "session" else x.replace("_", " ")
    _style(ax, xlabel=xlabel, ylabel=f"{measure or ''} score".strip(), title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


# ------------------------------------------------------------------ service (cohort) charts

_RATE_STYLE = {"recovery": (_C["green"], "o", "-"), "reliable_improvement": (_C["blue"], "^", "--"),
               "reliable_recovery": (_C["black"], "s", "-."),
               "reliable_deterioration": (_C["vermillion"], "v", ":"),
               "finished": (_C["purple"], "D", ":")}


def _rate_words(outcome: str) -> str:
    return outcome.replace("_", " ")


def plot_funnel(rates: pd.DataFrame, *, target: float, label: str = "therapist",
                benchmarks: pd.DataFrame | None = None, outcome: str = "recovery", ax=None,
                title: str | None = None, counted: str = "clients"):
    """Funnel plot: each unit's rate against its denominator, with 95% and 99.8% control limits.

    Parameters
    ----------
    rates : DataFrame
        One row per unit: ``unit`` (a name), ``denominator`` (int) and ``rate`` (0-1). Units
        without a rate (withheld) are left out.
    target : float
        The rate the limits are drawn around (usually the service's own rate).
    label : str
        What a unit is, for the axis label.
    benchmarks : DataFrame, optional
        ``outcome``, ``rate``, ``label`` as from ``pk.read_benchmarks``; those for ``outcome``
        are drawn as horizontal lines.
    counted : str
        What the denominators count, for the axis label: ``"clients"``, or ``"referrals"``
        where a client who comes back counts once per episode of care.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    Control limits from :func:`progress_kit.funnel_limits` (Spiegelhalter 2005): a unit outside
    the 99.8% limits is unlikely to differ from the target by chance alone.

    Examples
    --------
    >>> r = pd.DataFrame({"unit": ["T1", "T2"], "denominator": [20, 40], "rate": [0.4, 0.55]})
    >>> plot_funnel(r, target=0.5).get_ylabel()
    'recovery rate'
    """
    from .outcomes import funnel_limits

    ax = _axes(ax, figsize=(7.0, 4.0))
    r = rates[rates["rate"].notna()]
    top = int(max(10, r["denominator"].max() * 1.15 if len(r) else 10))
    grid = np.unique(np.linspace(1, top, 200).astype(int))
    lim = funnel_limits(target, grid)
    ax.axhline(target, color=_C["black"], linewidth=1.1, label=f"service rate ({target:.0%})")
    ax.plot(grid, lim["lower_95"], color=_C["blue"], linestyle="--", linewidth=1,
            label="95% control limits")
    ax.plot(grid, lim["upper_95"], color=_C["blue"], linestyle="--", linewidth=1)
    ax.plot(grid, lim["lower_99.8"], color=_C["vermillion"], linestyle=":", linewidth=1.2,
            label="99.8% control limits")
    ax.plot(grid, lim["upper_99.8"], color=_C["vermillion"], linestyle=":", linewidth=1.2)
    if benchmarks is not None:
        for _, b in benchmarks[benchmarks["outcome"] == outcome].iterrows():
            ax.axhline(b["rate"], color=_C["green"], linestyle="-.", linewidth=1.1,
                       label=f"{b['label']} ({b['rate']:.0%})")
    ax.scatter(r["denominator"], r["rate"], color=_C["orange"], marker="D", s=40,
               edgecolor="black", linewidth=0.5, zorder=3, label=f"{label}s")
    for _, row in r.iterrows():
        ax.annotate(str(row["unit"]), (row["denominator"], row["rate"]), xytext=(4, 4),
                    textcoords="offset points", fontsize="x-small")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, top)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    _style(ax, xlabel=f"{counted} in the denominator (per {label})",
           ylabel=f"{_rate_words(outcome)} rate", title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_rate_trend(trend: pd.DataFrame, *, outcomes: Sequence[str] = (
        "recovery", "reliable_improvement", "reliable_recovery", "reliable_deterioration"),
        benchmarks: pd.DataFrame | None = None, ax=None, title: str | None = None):
    """Monthly rates over time, with Wilson intervals; a withheld month is a gap.

    Parameters
    ----------
    trend : DataFrame
        ``month`` (``"YYYY-MM"``), ``outcome``, ``rate``, ``ci_low``, ``ci_high`` (NaN where the
        rate is withheld or has no denominator), e.g. from ``pk.service_rates(..., by="month")``.
    outcomes : sequence of str
        Which outcomes to draw.
    benchmarks : DataFrame, optional
        From ``pk.read_benchmarks``: drawn as horizontal lines in the colour of their outcome.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> t = pd.DataFrame({"month": ["2026-09", "2026-10"], "outcome": "recovery",
    ...                   "rate": [0.5, np.nan], "ci_low": [0.3, np.nan], "ci_high": [0.7, np.nan]})
    >>> plot_rate_trend(t).get_ylabel()
    'rate (of finished; recovery: of cases)'
    """
    ax = _axes(ax, figsize=(7.0, 3.6))
    months = sorted(trend["month"].unique())
    pos = {m: i for i, m in enumerate(months)}
    shift = np.linspace(-0.15, 0.15, max(1, len(outcomes)))
    for k, outcome in enumerate(outcomes):
        colour, marker, ls = _RATE_STYLE.get(outcome, (_C["grey"], "o", "-"))
        t = trend[trend["outcome"] == outcome].set_index("month").reindex(months)
        x = np.array([pos[m] for m in months], dtype=float) + shift[k]
        y = t["rate"].to_numpy(float)  # NaN (withheld) breaks the line: a gap, not a guess
        ax.plot(x, y, color=colour, linestyle=ls, marker=marker, markersize=5, linewidth=1.2,
                markeredgecolor="black", markeredgewidth=0.4, label=_rate_words(outcome))
        lo, hi = t["ci_low"].to_numpy(float), t["ci_high"].to_numpy(float)
        ok = ~np.isnan(y) & ~np.isnan(lo)
        ax.vlines(x[ok], lo[ok], hi[ok], color=colour, linewidth=0.8, alpha=0.7)
        if benchmarks is not None:
            for _, b in benchmarks[benchmarks["outcome"] == outcome].iterrows():
                ax.axhline(b["rate"], color=colour, linestyle=(0, (1, 3)), linewidth=1.3,
                           label=f"{b['label']} ({b['rate']:.0%})")
    ax.set_xticks(range(len(months)))
    ax.set_xticklabels([pd.Period(m).strftime("%b\n%Y") if i == 0 or m.endswith("-01")
                        else pd.Period(m).strftime("%b") for i, m in enumerate(months)],
                       fontsize="small")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    _style(ax, xlabel="month the referral ended (bars: 95% Wilson intervals)",
           ylabel="rate (of finished; recovery: of cases)", title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_jacobson_binned(grid: pd.DataFrame, *, measure: str, ax=None, title: str | None = None,
                         counted: str = "clients"):
    """Jacobson plot for publication: counts of clients per cell of first against latest score.

    No marker per client, so a small group cannot be counted off the figure.

    Parameters
    ----------
    grid : DataFrame
        ``first_low``, ``first_high``, ``last_low``, ``last_high`` (score bins, both ends
        included) and ``shown`` (the published text of the count: ``"*"`` or a rounded number;
        empty for a cell without clients).
    measure : str
        Registry name, for the labels, the cut-off and the reliable-change lines.
    counted : str
        What a cell's number counts, for the note beside the plot: ``"clients"``, or
        ``"referrals"`` where a client who comes back counts once per episode of care.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> g = pd.DataFrame({"first_low": [15], "first_high": [19], "last_low": [5], "last_high": [9],
    ...                   "shown": ["10"]})
    >>> plot_jacobson_binned(g, measure="PHQ-9").get_xlabel()
    'first PHQ-9 score'
    """
    from matplotlib.patches import Rectangle

    from .measures import get_measure

    m = get_measure(measure)
    ax = _axes(ax, figsize=(5.6, 4.6))
    lo, hi = m.min, m.max
    for _, c in grid.iterrows():
        text = str(c["shown"])
        if not text:
            continue
        x0, y0 = c["first_low"] - 0.5, c["last_low"] - 0.5
        w, h = c["first_high"] - c["first_low"] + 1, c["last_high"] - c["last_low"] + 1
        shade = "#EEEEEE" if text == "*" else _C["sky"]
        ax.add_patch(Rectangle((x0, y0), w, h, facecolor=shade, edgecolor="white", linewidth=1.5,
                               alpha=0.6, zorder=1))
        ax.text(x0 + w / 2, y0 + h / 2, text, ha="center", va="center", fontsize="small", zorder=4)
    xs = np.array([lo, hi])
    ax.plot(xs, xs, color=_C["black"], linewidth=1.1, label="no change", zorder=2)
    if m.reliable_change:
        ax.plot(xs, xs - m.reliable_change, color=_C["blue"], linestyle=":",
                label=f"reliable change (±{m.reliable_change:g})", zorder=2)
        ax.plot(xs, xs + m.reliable_change, color=_C["blue"], linestyle=":", zorder=2)
    if m.cutoff is not None:
        ax.axvline(m.cutoff - 0.5, color=_C["vermillion"], linestyle="--", linewidth=1.1,
                   label="clinical cut-off", zorder=2)
        ax.axhline(m.cutoff - 0.5, color=_C["vermillion"], linestyle="--", linewidth=1.1, zorder=2)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_aspect("equal", adjustable="box")
    # the square box shrinks after the layout has placed it: keep it at the left, where the
    # layout left room for the axis label, so the legend on its right is not cut off
    ax.set_anchor("W")
    _style(ax, xlabel=f"first {measure} score", ylabel=f"latest {measure} score", title=title)
    ax.grid(False)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.text(1.03, 0.0, f"numbers: {counted} per cell\n(* = 0 to 4, or withheld;\nothers rounded to 5)",
            transform=ax.transAxes, fontsize="x-small", va="bottom")
    return ax


# ------------------------------------------------------------------ client report: page 1 and diary

_BAND_GREYS = ("#FFFFFF", "#F3F3F3", "#E6E6E6", "#D9D9D9", "#CCCCCC", "#BFBFBF")


def _severity_bands(ax, m) -> bool:
    """Shade the measure's severity bands in rising greys, each named at the right edge."""
    bands = tuple(getattr(m, "severity_bands", ()) or ())
    order = bands if m.better == "lower" else tuple(reversed(bands))
    for k, (low, high, label) in enumerate(order):
        grey = _BAND_GREYS[min(k, len(_BAND_GREYS) - 1)]
        ax.axhspan(low - 0.5 * m.step, high + 0.5 * m.step, facecolor=grey, edgecolor="none",
                   zorder=0)
        ax.text(0.995, (low + high) / 2, label, transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize="x-small", color="#555555", zorder=1)
    return bool(bands)


def plot_headline(scores: pd.DataFrame, measure: str, *, track: pd.DataFrame | None = None,
                  gains: pd.DataFrame | None = None, date: str = "date", score: str = "score",
                  ax=None, title: str | None = None):
    """The client report's headline chart: one questionnaire's scores by session, in context.

    Draws, from the back: the measure's severity bands (rising greys, named at the right), the
    expected-response band (when ``track`` is given), the reliable-change band around the first
    score, the clinical cut-off, the client's scores, and each sudden gain or loss as an arrow
    at the session where it happened, numbered as in the report's table. Every element differs
    by line style, hatch or marker as well as colour, so the chart survives greyscale printing.

    Parameters
    ----------
    scores : DataFrame
        One client's scores of ``measure``: ``date`` and ``score`` (rows of other measures are
        ignored when there is a ``measure`` column), optionally ``session``. The x axis is
        ``session`` when given (the session numbers ``pk.client_course`` judged, so a session
        without a score is a gap), else the scores' order, 0 = the first score.
    measure : str
        Registry name: range, direction, cut-off, reliable-change threshold and severity bands.
    track : DataFrame, optional
        From ``pk.client_course``: the expected range (``expected`` to ``band_limit``) and the
        ``warning_limit`` of each score, the limits the status judged by; or from
        ``pk.on_track_plot_data``: ``session``, ``expected``, ``lower`` and ``upper``, drawn as
        the expected-response band.
    gains : DataFrame, optional
        From ``pk.sudden_gains``: ``type`` and ``session`` (1 = first score: the change from
        session ``n`` to ``n + 1``, which is ``n - 1`` to ``n`` on this chart's 0-based axis).
        They are numbered 1, 2, ... in row order.
    ax : matplotlib Axes, optional
    title : str, optional
        As for :func:`plot_trajectory`: above the axes, wrapped at the figure's edge, with the
        note saying which way is worse moved into the y label.

    Returns
    -------
    matplotlib Axes

    Notes
    -----
    The reliable-change band is the first score plus or minus the measure's published
    reliable-change threshold: a later score outside it is a reliable change from the start.

    Examples
    --------
    >>> d = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=5, freq="7D"),
    ...                   "score": [18.0, 17, 16, 8, 7]})
    >>> g = pd.DataFrame({"type": ["gain"], "session": [3]})
    >>> ax = plot_headline(d, "PHQ-9", gains=g)
    >>> ax.get_xlabel()
    'session (0 = first score)'
    """
    from .measures import get_measure

    m = get_measure(measure)
    ax = _axes(ax, figsize=(7.2, 3.0))
    d = scores
    if "measure" in d.columns:
        d = d[d["measure"] == measure]
    cols = [date, score] + (["session"] if "session" in d.columns else [])
    d = d[cols].dropna(subset=[date, score]).sort_values(date)
    y = d[score].to_numpy(dtype=float)
    # the session numbers the status used (pk.client_course) when given: missed questionnaires
    # leave gaps; otherwise the scores' order
    x = d["session"].to_numpy(dtype=float) if "session" in d.columns else np.arange(len(y))
    last_x = max(x[-1] if len(x) else 0, 1)
    _severity_bands(ax, m)
    if track is not None and len(track) and "warning_limit" in track.columns:
        _judged_limits(ax, track.sort_values("session"))
    elif track is not None and len(track):
        t = track[track["session"] <= max(last_x, 1)].sort_values("session")
        ax.fill_between(t["session"], t["lower"], t["upper"], facecolor=_C["green"], alpha=0.16,
                        hatch="...", edgecolor="#7FBFA8", linewidth=0, zorder=1,
                        label="expected response (reference clients)")
        ax.plot(t["session"], t["expected"], color=_C["green"], linestyle=":", linewidth=1.2,
                zorder=2, label="expected course")
    if len(y) and m.reliable_change:
        lo, hi = y[0] - m.reliable_change, y[0] + m.reliable_change
        ax.axhspan(max(lo, m.min), min(hi, m.max), facecolor=_C["sky"], alpha=0.22, hatch="///",
                   edgecolor="#9FBFD0", linewidth=0, zorder=1,
                   label=f"no reliable change from first score (±{m.reliable_change:g})")
    if m.cutoff is not None:
        ax.axhline(m.cutoff, color=_C["vermillion"], linestyle="--", linewidth=1.3, zorder=2,
                   label=f"clinical cut-off ({_words(m.describe_cutoff())})")
    if len(y):
        ax.plot(x, y, color=_C["black"], marker="o", linewidth=1.6, markersize=5, zorder=4,
                label=f"{measure} score")
    if gains is not None and len(gains):
        for k, (kind, n) in enumerate(zip(gains["type"], gains["session"], strict=True), start=1):
            pre, post = int(n) - 1, int(n)  # 1-based pre-gain session -> 0-based score positions
            if post >= len(y):
                continue
            colour = _C["blue"] if kind == "gain" else _C["vermillion"]
            ax.annotate("", xy=(x[post], y[post]), xytext=(x[pre], y[pre]), zorder=5,
                        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 2.2})
            ax.annotate(f"sudden {kind} {k}", xy=(x[post], y[post]), xytext=(6, -12 if kind == "gain"
                                                                            else 8),
                        textcoords="offset points", fontsize="x-small", color=colour,
                        fontweight="bold", zorder=5)
        ax.plot([], [], color=_C["blue"], linewidth=2.2, marker=">", label="sudden gain / loss (arrow)")
    top = m.max if np.isfinite(m.max) else (np.nanmax(y) * 1.1 if len(y) else 1.0)
    pad = 0.02 * (top - m.min)
    ax.set_ylim(m.min - pad, top + pad)
    ax.set_xlim(-0.4, last_x + 0.4)
    ax.xaxis.get_major_locator().set_params(integer=True)
    _style(ax, xlabel="session (0 = first score)", ylabel=f"{measure} score", title=title)
    ax.grid(False)
    _direction(ax, m)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _judged_limits(ax, t: pd.DataFrame) -> None:
    """The expected range and the early-warning limit of each score, as ``client_course`` gives
    them: the band from the expected score to the range's limit, and the limit itself."""
    have = t["band_limit"].notna().to_numpy()
    if have.any():
        b = t[have]
        ax.fill_between(b["session"], b["expected"], b["band_limit"], facecolor=_C["green"],
                        alpha=0.18, hatch="...", edgecolor="#7FBFA8", linewidth=0, zorder=1,
                        label="expected range (expected score to its 90% limit)")
        ax.plot(b["session"], b["expected"], color=_C["green"], linestyle=":", linewidth=1.2,
                zorder=2, label="expected score")
    w = t[t["warning_limit"].notna()]
    if len(w):
        ax.plot(w["session"], w["warning_limit"], color=_C["vermillion"], linestyle=(0, (1, 1.5)),
                linewidth=1.4, marker="v", markersize=4, zorder=3,
                label="early-warning limit (not on track at or beyond)")


def plot_diary(daily: pd.DataFrame, *, start, end,
               measures: Sequence[str] = ("mood", "homework", "sleep_quality", "goals_on_track"),
               trend: pd.DataFrame | None = None, ax=None, title: str | None = None):
    """Diary values day by day from ``start`` to ``end``: every calendar day, gaps left as gaps.

    Parameters
    ----------
    daily : DataFrame
        Wide daily table (``date`` and one column per diary measure, as from ``pk.daily_table``).
        Days without a row or with NaN are drawn as breaks in the line; nothing is filled in.
    start, end : date
        The window; the x axis spans exactly these days, whatever the data hold.
    measures : sequence of str
        The diary measures to draw (absent columns are skipped).
    trend : DataFrame, optional
        Long ``date``, ``measure``, ``trend`` (as from ``pk.daily_trend_data``): each measure's
        trend line, drawn only over the days it was fitted on.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> d = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-05"]),
    ...                   "mood": [4.0, 5, 7]})
    >>> ax = plot_diary(d, start="2024-03-01", end="2024-03-07")
    >>> int(np.isnan(ax.lines[0].get_ydata()).sum())  # 3, 4, 6 and 7 March are gaps
    4
    """
    import matplotlib.dates as mdates

    ax = _axes(ax, figsize=(7.2, 2.6))
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    days = pd.DataFrame({"date": pd.date_range(start, end)})
    d = daily.assign(date=pd.to_datetime(daily["date"]).dt.normalize()) if len(daily) else daily
    full = days.merge(d, on="date", how="left") if len(d) else days
    for name in measures:
        if name not in full.columns or full[name].isna().all():
            continue
        colour, marker, ls = _DIARY_STYLE.get(name, (_C["grey"], "o", "-"))
        ax.plot(full["date"], full[name].to_numpy(dtype=float), color=colour, marker=marker,
                linestyle=ls, linewidth=1.4, markersize=3.5, label=_DIARY_LABEL.get(name, name))
        if trend is not None and len(trend):
            t = trend[(trend["measure"] == name) & trend["trend"].notna()]
            if len(t):
                ax.plot(t["date"], t["trend"], color=colour, linestyle=(0, (1, 1)), linewidth=2.2,
                        label=f"two-week trend in {name.replace('_', ' ')}")
    ax.set_ylim(0, 10.5)
    ax.set_xlim(start - pd.Timedelta(hours=12), end + pd.Timedelta(hours=12))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8, interval_multiples=False))
    _style(ax, xlabel="day (blank where no diary was filled in)", ylabel="diary rating", title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


# one colour and marker per episode of care, the current one always black and solid
_EPISODE_STYLE = ((_C["blue"], "s"), (_C["orange"], "^"), (_C["purple"], "D"), (_C["green"], "v"),
                  (_C["sky"], "P"), (_C["vermillion"], "X"))


def plot_episodes(scores: pd.DataFrame, measure: str, *, episodes: pd.DataFrame | None = None,
                  current: str | None = None, gap_days: float | None = None, ax=None,
                  title: str | None = None):
    """A returning client's long-term chart: every episode of care on one time axis.

    Dates run across the years on the x axis. Each episode's scores have a colour and a marker
    of their own; earlier episodes are faint, the current one is black and bold, and a dashed
    vertical line marks the day it started. Gaps stay gaps: no line joins two episodes, and
    within an episode the line breaks where two scores are further apart than ``gap_days``
    (missed weeks are not bridged). The clinical cut-off is drawn across the whole span.

    Parameters
    ----------
    scores : DataFrame
        One client's rows: ``date``, ``score`` and ``episode_id`` (rows of other measures are
        ignored when there is a ``measure`` column).
    measure : str
        Registry name: the y range, the cut-off and the direction.
    episodes : DataFrame, optional
        The client's episodes: ``episode_id`` and ``start_date`` (and ``end_date``), e.g. the
        client's rows of the clients table. They order the episodes and date the current
        one's start. Default: from the scores (an episode starts at its first score).
    current : str, optional
        The current episode's ``episode_id``. Default: the one that starts last.
    gap_days : float, optional
        Break an episode's line where two scores are further apart than this. Default: twice
        the episode's usual spacing, at least 15 days (as in :func:`plot_trajectory`).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> d = pd.DataFrame({"episode_id": ["1"] * 3 + ["2"] * 4,
    ...     "date": pd.to_datetime(["2024-02-05", "2024-02-12", "2024-02-19", "2025-03-03",
    ...                             "2025-03-10", "2025-03-17", "2025-04-21"]),
    ...     "score": [19.0, 12, 7, 17, 15, 14, 11]})
    >>> ax = plot_episodes(d, "PHQ-9")
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:2]
    ['episode 1: Feb 2024 to Feb 2024', 'episode 2 (current): from Mar 2025']
    >>> # five weeks without a score break the current episode's line in two
    >>> len([ln for ln in ax.get_lines() if ln.get_label().startswith("_episode 2")])
    2
    """
    import matplotlib.dates as mdates

    from .measures import get_measure

    m = get_measure(measure)
    ax = _axes(ax, figsize=(7.2, 2.4))
    d = scores[scores["measure"] == measure] if "measure" in scores.columns else scores
    d = d.dropna(subset=["date", "score"]).assign(
        episode_id=lambda f: f["episode_id"].astype(str)).sort_values("date")
    starts = (episodes.assign(episode_id=episodes["episode_id"].astype(str))
              .set_index("episode_id")["start_date"] if episodes is not None
              else d.groupby("episode_id")["date"].min())
    order = list(starts.sort_values(kind="stable").index)
    order += [e for e in pd.unique(d["episode_id"]) if e not in order]
    current = order[-1] if current is None and order else current
    earlier = [e for e in order if e != current]
    for k, ep in enumerate([*earlier, current]):
        part = d[d["episode_id"] == ep]
        now = ep == current
        colour, marker = (_C["black"], "o") if now else _EPISODE_STYLE[k % len(_EPISODE_STYLE)]
        when = _episode_span(part, starts.get(ep), now, episodes, ep)
        label = f"episode {order.index(ep) + 1}{' (current)' if now else ''}: {when}"
        ax.plot([], [], color=colour, marker=marker, alpha=1.0 if now else 0.45,
                linewidth=2.0 if now else 1.2, label=label)
        if part.empty:
            continue
        step = part["date"].diff().dt.days.dropna()
        gap = gap_days if gap_days is not None else max(15.0, 2 * float(step.median())
                                                        if len(step) else 15.0)
        seg = _segments(part["date"], gap)
        for j in np.unique(seg):
            piece = part[seg == j]
            ax.plot(piece["date"], piece["score"], color=colour, marker=marker,
                    alpha=1.0 if now else 0.45, linewidth=2.0 if now else 1.2,
                    markersize=4.5 if now else 3.5, zorder=4 if now else 3,
                    label=f"_episode {order.index(ep) + 1} part {j}")
    start = starts.get(current) if current is not None else None
    if start is not None and pd.notna(start) and earlier:
        ax.axvline(pd.Timestamp(start), color=_C["black"], linestyle="--", linewidth=1.0,
                   zorder=2, label="current episode began")
    if m.cutoff is not None:
        ax.axhline(m.cutoff, color=_C["vermillion"], linestyle=":", linewidth=1.2, zorder=1,
                   label=f"clinical cut-off ({_words(m.describe_cutoff())})")
    top = m.max if np.isfinite(m.max) else (float(d["score"].max()) * 1.1 if len(d) else 1.0)
    pad = 0.02 * (top - m.min)
    ax.set_ylim(m.min - pad, top + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    _style(ax, xlabel="date (no line across a gap)", ylabel=f"{measure} score", title=title)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _episode_span(part: pd.DataFrame, start, now: bool, episodes: pd.DataFrame | None,
                  ep: str) -> str:
    """'Jan 2025 to Apr 2025' for an earlier episode, 'from Sep 2025' for the current one."""
    first = pd.Timestamp(start) if start is not None and pd.notna(start) else (
        part["date"].min() if len(part) else None)
    if first is None:
        return "no scores"
    if now:
        return f"from {first:%b %Y}"
    end = None
    if episodes is not None and "end_date" in episodes.columns:
        row = episodes[episodes["episode_id"].astype(str) == ep]
        end = row["end_date"].iloc[0] if len(row) else None
    end = end if end is not None and pd.notna(end) else (part["date"].max() if len(part)
                                                         else None)
    return f"{first:%b %Y} to {pd.Timestamp(end):%b %Y}" if end is not None else \
        f"from {first:%b %Y}"
