"""daily_trend_data's array path (daily._trend_lines) gives the table of its pandas reference
(daily._trend_lines_frames, grouped transforms) to the last bit: values, trends, directions,
dtypes, order and attrs (docs/performance.md, round five)."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import daily as D


def _diary(seed: int, n_clients: int, days: int, gaps: float, ids=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_clients):
        cid = ids[c] if ids is not None else f"C{c:03d}"
        start = pd.Timestamp("2026-01-01") + pd.Timedelta(days=int(rng.integers(0, 40)))
        for d in range(int(rng.integers(1, days))):
            if rng.random() < gaps:
                continue  # a missing day: no row
            rows.append({"client_id": cid, "date": start + pd.Timedelta(days=d),
                         "mood": float(rng.integers(1, 11)) if rng.random() > 0.1 else np.nan,
                         "homework": float(rng.integers(0, 6)) if rng.random() > 0.3 else np.nan,
                         "goals_on_track": rng.random() * 5})
    return pd.DataFrame(rows)


def _both(daily, monkeypatch, **kw):
    fast = pk.daily_trend_data(daily, **kw)
    with monkeypatch.context() as m:
        m.setattr(D, "_trend_lines", lambda *a: None)  # the pandas reference only
        ref = pk.daily_trend_data(daily, **kw)
    return fast, ref


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kw", [
    {"measures": ["mood", "homework"], "days": 14, "end": "2026-02-20"},
    {"measures": ["mood", "goals_on_track"], "days": 91, "end": "2026-03-15", "min_days": 28},
    {"measures": ["homework"], "days": 7},  # each client's own last day
    {"measures": ["goals_on_track", "mood"], "days": 30, "min_change": {"mood": 0.5}, "alpha": 0.1},
], ids=["recent", "course", "own-end", "options"])
def test_array_path_is_the_reference_to_the_last_bit(seed, kw, monkeypatch):
    daily = _diary(seed, n_clients=1 + 7 * (seed % 3), days=70, gaps=0.3)
    fast, ref = _both(daily, monkeypatch, **kw)
    assert fast.attrs == ref.attrs
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


def test_array_path_is_taken_and_matches_on_a_report_diary(monkeypatch):
    clinic = pk.demo_data(n_clients=6, months=4, seed=3, end="2026-10-31")
    obs = clinic.observations
    daily = pk.daily_table(obs[obs["client_id"] == obs["client_id"].iloc[0]])
    taken = []
    real = D._trend_lines
    monkeypatch.setattr(D, "_trend_lines", lambda *a: taken.append(1) or real(*a))
    fast = pk.daily_trend_data(daily, end="2026-10-31")
    assert taken
    monkeypatch.setattr(D, "_trend_lines", lambda *a: None)
    pd.testing.assert_frame_equal(fast, pk.daily_trend_data(daily, end="2026-10-31"), check_exact=True)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # an infinite value: NaN, quietly
def test_other_id_types_and_edge_cases_match(monkeypatch):
    daily = _diary(11, n_clients=4, days=30, gaps=0.2, ids=[3, 1, 2, 10])  # integer IDs
    for kw in ({"end": "2026-02-01"}, {"days": 1}, {"end": "2030-01-01"}):  # a window with no data
        fast, ref = _both(daily, monkeypatch, **kw)
        pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    # all of a measure missing; an infinite value (pandas keeps such a sum infinite)
    daily = _diary(12, n_clients=3, days=20, gaps=0.0).assign(homework=np.nan)
    daily.loc[3, "mood"] = np.inf
    fast, ref = _both(daily, monkeypatch)
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)


def test_kahan_sums_add_as_pandas_groups_do():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 91)) * 10.0 ** rng.integers(-8, 9, size=(50, 91))
    x[rng.random(x.shape) < 0.3] = np.nan
    total, count = D._kahan_sums(x)
    long = pd.DataFrame({"g": np.repeat(np.arange(50), 91), "x": x.ravel()})
    assert np.array_equal(total, long.groupby("g")["x"].sum().to_numpy())
    assert np.array_equal(count, long.groupby("g")["x"].count().to_numpy())


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_kahan_sums_of_a_few_rows_value_by_value_are_the_columns_loop_and_pandas(rows, monkeypatch):
    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, 91)) * 10.0 ** rng.integers(-8, 9, size=(rows, 91))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[0, 7] = np.inf  # pandas keeps such a sum infinite
    if rows > 1:
        x[1, 3], x[1, 60] = np.inf, -np.inf  # and makes inf - inf NaN
    few = D._kahan_sums(x)
    monkeypatch.setattr(D, "_FEW_ROWS", 0)  # the columns' loop
    loop = D._kahan_sums(x)
    long = pd.DataFrame({"g": np.repeat(np.arange(rows), 91), "x": x.ravel()})
    assert np.array_equal(few[0], loop[0], equal_nan=True)
    assert np.array_equal(few[0], long.groupby("g")["x"].sum().to_numpy(), equal_nan=True)
    assert np.array_equal(few[1], loop[1])
