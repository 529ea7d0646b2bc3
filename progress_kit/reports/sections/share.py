"""Sections of the client's own page (``report share``): one A4 page to keep or bring.

Written for the client, in plain words (a test checks the reading level), from this client's
data only. It shows the diary and the questionnaire totals, never an item answer, and none of
the clinician's words: no status, no severity label, no reliable-change or on-track language.
A client whose ``client_flags`` status is "alert" gets the same neutral page plus one line,
:data:`ALERT_LINE`; the status itself is never shown. The words live in the ``share`` part of
the wording (``progress_kit/templates/clinical/wording.toml``), where a service can change them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...measures import get_measure
from ..context import ReportData
from ..wording import load_wording, words
from .client import Flags, _daily
from .common import Section, _fmt_day, _stat, _w
from .tracker import tracker_prompts_section

__all__ = ["share_intro", "share_diary", "share_takeaways", "share_scores", "share_talk",
           "PLAIN_NAMES", "SHARE_WORDS", "ALERT_LINE"]

_BUILT_IN = load_wording()
ALERT_LINE = _BUILT_IN("share.alert")
"""The one line a client whose status is "alert" gets, instead of the status (built-in words)."""

PLAIN_NAMES = _BUILT_IN.group("share.plain_names")
"""What each questionnaire asks about, in a client's words (``share.plain_names.*``)."""

SHARE_WORDS = {"mood": _BUILT_IN.group("share.mood"), "homework": _BUILT_IN.group("share.homework"),
               "intro": _BUILT_IN("share.intro"), "nothing": _BUILT_IN("share.nothing")}
"""The client page's built-in sentences (``share.*`` of the wording, where a service changes
them; a report shows the wording in use)."""

_SHOWN = {"mood": ("mood (1 to 10)", "#0072B2", "o", "-"),
          "homework": ("homework (0 to 5)", "#E69F00", "s", "--"),
          "sleep_quality": ("sleep (1 to 5)", "#CC79A7", "^", "-."),
          "goals_on_track": ("goals (0 to 5)", "#009E73", "D", ":")}


def share_intro(rd: ReportData) -> Section:
    """How the page is meant to be used, in the client's words."""
    return Section("share_intro", "", message=_w("share.intro"))


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
    title = _w("share.diary_title", first=_fmt_day(first), last=_fmt_day(rd.end))
    daily = _daily(rd)
    window = (None if daily is None else
              daily[(daily["date"] >= first) & (daily["date"] <= rd.end)])
    fields = [] if window is None else [m for m in _SHOWN if m in window.columns]
    n_days = 0 if not fields else int(window[fields].notna().any(axis=1).sum())
    if n_days == 0:
        return Section("share_diary", title, "insufficient",
                       _w("share.no_diary", days=days), facts={"n_days": 0})
    lines = [_w("share.filled", n=n_days, days=days)]
    trend = _stat("daily_trend_data")
    measures = [m for m in ("mood", "homework") if m in window.columns and window[m].notna().any()]
    data = (trend(daily, measures=measures, days=days, end=rd.end) if trend and measures else None)
    for m in measures:
        direction = data.loc[data["measure"] == m, "direction"].iloc[0]
        said = words().phrases.get(f"share.{m}.{direction}")
        if said is not None:
            lines.append(said)
        else:
            n = int(window[m].notna().sum())
            mean = float(window[m].mean())
            scale = "10" if m == "mood" else "5"
            lines.append(_w("share.too_soon", measure=m, n=n, days=days, mean=mean, scale=scale))
    sec = Section("share_diary", title, lines=lines, figsize=(7.2, 1.8),
                  facts={"n_days": n_days, "trend": data})
    sec.plot = lambda ax, w=window: _plot_week(ax, w, first, rd.end)
    return sec


def share_takeaways(rd: ReportData, days: int = 14) -> Section:
    """Take-aways the client logged over the last ``days`` days."""
    daily = _daily(rd)
    first = rd.end - pd.Timedelta(days=days - 1)
    if daily is None or "takeaways" not in daily.columns:
        return Section("share_takeaways", _w("share.takeaways_title"), "insufficient",
                       _w("share.no_takeaways"))
    used = daily[(daily["date"] >= first) & (daily["date"] <= rd.end)]["takeaways"].dropna()
    if used.empty:
        text = _w("share.no_takeaways_recent", days=days)
    else:
        times, on = float(used.sum()), int((used > 0).sum())
        text = _w("share.takeaways", times=times, on=on, days=days,
                  times_word=_w("share.time" if times == 1 else "share.times"),
                  days_word=_w("share.day" if on == 1 else "share.days"))
    return Section("share_takeaways", _w("share.takeaways_title"), message=text)


def _usual(measure: str) -> tuple[float, float, str] | None:
    """The usual range of a questionnaire (outside its clinical range) as (low, high, words)."""
    m = get_measure(measure)
    if m.cutoff is None:
        return None
    c = float(m.cutoff)
    at = bool(m.is_clinical([c])[0])
    if m.better == "lower":
        return m.min, c, _w("share.below" if at else "share.at_most", cutoff=c)
    return c, m.max, _w("share.above" if at else "share.at_least", cutoff=c)


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


def share_scores(rd: ReportData, most: int = 2, first: str | None = None) -> Section:
    """The course of each questionnaire total (at most ``most``, side by side) with the usual
    range in words; totals only, never an item answer.

    ``first``: the measure the clinician's status judges this client on (the one for their
    problem, e.g. SPIN for social anxiety), shown first so that the client's page always has
    it; then the others in the clinic's order."""
    lines, courses = [], []
    order = [first] if first in rd.questionnaires else []
    for measure in [*order, *(m for m in rd.questionnaires if m != first)][:most]:
        m = get_measure(measure)
        scores = rd.observations[rd.observations["measure"] == measure].sort_values("date")
        if scores.empty:
            continue
        name = words().phrases.get(f"share.plain_names.{measure}", measure)
        text = _w("share.asks", measure=measure, name=name,
                  better=_w("share.lower" if m.better == "lower" else "share.higher"))
        usual = _usual(measure)
        if usual is not None:
            text += _w("share.usual", range=usual[2])
        n, last = len(scores), scores.iloc[-1]
        text += (_w("share.last", score=last["score"], date=_fmt_day(last["date"]))
                 + (_w("share.first", score=scores["score"].iloc[0]) if n > 1
                    else _w("share.last_end")))
        lines.append(text)
        courses.append((measure, scores[["date", "score"]]))
    if not courses:
        return Section("share_scores", _w("share.forms_title"), "insufficient", _w("share.no_forms"))
    sec = Section("share_scores", _w("share.forms_title"), lines=lines, figsize=(7.2, 1.55),
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
        lines.append(_w("share.alert"))
    lines.append(_w("share.nothing"))
    return Section("share_talk", _w("share.talk_title"), lines=lines,
                   facts={"prompts": prompts.facts.get("prompts", []), "alert_line": alert})
