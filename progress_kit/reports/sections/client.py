"""Sections of the client report (see :mod:`progress_kit.reports.sections`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data import ClinicData
from ...measures import get_measure
from ..context import ReportData
from .common import (
    _CHANGE_WORDS,
    MIN_DIARY_DAYS,
    UNAVAILABLE,
    Section,
    _expected,
    _fmt_day,
    _plot,
    _stat,
    _threshold_change,
    _tunnel_method,
    _unavailable,
)

__all__ = ["client_header", "data_quality", "questionnaire", "on_track", "sudden_gains", "daily_trend",
           "homework_mood", "sleep_mood_lag", "progress_score", "client_summary"]


def client_header(rd: ReportData) -> Section:
    """Who, since when, how often: the facts at the top of a client report."""
    sec = Section("header", "Client")
    attended = rd.sessions[rd.sessions["attended"]]
    this_month = attended[attended["date"] >= rd.start]
    offered_month = rd.sessions[rd.sessions["date"] >= rd.start]
    c = rd.client
    if c is None:
        return Section("header", "Client", "insufficient",
                       "This client is not in the clients table; only the scores are shown.")
    start = c["start_date"]
    stop = min(rd.end, c["end_date"]) if pd.notna(c["end_date"]) else rd.end
    weeks = max(0.0, (stop - start).days / 7) if pd.notna(start) else np.nan
    gaps = attended["date"].sort_values().diff().dt.days.dropna()
    observed = (f"every {gaps.median():.0f} days (median)" if len(gaps)
                else "not yet known (fewer than two sessions)")
    rows = [("Client", rd.client_id), ("Therapist", c["therapist_id"]),
            ("Start date", _fmt_day(start)),
            ("Status", f"{c['status']}" + (f" (ended {_fmt_day(c['end_date'])})"
                                          if pd.notna(c["end_date"]) else "")),
            ("Presenting problem", (c["problem"] or "not recorded").replace("_", " ")),
            ("Sessions attended", f"{len(attended)} in total; {len(this_month)} this month "
                                  f"(of {len(offered_month)} booked)"),
            ("Session frequency", f"planned {c['session_frequency']}; attended {observed}"),
            ("Time in therapy", f"{weeks:.0f} weeks" if np.isfinite(weeks) else "–")]
    sec.table = pd.DataFrame(rows, columns=["item", "value"])
    sec.header = False
    sec.facts = {"sessions": len(attended), "sessions_month": len(this_month), "weeks": weeks}
    return sec


def _diary_days(diary: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(diary["date"].drop_duplicates().sort_values())


def data_quality(rd: ReportData) -> Section:
    """Missing diary days this month and this client's rows rejected by validation."""
    sec = Section("quality", "Data quality")
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
        notes.append(f"Daily diary: {len(have)} of {len(expected)} days filled in this month "
                     f"({missing} missing; longest gap {longest} day{'s' if longest != 1 else ''}).")
        sec.facts.update(diary_expected=len(expected), diary_missing=missing)
    else:
        notes.append("Daily diary: no diary entries up to the end of this month.")
        sec.facts.update(diary_expected=0, diary_missing=0)
    n_rej = int((rd.problems["severity"] == "error").sum()) if len(rd.problems) else 0
    n_warn = len(rd.problems) - n_rej
    if len(rd.problems):
        notes.append(f"{n_rej} row(s) of this client's data were rejected by validation and are "
                     f"not used"
                     + (f"; {n_warn} duplicate row(s) were collapsed" if n_warn else "") + ":")
        table = rd.problems[["file", "line", "column", "reason", "severity"]].copy()
        table["line"] = table["line"].astype("Int64").astype(str).replace("<NA>", "–")
        sec.table = table.rename(columns={"severity": "kind"})
    else:
        notes.append("No rows of this client's data were rejected by validation.")
    sec.facts["rejected"] = n_rej
    sec.message = " ".join(notes)
    return sec


