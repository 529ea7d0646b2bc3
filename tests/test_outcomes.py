"""NHS Talking Therapies outcomes and service rates.

Expected flags are worked out by hand from the rules in the NHS Talking Therapies manual
(NHS England 2023): caseness PHQ-9 >= 10, GAD-7 >= 8, SPIN >= 19; reliable change PHQ-9 6,
GAD-7 4, SPIN 10 points. Wilson intervals are checked against the published values of
Newcombe (1998, Stat Med 17:857, Table I, method 3).
"""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

FLAGS = ["caseness_start", "recovery", "reliable_improvement", "reliable_deterioration",
         "reliable_recovery"]


def scores(rows):
    """rows: (client, day index, measure, score) -> observations in the data model."""
    df = pd.DataFrame(rows, columns=["client_id", "day", "measure", "score"])
    df["date"] = pd.Timestamp("2026-01-05") + pd.to_timedelta(df.pop("day") * 7, unit="D")
    df["score"] = df["score"].astype(float)
    return df[["client_id", "date", "measure", "score"]]


def pair(client, phq, gad, anx="GAD-7"):
    """First and last occasion, and a middle occasion with mid-range scores."""
    return [(client, 0, "PHQ-9", phq[0]), (client, 0, anx, gad[0]),
            (client, 3, "PHQ-9", 12), (client, 3, anx, 9),
            (client, 6, "PHQ-9", phq[1]), (client, 6, anx, gad[1])]


CASES = {
    # client: (PHQ-9 first/last, GAD-7 first/last) -> expected flags in FLAGS order
    "rec":   ((16, 7), (12, 5), [True, True, True, False, True]),
    "nocase": ((8, 5), (6, 3), [False, False, False, False, False]),
    # 10 and 8 are cases; 9 and 7 are below; -6 and -4 are reliable (>=)
    "edge":  ((10, 4), (8, 7), [True, True, True, False, True]),
    # PHQ-9 improves by 6, GAD-7 worsens by 4: mixed change counts as neither
    "mixed": ((16, 10), (4, 8), [True, False, False, False, False]),
    "worse": ((10, 16), (5, 6), [True, False, False, True, False]),
    # recovered without reliable improvement: below both cut-offs, but by less than 6 and 4
    "recnr": ((12, 9), (9, 7), [True, True, False, False, False]),
    # improvement of 5 on PHQ-9 is not reliable
    "five":  ((20, 15), (10, 10), [True, False, False, False, False]),
}


@pytest.fixture(scope="module")
def observations():
    rows = []
    for client, (phq, gad, _) in CASES.items():
        rows += pair(client, phq, gad)
    rows += [("single", 0, "PHQ-9", 20), ("single", 0, "GAD-7", 15)]
    return scores(rows)


def test_flags_follow_the_manual(observations):
    out = pk.talking_therapies_outcomes(observations)
    for client, (_, _, expected) in CASES.items():
        assert out.loc[client, FLAGS].tolist() == expected, client
    assert out.loc["rec", "n_scored"] == 3
    assert bool(out.loc["rec", "finished"])


def test_single_occasion_is_not_finished_and_has_no_outcome(observations):
    out = pk.talking_therapies_outcomes(observations)
    row = out.loc["single"]
    assert row["n_scored"] == 1 and not row["finished"]
    assert row[FLAGS].tolist() == [True, False, False, False, False]


def test_row_order_does_not_matter(observations):
    a = pk.talking_therapies_outcomes(observations)
    b = pk.talking_therapies_outcomes(observations.sample(frac=1, random_state=0))
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


def test_categorical_ids_and_measures_give_same_result(observations):
    cat = observations.astype({"client_id": "category", "measure": "category"})
    a = pk.talking_therapies_outcomes(observations)
    b = pk.talking_therapies_outcomes(cat)
    assert b.index.astype(str).tolist() == a.index.tolist()
    pd.testing.assert_frame_equal(a[FLAGS + ["n_scored"]].reset_index(drop=True),
                                  b[FLAGS + ["n_scored"]].reset_index(drop=True))


def test_missing_scores_are_ignored():
    obs = scores(pair("a", (16, 7), (12, 5)) + [("a", 9, "PHQ-9", np.nan)])
    out = pk.talking_therapies_outcomes(obs)
    assert out.loc["a", "depression_last"] == 7.0
    assert out.loc["a", "n_scored"] == 3


def test_sessions_decide_finished():
    obs = scores(pair("a", (16, 7), (12, 5)) + pair("b", (16, 7), (12, 5)))
    sessions = pd.DataFrame({
        "client_id": ["a", "a", "a", "b", "b", "b"],
        "date": pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"] * 2),
        "attended": [True, True, False, True, False, True],
        "kind": ["assessment", "treatment", "treatment", "treatment", "treatment", "treatment"],
    })
    out = pk.talking_therapies_outcomes(obs, sessions)
    assert out["n_treatment_sessions"].to_dict() == {"a": 1, "b": 2}
    assert out["finished"].to_dict() == {"a": False, "b": True}
    assert out["recovery"].to_dict() == {"a": False, "b": True}


