"""Sections from the companion tracker (issue 23): trend words, how old the scores are, and the
tracker's prompts, for the clinician's page 1 and the prep sheet.

The prompts' rules live in :func:`progress_kit.tracker_prompts` (the judgement layer); here they
are only worded. The words for each audience are in :data:`PROMPT_WORDS`, where a service can
change them.
"""

from __future__ import annotations

import pandas as pd

from ..context import ReportData
from .client import _daily, _last_day
from .common import Section, _fmt_day, _stat

__all__ = ["trend_words", "tracker_prompts_section", "trends_and_prompts", "prompts_for",
           "PROMPT_WORDS", "SCORE_AGE_DAYS"]

SCORE_AGE_DAYS = 61
"""A latest questionnaire score older than this (about two months) before the report's last day
is said to be old, with its age, wherever the status rests on it."""

PROMPT_WORDS = {
    "clinician": {
        "homework_fit": ("Low homework with flat mood (homework {homework_mean:.1f} of 5 on "
                         "{homework_days} of {recent_days} days; mood stable): discuss whether the "
                         "homework fits."),
        "approach_fit": ("Long therapy, flat course ({months_in_therapy:.0f} months in therapy; "
                         "mood {mood_trend_course} over {course_days} days{goals}): raise whether "
                         "the approach still fits."),
        "ending_readiness": ("Stable, high mood over {course_days} days (mean "
                             "{mood_mean_course:.1f} of 10): review readiness to end."),
    },
    "client": {
        "homework_fit": ("You did little homework in the last two weeks, and your mood stayed "
                         "about the same. Talk with your therapist about whether the homework "
                         "suits you."),
        "approach_fit": ("You have been in therapy for more than a year, and things have not "
                         "changed much of late. Ask your therapist if the way you work still "
                         "suits you."),
        "ending_readiness": ("Your mood has been good and steady for three months. You could "
                             "talk about how you will know when you are ready to end."),
    },
}
"""How each prompt reads for the clinician (page 1, prep sheet) and for the client (share page).
Placeholders are columns of :func:`progress_kit.tracker_prompts` plus ``recent_days``,
``course_days`` and ``goals``."""


def prompts_for(rd: ReportData) -> pd.DataFrame | None:
    """This client's row of :func:`progress_kit.tracker_prompts` as of the report's last day
    (None without a mood diary)."""
    fn, daily = _stat("tracker_prompts"), _daily(rd)
    if fn is None or daily is None or "mood" not in daily.columns or daily["mood"].isna().all():
        return None
    clients = None if rd.client is None else rd.client.to_frame().T
    return fn(daily, clients, as_of=_last_day(rd))


def _prompt_lines(res: pd.DataFrame, audience: str, recent_days: int = 14,
                  course_days: int = 91) -> list[str]:
    from ...prompts import PROMPTS

    row = res.iloc[0]
    words = PROMPT_WORDS[audience]
    goals = (f", goals {row['goals_mean_course']:.1f} of 5" if pd.notna(row["goals_mean_course"])
             else "")
    values = {**row.to_dict(), "recent_days": recent_days, "course_days": course_days,
              "goals": goals}
    return [words[p].format(**values) for p in PROMPTS if bool(row[p])]


def _prompts_method(res: pd.DataFrame) -> str:
    t = res.attrs.get("thresholds", {})
    if not t:
        return ""
    return (f"Tracker prompts (pk.tracker_prompts; talking points, not a status): homework mean <= "
            f"{t['low_homework']:g}/5 over {t['recent_days']} days, mood stable; over "
            f"{t['long_months']:g} months in therapy, mood stable over {t['course_days']} days or "
            f"goals <= {t['low_goals']:g}/5; mood stable over {t['course_days']} days, mean >= "
            f"{t['high_mood']:g}/10 (>= {t['min_days']} and {t['course_min_days']} diary days).")


def tracker_prompts_section(rd: ReportData, audience: str = "clinician") -> Section:
    """The tracker's prompts that apply, worded for ``audience`` ("clinician" or "client")."""
    if audience not in PROMPT_WORDS:
        raise ValueError(f"audience {audience!r}: choose one of {', '.join(PROMPT_WORDS)}")
    title = "Prompts from the diary" if audience == "clinician" else "Things to talk about"
    res = prompts_for(rd)
    if res is None or res.empty:
        return Section("prompts", title, "insufficient",
                       "No mood diary: the tracker's prompts need one." if audience == "clinician"
                       else "", facts={"prompts": []})
    lines = _prompt_lines(res, audience)
    sec = Section("prompts", title, lines=lines or None, facts={"prompts": lines, "row": res.iloc[0]})
    if audience == "clinician":
        if not lines:
            sec.message = "None of the tracker's prompts applies."
        sec.method = _prompts_method(res)
    return sec


def trends_and_prompts(rd: ReportData, quest: list[Section], diary: Section | None = None
                       ) -> Section:
    """Page 1's and the prep sheet's compact block: the trend words in one line, the age of old
    scores, and the tracker's prompts that apply (a bullet each)."""
    trends = trend_words(rd, quest, diary)
    prompts = tracker_prompts_section(rd)
    words = "; ".join(line.rstrip(".") for line in trends.lines or [])
    text = [f"Trends: {words}." if words else "Trends: no questionnaire or diary trend yet."]
    if trends.facts.get("old_scores"):
        text.append(trends.message)
    if prompts.ok and not prompts.lines:
        text.append("No tracker prompt applies.")
    sec = Section("trends", "", message=" ".join(text),
                  lines=[f"Prompt: {p}" for p in prompts.facts.get("prompts", [])] or None,
                  facts={**trends.facts, "trend_lines": trends.lines or [],
                         "prompts": prompts.facts.get("prompts", [])})
    sec.method = "\n".join(filter(None, [trends.method, prompts.method]))
    return sec


def _age(days: int) -> str:
    months = round(days / 30.44)
    return f"{months} months" if months >= 2 else f"{days} days"


def trend_words(rd: ReportData, quest: list[Section], diary: Section | None = None) -> Section:
    """One line per questionnaire: improving / stable / worsening (the slope's trend rule), the
    diary's two-week mood trend, and how old the latest scores are when they are old."""
    lines, old = [], []
    last = _last_day(rd)
    for q in quest:
        f = q.facts
        if not q.key.startswith("q-") or not f.get("n"):
            continue
        direction = f.get("direction")
        word = direction if direction in ("improving", "stable", "worsening") else (
            "too few scores for a trend")
        slope = f" ({f['slope']:+.2f} points a week)" if "slope" in f and direction else ""
        lines.append(f"{f['measure']}: {word}{slope}.")
        age = (last - f["latest_date"]).days
        if age > SCORE_AGE_DAYS:
            old.append(f"{f['measure']} {_fmt_day(f['latest_date'])} ({_age(age)} old)")
    tw = (diary.facts.get("two_weeks") or {}) if diary is not None else {}
    data = tw.get("data")
    if data is not None and len(data) and (data["measure"] == "mood").any():
        direction = data.loc[data["measure"] == "mood", "direction"].iloc[0]
        lines.append(f"diary mood, last two weeks: {direction}.")
    sec = Section("trends", "Trends", lines=lines or None)
    if not lines:
        sec.status, sec.message = "insufficient", "No questionnaire scores or diary trend yet."
    if old:
        sec.message = ("The latest scores are old, and the status rests on them: "
                       + "; ".join(old) + f", before {_fmt_day(last)}.")
        sec.facts["old_scores"] = old
    sec.method = ("Trend words: questionnaires by their slope (Slopes; change >= reliable change); "
                  "diary mood by its two-week line.")
    return sec
