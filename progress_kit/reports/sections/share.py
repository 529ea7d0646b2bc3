"""Sections of the client's own page (``report share``): one A4 page to keep or bring.

Written for the client, in plain words (a test checks the reading level), from this client's
data only. It shows the diary and the questionnaire totals, never an item answer, and none of
the clinician's words: no status, no severity label, no reliable-change or on-track language.
A client whose ``client_flags`` status is "alert" gets the same neutral page plus one line,
:data:`ALERT_LINE`; the status itself is never shown. The words live in :data:`SHARE_WORDS`
and :data:`PLAIN_NAMES`, where a service can change them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...measures import get_measure
from ..context import ReportData
from .client import Flags, _daily
from .common import Section, _fmt_day, _stat
from .tracker import tracker_prompts_section

__all__ = ["share_intro", "share_diary", "share_takeaways", "share_scores", "share_talk",
           "PLAIN_NAMES", "SHARE_WORDS", "ALERT_LINE"]

ALERT_LINE = "Talk to your therapist about how things are going."
"""The one line a client whose status is "alert" gets, instead of the status."""

PLAIN_NAMES = {"PHQ-9": "low mood", "GAD-7": "worry and nerves", "CORE-10": "how you have felt",
               "ORS": "how things are going", "OQ-45": "how you are doing",
               "PCL-5": "stress after a hard event", "SPIN": "fear of social times",
               "WSAS": "how you cope with daily life"}
"""What each questionnaire asks about, in a client's words."""

SHARE_WORDS = {
    "mood": {"improving": "Your mood has gone up over the last two weeks.",
             "stable": "Your mood has stayed about the same over the last two weeks.",
             "worsening": "Your mood has gone down over the last two weeks."},
    "homework": {"improving": "You have done more homework over the last two weeks.",
                 "stable": "You have done about the same amount of homework each day.",
                 "worsening": "You have done less homework over the last two weeks."},
    "intro": ("This page is for you. It shows your diary and your forms as simple charts. Bring "
              "it to your next session if you like, and use it to start the talk: what went "
              "well, what was hard, and what you want to work on."),
    "nothing": "You can talk about anything on this page, or anything else that is on your mind.",
}
"""The client page's sentences; a service may reword them (keep them short and plain)."""

_SHOWN = {"mood": ("mood (1 to 10)", "#0072B2", "o", "-"),
          "homework": ("homework (0 to 5)", "#E69F00", "s", "--"),
          "sleep_quality": ("sleep (1 to 5)", "#CC79A7", "^", "-."),
          "goals_on_track": ("goals (0 to 5)", "#009E73", "D", ":")}


def share_intro(rd: ReportData) -> Section:
    """How the page is meant to be used, in the client's words."""
    return Section("share_intro", "", message=SHARE_WORDS["intro"])


