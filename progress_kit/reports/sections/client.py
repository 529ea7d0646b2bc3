"""Sections of the client report (see :mod:`progress_kit.reports.sections`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data import EPISODE, ClinicData
from ...measures import get_measure, primary_measure_for
from ..context import ReportData
from ..wording import load_wording, words
from .common import (
    MIN_DIARY_DAYS,
    Section,
    _expected,
    _fmt_day,
    _plot,
    _plural,
    _stat,
    _threshold_change,
    _w,
    shared,
)

__all__ = ["client_header", "client_identity", "data_quality", "questionnaire", "on_track",
           "long_term",
           "sudden_gains", "diary_month", "homework_mood", "sleep_mood_lag", "progress_score",
           "primary_measure", "client_status", "service_flags", "Flags", "discrepancy",
           "client_course_for",
           "status_banner", "headline", "progress_note", "since_last_month", "small_print",
           "MIN_TREND_DAYS"]


def _yet(rd: ReportData) -> str:
    """' yet' for a client still in therapy, '' for a finished one (nothing more is coming)."""
    return "" if rd.finished else _w("client.yet")


def _last_day(rd: ReportData) -> pd.Timestamp:
    """The report's last day, or the day therapy ended when that is earlier."""
    c = rd.client
    if c is not None and pd.notna(c["end_date"]):
        return min(rd.end, c["end_date"])
    return rd.end


def client_header(rd: ReportData) -> Section:
    """Who, since when, how often: sessions this month, planned and attended frequency, time in therapy."""
    sec = Section("header", _w("client.header.title"))
    attended = rd.sessions[rd.sessions["attended"]]
    this_month = attended[attended["date"] >= rd.start]
    offered_month = rd.sessions[rd.sessions["date"] >= rd.start]
    c = rd.client
    if c is None:
        return Section("header", sec.title, "insufficient", _w("client.header.not_in_clients"),
                       facts={"sessions": len(attended), "sessions_month": len(this_month)})
    start = c["start_date"]
    stop = _last_day(rd)
    weeks = max(0.0, (stop - start).days / 7) if pd.notna(start) else np.nan
    gaps = attended["date"].sort_values().diff().dt.days.dropna()
    observed = (_w("client.header.observed", days=gaps.median()) if len(gaps)
                else _w("client.header.observed_unknown", yet=_yet(rd)))
    missed = int((~offered_month["attended"]).sum())
    # therapist, start, status and problem are on page 1's first line
    rows = [(_w("client.header.sessions_month"),
             _w("client.header.sessions_month_value", attended=len(this_month),
                booked=len(offered_month))
             + (_w("client.header.not_attended", missed=missed) if missed else "")),
            (_w("client.header.sessions_total"),
             _w("client.header.sessions_total_value", attended=len(attended))),
            (_w("client.header.frequency"), _w("client.header.frequency_value",
                                               planned=c["session_frequency"], observed=observed)),
            (_w("client.header.time"), _plural(round(weeks), "week") if np.isfinite(weeks) else "–")]
    minutes = (this_month["duration_minutes"].dropna() if "duration_minutes" in this_month.columns
               else pd.Series(dtype=float))
    if len(minutes):
        rows.append((_w("client.header.length"),
                     _w("client.header.length_value", median=minutes.median(),
                        sessions=_plural(len(minutes), "session"), shortest=minutes.min(),
                        longest=minutes.max())))
    sec.table = pd.DataFrame(rows, columns=["item", "value"])
    sec.header = False
    sec.facts = {"sessions": len(attended), "sessions_month": len(this_month),
                 "booked_month": len(offered_month), "weeks": weeks,
                 "minutes": float(minutes.median()) if len(minutes) else None}
    return sec


def client_identity(rd: ReportData, header: Section) -> Section:
    """One line under the title: therapist, start, status, problem, sessions and weeks (of the
    current episode of care, which a returning client's line names)."""
    c = rd.client
    if c is None:
        return Section("identity", "", message=_w("client.identity.not_in_clients"))
    which = ([_w("client.identity.episode", ordinal=_ordinal(len(rd.episodes)).capitalize())]
             if rd.returning else [])
    bits = [*which, _w("client.identity.therapist", therapist=c["therapist_id"]),
            _w("client.identity.started", date=_fmt_day(c["start_date"])),
            (_w("client.identity.ended", date=_fmt_day(c["end_date"])) if pd.notna(c["end_date"])
             else str(c["status"])),
            (c["problem"] or _w("client.identity.no_problem")).replace("_", " "),
            _w("client.identity.sessions", sessions=_plural(header.facts.get("sessions", 0), "session"))]
    weeks = header.facts.get("weeks", np.nan)
    if weeks is not None and np.isfinite(weeks):
        bits.append(_w("client.identity.weeks", weeks=_plural(round(weeks), "week")))
    return Section("identity", "", message=_w("client.identity.separator").join(bits))


def _ordinal(k: int) -> str:
    from ..._episodes import ordinal

    return str(ordinal([k])[0])


def long_term(rd: ReportData, measure: str | None) -> Section | None:
    """A returning client's long-term chart: every episode of care on one time axis, the
    earlier ones faint (``pk.plot_episodes``); None for a client in a first episode.

    The rest of the report is about the current episode; this chart is the one place where
    the earlier episodes are shown.
    """
    if not rd.returning or measure is None or rd.history is None:
        return None
    eps = rd.episodes
    scores = rd.history[rd.history["measure"] == measure]
    sec = Section("episodes", _w("client.episodes.title", measure=measure), figsize=(7.2, 1.9),
                  facts={"episodes": len(eps), "current": str(eps[EPISODE].iloc[-1])})
    earlier = []
    for _, e in eps.iloc[:-1].iterrows():
        n = int((scores[EPISODE] == e[EPISODE]).sum())
        ended = (_w("client.episodes.ended", date=_fmt_day(e["end_date"])) if pd.notna(e["end_date"])
                 else _w("client.episodes.open"))
        earlier.append(_w("client.episodes.earlier", ordinal=_ordinal(int(e["number"])),
                          start=_fmt_day(e["start_date"]), ended=ended, status=e["status"],
                          scores=_plural(n, "score")))
    sec.message = _w("client.episodes.message", ordinal=_ordinal(len(eps)),
                     start=_fmt_day(eps["start_date"].iloc[-1]), earlier="; ".join(earlier))
    sec.method = _w("client.episodes.method")
    episodes = eps[[EPISODE, "start_date", "end_date"]]
    current = sec.facts["current"]
    sec.plot = lambda ax: _plot("plot_episodes", scores, measure, episodes=episodes,
                                current=current, ax=ax)
    return sec


