"""Reliable and clinically significant change against the R package clinicalsignificance.

Published figures (documentation and tests of clinicalsignificance; see tests/data/README.md) on
``claus_2020``, HAMD, pre = 1, post = 4, reliability .80, lower is better, complete cases n = 40:
JT 29/10/1, HA 32/7/1, JT RCIs of ids 1-3, combined JT with cut-off c (functional M = SD = 8):
cut-off 19.886998 and 26/3/10/1/0. Other expectations are derived by hand from the published
formulas (Jacobson & Truax 1991) in the test itself, independently of progress_kit's code.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

DATA = Path(__file__).parent / "data"
CLAUS = dict(subject="id", time="time", value="hamd", pre=1, post=4, reliability=0.80,
             better="lower")


@pytest.fixture(scope="module")
def claus():
    return pd.read_csv(DATA / "claus_2020.csv")


@pytest.fixture(scope="module")
def jacobson():
    return pd.read_csv(DATA / "jacobson_1989.csv")


@pytest.fixture(scope="module")
def antidepressants():
    return pd.read_csv(DATA / "antidepressants.csv")


def counts(result, categories):
    vc = result["category"].value_counts()
    return [int(vc.get(c, 0)) for c in categories]


# ---------------------------------------------------------------- published R results


def test_jt_counts_match_clinicalsignificance(claus):
    rc = pk.reliable_change(claus, **CLAUS, method="JT")
    assert len(rc) == 40
    assert counts(rc, ["improved", "unchanged", "deteriorated"]) == [29, 10, 1]


def test_jt_rci_values_match_clinicalsignificance(claus):
    rc = pk.reliable_change(claus, **CLAUS, method="JT")
    np.testing.assert_allclose(rc.loc[[1.0, 2.0, 3.0], "rci"],
                               [-5.680532, -1.893511, -11.361064], atol=1e-6)


def test_ha_counts_match_clinicalsignificance(claus):
    rc = pk.reliable_change(claus, **CLAUS, method="HA")
    assert counts(rc, ["improved", "unchanged", "deteriorated"]) == [32, 7, 1]
    assert rc.attrs["critical_value"] == pytest.approx(1.644854, abs=1e-6)  # one-sided


def test_combined_jt_cutoff_c_matches_clinicalsignificance(claus):
    cs = pk.clinical_significance(claus, **CLAUS, method="JT", cutoff_type="c",
                                  functional_mean=8, functional_sd=8)
    assert cs["cutoff"].iloc[0] == pytest.approx(19.886998, abs=1e-6)
    assert counts(cs, pk.change.CS_CATEGORIES) == [26, 3, 10, 1, 0]
    assert "cut-off c = 19.887" in cs.attrs["method"]


def test_incomplete_cases_are_listed_not_dropped(claus):
    rc = pk.reliable_change(claus, **CLAUS)
    ex = rc.attrs["excluded"]
    # ids 4, 17 and 27 have no HAMD at time 4 (visible in the CSV)
    assert sorted(ex["id"]) == [4.0, 17.0, 27.0]
    assert list(ex.columns) == ["id", "reason"]
    assert ex["reason"].str.contains("no score at post").all()


# ---------------------------------------------------------------- hand-derived from formulas


def _wide(df, subject, time, value, pre, post):
    w = df.pivot(index=subject, columns=time, values=value)[[pre, post]].dropna()
    return w[pre].to_numpy(float), w[post].to_numpy(float), w.index


@pytest.mark.parametrize("method", ["JT", "GLN", "HLL", "EN", "NK"])
def test_rci_formulas_by_hand(claus, method):
    x1, x2, ids = _wide(claus, "id", "time", "hamd", 1, 4)
    r, m1, s1, m2 = 0.8, x1.mean(), x1.std(ddof=1), x2.mean()
    se = s1 * np.sqrt(1 - r)
    expected = {
        "JT": (x2 - x1) / np.sqrt(2 * se**2),
        "GLN": ((x2 - m1) - r * (x1 - m1)) / (s1 * np.sqrt(1 - r**2)),
        "HLL": ((x2 - m2) - r * (x1 - m1)) / (s1 * np.sqrt(1 - r**2)),
        "EN": (x2 - (r * (x1 - m1) + m1)) / se,
        "NK": (x2 - (r * (x1 - m1) + m1)) / np.sqrt(r**2 * s1**2 * (1 - r) + s1**2 * (1 - r)),
    }[method]
    rc = pk.reliable_change(claus, **CLAUS, method=method)
    np.testing.assert_allclose(rc.loc[ids, "rci"], expected, rtol=1e-12)
    z = 1.959963984540054  # qnorm(0.975)
    cat = np.where(-expected > z, "improved", np.where(-expected < -z, "deteriorated", "unchanged"))
    assert rc.loc[ids, "category"].astype(str).tolist() == cat.tolist()


def test_nk_reliability_post_enters_denominator(claus):
    x1, x2, ids = _wide(claus, "id", "time", "hamd", 1, 4)
    m1, s1 = x1.mean(), x1.std(ddof=1)
    expected = (x2 - (0.8 * (x1 - m1) + m1)) / np.sqrt(0.64 * s1**2 * 0.2 + s1**2 * 0.3)
    rc = pk.reliable_change(claus, **{**CLAUS, "reliability_post": 0.7}, method="NK")
    np.testing.assert_allclose(rc.loc[ids, "rci"], expected, rtol=1e-12)


def test_jacobson_1989_gds_cutoff_a_and_excluded(jacobson):
    # GDS, lower is better; four subjects (27-30) have no post score
    cs = pk.clinical_significance(jacobson, subject="subject", time="time", value="gds",
                                  pre="pre", post="post", reliability=0.9, better="lower",
                                  cutoff_type="a")
    assert sorted(cs.attrs["excluded"]["subject"]) == [27.0, 28.0, 29.0, 30.0]
    assert len(cs) == 26
    x1, x2, _ = _wide(jacobson, "subject", "time", "gds", "pre", "post")
    a = x1.mean() - 2 * x1.std(ddof=1)          # lower is better: 2 SD below the clinical mean
    assert cs["cutoff"].iloc[0] == pytest.approx(a, rel=1e-12)
    rci = (x2 - x1) / np.sqrt(2 * (x1.std(ddof=1) * np.sqrt(0.1)) ** 2)
    improved, deteriorated = -rci > 1.959963984540054, rci > 1.959963984540054
    clin, func = x1 > a, x2 < a
    expected = np.select([clin & func & improved, ~clin & ~func & deteriorated, improved,
                          deteriorated], ["recovered", "harmed", "improved", "deteriorated"],
                         "unchanged")
    assert cs["category"].astype(str).tolist() == expected.tolist()


def test_jacobson_1989_das_higher_is_better_cutoff_b(jacobson):
    cs = pk.clinical_significance(jacobson, subject="subject", time="time", value="das",
                                  pre="pre", post="post", reliability=0.9, better="higher",
                                  cutoff_type="b", functional_mean=114.8, functional_sd=17.8)
    # b = M_func - 2 SD_func when higher is better
    assert cs["cutoff"].iloc[0] == pytest.approx(114.8 - 2 * 17.8)
    assert cs.attrs["excluded"].empty
    assert (cs["clinical_pre"] == (cs["pre"] < 114.8 - 35.6)).all()


def test_antidepressants_at_scale(antidepressants):
    rc = pk.reliable_change(antidepressants, subject="patient", time="measurement",
                            value="mom_di", pre="Before", post="After", reliability=0.80,
                            better="lower")
    x1, x2, ids = _wide(antidepressants, "patient", "measurement", "mom_di", "Before", "After")
    assert len(rc) == 555 == len(ids)
    s_diff = x1.std(ddof=1) * np.sqrt(2 * (1 - 0.8))
    change = x2 - x1
    np.testing.assert_allclose(rc.loc[ids, "rci"], change / s_diff, rtol=1e-12)
    expected = [int((change / s_diff < -1.959963984540054).sum()), 0,
                int((change / s_diff > 1.959963984540054).sum())]
    expected[1] = 555 - expected[0] - expected[2]
    assert counts(rc, ["improved", "unchanged", "deteriorated"]) == expected


# ---------------------------------------------------------------- registry / threshold mode


def _phq(pre_scores, post_scores, measure="PHQ-9"):
    n = len(pre_scores)
    ids = [f"{i:05d}" for i in range(n)]
    return pd.DataFrame({
        "client_id": ids * 2,
        "date": pd.to_datetime(["2026-01-05"] * n + ["2026-03-02"] * n),
        "measure": measure,
        "score": np.r_[pre_scores, post_scores].astype(float),
    })


def test_threshold_mode_uses_published_points_inclusive():
    # PHQ-9: reliable change is 6 points (NHS Talking Therapies manual); >= counts
    df = _phq([20, 20, 10, 10, 15], [14, 15, 16, 15, 15])
    rc = pk.reliable_change(df, measure="PHQ-9")
    assert rc["category"].astype(str).tolist() == [
        "improved", "unchanged", "deteriorated", "unchanged", "unchanged"]
    assert rc.index.tolist()[0] == "00000"           # client ids stay strings
    assert "at least 6 points on PHQ-9" in rc.attrs["method"]
    assert rc.attrs["rci_method"] == "threshold"


def test_registry_mode_filters_measure_and_uses_caseness_rule():
    df = pd.concat([_phq([10, 10, 9, 20], [4, 10, 16, 12]),
                    _phq([1, 1, 1, 1], [20, 20, 20, 20], measure="GAD-7")])
    cs = pk.clinical_significance(df, measure="PHQ-9")
    # PHQ-9 caseness is >= 10: 10 is clinical at pre, 10 at post is not functional
    assert cs["clinical_pre"].tolist() == [True, True, False, True]
    assert cs["functional_post"].tolist() == [True, False, False, False]
    assert cs["category"].astype(str).tolist() == ["recovered", "unchanged", "harmed", "improved"]
    assert "clinical if PHQ-9 >= 10" in cs.attrs["method"]


def test_registry_mode_with_rci_method_uses_registry_reliability():
    rng = np.random.default_rng(1)
    pre = rng.integers(10, 27, 50)
    post = np.clip(pre - rng.integers(-3, 12, 50), 0, 27)
    rc = pk.reliable_change(_phq(pre, post), measure="PHQ-9", method="JT")
    s_diff = pre.std(ddof=1) * np.sqrt(2 * (1 - 0.89))    # alpha .89, Kroenke et al. 2001
    np.testing.assert_allclose(rc["rci"], (post - pre) / s_diff, rtol=1e-12)


def test_ors_higher_is_better_and_not_clinical_at_cutoff():
    df = _phq([20, 25, 20], [26, 31, 25], measure="ORS")
    cs = pk.clinical_significance(df, measure="ORS")
    assert cs["clinical_pre"].tolist() == [True, False, True]
    assert cs["functional_post"].tolist() == [True, True, True]   # 25 is non-clinical
    assert cs["category"].astype(str).tolist() == ["recovered", "improved", "recovered"]


# ---------------------------------------------------------------- defaults, order, errors


def test_default_first_and_last_scored_observation_any_row_order():
    df = pd.DataFrame({"client_id": ["b", "a", "a", "a", "b", "c", "a"],
                       "date": pd.to_datetime(["2026-02-01", "2026-03-01", "2026-01-01",
                                               "2026-02-01", "2026-01-01", "2026-01-01",
                                               "2026-04-01"]),
                       "score": [12, 15, 20, 18, 14, 9, np.nan]})
    pp = pk.pre_post(df)
    assert pp.loc["a"].tolist() == [20.0, 15.0]      # NaN on the last day is not a score
    assert pp.loc["b"].tolist() == [14.0, 12.0]
    ex = pp.attrs["excluded"]
    assert ex.set_index("client_id")["reason"].to_dict() == {"c": "only one scored observation"}


def test_shuffled_input_gives_same_result(claus):
    shuffled = claus.sample(frac=1, random_state=3)
    a = pk.reliable_change(claus, subject="id", time="time", value="hamd", reliability=0.8,
                           better="lower")
    b = pk.reliable_change(shuffled, subject="id", time="time", value="hamd", reliability=0.8,
                           better="lower")
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


def test_fractional_times_in_any_order():
    # non-integer times take the lexsort path of the reduction
    df = pd.DataFrame({"client_id": ["a", "b", "a", "b", "a"], "date": [2.5, 0.1, 0.2, 7.25, 1.0],
                       "score": [3.0, 4, 1, 8, 2]})
    pp = pk.pre_post(df)
    assert pp.to_dict("index") == {"a": {"pre": 1.0, "post": 3.0}, "b": {"pre": 4.0, "post": 8.0}}


def test_categorical_subject_with_unused_category():
    df = pd.DataFrame({"client_id": pd.Categorical(["a", "a", "b"], categories=["a", "b", "z"]),
                       "date": [1, 2, 1], "score": [5.0, 3.0, 4.0]})
    pp = pk.pre_post(df)
    assert pp.index.tolist() == ["a"]
    assert pp.attrs["excluded"]["client_id"].tolist() == ["b"]    # 'z' has no rows at all


def test_missing_subject_raises():
    df = pd.DataFrame({"client_id": ["a", None], "date": [1, 2], "score": [1.0, 2.0]})
    with pytest.raises(ValueError, match="subject column 'client_id' has missing values"):
        pk.pre_post(df)


def test_ha_true_score_cutoff_a_by_hand(claus):
    cs = pk.clinical_significance(claus, **CLAUS, method="HA", cutoff_type="a")
    x1, x2, ids = _wide(claus, "id", "time", "hamd", 1, 4)
    s1 = x1.std(ddof=1)
    se = s1 * np.sqrt(0.2)
    r_c = (s1**2 - se**2) / s1**2                       # Hageman & Arrindell (1999)
    cut = x1.mean() - 2 * s1 * np.sqrt(r_c)
    assert cs["cutoff"].iloc[0] == pytest.approx(cut, rel=1e-12)
    m2, s2 = x2.mean(), x2.std(ddof=1)
    r2 = (s2**2 - se**2) / s2**2
    cs_indiv = (m2 + (x2 - m2) * r2 - cut) / (np.sqrt(r2) * se)
    np.testing.assert_allclose(cs.loc[ids, "cs_indiv"], cs_indiv, rtol=1e-12)
    functional = (x1 > cut) & (-cs_indiv > 1.6448536269514722)
    assert cs.loc[ids, "functional_post"].tolist() == functional.tolist()


def test_categories_are_ordered_categoricals(claus):
    rc = pk.reliable_change(claus, **CLAUS)
    assert list(rc.columns) == ["pre", "post", "change", "rci", "category"]
    assert list(rc["category"].cat.categories) == ["improved", "unchanged", "deteriorated"]


def test_jacobson_plot_data_band_is_critical_times_sdiff(claus):
    rc = pk.reliable_change(claus, **CLAUS)
    lines = pk.jacobson_plot_data(rc)
    x1, _, _ = _wide(claus, "id", "time", "hamd", 1, 4)
    half = 1.959963984540054 * x1.std(ddof=1) * np.sqrt(2 * 0.2)
    up = lines[lines["line"] == "band_upper"]
    np.testing.assert_allclose(up["y"] - up["x"], half)
    cs = pk.clinical_significance(claus, **CLAUS, cutoff_type="a")
    assert {"cutoff_x", "cutoff_y"} <= set(pk.jacobson_plot_data(cs)["line"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(value="nope"), "value column 'nope'"),
    (dict(method="XX"), "method must be one of"),
    (dict(better="down"), "better must be 'lower' or 'higher'"),
    (dict(reliability=1.5), "reliability must lie"),
    (dict(pre=1, post=9), "post=9 does not occur"),
])
def test_bad_arguments_raise_value_error(claus, kwargs, match):
    args = {**CLAUS, **kwargs}
    with pytest.raises(ValueError, match=match):
        pk.reliable_change(claus, **args)


def test_text_time_without_pre_post_raises(jacobson):
    with pytest.raises(ValueError, match="give pre= and post="):
        pk.reliable_change(jacobson, subject="subject", time="time", value="gds",
                           reliability=0.9, better="lower")


def test_duplicate_rows_at_a_time_point_raise():
    df = pd.DataFrame({"client_id": ["a", "a", "a"], "date": [1, 1, 2], "score": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="two scored rows"):
        pk.pre_post(df)
    with pytest.raises(ValueError, match="several score rows"):
        pk.pre_post(df, pre=1, post=2)


def test_cutoff_c_needs_functional_population(claus):
    with pytest.raises(ValueError, match="functional_mean"):
        pk.clinical_significance(claus, **CLAUS)
