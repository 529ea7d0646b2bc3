"""tracker_prompts' array path (prompts._prompts_from_arrays, the two windows' lines as arrays
from one prepared input) gives the table of its pandas reference (prompts._prompts_from_frames,
groupings of daily_trend_data's long tables) exactly: values, dtypes, order and attrs, on the
demo clinics' diaries (with and without episodes of care), one client, many, integer and object
IDs, missing days and measures, an empty diary (docs/performance.md, round five)."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import prompts as P
from tests.test_trend_lines import _diary  # the same synthetic diaries as the trend lines'


def _both(monkeypatch, daily, clients=None, **kw):
    taken = []
    real = P._prompts_from_arrays
    with monkeypatch.context() as m:
        m.setattr(P, "_prompts_from_arrays", lambda *a, **k: taken.append(1) or real(*a, **k))
        fast = pk.tracker_prompts(daily, clients, **kw)
    with monkeypatch.context() as m:
        m.setattr(P, "_prompts_from_arrays", lambda *a, **k: None)  # the pandas reference only
        ref = pk.tracker_prompts(daily, clients, **kw)
    assert taken
    assert fast.attrs == ref.attrs
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    return fast


def _clients(daily: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = pd.unique(daily["client_id"])
    start = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 600, len(ids)), "D")
    end = pd.Series(start + pd.to_timedelta(rng.integers(30, 700, len(ids)), "D"))
    end[rng.random(len(ids)) < 0.5] = pd.NaT
    return pd.DataFrame({"client_id": ids, "start_date": start, "end_date": end})


@pytest.mark.parametrize("episodes", [False, True], ids=["plain", "episodes"])
def test_the_demo_clinics_every_client_and_each_alone(monkeypatch, episodes):
    clinic = pk.demo_data(n_clients=30, months=6, seed=4, end="2026-10-31", episodes=episodes)
    obs = clinic.observations
    daily = pk.daily_table(obs)
    every = _both(monkeypatch, daily, clinic.clients)
    # the rules fire somewhere, so the comparison covers both answers
    assert every[["homework_fit", "ending_readiness"]].to_numpy().any(axis=0).all()
    _both(monkeypatch, daily, clinic.clients, as_of="2026-10-15")
    for cid in pd.unique(daily["client_id"])[:12]:
        one = daily[daily["client_id"] == cid]
        rows = clinic.clients[clinic.clients["client_id"] == cid]
        _both(monkeypatch, one, rows.tail(1), as_of="2026-10-31")
        _both(monkeypatch, one, None)  # each client's own last day, no clients table


@pytest.mark.parametrize("seed", range(4))
def test_random_diaries_with_gaps_and_options(monkeypatch, seed):
    daily = _diary(seed, n_clients=1 + 5 * (seed % 3), days=120, gaps=0.3)
    clients = _clients(daily, seed)
    _both(monkeypatch, daily, clients, as_of="2026-04-01")
    loose = _both(monkeypatch, daily, clients.iloc[::2], recent_days=10, course_days=60,
                  min_days=4, course_min_days=10, low_homework=2.5, high_mood=5.0, long_months=3.0,
                  low_goals=3.0)
    assert loose["approach_fit"].any() or len(loose) == 1  # the long-therapy rule fires too
    _both(monkeypatch, daily.drop(columns="homework"), clients)
    _both(monkeypatch, daily.drop(columns=["goals_on_track", "homework"]), None)


def test_other_id_types_and_edge_cases(monkeypatch):
    daily = _diary(11, n_clients=4, days=100, gaps=0.2, ids=[3, 1, 2, 10])  # integer IDs
    _both(monkeypatch, daily, _clients(daily, 1))
    obj = _diary(12, n_clients=3, days=100, gaps=0.2).astype({"client_id": object})
    _both(monkeypatch, obj, _clients(obj, 2))
    _both(monkeypatch, daily, None, as_of="2030-01-01")  # windows with no data
    empty = daily.assign(mood=np.nan, homework=np.nan, goals_on_track=np.nan)
    _both(monkeypatch, empty, _clients(daily, 1))  # a diary with every value missing


def test_an_empty_diary_takes_the_reference_with_the_same_answer():
    daily = pd.DataFrame({"client_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                          "mood": pd.Series(dtype=float)})
    assert P._prompts_from_arrays(daily, None, ["mood"], None, 14, 91, 7, 28, "client_id", "date",
                                  low_homework=1.5, long_months=12.0, low_goals=1.5,
                                  high_mood=7.0) is None
    assert pk.tracker_prompts(daily).empty


def test_bad_values_are_refused_by_both_with_the_same_error(monkeypatch):
    daily = _diary(3, n_clients=2, days=40, gaps=0.1).astype({"goals_on_track": object})
    daily.loc[5, "goals_on_track"] = "high"
    with pytest.raises(ValueError, match="'goals_on_track' must be numeric; row 5") as fast:
        pk.tracker_prompts(daily)
    monkeypatch.setattr(P, "_prompts_from_arrays", lambda *a, **k: None)
    with pytest.raises(ValueError) as ref:
        pk.tracker_prompts(daily)
    assert str(fast.value) == str(ref.value)