def _diary_days(diary: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(diary["date"].drop_duplicates().sort_values())


def data_quality(rd: ReportData) -> Section:
    """Missing diary days this month and this client's rows rejected by validation."""
    sec = Section("quality", _w("client.quality.title"))
    notes = []
    days = _diary_days(rd.diary)
    if len(days):
        first = max(rd.start, days.min())
        last = rd.end
        if rd.client is not None and pd.notna(rd.client["end_date"]):
            last = min(last, rd.client["end_date"])
        expected = pd.date_range(first, last) if first <= last else pd.DatetimeIndex([])
        have = expected.intersection(days)
        missing = len(expected) - len(have)
        present = pd.Series(expected.isin(days))
        runs = (~present).groupby(present.cumsum()).sum()
        longest = int(runs.max()) if len(runs) else 0
        notes.append(_w("client.quality.diary", filled=len(have), expected=len(expected),
                        missing=missing, longest=longest,
                        days=_w("client.quality.gap_day" if longest == 1 else "client.quality.gap_days")))
        sec.facts.update(diary_expected=len(expected), diary_missing=missing)
    else:
        notes.append(_w("client.quality.no_diary"))
        sec.facts.update(diary_expected=0, diary_missing=0)
    n_rej = int((rd.problems["severity"] == "error").sum()) if len(rd.problems) else 0
    n_warn = len(rd.problems) - n_rej
    if len(rd.problems):
        notes.append(_w("client.quality.rejected", rejected=n_rej)
                     + (_w("client.quality.collapsed", duplicates=n_warn) if n_warn else "")
                     + _w("client.quality.rejected_end"))
        table = rd.problems[["file", "line", "column", "reason", "severity"]].copy()
        table["line"] = table["line"].astype("Int64").astype(str).replace("<NA>", "–")
        sec.table = table.rename(columns={"severity": _w("client.quality.kind")})
    else:
        notes.append(_w("client.quality.none_rejected"))
    sec.facts["rejected"] = n_rej
    sec.message = " ".join(notes)
    return sec


def questionnaire(rd: ReportData, measure: str, *, figure: bool = True) -> Section:
    """Trajectory, reliable and clinically significant change (first vs latest) and slope.

    ``figure=False`` leaves the trajectory out (the headline chart on page 1 already shows the
    primary measure).
    """
    m = get_measure(measure)
    scores = rd.observations[rd.observations["measure"] == measure].sort_values("date")
    sec = Section(f"q-{measure}", _w("client.questionnaire.title", measure=measure, label=m.label),
                  figsize=(7.2, 1.8))
    n = len(scores)
    sec.facts = {"measure": measure, "n": n}
    if n == 0:
        return Section(sec.key, sec.title, "insufficient",
                       _w("client.questionnaire.none", measure=measure, yet=_yet(rd)))
    first, latest = scores["score"].iloc[0], scores["score"].iloc[-1]
    sec.facts.update(first=float(first), latest=float(latest),
                     first_date=scores["date"].iloc[0], latest_date=scores["date"].iloc[-1])
    if figure and n > 1:
        sec.plot = lambda ax, d=scores[["date", "score"]]: _plot("plot_trajectory", d, measure, ax=ax)
    lines = [_w("client.questionnaire.scores", n=n, first_date=_fmt_day(scores["date"].iloc[0]),
                latest_date=_fmt_day(scores["date"].iloc[-1]), first=first, latest=latest)
             if n > 1 else _w("client.questionnaire.one_score", latest=latest,
                              so_far="" if rd.finished else _w("client.so_far"),
                              date=_fmt_day(scores["date"].iloc[0]))]
    methods = []
    if n < 2:
        sec.status = "insufficient"
        lines.append(_w("client.questionnaire.too_few"))
        sec.message = " ".join(lines)
        return sec
    cs = _stat("clinical_significance")
    if cs is None:
        lines.append(_w("client.questionnaire.change_unavailable"))
    else:
        try:
            res = _threshold_change(cs, scores, measure)
        except ValueError as exc:
            lines.append(_w("client.questionnaire.change_error", reason=exc))
        else:
            if len(res):
                row = res.iloc[0]
                cat = str(row["category"])
                change = words().phrases.get(f"client.change.{cat}", cat)
                if cat == "improved" and m.cutoff is not None:
                    change += (_w("client.questionnaire.still_clinical") if m.is_clinical([latest])[0]
                              else _w("client.questionnaire.not_clinical"))
                sec.facts.update(category=cat, change_words=change)
                lines.append(_w("client.questionnaire.change", words=change))
                methods.append(_w("client.questionnaire.change_method", measure=measure,
                                  method=res.attrs.get("method", "")))
            else:
                lines.append(_w("client.questionnaire.change_none"))
    sl = _stat("slopes")
    if sl is None:
        lines.append(_w("client.questionnaire.slope_unavailable"))
    else:
        res = sl(scores, measure=measure, per="week")
        if len(res) and pd.notna(res["slope"].iloc[0]):
            r = res.iloc[0]
            sec.facts.update(slope=float(r["slope"]), direction=str(r["direction"]))
            lines.append(_w("client.questionnaire.slope", slope=r["slope"], low=r["ci_low"],
                            high=r["ci_high"], direction=r["direction"]))
            # the same words for every measure, so the methods list it once
            methods.append(_w("client.questionnaire.slope_method"))
        else:
            lines.append(_w("client.questionnaire.slope_too_few"))
    sec.message = " ".join(lines)
    sec.method = "\n".join(methods)  # one footnote line each
    return sec


@dataclass
class Flags:
    """One client's row of ``pk.client_flags`` (or why there is none) and the rules used."""

    row: pd.Series | None
    method: str = ""
    problem: str = ""

    def get(self, key: str, default=None):
        if self.row is None or key not in self.row.index:
            return default
        value = self.row[key]
        return default if value is None or (not isinstance(value, str) and pd.isna(value)) else value

    @property
    def status(self) -> str | None:
        return self.get("status")

    @property
    def reasons(self) -> list[str]:
        text = self.get("reasons", "") or ""
        return [r.strip() for r in str(text).split(";") if r.strip()]


_NO_EXPECTED = object()


def client_course_for(rd: ReportData, reference: ClinicData | None, measure: str,
                      expected=_NO_EXPECTED) -> tuple[pd.DataFrame | str | None, bool, int | None]:
    """This client's ``pk.client_course`` on ``measure``, computed where the whole clinic is at hand.

    For the clinic's own clients the band is fitted leaving this client out (``reference`` is
    the clinic); for a separate reference folder it is ``expected`` (one fit per report).
    Returns ``(track, own, n_reference)``: the table (only this client's sessions), or the
    reason it was not computed, or None when the statistic is missing or there are fewer than
    two scores; whether the band was fitted on this service; how many reference clients taught
    a separate model (None otherwise). :func:`on_track` takes it as ``course``, so that a
    report's process needs nobody else's rows.
    """
    fn = _stat("client_course")
    scores = rd.observations[rd.observations["measure"] == measure]
    own = reference is not None and (reference.observations["client_id"] == rd.client_id).any()
    if fn is None or len(scores) < 2:
        return None, own, None
    if expected is _NO_EXPECTED:
        expected = None if own or reference is None else _expected(reference, measure)[0]
    n_reference = None if own or expected is None else int(expected.n_clients)
    obs, sessions = ((reference.observations, reference.sessions) if own
                     else (rd.observations, rd.sessions))
    # episodes of care: the clients table says which episode is current, as for the status
    episodes = ({"clients": reference.clients, "episode": str(rd.client[EPISODE])}
                if own and rd.episodes is not None and rd.client is not None else {})
    try:
        return (fn(obs, rd.client_id, measure=measure, sessions=sessions,
                   expected=None if own else expected, as_of=rd.end, **episodes), own, n_reference)
    except ValueError as exc:
        return str(exc), own, n_reference


def on_track(rd: ReportData, reference: ClinicData | None, measure: str = "PHQ-9", *,
             expected=_NO_EXPECTED, figure: bool = True, flags: Flags | None = None,
             course: tuple | None = None) -> Section:
    """The limits the status judged each score by: the expected range and the early warning.

    The table comes from ``pk.client_course``, the same computation as ``pk.client_flags``
    (:func:`client_course_for`, or ``course``: its result computed beforehand, when the
    report's process has only this client's rows and ``reference`` is None). So the chart on
    page 1, this section and the status box quote one limit for one session. The table is kept
    in ``facts["track"]`` for the headline chart; ``figure=False`` leaves out this section's own
    chart.
    """
    title = _w("client.on_track.title", measure=measure)
    fn = _stat("client_course")
    if fn is None:
        return Section("on_track", title, "unavailable", _w("client.on_track.unavailable"))
    scores = rd.observations[rd.observations["measure"] == measure]
    if len(scores) < 2:
        return Section("on_track", title, "insufficient",
                       _w("client.on_track.too_few", measure=measure))
    track, own, n_reference = (client_course_for(rd, reference, measure, expected)
                               if course is None else course)
    if isinstance(track, str):
        return Section("on_track", title, "insufficient", _w("client.on_track.not_computed", reason=track))
    last = track.iloc[-1]
    sec = Section("on_track", title, facts={"track": track, "session": int(last["session"])})
    sec.facts["signal"] = _w("client.on_track.signal_not_on_track" if bool(last["not_on_track"]) else
                             "client.on_track.signal_outside" if last["outside_expected"] is True else
                             "client.on_track.signal_inside" if last["outside_expected"] is False else
                             "client.on_track.signal_none")
    band = (_w("client.on_track.band", expected=last["expected"], limit=last["band_limit"])
            if pd.notna(last["band_limit"]) else _w("client.on_track.no_band"))
    sec.message = (_w("client.on_track.latest", measure=measure, score=last["score"],
                      session=int(last["session"]), band=band, warning=last["warning_limit"])
                   + (_w("client.on_track.reached") if bool(last["not_on_track"]) else "")
                   + _w("client.on_track.drawn"))
    if flags is not None and flags.row is not None and flags.status:
        sec.message += _w("client.on_track.status", status=flags.status)
    fitted = (_w("client.on_track.fitted_own") if own else
              _w("client.on_track.fitted_reference", n=n_reference) if n_reference is not None
              else _w("client.on_track.fitted_none"))
    sec.method = _w("client.on_track.method", fitted=fitted)
    if figure:
        sec.plot = lambda ax: _plot("plot_headline", track[["date", "score", "session"]], measure,
                                    track=track, ax=ax)
    return sec


def sudden_gains(rd: ReportData, measure: str = "PHQ-9") -> Section:
    """Sudden gains (and losses) between consecutive sessions, numbered as on the headline chart."""
    title = _w("client.sudden_gains.title", measure=measure)
    fn = _stat("sudden_gains")
    if fn is None:
        return Section("sudden_gains", title, "unavailable", _w("client.sudden_gains.unavailable"))
    scores = rd.observations[rd.observations["measure"] == measure]
    if len(scores) < 4:
        return Section("sudden_gains", title, "insufficient",
                       _w("client.sudden_gains.too_few", measure=measure,
                          scores=_plural(len(scores), "score")))
    res = fn(scores, measure=measure)
    m = get_measure(measure)
    n_gains, n_losses = int((res["type"] == "gain").sum()), int((res["type"] == "loss").sum())
    sec = Section("sudden_gains", title, facts={"n_gains": n_gains, "n_losses": n_losses,
                                                "gains": res},
                  method=_w("client.sudden_gains.method", points=m.reliable_change, measure=measure))
    if len(res):
        table = res[["type", "session", "pre_time", "pre", "post", "magnitude"]].copy()
        # the chart counts sessions from 0 (the first score); pk.sudden_gains from 1
        table["session"] = [_w("client.sudden_gains.sessions", before=int(n) - 1, after=int(n))
                            for n in table["session"]]
        table.insert(0, _w("client.sudden_gains.col_number"),
                     [_w("client.sudden_gains.number", type=t, k=k)
                      for k, t in enumerate(table["type"], start=1)])
        table = table.drop(columns="type")
        table["pre_time"] = table["pre_time"].map(_fmt_day)
        sec.table = table.rename(columns={
            "session": _w("client.sudden_gains.col_sessions"), "pre_time": _w("client.sudden_gains.col_from"),
            "pre": _w("client.sudden_gains.col_before"), "post": _w("client.sudden_gains.col_after"),
            "magnitude": _w("client.sudden_gains.col_points")})
        sec.message = _w("client.sudden_gains.found", gains=_plural(n_gains, "sudden gain"),
                         losses=_plural(n_losses, "sudden loss", "sudden losses"))
    else:
        sec.message = _w("client.sudden_gains.none")
    return sec


def _daily(rd: ReportData) -> pd.DataFrame | None:
    """The client's daily table, computed once per report (four sections read it; none
    changes it) and again when ``rd.diary`` is replaced or written to, as in a notebook."""
    fn = _stat("daily_table")
    if fn is None or rd.diary.empty:
        return None
    return shared("daily_table", (rd.diary,), (fn,), lambda: fn(rd.diary), store=rd.derived)


MIN_TREND_DAYS = 7
"""Fewest diary days (of the 14) before a two-week trend is computed for a diary measure."""
DIARY_MEASURES = ("mood", "homework", "sleep_quality", "goals_on_track")
_SCALE = {"mood": "/10", "homework": "/5", "sleep_quality": "/5", "goals_on_track": "/5"}


def _two_week_trend(rd: ReportData, daily: pd.DataFrame | None, days: int = 14) -> dict:
    """Mood and homework over the last ``days`` days of the report: days filled, means and trend.

    A trend is fitted only for a measure with at least :data:`MIN_TREND_DAYS` days in the
    window; the returned ``data`` covers exactly that window, so the chart draws the trend over
    the days it describes.
    """
    last = _last_day(rd)
    first = last - pd.Timedelta(days=days - 1)
    out = {"first": first, "last": last, "days": days, "data": None, "n_days": 0}
    if daily is None:
        return out
    window = daily[(daily["date"] >= first) & (daily["date"] <= last)]
    have = [m for m in ("mood", "homework") if m in window.columns]
    out["n_days"] = int(window[have].notna().any(axis=1).sum()) if have else 0
    for meas in have:
        n = int(window[meas].notna().sum())
        out[f"{meas}_n"] = n
        if n:
            out[f"{meas}_mean"] = float(window[meas].mean())
    fn = _stat("daily_trend_data")
    fit = [m for m in have if out.get(f"{m}_n", 0) >= MIN_TREND_DAYS]
    if fn is not None and fit:
        data = fn(daily, measures=fit, days=days, end=last)
        out["data"] = data
        for meas in fit:
            t = data.loc[data["measure"] == meas, "trend"].dropna()
            if len(t) >= 2:
                out[f"{meas}_trend"] = float(t.iloc[-1] - t.iloc[0])
    return out


def _window_summary(daily: pd.DataFrame | None, last: pd.Timestamp, days: int = 14) -> list[str]:
    """ "homework on 5 of 14 days, mean 2.4" for each diary measure kept in the window."""
    fn = _stat("diary_summary")
    if fn is None or daily is None:
        return []
    res = fn(daily, end=last, days=days, measures=("mood", "homework"))
    return list(res.loc[res["n_days"] > 0, "text"])


def diary_month(rd: ReportData, days: int = 14) -> Section:
    """The diary over the month (mood, homework, sleep, goals; gaps as gaps), take-aways, and
    the two-week mood and homework trend drawn over the last two weeks only."""
    title = _w("client.diary.title")
    last = _last_day(rd)
    month = rd.diary[(rd.diary["date"] >= rd.start) & (rd.diary["date"] <= last)]
    if month.empty:
        kept = _w("client.diary.none_kept" if rd.diary.empty else "client.diary.none_this_month")
        return Section("diary", title, "insufficient", kept, facts={"n_days": 0})
    daily = _daily(rd)
    sec = Section("diary", title, figsize=(7.2, 1.9))
    in_month = daily[(daily["date"] >= rd.start) & (daily["date"] <= last)]
    fields = [c for c in (*DIARY_MEASURES, "takeaways") if c in in_month.columns]
    n_days = int(in_month[fields].notna().any(axis=1).sum())
    n_expected = (last - rd.start).days + 1
    means = [_w("client.diary.mean", measure=m.replace("_", " "), mean=in_month[m].mean(),
                scale=_SCALE[m]) for m in DIARY_MEASURES
             if m in in_month.columns and in_month[m].notna().any()]
    text = [_w("client.diary.filled", days=n_days, expected=n_expected)
            + (_w("client.diary.averages", means=", ".join(means)) if means
               else _w("client.diary.no_averages"))]
    if "takeaways" in in_month.columns and in_month["takeaways"].notna().any():
        used = in_month["takeaways"].dropna()
        text.append(_w("client.diary.takeaways", times=used.sum(),
                       days=_plural(int((used > 0).sum()), "day")))
    tw = _two_week_trend(rd, daily, days)
    sec.facts.update(n_days=n_days, n_expected=n_expected, two_weeks=tw)
    window = _w("client.diary.window", first=_fmt_day(tw["first"]), last=_fmt_day(tw["last"]))
    trends = [_w("client.diary.trend_item", measure=m, change=tw[f"{m}_trend"])
              for m in ("mood", "homework") if f"{m}_trend" in tw]
    if trends:
        text.append(_w("client.diary.trend", window=window, days=tw["n_days"], window_days=days,
                       trends=", ".join(trends)))
        sec.method = _w("client.diary.trend_method", days=days, min_days=MIN_TREND_DAYS)
    else:
        text.append(_w("client.diary.no_trend", days=tw["n_days"], window_days=days, window=window,
                       min_days=MIN_TREND_DAYS))
    # only said when there is no trend (10 ms of pandas per report otherwise spent for nothing)
    have = [] if trends else _window_summary(daily, tw["last"], days)
    if have:
        text.append(_w("client.diary.what_there_is", summary="; ".join(have)))
    sec.message = " ".join(text)
    trend = tw["data"]
    # the chart also covers the whole two-week window when it reaches back before the month
    # (a client who finished early in the month), so the trend is drawn over the days it describes
    start = min(rd.start, tw["first"]) if trend is not None else rd.start
    shown = daily[(daily["date"] >= start) & (daily["date"] <= last)]
    sec.plot = lambda ax: _plot("plot_diary", shown, start=start, end=last, trend=trend, ax=ax)
    return sec


def _p_text(p: float) -> str:
    """A p-value as a report prints it: ``p = 0.034``, or ``p < 0.001`` rather than ``p = 0.000``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def homework_mood(rd: ReportData) -> Section:
    """Same-day within-person association of homework with mood."""
    title = _w("client.homework_mood.title")
    fn, daily = _stat("within_person_correlation"), _daily(rd)
    if fn is None:
        return Section("homework_mood", title, "unavailable", _w("client.homework_mood.unavailable"))
    pairs = 0 if daily is None else int(daily[["homework", "mood"]].notna().all(axis=1).sum())
    if pairs < MIN_DIARY_DAYS:
        return Section("homework_mood", title, "insufficient",
                       _w("client.homework_mood.too_few", yet=_yet(rd), days=_plural(pairs, "day"),
                          min_days=MIN_DIARY_DAYS))
    res = fn(daily, x="homework", y="mood", subject="client_id").iloc[0]
    if not np.isfinite(res["r"]):
        return Section("homework_mood", title, "insufficient",
                       _w("client.homework_mood.no_variation", days=_plural(pairs, "day")))
    sec = Section("homework_mood", title, facts={"r": float(res["r"])})
    clear = res["ci_low"] > 0 or res["ci_high"] < 0
    lead = (_w("client.homework_mood.clear", direction=_w(
                "client.homework_mood.higher" if res["r"] > 0 else "client.homework_mood.lower"))
            if clear else _w("client.homework_mood.unclear",
                             so_far="" if rd.finished else _w("client.so_far")))
    sec.message = _w("client.homework_mood.result", lead=lead, r=res["r"], low=res["ci_low"],
                     high=res["ci_high"], n=int(res["n_obs"]), p=_p_text(res["pval"]))
    sec.method = _w("client.homework_mood.method")
    return sec


def sleep_mood_lag(rd: ReportData, *, figure: bool = True) -> Section:
    """Sleep quality of the night before and next-day mood, within the person."""
    title = _w("client.sleep_mood.title")
    fn, daily = _stat("lagged_effect"), _daily(rd)
    if fn is None:
        return Section("sleep_mood_lag", title, "unavailable", _w("client.sleep_mood.unavailable"))
    if (daily is None or not {"sleep_quality", "mood"} <= set(daily.columns)
            or daily["sleep_quality"].isna().all() or daily["mood"].isna().all()):
        return Section("sleep_mood_lag", title, "insufficient",
                       _w("client.sleep_mood.no_ratings"))
    s = daily.set_index("date")
    pairs = int((s["sleep_quality"].shift(1, freq="D").reindex(s.index).notna()
                 & s["mood"].notna()).sum())
    if pairs < MIN_DIARY_DAYS:
        return Section("sleep_mood_lag", title, "insufficient",
                       _w("client.sleep_mood.too_few", yet=_yet(rd), pairs=_plural(pairs, "pair"),
                          min_days=MIN_DIARY_DAYS))
    try:
        res = fn(daily, x="sleep_quality", y="mood", lag=1).iloc[0]
    except ValueError as exc:
        return Section("sleep_mood_lag", title, "insufficient",
                       _w("client.sleep_mood.error", reason=exc))
    clear = bool(res["ci_low"] > 0 or res["ci_high"] < 0)
    sec = Section("sleep_mood_lag", title, figsize=(6.0, 2.9),
                  facts={"estimate": float(res["estimate"]), "clear": clear})
    lead = (_w("client.sleep_mood.clear") if clear else _w("client.sleep_mood.unclear", yet=_yet(rd)))
    sec.message = _w("client.sleep_mood.result", lead=lead, estimate=res["estimate"],
                     low=res["ci_low"], high=res["ci_high"], n=int(res["n_pairs"]))
    sec.method = _w("client.sleep_mood.method", model=res.get("method", ""))
    scatter = _stat("lag_scatter_data")
    if scatter is not None and figure:
        pts = scatter(daily, x="sleep_quality", y="mood", lag=1)
        est = float(res["estimate"])
        sec.plot = lambda ax: _plot("plot_lag", pts, estimate=est, ax=ax)
    return sec


def progress_score(rd: ReportData) -> Section:
    """The daily progress score (0-100) on the last scored day, its two-week trend, and what the
    number means for this client's session frequency and time in therapy.

    The trend is the score's own (:func:`progress_kit.progress_score`); it describes the diary,
    not the status, which stays ``pk.client_flags``'s.
    """
    title = _w("client.progress_score.title")
    fn, daily = _stat("progress_score"), _daily(rd)
    if fn is None:
        return Section("progress_score", title, "unavailable", _w("client.progress_score.unavailable"))
    if daily is None:
        return Section("progress_score", title, "insufficient", _w("client.progress_score.no_diary"))
    res = fn(daily, window="14D")
    res = res[res["date"] <= rd.end]
    scored = res.dropna(subset=["progress_score"])
    if scored.empty:
        return Section("progress_score", title, "insufficient",
                       _w("client.progress_score.too_few", yet=_yet(rd)))
    last = scored.iloc[-1]
    sec = Section("progress_score", title, facts={"score": float(last["progress_score"]),
                                                  "trend": str(last["trend"])})
    trend = (_w("client.progress_score.trend", trend=last["trend"], change=last["trend_change"])
             if last["trend"] != "insufficient data" else
             _w("client.progress_score.no_trend", days=int(last["trend_days"])))
    sec.message = (_w("client.progress_score.result", score=last["progress_score"],
                      date=_fmt_day(last["date"]), trend=trend, confidence=last["confidence"])
                   + _score_meaning(rd, last["date"]))
    weights = res.attrs.get("weights", {})
    wtext = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in weights.items())
    sec.method = _w("client.progress_score.method", weights=wtext)
    return sec


_SESSIONS_PER_14_DAYS = {"weekly": 2, "fortnightly": 1, "monthly": 0.5}


def _score_meaning(rd: ReportData, day: pd.Timestamp) -> str:
    """What the progress score means for this client's session frequency and time in therapy."""
    c = rd.client
    if c is None or pd.isna(c["start_date"]):
        return _w("client.progress_score.no_norms_unknown")
    weeks = max(0, round((min(day, _last_day(rd)) - c["start_date"]).days / 7))
    per = _SESSIONS_PER_14_DAYS.get(str(c["session_frequency"]))
    parts = []
    if per is not None:
        held = _w({2: "client.progress_score.held.2", 1: "client.progress_score.held.1"}.get(
            per, "client.progress_score.held.half"))
        parts.append(_w("client.progress_score.frequency", frequency=c["session_frequency"],
                        held=held))
    stage = _w("client.progress_score.stage_early" if weeks < 8 else
               "client.progress_score.stage_long" if weeks >= 52 else
               "client.progress_score.stage_middle")
    parts.append(_w("client.progress_score.stage", weeks=_plural(weeks, "week"), stage=stage))
    parts.append(_w("client.progress_score.no_norms"))
    return " ".join(parts)


# ------------------------------------------------------------------ page 1: the decision page

STATUS_WORDS = {k: v for k, v in load_wording().group("status.word").items() if k != "unavailable"}
"""The built-in status words (``status.word.*`` of the wording); a report shows the wording in use."""
_FLAGS = ("critical_item", "reliable_deterioration", "not_on_track", "stalled")
"""The flags a progress note names (``client.note.flag.*`` of the wording), in this order."""
DISCREPANCY_POINTS = 1.0
"""Diary mood trend (points over two weeks) that counts as clearly better or worse."""


def primary_measure(rd: ReportData) -> str | None:
    """The measure the status and the headline chart are about: the measure of the client's
    problem (:func:`progress_kit.primary_measure_for`, as ``client_flags`` judges it) when the
    client has scores on it; otherwise the first questionnaire present (the status then says
    that the primary measure has no scores)."""
    if not rd.questionnaires:
        return None
    problem = rd.client["problem"] if rd.client is not None and "problem" in rd.client else None
    name, _ = primary_measure_for(problem)
    return name if name in rd.questionnaires else rd.questionnaires[0]


def client_status(rd: ReportData, measure: str | None, expected=None,
                  as_of: pd.Timestamp | None = None, service: ClinicData | None = None) -> Flags:
    """This client's status from ``pk.client_flags`` as of ``as_of`` (default: the report's end).

    The report never re-applies a rule: the status, its reasons, the primary measure and the
    band limit are ``client_flags``'s, which judges the client on their problem's measure and
    every questionnaire they have. When ``service`` (the clinic this client belongs to) is
    given, the flags are computed on the whole service, as the service report does, so that the
    not-on-track band is fitted leaving this client out; only this client's row is kept.
    Otherwise (a separate reference folder) the client's own data are judged against
    ``expected`` (the reference model of ``measure``).
    """
    fn = _stat("client_flags")
    if fn is None:
        return Flags(None, problem="unavailable")
    as_of = rd.end if as_of is None else as_of
    mine = rd.observations[(rd.observations["date"] <= as_of)
                           & rd.observations["measure"].isin(rd.questionnaires)]
    if measure is None or mine.empty:
        return Flags(None, problem="no questionnaires")
    if service is not None:
        res = service_flags(service, as_of)
    else:
        clients = None if rd.client is None else rd.client.to_frame().T.assign(client_id=rd.client_id)
        if rd.returning and rd.history is not None:
            # every episode, so that client_flags says how the one before ended (it still
            # judges the current one only)
            mine = rd.history[rd.history["date"] <= as_of]
            clients = rd.episodes.drop(columns="number")
        ref = {measure: expected} if expected is not None else None
        res = _flags(fn, mine, rd.items, rd.sessions, clients, ref, as_of)
    if isinstance(res, str):
        return Flags(None, problem=res)
    if rd.client_id not in res.index:
        return Flags(None, res.attrs.get("method", ""), problem="no questionnaire scores")
    return Flags(res.loc[rd.client_id], res.attrs.get("method", ""))


def _flags(fn, obs, items, sessions, clients, expected, as_of) -> pd.DataFrame | str:
    """``client_flags`` on these rows, or the reason it refused them."""
    if items is not None and len(items) == 0:
        items = None
    try:
        return fn(obs, items=items, sessions=sessions, clients=clients, expected=expected,
                  as_of=as_of)
    except ValueError as exc:
        return str(exc)


def service_flags(service: ClinicData, as_of: pd.Timestamp) -> pd.DataFrame | str:
    """``client_flags`` for every client of ``service`` as of ``as_of`` (or the reason it
    refused), each judged on their problem's measure: the same table for every client report of
    a month, so it is computed once and kept
    (:func:`~progress_kit.reports.sections.common.shared`)."""
    items = getattr(service, "items", None)
    frames = (service.observations, service.sessions, items, service.clients)

    def compute():
        obs = service.observations
        kinds = {m: getattr(_registry_measure(m), "kind", "diary") for m in obs["measure"].unique()}
        quest = obs[obs["measure"].map(kinds) != "diary"]
        return _flags(_stat("client_flags"), quest, items, service.sessions, service.clients, None,
                      as_of)
    return shared("client_flags", frames, (pd.Timestamp(as_of),), compute)


def _registry_measure(name: str):
    try:
        return get_measure(name)
    except ValueError:
        return None


def discrepancy(flags: Flags, quest: list[Section], diary: Section) -> str:
    """A diary/questionnaire disagreement to explore, in words, or "".

    The questionnaires point to *worse* when ``client_flags`` reports reliable deterioration or
    not on track, and to *better* when the primary measure shows reliable improvement; the diary
    points the other way when its two-week mood trend moved at least
    :data:`DISCREPANCY_POINTS` in the other direction.
    """
    tw = diary.facts.get("two_weeks", {})
    mood = tw.get("mood_trend")
    if mood is None:
        return ""
    primary = next((q for q in quest if q.key.startswith("q-")), None)
    worse = bool(flags.get("reliable_deterioration", False)) or bool(flags.get("not_on_track", False))
    better = primary is not None and primary.facts.get("category") in ("improved", "recovered")
    name = primary.facts["measure"] if primary is not None else _w("client.discrepancy.questionnaires")
    if worse and mood >= DISCREPANCY_POINTS:
        return _w("client.discrepancy.mood_rose", mood=mood, measure=name)
    if better and mood <= -DISCREPANCY_POINTS:
        return _w("client.discrepancy.mood_fell", mood=mood, measure=name)
    return ""


class StatusBanner(Section):
    """The status word and its reasons, shown in a coloured, bordered box (the template's
    ``status_box`` macro); ``facts`` holds ``status``, ``word`` and ``label``."""

    kind = "status"


def status_banner(rd: ReportData, flags: Flags, measure: str | None, conflict: str = "") -> Section:
    """Page 1's banner: the status word from ``client_flags``, its reasons, any discrepancy."""
    w = words()
    sec = StatusBanner("status", "", facts={"flags": flags, "label": w("status.label")})
    if flags.row is None:
        if flags.problem == "unavailable":
            sec.facts.update(status=None, word=w("status.word.unavailable"))
            sec.message = w("status.unavailable")
        else:
            sec.facts.update(status="insufficient data", word=w("status.word.insufficient data"))
            sec.message = (w("status.no_questionnaires") if flags.problem == "no questionnaires"
                           else w("status.not_assessed", reason=flags.problem))
    else:
        status = str(flags.status)
        sec.facts.update(status=status, word=w.phrases.get(f"status.word.{status}", status.upper()))
        sec.lines = flags.reasons or [w("status.no_reason")]
        primary = flags.get("primary_measure", measure)
        why = flags.get("primary_reason", "")
        sec.message = (w("status.judged_on_why", measure=primary, why=why) if why
                       else w("status.judged_on", measure=primary))
        sec.method = w("status.method", measure=primary, method=flags.method).strip()
    if conflict:
        sec.lines = [*(sec.lines or []), conflict]
        sec.method = "\n".join(filter(None, [sec.method, w("status.discrepancy_method",
                                                            points=DISCREPANCY_POINTS)]))
    return sec


def headline(rd: ReportData, measure: str | None, track: Section | None,
             gains: Section | None) -> Section:
    """Page 1's chart of the primary measure: severity bands, cut-off, reliable-change band,
    expected-response band and sudden gains at the session where they happened."""
    if measure is None:
        return Section("headline", _w("client.questionnaires_title"), "insufficient",
                       _w("client.no_questionnaires"))
    scores = rd.observations[rd.observations["measure"] == measure].sort_values("date")
    # a returning client's status box has one more line (how the episode before ended); a
    # shorter chart keeps page 1 on one page instead of pushing its last line onto a page of its own
    sec = Section("headline", _w("client.headline.title", measure=measure),
                  figsize=(7.2, 2.3 if rd.returning else 2.6))
    tr = track.facts.get("track") if track is not None else None
    g = gains.facts.get("gains") if gains is not None else None
    # the x axis is the session number the status used (from client_course), so the band and
    # the limits sit under the scores they judged
    d = tr[["date", "score", "session"]] if tr is not None else scores[["date", "score"]]
    sec.plot = lambda ax: _plot("plot_headline", d, measure, track=tr, gains=g, ax=ax)
    if len(scores):
        gap = tr is not None and len(tr) and tr["session"].iloc[-1] > len(tr) - 1
        sec.message = _w("client.headline.scores", scores=_plural(len(scores), "score"),
                         first=_fmt_day(scores["date"].iloc[0]),
                         latest=_fmt_day(scores["date"].iloc[-1]),
                         gap=_w("client.headline.gap") if gap else "")
    return sec


def _sessions_between(rd: ReportData, first, last) -> int:
    s = rd.sessions
    return int((s["attended"] & (s["date"] >= first) & (s["date"] <= last)).sum())


def _measure_line(rd: ReportData, q: Section, flags: Flags | None, track: Section | None) -> str:
    f = q.facts
    m = f["measure"]
    if f.get("n", 0) == 0:
        return ""
    severity = flags.get("severity") if flags is not None else None
    band = _w("client.note.band", severity=severity) if severity else ""
    if f["n"] == 1:
        return _w("client.note.single", measure=m, latest=f["latest"],
                  date=_fmt_day(f["latest_date"]), band=band)
    held = _sessions_between(rd, f["first_date"], f["latest_date"])
    span = _plural(held, "session") if held else _plural(f["n"], "score")
    text = _w("client.note.change", measure=m, first=f["first"], latest=f["latest"], span=span,
              band=band)
    if "change_words" in f:
        text += _w("client.note.change_words", words=f["change_words"])
    if flags is not None and flags.row is not None:
        # quote the status's own verdict on this measure, never a second reading of the band
        if bool(flags.get("not_on_track", False)):
            text += _w("client.note.not_on_track")
        elif flags.status == "on track":
            text += _w("client.note.on_track")
    return text + _w("client.note.end")


def progress_note(rd: ReportData, flags: Flags, quest: list[Section], track: Section | None,
                  diary: Section, conflict: str = "") -> Section:
    """3-5 copy-ready lines for the objective/assessment part of a SOAP note."""
    lines = []
    scored = [q for q in quest if q.key.startswith("q-") and q.facts.get("n", 0)]
    if scored:
        own = flags if scored[0].facts["measure"] == flags.get("primary_measure") else None
        lines.append(_measure_line(rd, scored[0], own, track))
        others = [_measure_line(rd, q, None, None) for q in scored[1:]]
        if others:
            lines.append(" ".join(others))
    else:
        lines.append(_w("client.note.no_scores", yet=_yet(rd)))
    tw = diary.facts.get("two_weeks", {})
    if diary.facts.get("n_days"):
        bits = []
        if "mood_mean" in tw:
            bits.append(_w("client.note.diary_mood", mean=tw["mood_mean"], n=tw["mood_n"],
                           days=tw["days"]))
        if "homework_mean" in tw:
            bits.append(_w("client.note.diary_homework", mean=tw["homework_mean"]))
        lines.append(_w("client.note.diary", summary=", ".join(bits) if bits else
                        _w("client.note.diary_empty")))
    else:
        lines.append(diary.message)
    if flags.status in ("alert", "watch"):
        named = [_w(f"client.note.flag.{key}") for key in _FLAGS if bool(flags.get(key, False))]
        lines.append(_w("client.note.flagged", status=flags.status,
                        named=_w("client.note.flagged_named", names=", ".join(named)) if named else ""))
    if conflict:
        lines.append(conflict)
    return Section("note", _w("client.note.title"), lines=lines[:5])


def since_last_month(rd: ReportData, flags: Flags, before: Flags, header: Section,
                     diary: Section) -> Section:
    """What changed since the end of last month: status, new scores, sessions, diary days."""
    sec = Section("since", _w("client.since.title"))
    lines = []
    prev_end = rd.start - pd.Timedelta(days=1)
    c = rd.client
    if c is not None and pd.notna(c["start_date"]) and c["start_date"] > prev_end:
        lines.append(_w("client.since.started", date=_fmt_day(c["start_date"])))
    elif flags.row is not None and before.row is not None:
        if before.status == flags.status:
            lines.append(_w("client.since.unchanged", status=flags.status))
        else:
            new = [r for r in flags.reasons if r not in before.reasons]
            lines.append(_w("client.since.changed", before=before.status, now=flags.status,
                            new=_w("client.since.new", reasons="; ".join(new)) if new else ""))
    elif flags.row is not None:
        lines.append(_w("client.since.no_before", status=flags.status))
    month_obs = rd.observations[(rd.observations["date"] >= rd.start)
                                & rd.observations["measure"].isin(rd.questionnaires)]
    done = month_obs["measure"].value_counts()
    if len(done):
        parts = []
        for m in [q for q in rd.questionnaires if q in done.index]:
            sc = rd.observations[rd.observations["measure"] == m].sort_values("date")
            old = sc[sc["date"] <= prev_end]
            new = sc[sc["date"] >= rd.start]["score"]
            was = _w("client.since.was", score=old["score"].iloc[-1]) if len(old) else ""
            parts.append(_w("client.since.measure", measure=m, n=done[m],
                            scores=", ".join(f"{v:g}" for v in new), was=was))
        lines.append(_w("client.since.questionnaires", measures=", ".join(parts)))
    else:
        lines.append(_w("client.since.no_questionnaires"))
    activity = []
    if rd.finished and not header.facts.get("booked_month"):
        activity.append(_w("client.since.ended", date=_fmt_day(rd.client["end_date"])))
    elif header.facts.get("booked_month") is not None:
        activity.append(_w("client.since.sessions", attended=header.facts["sessions_month"],
                           booked=header.facts["booked_month"]))
    if diary.facts.get("n_days"):
        activity.append(_w("client.since.diary", days=diary.facts["n_days"],
                           expected=diary.facts["n_expected"]))
    if activity:
        text = "; ".join(activity)
        lines.append(text[0].upper() + text[1:] + ".")
    sec.lines = lines
    return sec


class SmallPrint(Section):
    """Small print (the methods footnote): lines in a smaller font, so the report keeps to 3 pages."""

    kind = "small_print"


def small_print(methods: Section) -> Section:
    """The methods footnote (from :func:`methods`) as small print."""
    rows = list(methods.table.iloc[:, 0]) if methods.table is not None else []
    return SmallPrint("methods", "", lines=list(dict.fromkeys(rows)))  # each line once, in order