def questionnaire(rd: ReportData, measure: str) -> Section:
    """Trajectory, reliable and clinically significant change (first vs latest) and slope."""
    m = get_measure(measure)
    scores = rd.observations[rd.observations["measure"] == measure].sort_values("date")
    sec = Section(f"q-{measure}", f"{measure}: {m.label}")
    n = len(scores)
    sec.facts = {"measure": measure, "n": n}
    if n == 0:
        return Section(sec.key, sec.title, "insufficient", f"No {measure} scores yet.")
    first, latest = scores["score"].iloc[0], scores["score"].iloc[-1]
    sec.facts.update(first=float(first), latest=float(latest))
    sec.plot = lambda ax, d=scores[["date", "score"]]: _plot("plot_trajectory", d, measure, ax=ax)
    lines = [f"{n} scores from {_fmt_day(scores['date'].iloc[0])} to "
             f"{_fmt_day(scores['date'].iloc[-1])}; first {first:g}, latest {latest:g}."
             if n > 1 else f"1 score so far, {latest:g} on {_fmt_day(scores['date'].iloc[0])}."]
    methods = []
    if n < 2:
        sec.status = "insufficient"
        lines.append("Insufficient data for change and slope: at least two scores are needed.")
        sec.message = " ".join(lines)
        return sec
    cs = _stat("clinical_significance")
    if cs is None:
        lines.append(f"Reliable and clinically significant change: {UNAVAILABLE}")
    else:
        try:
            res = _threshold_change(cs, scores, measure)
        except ValueError as exc:
            lines.append(f"Reliable change could not be assessed ({exc}).")
        else:
            if len(res):
                row = res.iloc[0]
                cat = str(row["category"])
                words = _CHANGE_WORDS.get(cat, cat)
                if cat == "improved" and m.cutoff is not None:
                    words += (", still in the clinical range" if m.is_clinical([latest])[0]
                              else ", not clinical at intake")
                sec.facts.update(category=cat, change_words=words)
                lines.append(f"First vs latest: {words}.")
                methods.append(f"{measure} change labels: {res.attrs.get('method', '')}")
            else:
                lines.append("Reliable change could not be assessed for this client.")
    sl = _stat("slopes")
    if sl is None:
        lines.append(f"Slope: {UNAVAILABLE}")
    else:
        res = sl(scores, measure=measure, per="week")
        if len(res) and pd.notna(res["slope"].iloc[0]):
            r = res.iloc[0]
            sec.facts.update(slope=float(r["slope"]), direction=str(r["direction"]))
            lines.append(f"Slope: {r['slope']:+.2f} points per week (95% CI {r['ci_low']:+.2f} to "
                         f"{r['ci_high']:+.2f}), {r['direction']}.")
            methods.append(f"{measure} slope: ordinary least squares of score on time in weeks "
                           f"over all {int(r['n'])} scores, 95% t-interval; 'improving' or "
                           f"'worsening' when the interval excludes zero.")
        else:
            lines.append("Slope: insufficient data (at least three scores are needed).")
    sec.message = " ".join(lines)
    sec.method = "\n".join(methods)  # one footnote line each
    return sec


def on_track(rd: ReportData, reference: ClinicData | None, measure: str = "PHQ-9") -> Section:
    """On-track signal against the expected course (the tunnel)."""
    title = f"On-track signal ({measure})"
    if _stat("expected_response") is None or _stat("on_track_plot_data") is None:
        return _unavailable("on_track", title, "the on-track statistic")
    scores = rd.observations[rd.observations["measure"] == measure]
    if len(scores) < 2:
        return Section("on_track", title, "insufficient",
                       f"Insufficient data: the on-track signal needs at least two {measure} scores.")
    if reference is None:
        return Section("on_track", title, "insufficient",
                       "No reference data to build the expected course from.")
    expected, why = _expected(reference, measure)
    if expected is None:
        return Section("on_track", title, "insufficient",
                       f"The reference data are too small for an expected course ({why}).")
    track = _stat("on_track_plot_data")(scores, expected, rd.client_id, measure=measure)
    held = track.dropna(subset=["score"])
    last = held.iloc[-1]
    sec = Section("on_track", title, facts={"signal": str(last["signal"])},
                  method=_tunnel_method(expected))
    sec.message = (f"Latest signal (session {int(last['session'])}, where 0 is the first score): "
                   f"{last['signal']}. Expected score there {last['expected']:.0f}, range up to "
                   f"{last['upper']:.0f}.")
    sec.plot = lambda ax: _plot("plot_tunnel", track, measure=measure, ax=ax)
    return sec


