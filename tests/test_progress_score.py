"""Tests for progress_kit.progress_score: values worked out by hand from the definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

FIELDS = ["mood", "homework", "goals_on_track", "sleep_quality", "takeaways"]


def _daily(n_days=1, client="a", start="2024-03-01", **columns):
    data = {"client_id": client, "date": pd.date_range(start, periods=n_days)}
    for f in FIELDS:
        data[f] = columns.get(f, np.nan)
    return pd.DataFrame(data)


def test_extremes_give_0_and_100_and_empty_day_is_nan():
    daily = _daily(3, mood=[10, 1, np.nan], homework=[5, 0, np.nan],
                   goals_on_track=[5, 0, np.nan], sleep_quality=[5, 1, np.nan],
                   takeaways=[3, 0, np.nan])
    res = pk.progress_score(daily)
    assert res["progress_score"].iloc[0] == pytest.approx(100)
    assert res["progress_score"].iloc[1] == pytest.approx(0)
    assert np.isnan(res["progress_score"].iloc[2])
    assert res["confidence"].tolist() == pytest.approx([1, 1, 0])
    assert res["n_fields"].tolist() == [5, 5, 0]


def test_weighted_mean_of_present_fields_by_hand():
    # mood 7 -> (7-1)/9; homework 2 -> 2/5; the other fields are missing
    res = pk.progress_score(_daily(mood=7, homework=2)).iloc[0]
    expected = 100 * (0.40 * 6 / 9 + 0.15 * 2 / 5) / (0.40 + 0.15)
    assert res["progress_score"] == pytest.approx(expected)
    assert res["confidence"] == pytest.approx(0.55)
    assert pk.DEFAULT_WEIGHTS["mood"] == max(pk.DEFAULT_WEIGHTS.values())


def test_takeaways_are_capped_at_three_and_cap_is_overridable():
    daily = _daily(3, takeaways=[1, 3, 7])
    assert pk.progress_score(daily)["progress_score"].tolist() == pytest.approx(
        [100 / 3, 100, 100])
    res = pk.progress_score(daily, caps={"takeaways": 5})
    assert res["progress_score"].tolist() == pytest.approx([20, 60, 100])


def test_weights_override_and_validation():
    daily = _daily(mood=4, sleep_quality=5)
    res = pk.progress_score(daily, weights={"mood": 1, "sleep_quality": 3})
    assert res["progress_score"].iloc[0] == pytest.approx(100 * (1 * 3 / 9 + 3 * 1) / 4)
    assert res.attrs["weights"] == {"mood": 1.0, "sleep_quality": 3.0}
    with pytest.raises(ValueError, match="no column"):
        pk.progress_score(daily.drop(columns="takeaways"))
    with pytest.raises(ValueError, match=">= 0"):
        pk.progress_score(daily, weights={"mood": -1})
    with pytest.raises(ValueError, match="unknown measure"):
        pk.progress_score(daily.assign(energy=3), weights={"energy": 1})
    with pytest.raises(ValueError, match="cap"):
        pk.progress_score(daily, weights={"takeaways": 1}, caps={"takeaways": np.inf})
    with pytest.raises(ValueError, match="window"):
        pk.progress_score(daily, window="36h")


def test_trend_slope_is_exact_and_skips_missing_days():
    days = 20
    mood = 1 + 0.4 * np.arange(days)  # score rises 100 * 0.4 / 9 points a day
    mood[[3, 9, 15]] = np.nan
    res = pk.progress_score(_daily(days, mood=mood), weights={"mood": 1})
    slope = 100 * 0.4 / 9
    last = res.iloc[-1]
    assert last["trend_slope"] == pytest.approx(slope)
    assert last["trend_change"] == pytest.approx(slope * 14)
    assert last["trend_days"] == 14 - 2  # days 7..20 minus the missing days 10 and 16
    assert last["trend"] == "improving"
    assert res["trend"].iloc[:7].eq("insufficient data").all()
    assert len(res) == days and res["progress_score"].isna().sum() == 3


def test_trend_labels_follow_the_threshold_rule():
    days = 14
    # score changes by exactly +/- 9 or 11 points over the 14-day window
    out = {}
    for name, change in {"up11": 11, "up9": 9, "down11": -11}.items():
        score = 50 + change / 14 * np.arange(days)
        mood = 1 + 9 * score / 100
        out[name] = pk.progress_score(_daily(days, mood=mood), weights={"mood": 1}).iloc[-1]
    assert out["up11"]["trend"] == "improving"
    assert out["up9"]["trend"] == "stable"
    assert out["down11"]["trend"] == "worsening"
    assert out["up9"]["trend_change"] == pytest.approx(9)


def test_clients_do_not_leak_into_each_other_and_order_does_not_matter():
    a = _daily(10, client="a", mood=np.linspace(1, 10, 10))
    b = _daily(10, client="b", mood=np.full(10, 5.0))
    both = pd.concat([b, a]).sample(frac=1, random_state=0)
    res = pk.progress_score(both, weights={"mood": 1}, window="7D", min_days=5)
    last = res.groupby("client_id").tail(1).set_index("client_id")
    assert last.loc["a", "trend_slope"] == pytest.approx(100 / 9)
    assert last.loc["b", "trend_slope"] == pytest.approx(0)
    assert last.loc["a", "trend_days"] == 7
    assert res["client_id"].tolist() == ["a"] * 10 + ["b"] * 10
