"""Sudden gains against the R package suddengains' own test cases and the demo clinic's truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

# suddengains tests/testthat/test-identify_sg.R and test-identify_sl.R (Wiedemann et al.),
# wide rows x_2n, x_1n, x_n, x_n1, x_n2, x_n3 (sessions 1-6); None = missed session
SG_DF1 = {
    1: [28, 19, 23, 12, 13, None], 2: [28, 19, 23, 11, 12, None],
    3: [28, 19, None, 12, 13, None], 4: [28, 19, 23, 12, 13, None],
    5: [28, 19, 23, 12, 14, None], 6: [28, 19, None, 12, 13, None],
    7: [28, 19, 23, 11, 12, None], 8: [28, 25, 28, 11, 12, None],
    9: [28, 26, 28, 11, 12, None], 10: [None, 26, 28, None, 12, 11],
}
# expected sg_3to4 == 1 for ids 2, 7, 8, 9; no other gain (sg_2to3 = 0 or NA, sg_4to5 NA)
SG_DF1_GAINS = {2: 3, 7: 3, 8: 3, 9: 3}
SG_DF2 = {1: [35, 37, 23, 23, 24, 21], 2: [35, 37, 34, 24, 24, 21],
          3: [35, 37, 34, 34, 24, 21], 4: [35, 37, 34, 37, 37, 37]}
SG_DF2_GAINS = {1: 2, 2: 3, 3: 4}  # sg_2to3, sg_3to4, sg_4to5
SL_DF2 = {1: [10, 11, 12, 30, 28, 33], 2: [10, 11, 12, 10, 28, 33],
          3: [10, 11, 30, 30, 28, 33], 4: [35, 37, 34, 23, 24, 21]}
SL_DF2_LOSSES = {1: 3, 2: 4, 3: 2}


def _long(wide: dict[int, list]) -> pd.DataFrame:
    rows = [(f"id{i:02d}", s + 1, float(v)) for i, vals in wide.items()
            for s, v in enumerate(vals) if v is not None]
    d = pd.DataFrame(rows, columns=["client_id", "session", "score"])
    d["date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(d["session"] * 7, "D")
    return d


def _found(result: pd.DataFrame, kind: str) -> dict[int, int]:
    r = result[result["type"] == kind]
    return {int(c[2:]): int(s) for c, s in zip(r["client_id"], r["session"], strict=True)}


def test_suddengains_identify_sg_df1_with_missing_sessions():
    res = pk.sudden_gains(_long(SG_DF1), session="session", cutoff=7)
    assert _found(res, "gain") == SG_DF1_GAINS


def test_brief_example_28_19_23_12_13_vs_11_12():
    # 28,19,23,12,13: mean diff 10.83 < 3.182 x 3.704; 28,19,23,11,12: 11.83 > 11.79
    res = pk.sudden_gains(_long({1: [28, 19, 23, 12, 13], 2: [28, 19, 23, 11, 12]}), cutoff=7)
    assert _found(res, "gain") == {2: 3}


def test_suddengains_identify_sg_df2():
    res = pk.sudden_gains(_long(SG_DF2), cutoff=7)
    assert _found(res, "gain") == SG_DF2_GAINS
    row = res[res["client_id"] == "id01"].iloc[0]
    assert (row["pre"], row["post"], row["magnitude"]) == (37, 23, 14)


def test_suddengains_identify_sl_df2():
    res = pk.sudden_gains(_long(SL_DF2), cutoff=7)
    assert _found(res, "loss") == SL_DF2_LOSSES
    # id04 drops 34 -> 23 (a gain, not a loss)
    assert _found(res, "gain") == {4: 3}


def test_higher_is_better_measure_mirrors_gains():
    # ORS: higher is better; mirror SG_DF2 around 40 so drops become rises
    wide = {i: [40 - v for v in vals] for i, vals in SG_DF2.items()}
    res = pk.sudden_gains(_long(wide).assign(measure="ORS"), measure="ORS", cutoff=7)
    assert _found(res, "gain") != {}
    # criterion 2 uses the pre-gain score itself: recompute the expectation from the rules
    for _, r in res.iterrows():
        assert r["post"] - r["pre"] >= 7 and r["post"] - r["pre"] >= 0.25 * r["pre"]
    assert set(res["type"]) == {"gain"}


def test_default_cutoff_is_reliable_change():
    d = _long({1: [20, 21, 20, 15, 14, 15], 2: [20, 21, 20, 14, 14, 15]}).assign(measure="PHQ-9")
    res = pk.sudden_gains(d, measure="PHQ-9")  # RC on PHQ-9 is 6 points: only id02 qualifies
    assert _found(res, "gain") == {2: 3}
    with pytest.raises(ValueError, match="no reliable-change threshold"):
        pk.sudden_gains(d.assign(measure="PCL-5"), measure="PCL-5")
    with pytest.raises(ValueError, match="give cutoff"):
        pk.sudden_gains(d)


def test_consecutive_gains_are_all_reported_and_flagged():
    d = _long({1: [30, 31, 30, 20, 10, 9, 10]})
    res = pk.sudden_gains(d, cutoff=7)
    gains = res[res["type"] == "gain"]
    assert list(gains["session"]) == [3, 4]
    assert gains["consecutive"].all()


def test_empty_result_keeps_columns():
    res = pk.sudden_gains(_long({1: [10, 10, 10, 10]}), cutoff=5)
    assert res.empty
    assert list(res.columns[:6]) == ["client_id", "type", "session", "pre", "post", "magnitude"]


def test_demo_clinic_planted_sudden_gains():
    # demo truth: sudden_gain clients drop 8-10 PHQ-9 points from session 4 to 5 (1-based
    # pre-gain session 4; truth gain_session is the 0-based index of session 5); noise SD 1.5.
    # The 60-client demo holds only 7 observable planted gains (5 found: two drops shrank below
    # the 6-point RC through noise and the floor at 0), too few to test a rate, so this uses a
    # 400-client demo clinic. Thresholds were set before running it.
    clinic = pk.demo_data(n_clients=400, months=12, seed=1, end="2026-10-31")
    obs = clinic.observations
    truth = clinic.truth.set_index("client_id")
    res = pk.sudden_gains(obs, measure="PHQ-9")
    gains = res[res["type"] == "gain"]
    n_scores = obs[obs["measure"] == "PHQ-9"].groupby("client_id").size()
    planted = truth[(truth["trajectory"] == "sudden_gain") & truth["gain_session"].notna()]
    # a gain needs two PHQ-9 scores after it and three before: observable with >= 7 scores
    planted = planted[n_scores.reindex(planted.index).fillna(0) >= 7]
    assert len(planted) >= 20
    found = gains[gains["client_id"].isin(planted.index)]
    assert planted.index.isin(gains["client_id"]).mean() >= 0.8
    # most are found at the planted interval (a missed session can shift the number by one)
    assert (found.groupby("client_id")["session"].first() == 4).mean() >= 0.7
    flat = truth.index[truth["trajectory"].isin(["non_responder", "deteriorator"])]
    assert gains["client_id"].isin(flat).sum() <= 0.05 * len(flat)


def test_bad_arguments():
    d = _long({1: [10, 10, 10, 10]})
    with pytest.raises(ValueError, match="cutoff must be"):
        pk.sudden_gains(d, cutoff=-3)
    with pytest.raises(ValueError, match="session column 'sess'"):
        pk.sudden_gains(d, cutoff=3, session="sess")
    dup = pd.concat([d, d.iloc[:1]])
    with pytest.raises(ValueError, match="one score per session"):
        pk.sudden_gains(dup, cutoff=3)
    assert np.isfinite(pk.sudden_gains(d, cutoff=3, alpha=0.01).shape[0])
