"""The tracker's prompts (issue 23, part 3): one test per branch of each rule.

The truth is built in: diaries with a known mean and a known (flat or steep) mood course, and a
known start of therapy, so each rule's answer is known before it runs.
"""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

END = pd.Timestamp("2025-06-30")


def _diary(client="a", days=14, mood=5.0, rise=0.0, homework=None, goals=None, every=1):
    """``days`` days up to END: mood ``mood`` +- 0.5 (alternating) plus ``rise`` points a day."""
    dates = pd.date_range(end=END, periods=days)
    t = np.arange(days)
    frame = pd.DataFrame({"client_id": client, "date": dates,
                          "mood": mood + 0.5 * (-1.0) ** t + rise * (t - t.mean())})
    if homework is not None:
        frame["homework"] = homework
    if goals is not None:
        frame["goals_on_track"] = goals
    keep = (t % every) == 0
    frame.loc[~keep, [c for c in frame.columns if c not in ("client_id", "date")]] = np.nan
    return frame


def _clients(months, client="a"):
    start = END - pd.Timedelta(days=round(months * 365.25 / 12))
    return pd.DataFrame({"client_id": [client], "start_date": [start], "end_date": [pd.NaT]})


def _one(daily, clients=None, **kw):
    return pk.tracker_prompts(daily, clients, as_of=END, **kw).iloc[0]


# ---- low homework with flat mood
def test_homework_low_and_mood_flat_prompts():
    row = _one(_diary(homework=[1.0, 2.0] * 7))  # mean exactly 1.5: "at or below"
    assert row["homework_mean"] == 1.5 and row["mood_trend"] == "stable"
    assert row["homework_fit"]


def test_homework_above_the_threshold_does_not_prompt():
    assert not _one(_diary(homework=2.0))["homework_fit"]
    assert _one(_diary(homework=2.0), low_homework=2.0)["homework_fit"]  # the threshold is a parameter


def test_homework_low_but_mood_rising_does_not_prompt():
    row = _one(_diary(homework=1.0, rise=0.4))
    assert row["mood_trend"] == "improving" and not row["homework_fit"]


def test_homework_on_too_few_days_does_not_prompt():
    row = _one(_diary(homework=1.0, every=3))  # 5 of 14 days
    assert row["homework_days"] == 5 and not row["homework_fit"]


# ---- long therapy, flat course
def test_long_therapy_with_flat_course_prompts():
    row = _one(_diary(days=91, goals=3.0), _clients(13))
    assert row["months_in_therapy"] == pytest.approx(13, abs=0.05)
    assert row["mood_trend_course"] == "stable" and row["approach_fit"]


def test_short_therapy_does_not_prompt():
    assert not _one(_diary(days=91, goals=3.0), _clients(11))["approach_fit"]
    assert _one(_diary(days=91, goals=3.0), _clients(11), long_months=10)["approach_fit"]


def test_long_therapy_rising_mood_but_low_goals_prompts():
    row = _one(_diary(days=91, rise=0.05, goals=1.0), _clients(13))
    assert row["mood_trend_course"] == "improving" and row["approach_fit"]


def test_long_therapy_rising_mood_and_goals_kept_does_not_prompt():
    assert not _one(_diary(days=91, rise=0.05, goals=3.0), _clients(13))["approach_fit"]


def test_without_a_clients_table_the_long_therapy_rule_is_not_assessed():
    row = _one(_diary(days=91, goals=1.0))
    assert np.isnan(row["months_in_therapy"]) and not row["approach_fit"]


# ---- approaching an ending
def test_stable_high_mood_prompts_an_ending_review():
    row = _one(_diary(days=91, mood=8.0))
    assert row["mood_mean_course"] == pytest.approx(8.0, abs=0.01) and row["ending_readiness"]


def test_stable_middling_mood_is_no_ending():
    assert not _one(_diary(days=91, mood=5.0))["ending_readiness"]
    assert _one(_diary(days=91, mood=5.0), high_mood=5.0)["ending_readiness"]


def test_rising_high_mood_is_not_yet_stable():
    row = _one(_diary(days=91, mood=8.0, rise=0.03))
    assert row["mood_trend_course"] == "improving" and not row["ending_readiness"]


def test_a_sparse_diary_raises_no_prompt():
    row = _one(_diary(days=91, mood=8.0, homework=0.0, every=5), _clients(24))  # 19 of 91 days
    assert not row[list(pk.PROMPTS)].any()


def test_clients_are_judged_apart_and_rules_are_stated():
    daily = pd.concat([_diary("a", homework=1.0), _diary("b", homework=4.0)], ignore_index=True)
    res = pk.tracker_prompts(daily, as_of=END)
    assert res.set_index("client_id")["homework_fit"].to_dict() == {"a": True, "b": False}
    assert "1.5 of 5" in res.attrs["rules"]["homework_fit"]
    assert set(res.attrs["rules"]) == set(pk.PROMPTS)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="min_days"):
        pk.tracker_prompts(_diary(), min_days=2)
    with pytest.raises(ValueError, match="no 'mood' column"):
        pk.tracker_prompts(_diary().drop(columns="mood"))


def test_a_month_of_diary_does_not_stand_for_three():
    """31 days of stable, high mood at the end of a 91-day window: no course to judge."""
    row = _one(_diary(days=31, mood=8.0), _clients(24))
    assert row["mood_days_course"] == 31 and row["mood_trend_course"] == "stable"
    assert not row["ending_readiness"] and not row["approach_fit"]
    assert _one(_diary(days=62, mood=8.0))["ending_readiness"]  # from day 30 of 91: covered
