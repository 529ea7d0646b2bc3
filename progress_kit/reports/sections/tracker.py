"""Sections from the companion tracker (issue 23): trend words, how old the scores are, and the
tracker's prompts, for the clinician's page 1 and the prep sheet.

The prompts' rules live in :func:`progress_kit.tracker_prompts` (the judgement layer); here they
are only worded. The words for each audience are in :data:`PROMPT_WORDS`, where a service can
change them.
"""

from __future__ import annotations

import pandas as pd

from ..context import ReportData
from ..wording import load_wording, words
from .client import _daily, _last_day
from .common import Section, _fmt_day, _stat, _w

__all__ = ["trend_words", "tracker_prompts_section", "trends_and_prompts", "prompts_for",
           "PROMPT_WORDS", "SCORE_AGE_DAYS"]

SCORE_AGE_DAYS = 61
"""A latest questionnaire score older than this (about two months) before the report's last day
is said to be old, with its age, wherever the status rests on it."""

PROMPT_WORDS = {audience: load_wording().group(f"prompts.{audience}")
                for audience in ("clinician", "client")}
"""The built-in wording of each prompt for the clinician (page 1, prep sheet) and for the client
(share page): ``prompts.*`` of the wording (a report shows the wording in use). Placeholders are
columns of :func:`progress_kit.tracker_prompts` plus ``recent_days``, ``course_days`` and
``goals``."""


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
    said = words().group(f"prompts.{audience}")
    goals = (_w("tracker.goals", goals=row["goals_mean_course"]) if pd.notna(row["goals_mean_course"])
             else "")
    values = {**row.to_dict(), "recent_days": recent_days, "course_days": course_days,
              "goals": goals}
    return [said[p].format(**values) for p in PROMPTS if bool(row[p])]


def _prompts_method(res: pd.DataFrame) -> str:
    t = res.attrs.get("thresholds", {})
    if not t:
        return ""
    return _w("tracker.method", **t)


def tracker_prompts_section(rd: ReportData, audience: str = "clinician") -> Section:
    """The tracker's prompts that apply, worded for ``audience`` ("clinician" or "client")."""
    if audience not in PROMPT_WORDS:
        raise ValueError(f"audience {audience!r}: choose one of {', '.join(PROMPT_WORDS)}")
    title = _w("tracker.title_clinician" if audience == "clinician" else "tracker.title_client")
    res = prompts_for(rd)
    if res is None or res.empty:
        return Section("prompts", title, "insufficient",
                       _w("tracker.no_diary") if audience == "clinician" else "",
                       facts={"prompts": []})
    lines = _prompt_lines(res, audience)
    sec = Section("prompts", title, lines=lines or None, facts={"prompts": lines, "row": res.iloc[0]})
    if audience == "clinician":
        if not lines:
            sec.message = _w("tracker.none_applies")
        sec.method = _prompts_method(res)
    return sec


def trends_and_prompts(rd: ReportData, quest: list[Section], diary: Section | None = None
                       ) -> Section:
    """Page 1's and the prep sheet's compact block: the trend words in one line, the age of old
    scores, and the tracker's prompts that apply (a bullet each)."""
    trends = trend_words(rd, quest, diary)
    prompts = tracker_prompts_section(rd)
    words = "; ".join(line.rstrip(".") for line in trends.lines or [])
    text = [_w("tracker.trends", trends=words) if words else _w("tracker.no_trends")]
    if trends.facts.get("old_scores"):
        text.append(trends.message)
    if prompts.ok and not prompts.lines:
        text.append(_w("tracker.no_prompt"))
    sec = Section("trends", "", message=" ".join(text),
                  lines=[_w("tracker.prompt", prompt=p) for p in prompts.facts.get("prompts", [])] or None,
                  facts={**trends.facts, "trend_lines": trends.lines or [],
                         "prompts": prompts.facts.get("prompts", [])})
    sec.method = "\n".join(filter(None, [trends.method, prompts.method]))
    return sec


def _age(days: int) -> str:
    months = round(days / 30.44)
    return _w("tracker.months", n=months) if months >= 2 else _w("tracker.days", n=days)


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
            _w("tracker.too_few"))
        slope = _w("tracker.slope", slope=f["slope"]) if "slope" in f and direction else ""
        lines.append(_w("tracker.measure", measure=f["measure"], word=word, slope=slope))
        age = (last - f["latest_date"]).days
        if age > SCORE_AGE_DAYS:
            old.append(_w("tracker.old_score", measure=f["measure"], date=_fmt_day(f["latest_date"]),
                          age=_age(age)))
    tw = (diary.facts.get("two_weeks") or {}) if diary is not None else {}
    data = tw.get("data")
    if data is not None and len(data) and (data["measure"] == "mood").any():
        direction = data.loc[data["measure"] == "mood", "direction"].iloc[0]
        lines.append(_w("tracker.mood", direction=direction))
    sec = Section("trends", _w("tracker.title"), lines=lines or None)
    if not lines:
        sec.status, sec.message = "insufficient", _w("tracker.nothing")
    if old:
        sec.message = _w("tracker.old", scores="; ".join(old), date=_fmt_day(last))
        sec.facts["old_scores"] = old
    sec.method = _w("tracker.method_trends")
    return sec
