"""Sections of the one-page session-preparation sheet (see :mod:`progress_kit.reports.sections`).

The sheet is cut with :func:`progress_kit.reports.context.client_data_until`: ``rd.end`` is the
sheet's date and ``rd.start`` the day after the last attended session before it, so "since the
last session" is ``rd.start`` .. ``rd.end``.
"""

from __future__ import annotations

import pandas as pd

from ...measures import get_measure
from ..context import ReportData
from .client import DIARY_MEASURES, MIN_TREND_DAYS, Flags, _daily, _two_week_trend, _window_summary
from .common import Section, _fmt_day, _plot, _plural, _stat, _w

__all__ = ["prep_diary", "prep_scores", "since_last_session", "prep_takeaways"]


def prep_diary(rd: ReportData, days: int = 14) -> Section:
    """The last ``days`` days of mood and homework (with sleep and goals where present), gaps as gaps."""
    first = rd.end - pd.Timedelta(days=days - 1)
    title = _w("prep.diary_title", days=days, first=_fmt_day(first), last=_fmt_day(rd.end))
    daily = _daily(rd)
    window = None if daily is None else daily[(daily["date"] >= first) & (daily["date"] <= rd.end)]
    fields = [] if window is None else [m for m in DIARY_MEASURES if m in window.columns]
    n_days = 0 if window is None or not fields else int(window[fields].notna().any(axis=1).sum())
    if n_days == 0:
        return Section("prep_diary", title, "insufficient",
                       _w("prep.no_diary", days=days), facts={"n_days": 0})
    tw = _two_week_trend(rd, daily, days)
    sec = Section("prep_diary", title, figsize=(7.2, 1.9), facts={"n_days": n_days, "two_weeks": tw})
    means = [_w("prep.mean", measure=m.replace("_", " "), mean=window[m].mean())
             for m in fields if window[m].notna().any()]
    trends = [_w("client.diary.trend_item", measure=m, change=tw[f"{m}_trend"])
              for m in ("mood", "homework") if f"{m}_trend" in tw]
    have = _window_summary(daily, rd.end, days)
    sec.message = (_w("prep.diary", n=n_days, days=days, means=", ".join(means))
                   + (_w("prep.trend", days=days, trends=", ".join(trends)) if trends else
                      _w("prep.no_trend", min_days=MIN_TREND_DAYS)
                      + (_w("prep.no_trend_have", summary="; ".join(have)) if have
                         else _w("prep.no_trend_end"))))
    sec.method = _w("prep.method", min_days=MIN_TREND_DAYS, days=days)
    end, trend = rd.end, tw["data"]
    sec.plot = lambda ax: _plot("plot_diary", window, start=first, end=end, trend=trend, ax=ax)
    return sec


def prep_scores(rd: ReportData, flags: Flags) -> Section:
    """The latest score of each questionnaire, its change from the first, and its severity band."""
    title = _w("prep.scores_title")
    rows = []
    for name in rd.questionnaires:
        sc = rd.observations[rd.observations["measure"] == name].sort_values("date")
        if sc.empty:
            continue
        m = get_measure(name)
        first, latest = sc["score"].iloc[0], sc["score"].iloc[-1]
        band = ""
        severity = _stat("severity_band")
        if severity is not None and getattr(m, "severity_bands", None):
            label = severity([latest], name)[0]
            band = "" if label is None else str(label)
        clinical = (_w("prep.clinical") if m.cutoff is not None and m.is_clinical([latest])[0]
                    else _w("prep.below_cutoff") if m.cutoff is not None else "")
        rows.append((name, _fmt_day(sc["date"].iloc[-1]), f"{latest:g}",
                     _w("prep.change", change=latest - first, first=first,
                        scores=_plural(len(sc), "score")),
                     ", ".join(filter(None, [band, clinical])) or "–"))
    if not rows:
        return Section("prep_scores", title, "insufficient", _w("prep.no_scores"))
    table = pd.DataFrame(rows, columns=["measure", "date", "latest", "change", "range"])
    # one line each: a five-column table wraps its cells and costs the one-page sheet its room
    lines = [_w("prep.score_line", measure=r.measure, latest=r.latest, date=r.date, change=r.change,
                range=r.range) for r in table.itertuples(index=False)]
    return Section("prep_scores", title, lines=lines, facts={"table": table})


