"""Report sections: each a small function that returns a :class:`Section`.

A section is computed by library code and only displayed by the notebooks. Its ``status`` says
whether it holds a result (``ok``), whether the client's data are too few to compute it
(``insufficient``: said plainly), or whether the statistic is not part of this version of the
kit (``unavailable``). Numbers are never made up: an unavailable statistic shows a note.

Every section that labels something carries ``method``: which method and thresholds produced the
label, for the report's methods footnote.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import ClinicData
from ..measures import get_measure
from .context import ReportData
from .safe import parse_month

__all__ = ["Section", "MIN_DIARY_DAYS", "SUPPRESS_BELOW", "client_header", "data_quality",
           "questionnaire", "on_track", "sudden_gains", "daily_trend", "homework_mood",
           "sleep_mood_lag", "progress_score", "client_summary", "methods",
           "cohort_overview", "talking_therapies", "jacobson", "slope_distribution",
           "recovery_by_group", "not_on_track", "cohort_data_quality", "month_over_month",
           "suppress"]

MIN_DIARY_DAYS = 14
"""Fewest days (pairs) before a within-person correlation or lagged effect is shown."""
SUPPRESS_BELOW = 5
"""Cohort counts from 1 to SUPPRESS_BELOW - 1 are shown as "<5" (small-cell suppression)."""
UNAVAILABLE = "Not available in this version of progress-kit."


def _stat(name: str) -> Callable | None:
    """A statistics function of the kit, or None when this version does not have it yet."""
    import progress_kit

    fn = getattr(progress_kit, name, None)
    # a submodule of the same name (e.g. progress_kit.sudden_gains) is not the function
    return fn if callable(fn) else None


@dataclass
class Section:
    """One part of a report: a message, an optional table and figure, and the method used."""

    key: str
    title: str
    status: str = "ok"
    message: str = ""
    table: pd.DataFrame | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    plot: Callable | None = None
    figsize: tuple[float, float] = (7.2, 3.0)
    header: bool = True  # show the table's column names

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_html(self, level: int = 3, figure: str = "") -> str:
        kind = " pk-with-figure" if figure else ""
        out = [f'<section class="pk-section pk-{self.status}{kind}">']
        if self.title:
            out.append(f"<h{level}>{html.escape(self.title)}</h{level}>")
        if self.message:
            out.append(f'<p class="pk-note">{html.escape(self.message)}</p>')
        if self.table is not None and len(self.table):
            out.append(self.table.to_html(index=False, escape=True, na_rep="–", header=self.header,
                                          classes="pk-table", border=0))
        if figure:
            out.append(figure)
        out.append("</section>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()


def _unavailable(key: str, title: str, what: str) -> Section:
    return Section(key, title, "unavailable", f"{UNAVAILABLE[:-1]}: {what} is still to come.")


def _fmt_day(ts) -> str:
    return "–" if pd.isna(ts) else pd.Timestamp(ts).strftime("%d %b %Y")


def _num(x: float, digits: int = 0) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


# ----------------------------------------------------------------------------- client sections


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


def _threshold_change(fn: Callable, scores: pd.DataFrame, measure: str) -> pd.DataFrame:
    """clinical_significance by the published threshold (the method of NHS Talking Therapies)."""
    with warnings.catch_warnings():
        # with a single client the sample SD that the other RCI methods need is undefined and
        # numpy warns while computing it; the threshold method does not use it
        warnings.filterwarnings("ignore", "Degrees of freedom <= 0", RuntimeWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        return fn(scores, measure=measure, method="threshold")


_CHANGE_WORDS = {
    "recovered": "reliable improvement, below cut-off (recovered)",
    "improved": "reliable improvement",
    "unchanged": "no reliable change",
    "deteriorated": "reliable deterioration",
    "harmed": "reliable deterioration into the clinical range",
}


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


def _plot(name: str, *args, **kwargs):
    import progress_kit.plots as plots

    return getattr(plots, name)(*args, **kwargs)


def _expected(reference: ClinicData, measure: str):
    """The expected-response model from reference data, or the reason it cannot be built."""
    try:
        return _stat("expected_response")(reference.observations, measure=measure), ""
    except ValueError as exc:
        return None, str(exc)


def _tunnel_method(expected) -> str:
    return (f"On-track signal: expected recovery curve after Finch, Lambert & Schaalje (2001), "
            f"log-linear in session number and conditioned on the intake score, learned from "
            f"{expected.n_clients} reference clients; 'at risk' beyond the {expected.inner:.0%} "
            f"and 'not on track' beyond the {expected.outer:.0%} band of the reference "
            f"residuals, in the worse direction. A prompt to review, not a verdict.")


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


def methods(sections: list[Section]) -> Section:
    """The methods footnote: which method and thresholds produced each label."""
    rows = [line for s in sections if s.method for line in s.method.split("\n")]
    measures_used = {s.facts["measure"] for s in sections if "measure" in s.facts}
    for name in sorted(measures_used):
        m = get_measure(name)
        bits = [m.describe_cutoff()]
        if m.reliable_change:
            bits.append(f"reliable change {m.reliable_change:g} points")
        src = m.sources.get("cutoff") or m.sources.get("reliable_change")
        rows.append(f"{name}: {'; '.join(bits)}" + (f" (source: {src})" if src else "") + ".")
    rows.append(f"Sections that need diary data are shown only with at least {MIN_DIARY_DAYS} "
                "usable days.")
    sec = Section("methods", "")  # sits under the notebook's own "Methods" heading
    sec.table = pd.DataFrame({"how each label was produced": rows})
    return sec


# ----------------------------------------------------------------------------- cohort sections


def suppress(table: pd.DataFrame, counts: list[str], linked: list[str] | None = None,
             below: int = SUPPRESS_BELOW) -> pd.DataFrame:
    """Small-cell suppression: counts from 1 to ``below - 1`` become ``"<5"``.

    ``linked`` columns (rates, intervals) are blanked on any row where a count was suppressed,
    since they would reveal it.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "n": [12, 3], "rate": ["50%", "33%"]})
    >>> suppress(t, ["n"], ["rate"]).values.tolist()
    [['a', '12', '50%'], ['b', '<5', 'suppressed']]
    """
    out = table.copy()
    hidden = np.zeros(len(out), dtype=bool)
    for col in counts:
        v = pd.to_numeric(out[col], errors="coerce")
        small = ((v > 0) & (v < below)).to_numpy()
        hidden |= small
        out[col] = np.where(small, f"<{below}", v.map(lambda x: "–" if pd.isna(x) else f"{x:.0f}"))
    for col in linked or []:
        out[col] = out[col].astype(object)
        out.loc[hidden, col] = "suppressed"
    return out


def _cohort(clinic: ClinicData, month: str, therapist_id: str | None):
    _, end = parse_month(month)
    clients = clinic.clients
    if therapist_id:
        clients = clients[clients["therapist_id"] == therapist_id]
    ids = set(clients["client_id"])
    obs = clinic.observations
    obs = obs[obs["client_id"].isin(ids) & (obs["date"] <= end)]
    ses = clinic.sessions
    ses = ses[ses["client_id"].isin(ids) & (ses["date"] <= end)]
    return clients, obs, ses


def cohort_overview(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """Caseload this month."""
    start, end = parse_month(month)
    clients, obs, ses = _cohort(clinic, month, therapist_id)
    in_month = ses[ses["date"] >= start]
    active = set(in_month["client_id"]) | set(obs.loc[obs["date"] >= start, "client_id"])
    rows = pd.DataFrame({
        "": ["clients with activity this month", "new clients (started this month)",
             "clients who ended this month", "sessions booked this month",
             "sessions attended this month"],
        "count": [len(active), int(clients["start_date"].between(start, end).sum()),
                  int(clients["end_date"].between(start, end).sum()), len(in_month),
                  int(in_month["attended"].sum())]})
    sec = Section("overview", "Caseload this month", table=suppress(rows, ["count"]), header=False)
    scope = f"therapist {therapist_id}" if therapist_id else "the whole service"
    sec.message = f"{_fmt_day(start)} to {_fmt_day(end)}, {scope}."
    return sec


_TT_WORDS = {"finished": "finished treatment (2+ treatment sessions)",
             "caseness_start": "a case at the start (of those finished)",
             "recovery": "recovery", "reliable_improvement": "reliable improvement",
             "reliable_deterioration": "reliable deterioration",
             "reliable_recovery": "reliable recovery"}


def _rates_table(rates: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    """Rates as a clinician reads them: words, counts, a percentage and its interval."""
    def pct(x):
        return "suppressed" if pd.isna(x) else f"{x:.0%}"

    out = rates[first].copy()
    out["outcome"] = rates["outcome"].map(lambda o: _TT_WORDS.get(o, o.replace("_", " ")))
    out["numerator"] = rates["numerator"].astype(str)
    out["denominator"] = rates["denominator"].astype(str)
    out["rate"] = rates["rate"].map(pct)
    out["95% CI"] = [("suppressed" if pd.isna(lo) else f"{lo:.0%}–{hi:.0%}")
                     for lo, hi in zip(rates["ci_low"], rates["ci_high"], strict=True)]
    return out


def _outcomes(clinic: ClinicData, month: str, therapist_id: str | None, group: str | None = None):
    fn = _stat("talking_therapies_outcomes")
    if fn is None:
        return None
    clients, obs, ses = _cohort(clinic, month, therapist_id)
    out = fn(obs, ses, clients=clients)
    if group and group not in out.columns and group in clients.columns:
        out = out.join(clients.set_index("client_id")[[group]], how="left")
    return out


def talking_therapies(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """NHS Talking Therapies recovery, reliable improvement and reliable recovery rates."""
    title = "NHS Talking Therapies outcomes"
    rates_fn = _stat("service_rates")
    outcomes = _outcomes(clinic, month, therapist_id)
    if outcomes is None or rates_fn is None:
        return _unavailable("tt", title, "the Talking Therapies outcome rates")
    if outcomes.empty:
        return Section("tt", title, "insufficient", "No clients with questionnaire scores yet.")
    rates = rates_fn(outcomes)
    sec = Section("tt", title, table=_rates_table(rates, []))
    sec.message = ("Every client seen up to the end of the month (cumulative), first against last "
                   "score. Rates are out of the clients who finished treatment; recovery and "
                   "reliable recovery out of those who were a case at the start.")
    sec.method = ("Talking Therapies rates (NHS England 2023 definitions, PHQ-9 with GAD-7 or the "
                  f"disorder-specific anxiety measure): {outcomes.attrs.get('method', '')} "
                  f"{rates.attrs.get('method', '')}.").replace("  ", " ")
    return sec


def _change_result(clinic: ClinicData, month: str, therapist_id: str | None,
                   measure: str = "PHQ-9") -> pd.DataFrame | None:
    fn = _stat("clinical_significance")
    if fn is None:
        return None
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    scores = obs[obs["measure"] == measure]
    counts = scores.groupby("client_id").size()
    scores = scores[scores["client_id"].isin(counts.index[counts >= 2])]
    if scores.empty:
        return pd.DataFrame(columns=["pre", "post", "category"])
    res = _threshold_change(fn, scores, measure)
    out = res.join(clients.set_index("client_id")[["therapist_id"]], how="left")
    out.attrs = res.attrs  # the method and the Jacobson band live there
    return out


def jacobson(clinic: ClinicData, month: str, therapist_id: str | None = None,
             measure: str = "PHQ-9") -> Section:
    """First vs latest score for every client with two or more scores."""
    title = f"Jacobson plot ({measure}, first vs latest score)"
    res = _change_result(clinic, month, therapist_id, measure)
    if res is None:
        return _unavailable("jacobson", title, "clinical significance")
    if len(res) < SUPPRESS_BELOW:
        return Section("jacobson", title, "insufficient",
                       f"Fewer than {SUPPRESS_BELOW} clients with two or more {measure} scores.")
    lines_fn = _stat("jacobson_plot_data")
    lines = lines_fn(res) if lines_fn is not None else None
    counts = res["category"].astype(str).value_counts()
    table = pd.DataFrame({"category": counts.index, "clients": counts.to_numpy()})
    sec = Section("jacobson", title, table=suppress(table, ["clients"]), figsize=(6.4, 4.6),
                  method=f"{measure} change categories (cohort): {res.attrs.get('method', '')}")
    sec.message = f"{len(res)} clients with at least two {measure} scores up to the end of the month."
    sec.plot = lambda ax: _plot("plot_jacobson", res, measure=measure, lines=lines, ax=ax,
                                suppress_below=SUPPRESS_BELOW)
    return sec


def slope_distribution(clinic: ClinicData, month: str, therapist_id: str | None = None,
                       measure: str = "PHQ-9") -> Section:
    """How fast clients' scores move: the distribution of per-client slopes."""
    title = f"Distribution of {measure} slopes"
    fn = _stat("slopes")
    if fn is None:
        return _unavailable("slopes", title, "the slope statistic")
    _, obs, _ = _cohort(clinic, month, therapist_id)
    res = fn(obs[obs["measure"] == measure], measure=measure, per="week")
    res = res[res["slope"].notna()]
    if len(res) < SUPPRESS_BELOW:
        return Section("slopes", title, "insufficient",
                       f"Fewer than {SUPPRESS_BELOW} clients with three or more {measure} scores.")
    counts = res["direction"].astype(str).value_counts()
    table = suppress(pd.DataFrame({"direction": counts.index, "clients": counts.to_numpy()}),
                     ["clients"])
    sec = Section("slopes", title, table=table,
                  method=f"{measure} slopes: ordinary least squares per client, points per week, "
                         f"95% t-interval; direction from whether the interval excludes zero.")
    sec.message = (f"Median slope {res['slope'].median():+.2f} points per week over "
                   f"{len(res)} clients (negative = scores falling).")
    values = res["slope"].to_numpy(float)

    def draw(ax):
        from ..plots import CLINICAL_COLOURS as C

        # equal-count bins: every bar holds at least SUPPRESS_BELOW clients (no small cells);
        # bar area is the share of clients, so wide bars are low
        n_bins = max(1, min(10, len(values) // SUPPRESS_BELOW))
        edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
        ax.hist(values, bins=edges, density=True, color=C["sky"], edgecolor="black", hatch="//")
        ax.axvline(0, color=C["black"], linestyle="--", linewidth=1.2, label="no change")
        ax.set_xlabel(f"{measure} slope (points per week; below 0 = improving)")
        ax.set_ylabel("share of clients (density)")
        ax.set_title(f"each bar holds about {len(values) // n_bins} clients", loc="right",
                     fontsize="x-small")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, fontsize="small")
        return ax

    sec.plot = draw
    return sec


def recovery_by_group(clinic: ClinicData, month: str, therapist_id: str | None = None,
                      group: str = "therapist_id") -> Section:
    """Talking Therapies recovery rate per therapist (or other clients column), suppressed."""
    title = f"Recovery by {group.replace('_id', '').replace('_', ' ')}"
    rates_fn = _stat("service_rates")
    outcomes = _outcomes(clinic, month, therapist_id, group)
    if outcomes is None or rates_fn is None:
        return _unavailable("recovery", title, "the Talking Therapies outcome rates")
    if group not in outcomes.columns:
        raise ValueError(f"group {group!r} is not a column of the clients table")
    if outcomes.empty:
        return Section("recovery", title, "insufficient", "No clients with questionnaire scores yet.")
    rates = rates_fn(outcomes, by=group)
    rates = rates[rates["outcome"] == "recovery"]
    table = _rates_table(rates, [group]).drop(columns="outcome")
    table = table.rename(columns={group: group.replace("_", " "), "numerator": "recovered",
                                  "denominator": "finished, a case at start"})
    sec = Section("recovery", title, table=table)
    sec.message = (f"Counts below {SUPPRESS_BELOW} are shown as <{SUPPRESS_BELOW} and their rates "
                   "withheld. Where that would hide only one group's count, the next smallest is "
                   "withheld too ('suppressed'), so it cannot be worked out from the service total. "
                   "Small groups vary a lot by chance: read the intervals.")
    sec.method = f"Recovery by {group.replace('_', ' ')}: as the Talking Therapies recovery rate, per group."
    return sec


def not_on_track(clinic: ClinicData, month: str, therapist_id: str | None = None,
                 measure: str = "PHQ-9") -> Section:
    """Clients whose latest signal, from a score this month, is 'not on track' (for review)."""
    title = "Clients flagged not on track"
    if _stat("expected_response") is None or _stat("on_track") is None:
        return _unavailable("not_on_track", title, "the on-track statistic")
    start, _ = parse_month(month)
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    expected, why = _expected(clinic, measure)
    if expected is None:
        return Section("not_on_track", title, "insufficient",
                       f"The data are too small for an expected course ({why}).")
    track = _stat("on_track")(obs[obs["measure"] == measure], expected, measure=measure)
    latest = track.sort_values(["client_id", "date"]).groupby("client_id").tail(1)
    flagged = latest[(latest["signal"] == "not on track") & (latest["date"] >= start)]
    table = flagged.merge(clients[["client_id", "therapist_id"]], on="client_id")
    table = pd.DataFrame({"client": table["client_id"], "therapist": table["therapist_id"],
                          "latest score on": table["date"].map(_fmt_day),
                          "session": table["session"].astype(int)})
    at_risk = int(((latest["signal"] == "at risk") & (latest["date"] >= start)).sum())
    sec = Section("not_on_track", title, table=table, method=_tunnel_method(expected))
    sec.message = (f"{len(flagged)} client(s) not on track at their latest {measure} score this "
                   f"month" + (f"; {at_risk} more at risk." if at_risk >= SUPPRESS_BELOW else
                               (f"; <{SUPPRESS_BELOW} more at risk." if at_risk else ".")))
    return sec


def cohort_data_quality(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """Rejected rows by file and reason; diary completeness this month."""
    start, end = parse_month(month)
    clients, obs, _ = _cohort(clinic, month, therapist_id)
    probs = clinic.problems
    if therapist_id and "client_id" in probs:
        probs = probs[probs["client_id"].isin(set(clients["client_id"]))]
    notes = []
    table = None
    if len(probs):
        kind = probs["reason"].astype(str).str.replace(r"[\d'\"].*$", "", regex=True).str.strip()
        table = (pd.DataFrame({"file": probs["file"], "problem": kind, "kind": probs["severity"]})
                 .value_counts().rename("rows").reset_index())
        notes.append(f"{int((probs['severity'] == 'error').sum())} row(s) rejected by validation.")
    else:
        notes.append("No rows were rejected by validation.")
    diary = obs[obs["measure"].isin(["mood", "sleep_quality", "homework", "goals_on_track",
                                     "takeaways"]) & (obs["date"] >= start)]
    if len(diary):
        per = diary.groupby("client_id")["date"].nunique()
        first = diary.groupby("client_id")["date"].min()
        span = (end - first).dt.days + 1
        share = (per / span).median()
        notes.append(f"{len(per)} clients kept a diary this month; median completion {share:.0%} of days "
                     f"(from their first entry this month).")
    sec = Section("cohort_quality", "Data quality", table=table)
    if table is not None:
        sec.table = suppress(table, ["rows"])
    sec.message = " ".join(notes)
    return sec


def month_over_month(clinic: ClinicData, month: str, therapist_id: str | None = None) -> Section:
    """This month against the previous month."""
    start, end = parse_month(month)
    prev = (start - pd.Timedelta(days=1)).strftime("%Y-%m")
    pstart, pend = parse_month(prev)
    _, obs, ses = _cohort(clinic, month, therapist_id)

    def counts(a, b):
        s = ses[ses["date"].between(a, b)]
        o = obs[obs["date"].between(a, b)]
        q = o[o["measure"].isin(["PHQ-9", "GAD-7"])]
        return [s.loc[s["attended"], "client_id"].nunique(), int(s["attended"].sum()),
                int((~s["attended"]).sum()), len(q), o.loc[~o["measure"].isin(["PHQ-9", "GAD-7", "SPIN"]),
                                                          ["client_id", "date"]].drop_duplicates().shape[0]]

    this, before = counts(start, end), counts(pstart, pend)
    table = pd.DataFrame({"": ["clients seen", "sessions attended", "sessions missed",
                               "questionnaires completed (PHQ-9, GAD-7)", "diary days"],
                          prev: before, month: this,
                          "change": [a - b for a, b in zip(this, before, strict=True)]})
    out = suppress(table, [prev, month])
    small = (table[[prev, month]].gt(0) & table[[prev, month]].lt(SUPPRESS_BELOW)).any(axis=1)
    out["change"] = [("suppressed" if s else f"{c:+d}") for s, c in zip(small, table["change"], strict=True)]
    return Section("mom", "Month over month", table=out)