def sudden_gains(rd: ReportData, measure: str = "PHQ-9") -> Section:
    """Sudden gains (and losses) between consecutive sessions."""
    title = f"Sudden gains ({measure})"
    fn = _stat("sudden_gains")
    if fn is None:
        return _unavailable("sudden_gains", title, "sudden-gain detection")
    scores = rd.observations[rd.observations["measure"] == measure]
    if len(scores) < 4:
        return Section("sudden_gains", title, "insufficient",
                       f"Insufficient data: sudden gains need at least four {measure} scores.")
    res = fn(scores, measure=measure)
    m = get_measure(measure)
    sec = Section("sudden_gains", title, facts={"n_gains": int((res["type"] == "gain").sum()),
                                                "n_losses": int((res["type"] == "loss").sum())},
                  method=(f"Sudden gains and losses: Tang & DeRubeis (1999) criteria between "
                          f"consecutive scores: a change of at least {m.reliable_change:g} points "
                          f"({measure} reliable change), at least 25% of the score before, and "
                          f"the three scores before differ from the three after (t-test, 5%)."))
    if len(res):
        table = res[["type", "session", "pre_time", "pre", "post", "magnitude"]].copy()
        table["session"] = [f"{int(n)} → {int(n) + 1}" for n in table["session"]]
        table["pre_time"] = table["pre_time"].map(_fmt_day)
        sec.table = table.rename(columns={"session": "between scores", "pre_time": "from",
                                          "pre": "before", "post": "after",
                                          "magnitude": "points"})
        sec.message = (f"{sec.facts['n_gains']} sudden gain(s) and {sec.facts['n_losses']} "
                       f"sudden loss(es).")
    else:
        sec.message = "No sudden gains or losses."
    return sec


def _daily(rd: ReportData) -> pd.DataFrame | None:
    fn = _stat("daily_table")
    if fn is None or rd.diary.empty:
        return None
    return fn(rd.diary)


def daily_trend(rd: ReportData, days: int = 14) -> Section:
    """Mood and homework over the last two weeks of the month, gaps left as gaps."""
    title = "Mood and homework, last two weeks"
    window = rd.diary[(rd.diary["date"] > rd.end - pd.Timedelta(days=days))
                      & rd.diary["measure"].isin(["mood", "homework"])]
    if window.empty:
        return Section("daily_trend", title, "insufficient",
                       f"No mood or homework entries in the last {days} days of the month.")
    sec = Section("daily_trend", title)
    trend_fn, daily = _stat("daily_trend_data"), _daily(rd)
    if trend_fn is not None and daily is not None:
        data = trend_fn(daily, measures=["mood", "homework"], days=days, end=rd.end)
        sec.method = ("Two-week trend: least-squares line through the days with an entry; "
                      "missing days are not filled in.")
        for meas in ("mood", "homework"):
            part = data[data["measure"] == meas]
            t = part["trend"].dropna()
            if len(t) >= 2:
                sec.facts[f"{meas}_trend"] = float(t.iloc[-1] - t.iloc[0])
    else:
        data = window.rename(columns={"score": "value"})[["date", "measure", "value"]]
        data = pd.concat([data, pd.DataFrame({"date": [rd.end - pd.Timedelta(days=days - 1), rd.end],
                                              "measure": "mood", "value": np.nan})])
    n_days = window["date"].nunique()
    sec.message = f"Diary filled in on {n_days} of the last {days} days; blank days are gaps."
    if "mood_trend" in sec.facts:
        sec.message += (f" Over the two weeks mood moved {sec.facts['mood_trend']:+.1f} points on "
                        f"its trend line.")
    sec.plot = lambda ax: _plot("plot_daily_trend", data, ax=ax)
    return sec


