"""Soundness fixes from review (issue 10): degenerate inputs get an honest answer or a clear error.

Expected behaviour comes from the reference implementations: rmcorr's ANCOVA gives r = +-1 and
p = 0 for a perfect within-person fit; lme4 stops when observations <= random effects
(check.nobs.vs.nRE); the JT and HA formulas are undefined for SD 0 or a non-positive post
reliability.
"""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import read_dataset


@pytest.mark.parametrize("sign", [1, -1])
def test_rmcorr_perfect_within_person_fit(sign):
    d = pd.DataFrame({"s": [1, 1, 1, 2, 2, 2], "x": [1, 2, 3, 1, 2, 3],
                      "y": sign * np.array([2.0, 4, 6, 5, 7, 9])})
    res = pk.within_person_correlation(d, x="x", y="y", subject="s").iloc[0]
    assert res["r"] == sign
    assert res["pval"] == 0
    assert res["dof"] == 3
    assert res["ci_low"] == res["ci_high"] == sign


def test_rmcorr_near_perfect_fit_is_finite():
    d = pd.DataFrame({"s": [1, 1, 1, 2, 2, 2], "x": [1, 2, 3, 1, 2, 3],
                      "y": [2.0, 4, 6.001, 5, 7, 9]})
    res = pk.within_person_correlation(d, x="x", y="y", subject="s").iloc[0]
    assert 0.999 < res["r"] < 1 and 0 < res["pval"] < 1e-3


@pytest.mark.parametrize("method", ["JT", "GLN", "HLL", "EN", "NK", "HA"])
def test_rci_methods_refuse_zero_pre_sd(method):
    df = pd.DataFrame({"client_id": list("aabbcc"), "date": [1, 2] * 3,
                       "score": [10.0, 8, 10, 14, 10, 19]})
    with pytest.raises(ValueError, match=r"all 3 pre scores equal 10 \(SD 0\)"):
        pk.reliable_change(df, reliability=0.9, better="lower", method=method)


def test_threshold_method_works_with_zero_pre_sd():
    df = pd.DataFrame({"client_id": list("aabbcc"), "date": [1, 2] * 3, "measure": "PHQ-9",
                       "score": [10.0, 3, 10, 14, 10, 19]})
    rc = pk.reliable_change(df, measure="PHQ-9")
    assert rc["category"].tolist() == ["improved", "unchanged", "deteriorated"]


def test_ha_refuses_post_sd_below_sem():
    # pre SD 5, reliability .5 -> SEM 3.54; post scores almost equal (SD 0.05)
    df = pd.DataFrame({"client_id": list("aabbcc"), "date": [1, 2] * 3,
                       "score": [20.0, 10, 10, 10.1, 15, 10.05]})
    with pytest.raises(ValueError, match=r"post SD \(0\.050\) to exceed the standard error of "
                                         r"measurement \(3\.536"):
        pk.reliable_change(df, reliability=0.5, better="lower", method="HA")


def test_growth_model_refuses_random_slopes_with_two_scores_each():
    sleep = read_dataset("sleepstudy")
    two = sleep[sleep["Days"].isin([0, 9])]
    with pytest.raises(ValueError, match=r"36 observations <= 36 random effects .*check\.nobs"):
        pk.growth_model(two, subject="Subject", time="Days", value="Reaction")
    # a random intercept alone is identified with two scores per subject; L-BFGS meets a
    # singular matrix on these data, so the fit falls back to BFGS. The fixed slope equals the
    # mean within-subject change / 9 days, whatever the variance components.
    m = pk.growth_model(two, subject="Subject", time="Days", value="Reaction", random_slope=False)
    wide = two.pivot(index="Subject", columns="Days", values="Reaction")
    assert m.fixed.loc["slope", "estimate"] == pytest.approx((wide[9] - wide[0]).mean() / 9,
                                                             rel=1e-4)


def test_lagged_effect_constant_outcome_gives_no_estimate():
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=30)
    d = pd.DataFrame({"client_id": np.repeat(["a", "b"], 30), "date": np.r_[days, days],
                      "sleep_quality": rng.normal(3, 1, 60), "mood": np.repeat([5.0, 7.0], 30)})
    with pytest.raises(ValueError, match="'mood' never varies within a person"):
        pk.lagged_effect(d, x="sleep_quality", y="mood")
    one = d[d["client_id"] == "a"]
    with pytest.raises(ValueError, match="'mood' never varies within a person"):
        pk.lagged_effect(one, x="sleep_quality", y="mood", autoregressive=False)
