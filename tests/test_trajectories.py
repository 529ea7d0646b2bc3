"""Slopes and growth models against lme4/R results and simulations with known truth."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import progress_kit as pk

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    d = pd.read_csv(DATA / "sleepstudy.csv")
    d["Subject"] = d["Subject"].astype(str)
    return d


# --- growth model: lme4 on sleepstudy -------------------------------------------------------

def test_growth_model_reproduces_lme4_sleepstudy(sleep):
    # lme4 README / Bates et al. (2015, JSS 67(1)), fm1 <- lmer(Reaction ~ Days + (Days | Subject))
    m = pk.growth_model(sleep, subject="Subject", time="Days", value="Reaction")
    np.testing.assert_allclose(m.fixed["estimate"], [251.4051, 10.4673], rtol=1e-4)
    np.testing.assert_allclose(m.fixed["se"], [6.8246, 1.5458], rtol=1e-3)
    # variance components, Bates et al. (2015) p. 9: 612.10 (24.741), 35.07 (5.922), 654.94
    np.testing.assert_allclose(m.variance["variance"], [612.10, 35.07, 654.94], rtol=1e-3)
    assert m.variance.loc["slope", "corr"] == pytest.approx(0.066, abs=0.002)
    assert list(m.fixed.index) == ["intercept", "slope"]
    assert list(m.fixed.columns) == ["estimate", "se", "ci_low", "ci_high"]
    assert len(m.random) == 18
    # per-subject estimates average back to the fixed effects (BLUPs have mean 0)
    assert m.random["slope_re"].mean() == pytest.approx(0, abs=1e-3)
    assert "Days" in str(m.summary()) or "t" in str(m.summary())


def test_growth_model_random_intercept_only_and_ml(sleep):
    m = pk.growth_model(sleep, subject="Subject", time="Days", value="Reaction",
                        random_slope=False, reml=True)
    # lme4: lmer(Reaction ~ Days + (1 | Subject)): SE of Days 0.8042 (balanced design, so it is
    # sigma / sqrt(sum (t - tbar)^2) with sigma = 30.99)
    assert m.fixed.loc["slope", "estimate"] == pytest.approx(10.4673, rel=1e-4)
    assert m.fixed.loc["slope", "se"] == pytest.approx(0.8042, rel=2e-3)
    ml = pk.growth_model(sleep, subject="Subject", time="Days", value="Reaction", reml=False)
    # ML fixed effects equal REML ones in this balanced design, but the SEs shrink (n / (n - p))
    assert ml.fixed.loc["slope", "estimate"] == pytest.approx(10.4673, rel=1e-4)
    assert ml.fixed.loc["slope", "se"] < 1.5458


def test_growth_model_rejects_one_subject(sleep):
    with pytest.raises(ValueError, match="fewer than 2 subjects"):
        pk.growth_model(sleep[sleep["Subject"] == "308"], subject="Subject", time="Days",
                        value="Reaction")


# --- OLS slopes -----------------------------------------------------------------------------

def test_ols_slopes_match_lmlist_sleepstudy(sleep):
    # lme4 lmList(Reaction ~ Days | Subject, sleepstudy): Days coefficients
    published = {"308": 21.764702, "309": 2.261785, "310": 6.114899, "335": -2.881034,
                 "372": 11.298073}
    s = pk.slopes(sleep, subject="Subject", time="Days", value="Reaction")
    for subj, slope in published.items():
        assert s.loc[subj, "slope"] == pytest.approx(slope, abs=1e-5)
    assert (s["n"] == 10).all()


def test_ols_interval_matches_linregress(sleep):
    s = pk.slopes(sleep, subject="Subject", time="Days", value="Reaction", alpha=0.1)
    for subj, g in sleep.groupby("Subject"):
        r = stats.linregress(g["Days"], g["Reaction"])
        half = stats.t.ppf(0.95, len(g) - 2) * r.stderr
        assert s.loc[subj, "slope"] == pytest.approx(r.slope, rel=1e-10)
        assert s.loc[subj, "ci_low"] == pytest.approx(r.slope - half, rel=1e-9)
        assert s.loc[subj, "ci_high"] == pytest.approx(r.slope + half, rel=1e-9)


def _simulate(n_clients: int, n_points: int, seed: int, true_slope: np.ndarray | None = None):
    rng = np.random.default_rng(seed)
    slope = rng.normal(0, 1, n_clients) if true_slope is None else true_slope
    ids = np.repeat([f"c{i:07d}" for i in range(n_clients)], n_points)
    start = pd.Timestamp("2023-01-02") + pd.to_timedelta(rng.integers(0, 900, n_clients), "D")
    weeks = np.tile(np.arange(n_points), n_clients)
    dates = np.repeat(start.to_numpy(), n_points) + (weeks * 7).astype("timedelta64[D]")
    score = 15 + np.repeat(slope, n_points) * weeks + rng.normal(0, 2, n_clients * n_points)
    return pd.DataFrame({"client_id": ids, "date": dates, "measure": "PHQ-9", "score": score})


def test_ols_coverage_and_direction_known_truth():
    # a simulation with known slopes: 95 % intervals must cover the truth ~95 % of the time
    n = 4000
    truth = np.random.default_rng(1).normal(0, 1, n)
    d = _simulate(n, 8, seed=2, true_slope=truth)
    s = pk.slopes(d, measure="PHQ-9", per="week")
    covered = (s["ci_low"].to_numpy() <= truth) & (truth <= s["ci_high"].to_numpy())
    assert 0.935 <= covered.mean() <= 0.965
    # lower is better for PHQ-9: clearly falling scores are improving
    clear_down = truth < -1.5
    assert (s["direction"].to_numpy()[clear_down] == "improving").mean() > 0.99
    clear_up = truth > 1.5
    assert (s["direction"].to_numpy()[clear_up] == "worsening").mean() > 0.99


def test_per_day_and_month_units():
    d = _simulate(5, 6, seed=3, true_slope=np.full(5, 7.0))  # 7 points per week
    week = pk.slopes(d, per="week", better="lower")["slope"]
    day = pk.slopes(d, per="day", better="lower")["slope"]
    month = pk.slopes(d, per="month", better="lower")["slope"]
    np.testing.assert_allclose(day * 7, week)
    np.testing.assert_allclose(day * 30.436875, month)


def test_insufficient_data_kept_and_direction_words():
    d = pd.DataFrame({"client_id": ["a", "a", "b", "b", "b", "c", "c", "c"],
                      "t": [0, 1, 0, 1, 2, 5, 5, 5], "y": [1, 2, 1, 2, 3.0, 1, 2, 3]})
    s = pk.slopes(d, time="t", value="y")
    assert list(s.index) == ["a", "b", "c"]
    assert s.loc["a", "direction"] == "insufficient data" and np.isnan(s.loc["a", "slope"])
    assert s.loc["c", "direction"] == "insufficient data"  # no spread in time
    assert s.loc["b", "direction"] == "increasing"  # exact fit: zero-width interval
    assert pk.slopes(d, time="t", value="y", better="higher").loc["b", "direction"] == "improving"
    assert pk.slopes(d, time="t", value="y", better="lower").loc["b", "direction"] == "worsening"


def test_stable_when_interval_includes_zero():
    d = pd.DataFrame({"client_id": "a", "t": [0, 1, 2, 3, 4.0], "y": [5, 9, 4, 8, 5.0]})
    s = pk.slopes(d, time="t", value="y")
    assert s.loc["a", "ci_low"] < 0 < s.loc["a", "ci_high"]
    assert s.loc["a", "direction"] == "stable"


def test_measure_filters_rows_and_sets_better():
    d = _simulate(3, 6, seed=4, true_slope=np.array([-6.0, 0.0, 6.0]))
    other = d.assign(measure="ORS", score=d["score"] * -1)
    both = pd.concat([d, other], ignore_index=True)
    phq = pk.slopes(both, measure="PHQ-9")
    np.testing.assert_allclose(phq["slope"], pk.slopes(d)["slope"])
    ors = pk.slopes(both, measure="ORS")  # higher is better: the mirrored rise is improving
    assert ors.loc["c0000002", "direction"] == "worsening"
    assert ors.loc["c0000000", "direction"] == "improving"
    with pytest.raises(ValueError, match="contradicts the registry"):
        pk.slopes(both, measure="ORS", better="lower")


def test_bad_arguments_raise_value_error():
    d = _simulate(2, 4, seed=5)
    with pytest.raises(ValueError, match="'when'"):
        pk.slopes(d, time="when")
    with pytest.raises(ValueError, match="method"):
        pk.slopes(d, method="lad")
    with pytest.raises(ValueError, match="per="):
        pk.slopes(d, per="fortnight")
    with pytest.raises(ValueError, match="unknown measure"):
        pk.slopes(d, measure="PHQ9x")


def test_dates_far_from_origin_keep_precision():
    # the same course in 1900 and in 2090 must give the same slope to ~1e-9
    d = _simulate(50, 12, seed=6)
    late = d.assign(date=d["date"] + pd.Timedelta(days=365 * 67))
    early = d.assign(date=d["date"] - pd.Timedelta(days=365 * 123))
    np.testing.assert_allclose(pk.slopes(late)["slope"], pk.slopes(early)["slope"], rtol=1e-9)


def test_partition_sums_add_up_to_whole():
    d = _simulate(300, 12, seed=7).sample(frac=1, random_state=0)
    parts = np.array_split(np.arange(len(d)), 4)
    sums = pd.concat([pk.slope_sums(d.iloc[p]) for p in parts]).groupby(level=0).sum()
    merged = pk.slopes_from_sums(sums, better="lower")
    whole = pk.slopes(d, better="lower")
    # sums carry no time span, so no change over it (min_change defaults to 0 here)
    pd.testing.assert_frame_equal(merged.drop(columns="change"), whole.drop(columns="change"),
                                  rtol=1e-8)


# --- Theil-Sen ------------------------------------------------------------------------------

def test_theil_sen_matches_scipy_and_resists_outliers():
    d = _simulate(20, 10, seed=8, true_slope=np.full(20, -1.0))
    d.loc[d.groupby("client_id").head(1).index, "score"] += 40  # a wild first score
    ts = pk.slopes(d, method="theil-sen", per="week", better="lower")
    ols = pk.slopes(d, method="ols", per="week", better="lower")
    assert (ts["slope"] - -1.0).abs().median() < (ols["slope"] - -1.0).abs().median()
    g = d[d["client_id"] == "c0000003"]
    weeks = (g["date"] - g["date"].min()).dt.days / 7
    r = stats.theilslopes(g["score"], weeks, alpha=0.95)
    assert ts.loc["c0000003", "slope"] == pytest.approx(r.slope)
    assert ts.loc["c0000003", "ci_low"] == pytest.approx(r.low_slope)
    assert ts.loc["c0000003", "ci_high"] == pytest.approx(r.high_slope)


# --- scale ----------------------------------------------------------------------------------

def test_ols_slopes_fast_on_200k_clients():
    d = _simulate(200_000, 12, seed=9)
    t0 = time.perf_counter()
    s = pk.slopes(d, measure="PHQ-9")
    elapsed = time.perf_counter() - t0
    assert len(s) == 200_000
    assert elapsed < 4.0, f"slopes took {elapsed:.1f} s on 200k clients x 12"


# --- plot data ------------------------------------------------------------------------------

def test_trajectory_plot_data_band_and_cutoff():
    obs = pd.DataFrame({"client_id": "a", "measure": "ORS", "score": [20.0, 24.9, 26, 14.5],
                        "date": pd.date_range("2024-01-01", periods=4, freq="W")})
    p = pk.trajectory_plot_data(obs, "a", "ORS")
    m = pk.get_measure("ORS")
    assert (p["cutoff"] == m.cutoff).all()
    assert (p["band_low"] == 20 - m.reliable_change).all()
    assert (p["band_high"] == 20 + m.reliable_change).all()
    # ORS: higher is better, reliable change 5 points
    assert p["reliable"].tolist() == ["no reliable change", "no reliable change", "improved",
                                      "deteriorated"]
    with pytest.raises(ValueError, match="no ORS scores"):
        pk.trajectory_plot_data(obs, "zz", "ORS")


def test_dask_partition_path_matches_in_memory():
    dd = pytest.importorskip("dask.dataframe")
    d = _simulate(2000, 12, seed=10).sample(frac=1, random_state=0)
    ddf = dd.from_pandas(d, npartitions=5)
    parts = ddf.map_partitions(pk.slope_sums, measure="PHQ-9")
    total = parts.groupby(parts.index).sum().compute()
    res = pk.slopes_from_sums(total, better="lower").sort_index()
    # plain sums carry no time span: no change column, and no minimum change (pk.slopes on a
    # dask frame adds the span; see test_distributed)
    want = pk.slopes(d, measure="PHQ-9", min_change=0)
    pd.testing.assert_frame_equal(res.drop(columns="change"), want.drop(columns="change"),
                                  rtol=1e-8, check_names=False, check_index_type=False)