def test_disorder_specific_measure_follows_problem():
    rows = (pair("sa", (8, 6), (30, 15), anx="SPIN")         # SPIN 30 -> 15: case, recovered
            + [("sa", 0, "GAD-7", 3), ("sa", 6, "GAD-7", 20)]  # ignored for this client
            + pair("nospin", (8, 6), (12, 5)))                 # social anxiety, no SPIN scores
    clients = pd.DataFrame({"client_id": ["sa", "nospin"], "therapist_id": ["t1", "t2"],
                            "problem": ["social_anxiety", "social_anxiety"]})
    out = pk.talking_therapies_outcomes(scores(rows), clients=clients)
    assert out["anxiety_measure"].astype(str).to_dict() == {"sa": "SPIN", "nospin": "GAD-7"}
    assert out.loc["sa", ["anxiety_first", "anxiety_last"]].tolist() == [30.0, 15.0]
    # SPIN falls by 15 >= 10 and ends below 19
    assert out.loc["sa", FLAGS].tolist() == [True, True, True, False, True]
    assert out["therapist_id"].to_dict() == {"sa": "t1", "nospin": "t2"}
    assert "SPIN" in out.attrs["method"]


def test_missing_column_raises():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['score'\]"):
        pk.talking_therapies_outcomes(pd.DataFrame({"client_id": [], "date": [],
                                                    "measure": []}))


# ---------------------------------------------------------------- service rates


@pytest.mark.parametrize("x, n, low, high", [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718)])
def test_wilson_matches_newcombe_1998(x, n, low, high):
    lo, hi = pk.wilson_interval(x, n)
    assert (round(float(lo), 4), round(float(hi), 4)) == (low, high)


def _outcomes(n_rec, n_case_not_rec, n_not_case, therapist="t1"):
    k = n_rec + n_case_not_rec + n_not_case
    return pd.DataFrame({
        "therapist_id": therapist,
        "last_date": pd.Timestamp("2026-03-10"),
        "finished": True,
        "caseness_start": [True] * (n_rec + n_case_not_rec) + [False] * n_not_case,
        "recovery": [True] * n_rec + [False] * (k - n_rec),
        "reliable_improvement": [True] * n_rec + [False] * (k - n_rec),
        "reliable_deterioration": [False] * (k - 1) + [True],
        "reliable_recovery": [True] * n_rec + [False] * (k - n_rec),
    })


def test_recovery_rate_denominator_excludes_not_cases():
    out = pd.concat([_outcomes(12, 8, 5), _outcomes(0, 0, 1).assign(finished=False)],
                    ignore_index=True)
    r = pk.service_rates(out, suppress=False).set_index("outcome")
    assert (r.loc["recovery", "numerator"], r.loc["recovery", "denominator"]) == (12, 20)
    assert r.loc["recovery", "rate"] == pytest.approx(0.6)
    assert r.loc["reliable_improvement", "denominator"] == 25          # over finished
    assert r.loc["finished", ["numerator", "denominator"]].tolist() == [25, 26]
    lo, hi = pk.wilson_interval(12, 20)
    assert r.loc["recovery", "ci_low"] == pytest.approx(float(lo))
    assert r.loc["recovery", "ci_high"] == pytest.approx(float(hi))


def test_suppression_and_grouping():
    out = pd.concat([_outcomes(12, 8, 5, "t1"), _outcomes(2, 3, 1, "t2")], ignore_index=True)
    r = pk.service_rates(out, by="therapist_id")
    t2 = r[(r["therapist_id"] == "t2")].set_index("outcome")
    assert t2.loc["recovery", "numerator"] == "<5"
    assert t2.loc["recovery", "denominator"] == "5"
    assert np.isnan(t2.loc["recovery", "rate"])
    # with two therapists, t1's count would give t2's away (service total minus t1): withheld too
    t1 = r[(r["therapist_id"] == "t1")].set_index("outcome")
    assert t1.loc["recovery", "numerator"] == "suppressed"
    assert np.isnan(t1.loc["recovery", "rate"])
    open_rates = pk.service_rates(out, by="therapist_id", suppress=False)
    t1_open = open_rates[open_rates["therapist_id"] == "t1"].set_index("outcome")
    assert t1_open.loc["recovery", "rate"] == pytest.approx(0.6)
    by_month = pk.service_rates(out, by="month", suppress=False)
    assert set(by_month["month"]) == {"2026-03"}


def test_complementary_suppression_keeps_a_single_hidden_count_hidden():
    out = pd.concat([_outcomes(12, 8, 5, "t1"), _outcomes(7, 3, 1, "t2"),
                     _outcomes(2, 6, 1, "t3")], ignore_index=True)
    r = pk.service_rates(out, by="therapist_id")
    rec = r[r["outcome"] == "recovery"].set_index("therapist_id")
    assert rec["numerator"].tolist() == ["12", "suppressed", "<5"]
    # what a reader can still derive: total 21 minus 12 leaves 9 for t2 and t3 together
    total = pk.service_rates(out).set_index("outcome").loc["recovery", "numerator"]
    assert total == "21"
    assert rec.loc["t1", "rate"] == pytest.approx(12 / 20)
    assert rec[["rate"]].iloc[1:].isna().all().all()
    # denominators 20, 10, 8 are all shown: none is small
    assert rec["denominator"].tolist() == ["20", "10", "8"]
    assert "next smallest is withheld" in r.attrs["method"]


def test_end_to_end_rates_from_observations(observations):
    r = pk.service_rates(pk.talking_therapies_outcomes(observations), suppress=False)
    r = r.set_index("outcome")
    # finished: 7 cases, 6 of them case at start ('nocase' is not); recovered: rec, edge, recnr
    assert r.loc["recovery", ["numerator", "denominator"]].tolist() == [3, 6]
    assert r.loc["reliable_improvement", ["numerator", "denominator"]].tolist() == [2, 7]
    assert r.loc["reliable_deterioration", ["numerator", "denominator"]].tolist() == [1, 7]
    assert r.loc["reliable_recovery", ["numerator", "denominator"]].tolist() == [2, 6]


def test_bad_by_column_raises():
    with pytest.raises(ValueError, match="by column 'nurse'"):
        pk.service_rates(_outcomes(1, 1, 1), by="nurse")
