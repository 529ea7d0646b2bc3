"""progress_score's one-client path (progress_score._one_client: arrays, and pandas' rolling
sums over the client's days) gives the table of its pandas reference
(progress_score._scores_frames, grouped rolling sums) to the last bit: scores, trends, labels,
dtypes, order and attrs, on every demo client's diary (with and without episodes of care), on
gaps, unsorted days, options, a diary with no scored day; anything else takes the reference
(docs/performance.md, round five)."""

import importlib

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

P = importlib.import_module("progress_kit.progress_score")  # the module, not the function


def _both(monkeypatch, daily, taken=True, **kw):
    seen = []
    real = P._one_client
    with monkeypatch.context() as m:
        m.setattr(P, "_one_client", lambda *a: (lambda r: seen.append(r is not None) or r)(real(*a)))
        fast = pk.progress_score(daily, **kw)
    with monkeypatch.context() as m:
        m.setattr(P, "_one_client", lambda *a: None)  # the pandas reference only
        ref = pk.progress_score(daily, **kw)
    assert taken is None or any(seen) is taken
    assert fast.attrs == ref.attrs
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    return fast


@pytest.mark.parametrize("episodes", [False, True], ids=["plain", "episodes"])
def test_every_demo_clients_diary(monkeypatch, episodes):
    clinic = pk.demo_data(n_clients=16, months=6, seed=6, end="2026-10-31", episodes=episodes)
    daily = pk.daily_table(clinic.observations)
    trends = set()
    for cid in pd.unique(daily["client_id"]):
        one = daily[daily["client_id"] == cid]
        # a returning client's episodes are two courses at once: the reference's
        several = episodes and one["episode_id"].nunique() > 1
        res = _both(monkeypatch, one, taken=not several)
        trends |= set(res["trend"])
    assert {"improving", "stable", "insufficient data"} <= trends  # both answers are compared
    _both(monkeypatch, daily, taken=False)  # every client at once: the reference


def test_gaps_unsorted_days_options_and_no_scored_day(monkeypatch):
    rng = np.random.default_rng(3)
    days = pd.date_range("2026-01-01", periods=80).astype("datetime64[ns]")
    daily = pd.DataFrame({"client_id": "x", "date": days + pd.Timedelta(hours=9),
                          "mood": rng.integers(1, 11, 80).astype(float),
                          "homework": rng.integers(0, 6, 80).astype(float),
                          "goals_on_track": rng.random(80) * 5,
                          "sleep_quality": rng.integers(1, 6, 80).astype(float),
                          "takeaways": rng.integers(0, 5, 80).astype(float)})
    daily.loc[rng.random(80) < 0.3, ["mood", "homework"]] = np.nan
    daily.loc[rng.random(80) < 0.2, list(P.DEFAULT_WEIGHTS)] = np.nan  # days with no field
    gappy = daily.drop(index=range(20, 35)).sample(frac=1.0, random_state=2)  # and in no order
    _both(monkeypatch, gappy)
    _both(monkeypatch, gappy, window="7D", min_days=3, threshold=5.0, alpha=0.1,
          weights={"mood": 2, "homework": 1}, caps={"takeaways": 2.0})
    _both(monkeypatch, daily.assign(**{f: np.nan for f in P.DEFAULT_WEIGHTS}))


def test_what_the_arrays_leave_goes_to_the_reference(monkeypatch):
    days = pd.date_range("2026-01-01", periods=20).astype("datetime64[ns]")
    daily = pd.DataFrame({"client_id": "x", "date": days, "mood": np.arange(20.0) % 10 + 1,
                          "homework": 2.0, "goals_on_track": 2.0, "sleep_quality": 3.0,
                          "takeaways": 1.0})
    _both(monkeypatch, daily.astype({"homework": int}), taken=False)  # a field not yet float
    _both(monkeypatch, daily.assign(date=days.astype("datetime64[us]")), taken=False)
    twice = pd.concat([daily, daily.iloc[[3]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row for client_id 'x' on 2026-01-04"):
        pk.progress_score(twice)