def since_last_session(rd: ReportData, flags: Flags, before: Flags) -> Section:
    """What changed since the last attended session: status, new scores, diary days."""
    title = _w("prep.since_title")
    attended = rd.sessions[rd.sessions["attended"] & (rd.sessions["date"] < rd.end)]
    if attended.empty:
        return Section("prep_since", title, "insufficient",
                       _w("prep.first_session"))
    last = attended["date"].max()
    lines = [_w("prep.last_session", date=_fmt_day(last), days=_plural((rd.end - last).days, "day"))]
    if flags.row is not None and before.row is not None and before.status != flags.status:
        new = [r for r in flags.reasons if r not in before.reasons]
        lines.append(_w("client.since.changed", before=before.status, now=flags.status,
                        new=_w("client.since.new", reasons="; ".join(new)) if new else ""))
    elif flags.row is not None:
        lines.append(_w("client.since.unchanged", status=flags.status))
    new = rd.observations[(rd.observations["date"] > last)
                          & rd.observations["measure"].isin(rd.questionnaires)].sort_values("date")
    for name, g in new.groupby("measure", sort=False):
        old = rd.observations[(rd.observations["measure"] == name) & (rd.observations["date"] <= last)]
        was = _w("prep.was", score=old.sort_values("date")["score"].iloc[-1]) if len(old) else ""
        lines.append(_w("prep.new_scores", measure=name,
                        scores=", ".join(f"{v:g}" for v in g["score"]), was=was))
    if new.empty:
        lines.append(_w("prep.no_new_scores"))
    daily = _daily(rd)
    if daily is not None:
        after = daily[daily["date"] > last]
        fields = [m for m in DIARY_MEASURES if m in after.columns]
        n = int(after[fields].notna().any(axis=1).sum()) if fields else 0
        span = (rd.end - last).days
        text = _w("prep.diary_since", n=n, days=_plural(span, "day"))
        if n and "mood" in after and after["mood"].notna().any():
            prior = daily[(daily["date"] <= last) & (daily["date"] > last - pd.Timedelta(days=14))]
            text += _w("prep.mood_since", mean=after["mood"].mean())
            if prior["mood"].notna().any():
                text += _w("prep.mood_before", mean=prior["mood"].mean())
        lines.append(text + _w("prep.diary_since_end"))
    return Section("prep_since", title, lines=lines)


def prep_takeaways(rd: ReportData, days: int = 14) -> Section:
    """Session take-aways the client logged over the last ``days`` days and since the last
    session, in one line (the diary holds only their count, not which ones were used)."""
    daily = _daily(rd)
    if daily is None or "takeaways" not in daily.columns or daily["takeaways"].isna().all():
        return Section("prep_takeaways", "", message=_w("prep.no_takeaways"),
                       facts={"total": 0})
    first = rd.end - pd.Timedelta(days=days - 1)
    window = daily[(daily["date"] >= first) & (daily["date"] <= rd.end)]["takeaways"].dropna()
    since = daily[(daily["date"] >= rd.start) & (daily["date"] <= rd.end)]["takeaways"].dropna()
    total, used = float(window.sum()), int((window > 0).sum())
    text = _w("prep.takeaways", total=total, days=_plural(used, "day"), window=days,
              logged=len(window))
    if rd.start > first or len(since) != len(window):
        text += _w("prep.takeaways_since", since=since.sum())
    text += _w("prep.takeaways_end") + (_w("prep.none_used") if len(window) and total == 0 else "")
    return Section("prep_takeaways", "", message=text, facts={"total": total, "days_used": used})