def _plot_week(ax, window: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Mood on the left (1-10), the 0-5 ratings on the right; a day without an entry is a gap."""
    import matplotlib.dates as mdates

    days = pd.DataFrame({"date": pd.date_range(first, last)}).merge(window, on="date", how="left")
    right = ax.twinx()
    for name, (label, colour, marker, ls) in _SHOWN.items():
        if name not in days.columns or days[name].isna().all():
            continue
        target = ax if name == "mood" else right
        target.plot(days["date"], days[name].to_numpy(float), color=colour, marker=marker,
                    linestyle=ls, linewidth=1.6, markersize=4, label=label)
    ax.set_ylim(0.5, 10.5)
    ax.set_yticks([2, 4, 6, 8, 10])
    right.set_ylim(-0.25, 5.25)
    ax.set_ylabel("mood")
    right.set_ylabel("out of 5")
    ax.set_xlim(first - pd.Timedelta(hours=12), last + pd.Timedelta(hours=12))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d"))
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=2))
    ax.tick_params(axis="x", labelsize="small")
    ax.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top"]].set_visible(False)
    right.spines[["top"]].set_visible(False)
    handles = [h for a in (ax, right) for h in a.get_legend_handles_labels()[0]]
    labels = [t for a in (ax, right) for t in a.get_legend_handles_labels()[1]]
    if handles:
        ax.legend(handles, labels, fontsize="small", frameon=False, ncol=len(handles),
                  loc="lower left", bbox_to_anchor=(0, 1.0))


def share_diary(rd: ReportData, days: int = 14) -> Section:
    """The last ``days`` days of the diary as a chart (gaps as gaps), and the trend in words."""
    first = rd.end - pd.Timedelta(days=days - 1)
    title = f"Your diary: {_fmt_day(first)} to {_fmt_day(rd.end)}"
    daily = _daily(rd)
    window = (None if daily is None else
              daily[(daily["date"] >= first) & (daily["date"] <= rd.end)])
    fields = [] if window is None else [m for m in _SHOWN if m in window.columns]
    n_days = 0 if not fields else int(window[fields].notna().any(axis=1).sum())
    if n_days == 0:
        return Section("share_diary", title, "insufficient",
                       f"There are no diary entries in the last {days} days.", facts={"n_days": 0})
    lines = [f"You filled in the diary on {n_days} of the last {days} days. A gap in a line is a "
             "day with no entry."]
    trend = _stat("daily_trend_data")
    measures = [m for m in ("mood", "homework") if m in window.columns and window[m].notna().any()]
    data = (trend(daily, measures=measures, days=days, end=rd.end) if trend and measures else None)
    for m in measures:
        direction = data.loc[data["measure"] == m, "direction"].iloc[0]
        if direction in SHARE_WORDS[m]:
            lines.append(SHARE_WORDS[m][direction])
        else:
            n = int(window[m].notna().sum())
            mean = float(window[m].mean())
            scale = "10" if m == "mood" else "5"
            lines.append(f"Your {m} is on {n} of the {days} days, so it is too soon to see a "
                         f"change. On those days it was {mean:.1f} out of {scale} on average.")
    sec = Section("share_diary", title, lines=lines, figsize=(7.2, 1.8),
                  facts={"n_days": n_days, "trend": data})
    sec.plot = lambda ax, w=window: _plot_week(ax, w, first, rd.end)
    return sec


def share_takeaways(rd: ReportData, days: int = 14) -> Section:
    """Take-aways the client logged over the last ``days`` days."""
    daily = _daily(rd)
    first = rd.end - pd.Timedelta(days=days - 1)
    if daily is None or "takeaways" not in daily.columns:
        return Section("share_takeaways", "Take-aways", "insufficient",
                       "You have not logged any take-aways yet.")
    used = daily[(daily["date"] >= first) & (daily["date"] <= rd.end)]["takeaways"].dropna()
    if used.empty:
        text = f"You did not log any take-aways in the last {days} days."
    else:
        times, on = float(used.sum()), int((used > 0).sum())
        text = (f"You used something you took away from a session {times:g} "
                f"{'time' if times == 1 else 'times'} in the last {days} days, on {on} "
                f"{'day' if on == 1 else 'days'}.")
    return Section("share_takeaways", "Take-aways", message=text)


def _usual(measure: str) -> tuple[float, float, str] | None:
    """The usual range of a questionnaire (outside its clinical range) as (low, high, words)."""
    m = get_measure(measure)
    if m.cutoff is None:
        return None
    c = float(m.cutoff)
    at = bool(m.is_clinical([c])[0])
    if m.better == "lower":
        return m.min, c, (f"below {c:g}" if at else f"{c:g} or less")
    return c, m.max, (f"above {c:g}" if at else f"{c:g} or more")


def _plot_course(ax, scores: pd.DataFrame, measure: str, legend: bool = True) -> None:
    import matplotlib.dates as mdates

    m = get_measure(measure)
    usual = _usual(measure)
    if usual is not None:
        ax.axhspan(usual[0], usual[1], color="#009E73", alpha=0.15, linewidth=0, label="usual range")
    ax.plot(scores["date"], scores["score"], color="#0072B2", marker="o", linewidth=1.6,
            markersize=4, label="your score")
    top = m.max if np.isfinite(m.max) else float(scores["score"].max()) * 1.1
    ax.set_ylim(m.min, top)
    ax.set_title(measure, loc="left", fontsize="medium", fontweight="bold")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=5))
    ax.tick_params(labelsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    if legend:
        ax.legend(fontsize="small", frameon=False, loc="upper right")


def _plot_courses(ax, courses: list[tuple[str, pd.DataFrame]]) -> None:
    """One small chart per questionnaire, side by side, in the section's one figure."""
    fig = ax.figure
    ax.remove()
    axes = fig.subplots(1, len(courses), squeeze=False)[0]
    for i, (measure, scores) in enumerate(courses):
        _plot_course(axes[i], scores, measure, legend=i == len(courses) - 1)


def share_scores(rd: ReportData, most: int = 2) -> Section:
    """The course of each questionnaire total (at most ``most``, side by side) with the usual
    range in words; totals only, never an item answer."""
    lines, courses = [], []
    for measure in rd.questionnaires[:most]:
        m = get_measure(measure)
        scores = rd.observations[rd.observations["measure"] == measure].sort_values("date")
        if scores.empty:
            continue
        name = PLAIN_NAMES.get(measure, measure)
        text = f"{measure} asks about {name}. {'Lower' if m.better == 'lower' else 'Higher'} is better."
        usual = _usual(measure)
        if usual is not None:
            text += (f" The green band is the usual range: most people who are not looking for "
                     f"help score {usual[2]}.")
        n, last = len(scores), scores.iloc[-1]
        text += (f" Your last score was {last['score']:g}, on {_fmt_day(last['date'])}"
                 + (f". Your first was {scores['score'].iloc[0]:g}." if n > 1 else "."))
        lines.append(text)
        courses.append((measure, scores[["date", "score"]]))
    if not courses:
        return Section("share_scores", "Your forms", "insufficient",
                       "You have not filled in any forms yet.")
    sec = Section("share_scores", "Your forms", lines=lines, figsize=(7.2, 1.55),
                  facts={"measures": [c[0] for c in courses]})
    sec.plot = lambda ax: _plot_courses(ax, courses)
    return sec


def share_talk(rd: ReportData, flags: Flags) -> Section:
    """The tracker's prompts that apply, in the client's words, and the alert line when the
    clinician's status is "alert" (the status itself is not shown)."""
    prompts = tracker_prompts_section(rd, audience="client")
    lines = list(prompts.facts.get("prompts", []))
    alert = flags.status == "alert"
    if alert:
        lines.append(ALERT_LINE)
    lines.append(SHARE_WORDS["nothing"])
    return Section("share_talk", "Things to talk about", lines=lines,
                   facts={"prompts": prompts.facts.get("prompts", []), "alert_line": alert})