def _p_text(p: float) -> str:
    """A p-value as a report prints it: ``p = 0.034``, or ``p < 0.001`` rather than ``p = 0.000``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def homework_mood(rd: ReportData) -> Section:
    """Same-day within-person association of homework with mood."""
    title = "Homework and mood (same day)"
    fn, daily = _stat("within_person_correlation"), _daily(rd)
    if fn is None:
        return _unavailable("homework_mood", title, "the within-person correlation")
    pairs = 0 if daily is None else int(daily[["homework", "mood"]].notna().all(axis=1).sum())
    if pairs < MIN_DIARY_DAYS:
        return Section("homework_mood", title, "insufficient",
                       f"Not enough diary days yet: {pairs} day(s) with both homework and mood; "
                       f"at least {MIN_DIARY_DAYS} are needed.")
    res = fn(daily, x="homework", y="mood", subject="client_id").iloc[0]
    sec = Section("homework_mood", title, facts={"r": float(res["r"])})
    clear = res["ci_low"] > 0 or res["ci_high"] < 0
    lead = (f"On days with more homework than usual for this client, mood tended to be "
            f"{'higher' if res['r'] > 0 else 'lower'}" if clear else
            "No clear same-day link between homework and mood so far")
    sec.message = (f"{lead}: r = {res['r']:.2f} (95% CI {res['ci_low']:.2f} to "
                   f"{res['ci_high']:.2f}, {int(res['n_obs'])} days, {_p_text(res['pval'])}).")
    sec.method = ("Homework and mood: within-person (repeated-measures) correlation over days "
                  "with both entries; an association, not proof that homework lifts mood.")
    return sec


def sleep_mood_lag(rd: ReportData) -> Section:
    """Sleep quality of the night before and next-day mood, within the person."""
    title = "Sleep and next-day mood"
    fn, daily = _stat("lagged_effect"), _daily(rd)
    if fn is None:
        return _unavailable("sleep_mood_lag", title, "the lagged effect")
    if daily is None or not {"sleep_quality", "mood"} <= set(daily.columns):
        return Section("sleep_mood_lag", title, "insufficient",
                       "Not enough diary days yet: no sleep and mood entries.")
    s = daily.set_index("date")
    pairs = int((s["sleep_quality"].shift(1, freq="D").reindex(s.index).notna()
                 & s["mood"].notna()).sum())
    if pairs < MIN_DIARY_DAYS:
        return Section("sleep_mood_lag", title, "insufficient",
                       f"Not enough diary days yet: {pairs} pair(s) of consecutive days with sleep "
                       f"and mood; at least {MIN_DIARY_DAYS} are needed.")
    try:
        res = fn(daily, x="sleep_quality", y="mood", lag=1).iloc[0]
    except ValueError as exc:
        return Section("sleep_mood_lag", title, "insufficient",
                       f"The effect could not be estimated from this client's diary ({exc}).")
    clear = bool(res["ci_low"] > 0 or res["ci_high"] < 0)
    sec = Section("sleep_mood_lag", title, figsize=(6.0, 2.9),
                  facts={"estimate": float(res["estimate"]), "clear": clear})
    lead = ("After a night rated one point better than usual, mood the next day changed by"
            if clear else "No clear link yet between a night's sleep and next-day mood; estimate")
    sec.message = (f"{lead} {res['estimate']:+.2f} points (95% CI {res['ci_low']:+.2f} to "
                   f"{res['ci_high']:+.2f}; {int(res['n_pairs'])} pairs of days).")
    sec.method = ("Sleep and next-day mood: within-person lagged effect (lag 1 day, calendar-exact "
                  f"pairs), model {res.get('method', '')}, adjusting for the previous day's mood.")
    scatter = _stat("lag_scatter_data")
    if scatter is not None:
        pts = scatter(daily, x="sleep_quality", y="mood", lag=1)
        est = float(res["estimate"])
        sec.plot = lambda ax: _plot("plot_lag", pts, estimate=est, ax=ax)
    return sec


def progress_score(rd: ReportData) -> Section:
    """The daily progress score (0-100) and its trend."""
    title = "Progress score"
    fn, daily = _stat("progress_score"), _daily(rd)
    if fn is None:
        return _unavailable("progress_score", title, "the progress score")
    if daily is None:
        return Section("progress_score", title, "insufficient",
                       "Not enough diary days yet: the progress score is built from the diary.")
    res = fn(daily, window="14D")
    res = res[res["date"] <= rd.end]
    scored = res.dropna(subset=["progress_score"])
    if scored.empty:
        return Section("progress_score", title, "insufficient", "Not enough diary days yet.")
    last = scored.iloc[-1]
    sec = Section("progress_score", title, facts={"score": float(last["progress_score"]),
                                                 "trend": str(last["trend"])})
    change = (f", {last['trend_change']:+.0f} points over two weeks"
              if pd.notna(last["trend_change"]) else "")
    sec.message = (f"Latest progress score {last['progress_score']:.0f} of 100 on "
                   f"{_fmt_day(last['date'])} (resting on {last['confidence']:.0%} of the diary "
                   f"fields); trend: {last['trend']}{change}.")
    weights = res.attrs.get("weights", {})
    wtext = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in weights.items())
    sec.method = (f"Progress score: weighted mean of the diary fields present that day, each rescaled "
                  f"to 0-100 in the good direction (weights: {wtext}); trend: "
                  f"{res.attrs.get('trend_rule', '')}.")
    month = res[res["date"] >= rd.start][["date", "progress_score"]]
    sec.plot = lambda ax: _plot("plot_daily_trend", month.rename(columns={"progress_score": "value"})
                                .assign(measure="progress score"), measures=["progress score"], ax=ax)
    return sec


def client_summary(header: Section, sections: list[Section]) -> Section:
    """A few plain sentences from the sections' facts."""
    sentences = []
    for s in sections:
        f = s.facts
        if s.key.startswith("q-") and f.get("n", 0) >= 1:
            text = f"{f['measure']} {f['first']:g}→{f['latest']:g}"
            if "change_words" in f:
                text += f": {f['change_words']}"
            elif f["n"] < 2:
                text += ": only one score so far"
            if "direction" in f:
                text += f"; trend {f['direction']}"
            sentences.append(text + ".")
        elif s.key == "on_track" and s.ok:
            sentences.append(f"On-track signal: {f['signal']}.")
        elif s.key == "sudden_gains" and s.ok and (f.get("n_gains") or f.get("n_losses")):
            sentences.append(f"{f['n_gains']} sudden gain(s), {f['n_losses']} sudden loss(es).")
        elif s.key == "quality" and f.get("diary_expected"):
            share = 1 - f["diary_missing"] / f["diary_expected"]
            sentences.append(f"Diary completed on {share:.0%} of days this month.")
        elif s.key == "sleep_mood_lag" and s.ok and f["clear"]:
            sentences.append(f"Better sleep was followed by {'better' if f['estimate'] > 0 else 'worse'}"
                             f" mood the next day ({f['estimate']:+.2f} per point).")
        elif s.key == "progress_score" and s.ok:
            trend = "too few diary days for a trend" if f["trend"] == "insufficient data" else f["trend"]
            sentences.append(f"Progress score {f['score']:.0f}/100 ({trend}).")
    if header.ok:
        sentences.insert(0, f"{header.facts['sessions_month']} session(s) attended this month, "
                            f"{header.facts['sessions']} in total.")
    if not any(s.key.startswith("q-") for s in sections):
        sentences.append("No questionnaire scores yet.")
    sec = Section("summary", "Summary")
    sec.facts["sentences"] = sentences
    sec.message = " ".join(sentences)
    return sec


