"""daily_table's array path (daily._daily_grid: each score put in its client's day row) gives
the table of its pandas reference (daily._daily_frames, a pivot onto the grid of days) exactly:
values, dtypes, order, on the demo clinics (with and without episodes of care), one client,
missing days, IDs that sort as text, an empty diary (docs/performance.md, round five)."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import daily as D


def _both(monkeypatch, obs, measures=None):
    taken = []
    real = D._daily_grid
    with monkeypatch.context() as m:
        m.setattr(D, "_daily_grid", lambda *a: taken.append(1) or real(*a))
        fast = pk.daily_table(obs, measures)
    with monkeypatch.context() as m:
        m.setattr(D, "_daily_grid", lambda *a: None)  # the pandas reference only
        ref = pk.daily_table(obs, measures)
    assert taken
    assert fast.attrs == ref.attrs
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    return fast


@pytest.mark.parametrize("episodes", [False, True], ids=["plain", "episodes"])
def test_the_demo_clinics_every_client_and_each_alone(monkeypatch, episodes):
    clinic = pk.demo_data(n_clients=20, months=6, seed=4, end="2026-10-31", episodes=episodes)
    obs = clinic.observations
    every = _both(monkeypatch, obs)
    assert (every["n_fields"] == 0).any()  # missing days inside the spans
    for cid in pd.unique(obs["client_id"])[:8]:
        _both(monkeypatch, obs[obs["client_id"] == cid])
    _both(monkeypatch, obs, ["homework", "mood", "PHQ-9"])  # a measure order of one's own


def test_random_diaries_text_ids_times_of_day_and_nan_scores(monkeypatch):
    rng = np.random.default_rng(7)
    rows = []
    for cid in ["b", "a10", "a2", "Ä", "z"]:
        start = pd.Timestamp("2026-03-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
        for d in rng.choice(60, size=int(rng.integers(1, 40)), replace=False):
            for m in ("mood", "sleep_quality", "takeaways"):
                if rng.random() < 0.6:
                    rows.append({"client_id": cid, "measure": m,
                                 "date": start + pd.Timedelta(days=int(d), hours=int(rng.integers(0, 23))),
                                 "score": float(rng.integers(0, 8)) if rng.random() > 0.1 else np.nan})
    obs = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # in no order
    _both(monkeypatch, obs)
    _both(monkeypatch, obs[obs["client_id"] == "Ä"])


def test_an_empty_diary_takes_the_reference():
    obs = pd.DataFrame({"client_id": ["a"], "date": [pd.Timestamp("2026-01-01")],
                        "measure": ["PHQ-9"], "score": [10.0]})
    assert D._daily_grid(obs.iloc[0:0], ["mood"]) is None
    assert pk.daily_table(obs).empty


def test_typed_columns_take_the_short_way_with_the_reference_answers_and_errors():
    # the checks of the daily statistics' input: dates already datetime64[ns] and scores
    # already float skip pandas' conversions; the answers and errors are those of the conversions
    when = pd.Series(pd.to_datetime(["1969-12-31 12:00", "1970-01-01 03:00", "2026-10-05 23:59",
                                     "1900-03-01 01:00"]).astype("datetime64[ns]"), name="date",
                     index=[5, 3, 9, 1])
    short = D._as_days(when, "date")
    pd.testing.assert_series_equal(short, pd.to_datetime(when).dt.normalize().astype(
        "datetime64[ns]"), check_exact=True)
    with pytest.raises(ValueError, match="column 'date' has a missing date in row 2"):
        D._as_days(when.where(when.index != 9), "date")
    daily = pd.DataFrame({"client_id": ["a", "a", "b"], "date": when.iloc[:3].to_numpy(),
                          "mood": [1.0, np.nan, 3.0]})
    pd.testing.assert_series_equal(D._as_numeric(daily, "mood"), pd.to_numeric(
        daily["mood"], errors="coerce").astype(float), check_exact=True)
    D._check_unique_days(daily, "client_id", "date")
    twice = pd.concat([daily, daily.iloc[[2]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row for client_id 'b' on date 2026-10-05"):
        D._check_unique_days(twice, "client_id", "date")
    nan_ids = daily.assign(client_id=[np.nan, np.nan, "b"])
    nan_ids.loc[1, "date"] = nan_ids.loc[0, "date"]
    with pytest.raises(ValueError, match="more than one row"):  # missing IDs alike, as pandas has it
        D._check_unique_days(nan_ids, "client_id", "date")


def _corr_both(monkeypatch, data, **kw):
    taken = []
    real = D._within_one
    with monkeypatch.context() as m:
        m.setattr(D, "_within_one", lambda *a: (lambda r: taken.append(r is not None) or r)(real(*a)))
        fast = pk.within_person_correlation(data, **kw)
    with monkeypatch.context() as m:
        m.setattr(D, "_within_one", lambda *a: None)  # the pandas path only
        ref = pk.within_person_correlation(data, **kw)
    assert fast.attrs == ref.attrs
    pd.testing.assert_frame_equal(fast, ref, check_exact=True)
    return any(taken)


@pytest.mark.parametrize("episodes", [False, True], ids=["plain", "episodes"])
def test_one_persons_correlation_from_arrays_is_the_pandas_row(monkeypatch, episodes):
    # within_person_correlation's one-person path (daily._within_one): the pandas path's row
    # and attrs to the last bit, on every demo client's diary and on scaled random diaries
    clinic = pk.demo_data(n_clients=16, months=6, seed=8, end="2026-10-31", episodes=episodes)
    daily = pk.daily_table(clinic.observations)
    taken = [_corr_both(monkeypatch, daily[daily["client_id"] == cid], x="homework", y="mood",
                        subject="client_id") for cid in pd.unique(daily["client_id"])]
    assert all(taken)
    assert not _corr_both(monkeypatch, daily, x="homework", y="mood", subject="client_id")
    rng = np.random.default_rng(9)
    for scale in (1e-6, 1.0, 1e8):
        one = pd.DataFrame({"p": "x", "a": rng.normal(size=40) * scale,
                            "b": rng.normal(size=40) * scale + 3.0})
        one.loc[rng.random(40) < 0.25, "a"] = np.nan
        assert _corr_both(monkeypatch, one, x="a", y="b", subject="p", level=0.9)
    flat = pd.DataFrame({"p": "x", "a": 2.0, "b": np.arange(10.0)})  # no variation: r is NaN
    assert _corr_both(monkeypatch, flat, x="a", y="b", subject="p")
    few = flat.iloc[:3].assign(a=[1.0, 2.0, 4.0])  # too few pairs: the pandas path says why
    with pytest.raises(ValueError, match="error degrees of freedom"):
        pk.within_person_correlation(few, x="a", y="b", subject="p")
