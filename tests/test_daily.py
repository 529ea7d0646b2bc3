"""Tests for progress_kit.daily: published rmcorr results and simulations with known truth."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

import progress_kit as pk

DATA = Path(__file__).parent / "data"


# ------------------------------------------------------------------------------- daily_table

def _obs(rows):
    return pd.DataFrame(rows, columns=["client_id", "date", "measure", "score"]).assign(
        date=lambda d: pd.to_datetime(d["date"]))


def test_daily_table_keeps_gaps_as_nan_rows_and_uses_diary_measures():
    obs = _obs([
        ("00123", "2024-03-01", "mood", 6), ("00123", "2024-03-01", "sleep_quality", 3),
        ("00123", "2024-03-04", "mood", 8), ("00123", "2024-03-02", "PHQ-9", 12),
        ("b", "2024-03-10", "homework", 2), ("c", "2024-03-05", "PHQ-9", 9),
    ])
    table = pk.daily_table(obs)
    assert list(table.columns) == ["client_id", "date", "mood", "sleep_quality", "homework",
                                   "goals_on_track", "takeaways", "n_fields"]
    # 00123: 1..4 March (4 rows, two of them empty), b: one row, c has no diary entry
    assert table["client_id"].tolist() == ["00123"] * 4 + ["b"]
    assert table["date"].dt.day.tolist() == [1, 2, 3, 4, 10]
    assert table["mood"].tolist()[:4] == [6, pytest.approx(np.nan, nan_ok=True),
                                          pytest.approx(np.nan, nan_ok=True), 8]
    assert table["n_fields"].tolist() == [2, 0, 0, 1, 1]
    assert table.loc[1:2, ["mood", "sleep_quality"]].isna().all().all()


def test_daily_table_rejects_duplicates_and_missing_columns():
    obs = _obs([("a", "2024-03-01", "mood", 6), ("a", "2024-03-01", "mood", 7)])
    with pytest.raises(ValueError, match="more than one 'mood'"):
        pk.daily_table(obs)
    with pytest.raises(ValueError, match="no column"):
        pk.daily_table(obs.drop(columns="score"))


# ------------------------------------------------------------------ within_person_correlation

# Published rmcorr (>= 0.5.4) output. bland1995: the shared datasets README and rmcorr's own
# snapshot test (tests/testthat/_snaps/rmcorr.md: p-value 0.0008471081). gilden2010 and
# marusich2016_exp2: the rmcorr article "Comparing Correlations" (vignettes/compcor.Rmd, printed
# output). raz2005: rmcorr vignette "Confidence Interval Fix" (vignettes/CI_fix.Rmd), which gives
# the current CI [-0.804153, -0.566080] and the old, pre-0.5.4 one [-0.8053581, -0.5637514].
PUBLISHED = {
    "bland1995": dict(subject="Subject", x="PaCO2", y="pH", r=-0.5067697, dof=38,
                      pval=0.0008471081, ci=(-0.7067146, -0.2318631)),
    "gilden2010": dict(subject="sub", x="rt", y="acc", r=-0.406097, dof=32, pval=0.01716871,
                       ci=(-0.6543958, -0.07874527)),
    "marusich2016_exp2": dict(subject="Pair", x="HVT_capture", y="MARS", r=-0.5890471, dof=55,
                              pval=1.434929e-06, ci=(-0.7365623, -0.3880381)),
    "raz2005": dict(subject="Participant", x="Age", y="Volume", r=None, dof=None, pval=None,
                    ci=(-0.804153, -0.566080)),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_rmcorr_matches_published_rmcorr_output(name):
    ref = PUBLISHED[name]
    data = pd.read_csv(DATA / f"{name}.csv")
    res = pk.within_person_correlation(data, x=ref["x"], y=ref["y"], subject=ref["subject"])
    row = res.iloc[0]
    if ref["r"] is not None:
        assert row["r"] == pytest.approx(ref["r"], abs=1e-6)
        assert row["dof"] == ref["dof"]
        assert row["pval"] == pytest.approx(ref["pval"], rel=1e-5)
    # the published bounds are printed to 7 significant digits (raz2005: 6 decimals)
    assert row["ci_low"] == pytest.approx(ref["ci"][0], abs=1e-6)
    assert row["ci_high"] == pytest.approx(ref["ci"][1], abs=1e-6)
    assert row["n_obs"] == len(data)
    assert row["n_subjects"] == data[ref["subject"]].nunique()


def test_rmcorr_ci_is_not_the_pre_054_interval():
    data = pd.read_csv(DATA / "raz2005.csv")
    res = pk.within_person_correlation(data, x="Age", y="Volume", subject="Participant")
    assert abs(res["ci_low"].iloc[0] - (-0.8053581)) > 1e-4  # old, error-df interval


def test_rmcorr_agrees_with_pingouin_on_r_dof_p():
    data = pd.read_csv(DATA / "gilden2010.csv")
    ours = pk.within_person_correlation(data, x="rt", y="acc", subject="sub").iloc[0]
    theirs = pg.rm_corr(data, x="rt", y="acc", subject="sub").iloc[0]
    assert ours["r"] == pytest.approx(theirs["r"], abs=1e-12)
    assert ours["dof"] == theirs["dof"]
    assert ours["pval"] == pytest.approx(theirs["pval"], rel=1e-9)


def test_rmcorr_drops_incomplete_rows_and_single_pair_subjects():
    data = pd.read_csv(DATA / "bland1995.csv")
    extra = pd.DataFrame({"Subject": [1, 2, 99, 99, 100], "pH": [np.nan, 7.0, 7.1, np.nan, 6.9],
                          "PaCO2": [5.0, np.nan, 4.0, 4.2, 5.1]})
    res = pk.within_person_correlation(pd.concat([data, extra]), x="PaCO2", y="pH",
                                       subject="Subject")
    # subjects 99 and 100 have one complete pair each: they add nothing, r and dof unchanged
    assert res["r"].iloc[0] == pytest.approx(-0.5067697, abs=1e-6)
    assert res["dof"].iloc[0] == 38
    assert res["n_obs"].iloc[0] == 47 and res["n_subjects"].iloc[0] == 8
    assert res.attrs["n_rows"] == 52
    assert res.attrs["n_rows_incomplete"] == 3
    assert res.attrs["excluded_subjects"] == [99, 100]


def _within_between(n=60, k=8, rho_within=0.5, seed=3):
    """Person means of x and y correlate -0.9; within-person deviations correlate +0.5."""
    rng = np.random.default_rng(seed)
    means = rng.multivariate_normal([0, 0], [[4, -3.6], [-3.6, 4]], n)
    dev = rng.multivariate_normal([0, 0], [[1, rho_within], [rho_within, 1]], (n, k))
    return pd.DataFrame({"client_id": np.repeat(np.arange(n).astype(str), k),
                         "x": (means[:, None, 0] + dev[..., 0]).ravel(),
                         "y": (means[:, None, 1] + dev[..., 1]).ravel()})


def test_within_and_between_correlations_can_have_opposite_signs():
    res = pk.within_person_correlation(_within_between(), x="x", y="y").iloc[0]
    assert res["ci_low"] < 0.5 < res["ci_high"]
    assert res["r"] == pytest.approx(0.5, abs=0.08)
    assert res["between_r"] < -0.8 and res["between_pval"] < 1e-6
    data = _within_between()
    pooled = np.corrcoef(data["x"], data["y"])[0, 1]
    assert pooled < 0  # the naive correlation points the wrong way


def test_rmcorr_rejects_bad_arguments():
    data = pd.read_csv(DATA / "bland1995.csv")
    with pytest.raises(ValueError, match="no column"):
        pk.within_person_correlation(data, x="PaCO2", y="pH")  # subject defaults to client_id
    with pytest.raises(ValueError, match="level"):
        pk.within_person_correlation(data, x="PaCO2", y="pH", subject="Subject", level=95)
    with pytest.raises(ValueError, match="degrees of freedom"):
        pk.within_person_correlation(data.head(3), x="PaCO2", y="pH", subject="Subject")


# ------------------------------------------------------------------------------ lagged_effect

BETA, PHI, GAMMA = 0.5, 0.3, -1.5


def simulate_diary(n=40, days=42, p_missing=0.4, noise=0.7, slope_sd=0.0, seed=0):
    """Sleep (x) yesterday raises mood (y) today within person by BETA; mood has inertia PHI.

    Between persons the relation is the opposite: people who sleep better on average have
    lower mean mood (GAMMA per point). Whole days are missing at random with p_missing. With
    slope_sd > 0 each person's effect is BETA plus a normal deviation (a random slope).
    """
    rng = np.random.default_rng(seed)
    xbar = rng.normal(3, 0.8, n)
    beta = BETA + rng.normal(0, slope_sd, n) if slope_sd else np.full(n, BETA)
    mu = 6 + GAMMA * (xbar - 3) + rng.normal(0, 0.3, n)
    x = xbar[:, None] + rng.normal(0, 1, (n, days))
    y = np.empty((n, days))
    y[:, 0] = mu + rng.normal(0, noise, n)
    for t in range(1, days):
        y[:, t] = (mu + beta * (x[:, t - 1] - xbar) + PHI * (y[:, t - 1] - mu)
                   + rng.normal(0, noise, n))
    missing = rng.random((n, days)) < p_missing
    missing[:, 0] = False
    x[missing] = np.nan
    y[missing] = np.nan
    return pd.DataFrame({"client_id": np.repeat([f"c{i:02d}" for i in range(n)], days),
                         "date": np.tile(pd.date_range("2024-01-01", periods=days), n),
                         "sleep_quality": x.ravel(), "mood": y.ravel()})


@pytest.fixture(scope="module")
def diary():
    return simulate_diary()


@pytest.fixture(scope="module")
def fitted(diary):
    return pk.lagged_effect(diary, x="sleep_quality", y="mood")


def test_lagged_effect_recovers_the_within_person_effect(fitted):
    res = fitted.iloc[0]
    assert res["ci_low"] < BETA < res["ci_high"]
    assert res["estimate"] == pytest.approx(BETA, abs=0.08)
    assert res["n_subjects"] == 40 and res["method"] == "MixedLM"
    assert res["between_estimate"] < 0  # the opposite-sign between-person relation is kept apart
    assert res["ar_estimate"] == pytest.approx(PHI, abs=0.1)
    assert fitted.attrs["converged"]


def test_lagged_effect_is_the_same_with_absent_rows_or_nan_rows(diary, fitted):
    absent = diary.dropna(subset=["sleep_quality", "mood"], how="all")
    res = pk.lagged_effect(absent, x="sleep_quality", y="mood")
    assert res["estimate"].iloc[0] == pytest.approx(fitted["estimate"].iloc[0], abs=1e-9)
    assert res["n_pairs"].iloc[0] == fitted["n_pairs"].iloc[0]


def test_row_shift_lag_fails_where_calendar_lag_does_not(diary, fitted):
    # A row-shift lag pairs each entry with the previous *entry*, which after a gap is an older
    # day. Re-dating each client's entries as consecutive days is exactly that pairing.
    present = diary.dropna(subset=["sleep_quality", "mood"]).copy()
    present["date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        present.groupby("client_id").cumcount(), unit="D")
    shifted = pk.lagged_effect(present, x="sleep_quality", y="mood").iloc[0]
    assert shifted["n_pairs"] > fitted["n_pairs"].iloc[0]  # more pairs, but wrong ones
    assert shifted["ci_high"] < BETA  # attenuated: truth outside its interval
    assert BETA - shifted["estimate"] > 0.1


def test_pooled_uncentred_regression_fails_with_opposite_between_relation(diary):
    pairs = pk.lag_scatter_data(diary, x="sleep_quality", y="mood")
    pooled_slope = np.polyfit(pairs["x_lag"], pairs["y"], 1)[0]
    assert pooled_slope < 0 < BETA  # wrong sign: the between-person relation dominates
    within_slope = np.polyfit(pairs["x_within"], pairs["y_within"], 1)[0]
    assert within_slope == pytest.approx(BETA, abs=0.1)


def test_lagged_effect_random_slope_recovers_the_average_slope():
    varied = simulate_diary(slope_sd=0.25, seed=2)
    fixed = pk.lagged_effect(varied, x="sleep_quality", y="mood").iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # must converge on data that have a random slope
        rs = pk.lagged_effect(varied, x="sleep_quality", y="mood", random_slope=True)
    assert rs.attrs["converged"]
    assert rs["ci_low"].iloc[0] < BETA < rs["ci_high"].iloc[0]
    # ignoring slope heterogeneity understates the uncertainty of the average slope
    assert rs["se"].iloc[0] > fixed["se"]


def test_lagged_effect_without_autoregression(diary):
    plain = pk.lagged_effect(diary, x="sleep_quality", y="mood", autoregressive=False).iloc[0]
    assert plain["ci_low"] < BETA < plain["ci_high"]
    assert np.isnan(plain["ar_estimate"])


def test_lagged_effect_single_client_is_ols():
    one = simulate_diary(n=1, days=400, p_missing=0.2, seed=5)
    res = pk.lagged_effect(one, x="sleep_quality", y="mood").iloc[0]
    assert res["method"] == "OLS" and res["n_subjects"] == 1
    assert res["ci_low"] < BETA < res["ci_high"]
    assert np.isnan(res["between_estimate"])


# NIST StRD "Longley", certified values (https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml)
LONGLEY_B = [-3482258.63459582, 15.0618722713733, -0.358191792925910E-01, -2.02022980381683,
             -1.03322686717359, -0.511041056535807E-01, 1829.15146461355]
LONGLEY_SE = [890420.383607373, 84.9149257747669, 0.334910077722432E-01, 0.488399681651699,
              0.214274163161675, 0.226073200069370, 455.478499142212]


def test_single_person_ols_matches_the_nist_longley_certified_values():
    from progress_kit.daily import _ols

    d = pd.read_csv(DATA / "nist_longley.csv")
    exog = np.column_stack([np.ones(len(d)), d[[f"x{j}" for j in range(1, 7)]].to_numpy(float)])
    params, bse, df_resid = _ols(d["y"].to_numpy(float), exog)
    assert df_resid == 9
    np.testing.assert_allclose(params, LONGLEY_B, rtol=1e-7)
    np.testing.assert_allclose(bse, LONGLEY_SE, rtol=1e-7)


def test_single_client_lagged_effect_is_statsmodels_ols():
    from statsmodels.regression.linear_model import OLS

    one = simulate_diary(n=1, days=120, p_missing=0.2, seed=9)  # consecutive calendar days
    res = pk.lagged_effect(one, x="sleep_quality", y="mood", level=0.9).iloc[0]
    x, y = one["sleep_quality"].to_numpy(), one["mood"].to_numpy()
    x_lag, y_now, y_lag = x[:-1], y[1:], y[:-1]  # day t-1 against day t
    ok = ~(np.isnan(x_lag) | np.isnan(y_now) | np.isnan(y_lag))
    x_lag, y_now, y_lag = x_lag[ok], y_now[ok], y_lag[ok]
    fit = OLS(y_now, np.column_stack([np.ones(ok.sum()), x_lag - x_lag.mean(),
                                      y_lag - y_lag.mean()])).fit()
    assert res["n_pairs"] == fit.nobs
    assert res["estimate"] == pytest.approx(fit.params[1], rel=1e-10)
    assert res["se"] == pytest.approx(fit.bse[1], rel=1e-10)
    assert res["pval"] == pytest.approx(fit.pvalues[1], rel=1e-8)
    assert [res["ci_low"], res["ci_high"]] == pytest.approx(list(fit.conf_int(0.1)[1]), rel=1e-10)
    assert res["ar_estimate"] == pytest.approx(fit.params[2], rel=1e-10)


def test_lag_zero_and_lag_two_pair_the_right_days():
    rng = np.random.default_rng(11)
    n, days = 30, 40
    x = rng.normal(0, 1, (n, days))
    person = rng.normal(5, 1, (n, 1))
    y = person + 0.7 * x + rng.normal(0, 0.5, (n, days))  # same-day effect only
    data = pd.DataFrame({"client_id": np.repeat(np.arange(n).astype(str), days),
                         "date": np.tile(pd.date_range("2024-01-01", periods=days), n),
                         "x": x.ravel(), "y": y.ravel()})
    same = pk.lagged_effect(data, x="x", y="y", lag=0).iloc[0]
    assert same["ci_low"] < 0.7 < same["ci_high"]
    two = pk.lagged_effect(data, x="x", y="y", lag=2).iloc[0]
    assert two["ci_low"] < 0 < two["ci_high"]  # no effect two days later
    assert two["n_pairs"] == n * (days - 2)


def test_a_lag_never_crosses_a_missing_day():
    daily = pd.DataFrame({"client_id": "a",
                          "date": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-04",
                                                  "2024-03-05", "2024-03-06"]),
                          "x": [1.0, 2.0, 3.0, np.nan, 5.0], "y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    pairs = pk.lag_scatter_data(daily, x="x", y="y")
    # 2 March pairs with 1 March; 4 March has no 3 March; 5 March pairs with 4 March;
    # 6 March's previous day has no x
    assert pairs["date"].dt.day.tolist() == [2, 5]
    assert pairs["x_lag"].tolist() == [1.0, 3.0]
    assert pairs["x_within"].tolist() == [-1.0, 1.0]


def test_lagged_effect_rejects_bad_arguments(diary):
    with pytest.raises(ValueError, match="lag"):
        pk.lagged_effect(diary, x="sleep_quality", y="mood", lag=-1)
    with pytest.raises(ValueError, match="lag"):
        pk.lagged_effect(diary, x="sleep_quality", y="mood", lag=1.5)
    with pytest.raises(ValueError, match="both"):
        pk.lagged_effect(diary, x="mood", y="mood")
    with pytest.raises(ValueError, match="more than one row"):
        pk.lagged_effect(pd.concat([diary.head(5), diary.head(1)]), x="sleep_quality", y="mood")
    with pytest.raises(ValueError, match="no column"):
        pk.lagged_effect(diary, x="sleep", y="mood")


# ---------------------------------------------------------------------------- plot helpers

def test_daily_trend_data_window_includes_missing_days_and_exact_trend():
    daily = pd.DataFrame({"client_id": ["a"] * 20 + ["b"] * 3,
                          "date": list(pd.date_range("2024-03-01", periods=20))
                          + list(pd.date_range("2024-03-18", periods=3)),
                          "mood": np.r_[np.arange(20) * 0.25 + 2, [5, 5, 5]],
                          "homework": np.nan})
    daily.loc[[17, 18], "mood"] = np.nan
    out = pk.daily_trend_data(daily, end="2024-03-22")
    assert len(out) == 2 * 2 * 14  # clients x measures x days: every day has a row
    a = out[(out["client_id"] == "a") & (out["measure"] == "mood")]
    assert a["date"].iloc[-1] == pd.Timestamp("2024-03-22")
    assert a["value"].isna().sum() == 4  # 18, 19 March missing; 21, 22 March after last entry
    # mood rises 0.25 a day exactly, so the fitted line equals the truth on every day
    truth = 2 + 0.25 * (a["date"] - pd.Timestamp("2024-03-01")).dt.days
    np.testing.assert_allclose(a["trend"], truth)
    assert out.loc[out["measure"] == "homework", "trend"].isna().all()


def test_diary_summary_shows_what_a_sparse_window_holds():
    """Issue 23: fewer than 7 diary days give no trend, but the days and the mean are shown."""
    dates = pd.date_range("2024-03-01", periods=20)
    hw = np.full(20, np.nan)
    hw[[6, 9, 12, 15, 19]] = [1, 2, 3, 2, 4]  # 5 of the last 14 days (7 .. 20 March)
    daily = pd.DataFrame({"client_id": "a", "date": dates, "homework": hw, "mood": np.nan})
    daily.loc[0, "homework"] = 5.0  # outside the window: not counted
    res = pk.diary_summary(daily, measures=["homework", "mood"]).set_index("measure")
    assert res.loc["homework", "n_days"] == 5 and res.loc["homework", "mean"] == pytest.approx(2.4)
    assert res.loc["homework", "text"] == "homework on 5 of 14 days, mean 2.4"
    assert res.loc["mood", "text"] == "no mood in the 14 days"
    assert res.loc["homework", "first"] == pd.Timestamp("2024-03-07")
    at = pk.diary_summary(daily, measures=["homework"], end="2024-03-14", days=7)
    assert at["n_days"].iloc[0] == 2  # 8 .. 14 March: 10 and 13 March
