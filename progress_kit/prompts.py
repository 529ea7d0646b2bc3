"""The companion tracker's prompts as stated rules: when a diary pattern is worth raising.

A client's tracker tells them when a pattern is worth talking about: low homework with a flat
mood, a long therapy whose course has gone flat, or a stable good mood that may mean the end is
near. Here each prompt is a rule with its thresholds as parameters, computed from the diary with
the kit's one trend rule (:func:`progress_kit.trend_direction` via
:func:`progress_kit.daily_trend_data`). The rules only say *what to talk about*; they are not a
status and never change ``client_flags``. Reports word them for each audience.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .daily import daily_trend_data

__all__ = ["tracker_prompts", "PROMPTS"]

PROMPTS = ("homework_fit", "approach_fit", "ending_readiness")
"""The prompt columns of :func:`tracker_prompts`, in the order reports show them."""

_DAYS_PER_MONTH = 365.25 / 12


def _window(daily: pd.DataFrame, measures: list[str], days: int, as_of, min_days: int,
            subject: str, time: str) -> pd.DataFrame:
    """Per client and measure over the window: direction, days with a value and their mean."""
    if not measures:
        return pd.DataFrame()
    long = daily_trend_data(daily, measures=measures, days=days, end=as_of, min_days=min_days,
                            subject=subject, time=time)
    g = long.groupby([subject, "measure"], sort=False)
    first = long["day"].where(long["value"].notna()).groupby([long[subject], long["measure"]],
                                                             sort=False).min()
    out = pd.DataFrame({"direction": g["direction"].first(), "n": g["value"].count(),
                        "mean": g["value"].mean(), "end": g[time].max(), "first_day": first})
    return out.unstack("measure")  # one row per client; columns (what, measure)


def _column(table: pd.DataFrame, measure: str, what: str, index: pd.Index, fill) -> pd.Series:
    if not len(table) or (what, measure) not in table.columns:
        return pd.Series(fill, index=index)
    values = table[(what, measure)].reindex(index)
    return values if pd.isna(fill) else values.fillna(fill)


def tracker_prompts(daily: pd.DataFrame, clients: pd.DataFrame | None = None, *,
                    as_of: str | pd.Timestamp | None = None, recent_days: int = 14,
                    low_homework: float = 1.5, long_months: float = 12.0,
                    course_days: int = 91, low_goals: float = 1.5, high_mood: float = 7.0,
                    min_days: int = 7, course_min_days: int = 28,
                    subject: str = "client_id", time: str = "date") -> pd.DataFrame:
    """The tracker's three prompts for every client, each a stated rule with its thresholds.

    Parameters
    ----------
    daily : DataFrame
        The wide daily table (:func:`progress_kit.daily_table`) with ``mood`` and, where kept,
        ``homework`` and ``goals_on_track``.
    clients : DataFrame, optional
        The clients table (``client_id``, ``start_date``, optional ``end_date``) for the time in
        therapy. Without it, or for a client not in it, the long-therapy prompt is not assessed.
    as_of : date, optional
        The day the prompts are for (the session or report date): windows end here. Default:
        each client's last diary day.
    recent_days : int, default 14
        The recent window (the tracker's two weeks).
    low_homework : float, default 1.5
        Homework mean (0-5) at or below which homework counts as low.
    long_months : float, default 12
        Months in therapy above which a therapy counts as long.
    course_days : int, default 91
        The course window (about three months).
    low_goals : float, default 1.5
        Goals-on-track mean (0-5) over the course window at or below which goals count as low.
    high_mood : float, default 7
        Mood mean (1-10) over the course window at or above which mood counts as high.
    min_days : int, default 7
        Days with a value needed in the recent window (for the mood trend and the homework mean).
    course_min_days : int, default 28
        Days with a value needed in the course window (for the mood trend, mood and goals means).
    subject, time : str
        The person and calendar-day columns.

    Returns
    -------
    DataFrame
        One row per client (sorted): ``client_id``, ``as_of`` (the window's last day),
        ``months_in_therapy`` (NaN when unknown), ``homework_mean`` and ``homework_days`` (recent
        window), ``mood_trend`` (recent direction), ``mood_trend_course``, ``mood_mean_course``,
        ``mood_days_course``, ``goals_mean_course``, ``goals_days_course``, and the three prompts
        as booleans: ``homework_fit``, ``approach_fit``, ``ending_readiness``.
        ``attrs["rules"]`` maps each prompt to its rule in words, with the thresholds used;
        ``attrs["thresholds"]`` holds the parameters.

    Notes
    -----
    Directions follow the kit's one trend rule (:func:`progress_kit.daily_trend_data`: least
    squares over the days with a value, missing days not filled; "improving" or "worsening"
    only when the slope's 95% interval excludes 0 and the change over the window reaches 10% of
    the scale, else "stable"; "insufficient data" below the minimum days). A flat trend is
    "stable"; too few days is never flat, so a sparse diary raises no prompt. A course counts
    as flat only when the diary covers it: at least ``course_min_days`` days with mood, the
    first of them in the window's first third.

    - ``homework_fit`` (low homework with flat mood): homework mean <= ``low_homework`` over
      the last ``recent_days`` days (on at least ``min_days`` days) and a stable mood trend over
      the same days. Prompt: discuss whether the homework fits.
    - ``approach_fit`` (long therapy, flat course): more than ``long_months`` months since the
      start of therapy, and either a stable mood trend over the last ``course_days`` days or a
      goals-on-track mean <= ``low_goals`` over them. Prompt: raise whether the approach still
      fits.
    - ``ending_readiness`` (approaching an ending): a stable mood trend over the last
      ``course_days`` days with a mood mean >= ``high_mood`` over them. Prompt: review readiness
      to end.

    The thresholds are the companion tracker's (homework 1.5 of 5, 12 months, 3 months, goals
    1.5 of 5); ``high_mood`` (7 of 10) and the minimum days are progress-kit conventions. They
    are prompts for a conversation, with no published validity.

    Assumptions: the diary is kept often enough to show a course (the minimum days guard
    against a sparse one), and a flat mood trend means little change, not a measurement floor
    or ceiling.

    References
    ----------
    The companion tracker's prompts (issue 23 of progress-kit, from the product descriptions the
    kit was designed from). The trend rule: ``docs/flags.md`` and
    :func:`progress_kit.trend_direction`.

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", periods=14)
    >>> daily = pd.DataFrame({"client_id": "a", "date": days, "mood": 5.0,
    ...                       "homework": [1.0, 0.0] * 7})
    >>> res = tracker_prompts(daily)
    >>> res[["homework_mean", "mood_trend", "homework_fit", "ending_readiness"]]
       homework_mean mood_trend  homework_fit  ending_readiness
    0            0.5     stable          True             False
    """
    for name, value, low in (("recent_days", recent_days, 1), ("course_days", course_days, 1),
                             ("min_days", min_days, 3), ("course_min_days", course_min_days, 3)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
    if "mood" not in daily.columns:
        raise ValueError(f"daily has no 'mood' column; its columns are {list(daily.columns)}")
    have = [m for m in ("mood", "homework", "goals_on_track") if m in daily.columns]
    rules = {"low_homework": low_homework, "long_months": long_months, "low_goals": low_goals,
             "high_mood": high_mood}
    out = _prompts_from_arrays(daily, clients, have, as_of, recent_days, course_days, min_days,
                               course_min_days, subject, time, **rules)
    if out is None:
        out = _prompts_from_frames(daily, clients, have, as_of, recent_days, course_days,
                                   min_days, course_min_days, subject, time, **rules)
    out.attrs["rules"] = {
        "homework_fit": (f"low homework with flat mood: homework mean <= {low_homework:g} of 5 "
                         f"over the last {recent_days} days (on at least {min_days} days) and a "
                         f"stable mood trend over them"),
        "approach_fit": (f"long therapy, flat course: more than {long_months:g} months in therapy "
                         f"and a stable mood trend over the last {course_days} days or a goals-"
                         f"on-track mean <= {low_goals:g} of 5 over them (at least "
                         f"{course_min_days} diary days, from the window's first third on)"),
        "ending_readiness": (f"approaching an ending: a stable mood trend over the last "
                             f"{course_days} days with a mood mean >= {high_mood:g} of 10 (at "
                             f"least {course_min_days} diary days, from the window's first "
                             f"third on)"),
    }
    out.attrs["thresholds"] = {"recent_days": recent_days, "low_homework": low_homework,
                               "long_months": long_months, "course_days": course_days,
                               "low_goals": low_goals, "high_mood": high_mood,
                               "min_days": min_days, "course_min_days": course_min_days}
    out.attrs["trend_rule"] = ("trends by the kit's one rule (daily_trend_data): 95% interval of "
                               "the least-squares slope excludes 0 and the change reaches 10% of "
                               "the scale, else stable")
    return out


def _prompts_from_arrays(daily, clients, have, as_of, recent_days, course_days, min_days,
                         course_min_days, subject, time, *, low_homework, long_months,
                         low_goals, high_mood) -> pd.DataFrame | None:
    """:func:`tracker_prompts`' table from the two windows' least-squares lines as arrays
    (:func:`progress_kit.daily._trend_arrays`, the rows of :func:`daily_trend_data`), the input
    prepared once for both: the table of :func:`_prompts_from_frames` (the pandas reference,
    tested equal), for a fraction of the time for one client, which is how a report calls it
    (docs/performance.md, round five). None when the input is not the plain case the arrays
    handle: the reference then builds it."""
    from . import daily as D

    df, ends, _, thresholds = D._trend_input(daily, have, recent_days, as_of, min_days, None,
                                             0.05, subject, time)
    windows = {}
    for name, measures, days, least in (
            ("recent", [m for m in have if m != "goals_on_track"], recent_days, min_days),
            ("course", [m for m in have if m != "homework"], course_days, course_min_days)):
        a = D._trend_arrays(df, ends, measures, days, least,
                            {m: thresholds[m] for m in measures}, 0.05, subject, time)
        if a is None:
            return None
        windows[name] = (a, measures)

    def column(window: str, measure: str, what: str, fill):
        a, measures = windows[window]
        if measure not in measures:
            return np.full(a["n_c"], fill)
        rows = slice(measures.index(measure), None, a["n_m"])
        if what == "first_day":  # the first day with a value, NaN without one
            ok = ~np.isnan(a["values"][rows])
            return np.where(ok.any(axis=1), ok.argmax(axis=1) + 1.0, fill)
        return {"mean": a["mv"], "n": a["n"], "direction": a["direction"]}[what][rows]

    a = windows["recent"][0]
    # the IDs as a table's column infers them (daily_trend_data's long table, the reference's)
    ids = pd.Index(pd.Series(a["ids"].to_numpy()), name=subject)
    as_of_day = pd.Series(a["last"], index=ids)
    months = _months(clients, ids, as_of_day, subject)
    homework_days = column("recent", "homework", "n", 0).astype(int)
    homework_mean = column("recent", "homework", "mean", np.nan)
    mood_trend = column("recent", "mood", "direction", "insufficient data")
    course_trend = column("course", "mood", "direction", "insufficient data")
    mood_mean = column("course", "mood", "mean", np.nan)
    goals_days = column("course", "goals_on_track", "n", 0).astype(int)
    goals_mean = column("course", "goals_on_track", "mean", np.nan)
    # a course is flat only when the diary covers it (see _prompts_from_frames)
    flat_course = (course_trend == "stable") & (column("course", "mood", "first_day", np.inf)
                                                 <= course_days / 3)
    with np.errstate(invalid="ignore"):
        low_goal = (goals_days >= course_min_days) & (goals_mean <= low_goals)
        columns = {
            "as_of": as_of_day, "months_in_therapy": months,
            "homework_mean": homework_mean, "homework_days": homework_days,
            "mood_trend": pd.array(mood_trend, dtype="str"),
            "mood_trend_course": pd.array(course_trend, dtype="str"),
            "mood_mean_course": mood_mean,
            "mood_days_course": column("course", "mood", "n", 0).astype(int),
            "goals_mean_course": goals_mean, "goals_days_course": goals_days,
            "homework_fit": ((homework_days >= min_days) & (homework_mean <= low_homework)
                             & (mood_trend == "stable")),
            "approach_fit": ((months.to_numpy(dtype=float) > long_months)
                             & (flat_course | low_goal)),
            "ending_readiness": flat_course & (mood_mean >= high_mood)}
    return pd.DataFrame(columns, index=ids).reset_index()


def _prompts_from_frames(daily, clients, have, as_of, recent_days, course_days, min_days,
                         course_min_days, subject, time, *, low_homework, long_months,
                         low_goals, high_mood) -> pd.DataFrame:
    """:func:`tracker_prompts`' table by pandas groupings of the two windows' long tables: the
    reference that :func:`_prompts_from_arrays` is tested against, and the path for what it
    leaves."""
    recent = _window(daily, [m for m in have if m != "goals_on_track"], recent_days, as_of,
                     min_days, subject, time)
    course = _window(daily, [m for m in have if m != "homework"], course_days, as_of,
                     course_min_days, subject, time)
    ids = pd.Index(recent.index.unique().sort_values(), name=subject)
    out = pd.DataFrame(index=ids)
    out["as_of"] = _column(recent, "mood", "end", ids, pd.NaT)
    out["months_in_therapy"] = _months(clients, ids, out["as_of"], subject)
    out["homework_mean"] = _column(recent, "homework", "mean", ids, np.nan)
    out["homework_days"] = _column(recent, "homework", "n", ids, 0).astype(int)
    out["mood_trend"] = _column(recent, "mood", "direction", ids, "insufficient data")
    out["mood_trend_course"] = _column(course, "mood", "direction", ids, "insufficient data")
    out["mood_mean_course"] = _column(course, "mood", "mean", ids, np.nan)
    out["mood_days_course"] = _column(course, "mood", "n", ids, 0).astype(int)
    out["goals_mean_course"] = _column(course, "goals_on_track", "mean", ids, np.nan)
    out["goals_days_course"] = _column(course, "goals_on_track", "n", ids, 0).astype(int)
    flat_recent = out["mood_trend"] == "stable"
    # a course is flat only when the diary covers it: entries from its first third on, so a
    # month of diary never stands for three
    spans = _column(course, "mood", "first_day", ids, np.inf) <= course_days / 3
    flat_course = (out["mood_trend_course"] == "stable") & spans
    low_goal = (out["goals_days_course"] >= course_min_days) & (out["goals_mean_course"] <= low_goals)
    out["homework_fit"] = ((out["homework_days"] >= min_days)
                           & (out["homework_mean"] <= low_homework) & flat_recent)
    out["approach_fit"] = (out["months_in_therapy"] > long_months) & (flat_course | low_goal)
    out["ending_readiness"] = flat_course & (out["mood_mean_course"] >= high_mood)
    out = out.reset_index()
    return out


def _months(clients: pd.DataFrame | None, ids: pd.Index, as_of: pd.Series,
            subject: str) -> pd.Series:
    """Months from the start of therapy to ``as_of`` (or the end of therapy, if earlier)."""
    if clients is None or not len(clients) or "start_date" not in clients.columns:
        return pd.Series(np.nan, index=ids)
    c = clients.drop_duplicates(subject).set_index(subject)
    start = pd.to_datetime(c["start_date"]).reindex(ids)
    stop = pd.to_datetime(as_of)
    if "end_date" in c.columns:
        end = pd.to_datetime(c["end_date"]).reindex(ids)
        stop = stop.where(end.isna() | (end >= stop), end)
    return (stop - start).dt.days / _DAYS_PER_MONTH
