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
    r = pk.service_rates(out, audience="internal").set_index("outcome")
    assert (r.loc["recovery", "numerator"], r.loc["recovery", "denominator"]) == (12, 20)
    assert r.loc["recovery", "rate"] == pytest.approx(0.6)
    assert r.loc["reliable_improvement", "denominator"] == 25          # over finished
    assert r.loc["finished", ["numerator", "denominator"]].tolist() == [25, 26]
    lo, hi = pk.wilson_interval(12, 20)
    assert r.loc["recovery", "ci_low"] == pytest.approx(float(lo))
    assert r.loc["recovery", "ci_high"] == pytest.approx(float(hi))


@pytest.mark.parametrize("count, shown", [(23, "25"), (7, "5"), (3, "*"), (0, "*"), (4, "*"),
                                          (5, "5"), (8, "10"), (22, "20"), (103, "105")])
def test_nhs_digital_rounding(count, shown):
    # NHS Digital: below 5 -> '*', others to the nearest 5 (remainder 3 or 4 rounds up)
    assert pk.publication_counts([count]).tolist() == [shown]


def test_publication_rates_come_from_rounded_counts_and_need_5_each_side():
    # 7 of 23 finished: both shown (rounded to 5 and 25); the rate is 5/25, the published
    # counts', never 7/23, which would give the exact counts away (issue 22)
    out = pd.DataFrame({"finished": [True] * 7 + [False] * 16, "caseness_start": True,
                        "recovery": [True] * 3 + [False] * 20, "reliable_improvement": False,
                        "reliable_deterioration": False, "reliable_recovery": False})
    r = pk.service_rates(out, audience="publication").set_index("outcome")
    assert r.loc["finished", ["numerator", "denominator"]].tolist() == ["5", "25"]
    assert r.loc["finished", "rate"] == pytest.approx(5 / 25)
    lo, hi = pk.wilson_interval(5, 25)
    assert r.loc["finished", "ci_low"] == pytest.approx(float(lo))
    assert r.loc["finished", "ci_high"] == pytest.approx(float(hi))
    assert pk.service_rates(out, audience="internal").set_index("outcome").loc[
        "finished", "rate"] == pytest.approx(7 / 23)
    # recovery 3 of 7: numerator below 5, rate withheld; and the 7 cases are all of the 7
    # finished (none on the other side of the caseness rate): withheld too
    assert r.loc["recovery", ["numerator", "denominator"]].tolist() == ["*", "*"]
    assert r.loc["caseness_start", ["numerator", "denominator"]].tolist() == ["*", "5"]
    assert np.isnan(r.loc["recovery", ["rate", "ci_low", "ci_high"]].astype(float)).all()


def test_publication_withholds_a_rate_with_fewer_than_5_on_the_other_side():
    # "finished 7 of 8" would tell that 1 did not finish (issue 14, item 7)
    out = pd.DataFrame({"finished": [True] * 7 + [False], "caseness_start": True, "recovery": False,
                        "reliable_improvement": False, "reliable_deterioration": False,
                        "reliable_recovery": False})
    # and "5 of 10" beside a withheld rate would still say "nearly all": the numerator is
    # withheld with its small other side (den = num + other side is a relation like any total)
    r = pk.service_rates(out).set_index("outcome")
    assert r.loc["finished", ["numerator", "denominator"]].tolist() == ["*", "10"]
    assert np.isnan(r.loc["finished", "rate"])
    assert pk.service_rates(out, audience="internal").set_index("outcome").loc[
        "finished", "rate"] == pytest.approx(7 / 8)


def test_suppress_is_a_deprecated_alias():
    out = _outcomes(12, 8, 5)
    with pytest.warns(DeprecationWarning, match="audience='internal'"):
        old = pk.service_rates(out, suppress=False)
    pd.testing.assert_frame_equal(old, pk.service_rates(out, audience="internal"))
    with pytest.warns(DeprecationWarning):
        old = pk.service_rates(out, suppress=True)
    pd.testing.assert_frame_equal(old, pk.service_rates(out, audience="publication"))
    with pytest.raises(ValueError, match="audience 'public'"):
        pk.service_rates(out, audience="public")


def test_suppression_and_grouping():
    out = pd.concat([_outcomes(12, 8, 5, "t1"), _outcomes(2, 3, 1, "t2")], ignore_index=True)
    r = pk.service_rates(out, by="therapist_id")
    t2 = r[(r["therapist_id"] == "t2")].set_index("outcome")
    assert t2.loc["recovery", "numerator"] == "*"
    assert t2.loc["recovery", "denominator"] == "5"
    assert np.isnan(t2.loc["recovery", "rate"])
    # with two therapists, t1's count would give t2's away (service total minus t1): withheld too
    t1 = r[(r["therapist_id"] == "t1")].set_index("outcome")
    assert t1.loc["recovery", "numerator"] == "*"
    assert np.isnan(t1.loc["recovery", "rate"])
    open_rates = pk.service_rates(out, by="therapist_id", audience="internal")
    t1_open = open_rates[open_rates["therapist_id"] == "t1"].set_index("outcome")
    assert t1_open.loc["recovery", "rate"] == pytest.approx(0.6)
    by_month = pk.service_rates(out, by="month", audience="internal")
    assert set(by_month["month"]) == {"2026-03"}


def test_complementary_suppression_keeps_a_single_hidden_count_hidden():
    # recovered 12, 7 and 2 (total 21): hiding 2 alone leaves it as 21 - 12 - 7, so the next
    # smallest (7) is withheld too; worked by hand
    out = pd.concat([_outcomes(12, 8, 5, "t1"), _outcomes(7, 3, 1, "t2"),
                     _outcomes(2, 6, 1, "t3")], ignore_index=True)
    r = pk.service_rates(out, by="therapist_id")
    rec = r[r["outcome"] == "recovery"].set_index("therapist_id")
    assert rec["numerator"].tolist() == ["10", "*", "*"]
    total = pk.service_rates(out).set_index("outcome").loc["recovery", "numerator"]
    assert total == "20"
    assert rec.loc["t1", "rate"] == pytest.approx(10 / 20)  # the published 10 of 20
    assert rec[["rate"]].iloc[1:].isna().all().all()
    # denominators 20, 10, 8 are all shown: none is small
    assert rec["denominator"].tolist() == ["20", "10", "10"]
    assert "complementary suppression across the groups" in r.attrs["method"]


def test_protect_counts_repeats_until_no_relation_has_one_hidden_cell():
    # a 2 x 2 table with margins: rows a, b; columns x, y; cells by hand
    #            x    y   total
    #   a        3   10    13
    #   b        9    8    17
    #   total   12   18    30
    cells = [3, 10, 13, 9, 8, 17, 12, 18, 30]
    rel = [(2, [0, 1]), (5, [3, 4]), (6, [0, 3]), (7, [1, 4]), (8, [2, 5]), (8, [6, 7])]
    hidden = pk.protect_counts(cells, rel)
    # 3 hidden -> row a hides 10, column x hides 9, then row b hides 8: all four inner cells
    assert hidden.tolist() == [True, True, False, True, True, False, False, False, False]
    for total, parts in rel:
        assert hidden[[total, *parts]].sum() != 1


def test_end_to_end_rates_from_observations(observations):
    r = pk.service_rates(pk.talking_therapies_outcomes(observations), audience="internal")
    r = r.set_index("outcome")
    # finished: 7 cases, 6 of them case at start ('nocase' is not); recovered: rec, edge, recnr
    assert r.loc["recovery", ["numerator", "denominator"]].tolist() == [3, 6]
    assert r.loc["reliable_improvement", ["numerator", "denominator"]].tolist() == [2, 7]
    assert r.loc["reliable_deterioration", ["numerator", "denominator"]].tolist() == [1, 7]
    assert r.loc["reliable_recovery", ["numerator", "denominator"]].tolist() == [2, 6]


def test_bad_by_column_raises():
    with pytest.raises(ValueError, match="by column 'nurse'"):
        pk.service_rates(_outcomes(1, 1, 1), by="nurse")


# ---------------------------------------------------------------- finished, ended and periods


def _clients(rows):
    """rows: (client, status, end date or None, therapist)."""
    return pd.DataFrame({"client_id": [r[0] for r in rows], "status": [r[1] for r in rows],
                         "end_date": pd.to_datetime([r[2] for r in rows]),
                         "therapist_id": [r[3] for r in rows]})


def _treatment(client, n, start="2026-01-05"):
    return pd.DataFrame({"client_id": client, "attended": True, "kind": "treatment",
                         "date": pd.date_range(start, periods=n, freq="7D")})


@pytest.fixture(scope="module")
def referrals():
    """Same scores (PHQ-9 16 -> 7, GAD-7 12 -> 5: recovered and reliably improved) for:
    an active client, a dropped client with 2 sessions, a finished client with 1 treatment
    session, and finished clients ending in October, December 2026 and March 2027."""
    obs = scores(sum((pair(c, (16, 7), (12, 5)) for c in
                      ["active", "dropped2", "finished1", "oct", "dec", "mar"]), []))
    clients = _clients([("active", "active", None, "t1"),
                        ("dropped2", "dropped", "2026-10-20", "t1"),
                        ("finished1", "finished", "2026-10-21", "t2"),
                        ("oct", "finished", "2026-10-31", "t2"),
                        ("dec", "finished", "2026-12-01", "t2"),
                        ("mar", "finished", "2027-03-15", "t1")])
    sessions = pd.concat([_treatment("active", 6), _treatment("dropped2", 2),
                          _treatment("finished1", 1), _treatment("oct", 4), _treatment("dec", 3),
                          _treatment("mar", 5)], ignore_index=True)
    return obs, sessions, clients


def test_active_client_is_in_no_outcome(referrals):
    out = pk.talking_therapies_outcomes(*referrals[:2], clients=referrals[2])
    row = out.loc["active"]
    assert not row["ended"] and not row["finished"]
    assert row[["recovery", "reliable_improvement", "reliable_deterioration",
                "reliable_recovery"]].tolist() == [False] * 4
    r = pk.service_rates(out, audience="internal").set_index("outcome")
    # 5 referrals ended (not the active one); 4 finished (not the one with a single session)
    assert r.loc["finished", ["numerator", "denominator"]].tolist() == [4, 5]
    assert r.loc["recovery", ["numerator", "denominator"]].tolist() == [4, 4]


def test_dropped_with_two_sessions_finished_and_one_session_did_not(referrals):
    out = pk.talking_therapies_outcomes(*referrals[:2], clients=referrals[2])
    assert out.loc["dropped2", ["ended", "finished", "recovery"]].tolist() == [True, True, True]
    assert out.loc["finished1", "n_treatment_sessions"] == 1
    assert out.loc["finished1", ["ended", "finished", "recovery"]].tolist() == [True, False, False]
    assert "referral ended" in out.attrs["method"]


@pytest.mark.parametrize("period, ids", [
    ("2026-10", {"dropped2", "finished1", "oct"}),
    ("2026Q4", {"dropped2", "finished1", "oct", "dec"}),
    ("2026", {"dropped2", "finished1", "oct", "dec"}),
    ("2027", {"mar"}),
    (("2026-10-21", "2026-12-01"), {"finished1", "oct", "dec"}),
    (("2026-12-02", "2027-03-14"), set()),
])
def test_period_keeps_referrals_that_ended_in_it(referrals, period, ids):
    out = pk.talking_therapies_outcomes(*referrals[:2], clients=referrals[2], period=period)
    assert set(out.index) == ids
    assert "active" not in out.index


@pytest.mark.parametrize("bad", ["2026-13", "Q4 2026", "2026-10-05", ("2026-11-01", "2026-10-01"),
                                 ("2026-10-01",)])
def test_bad_period_raises(referrals, bad):
    with pytest.raises(ValueError, match="period"):
        pk.talking_therapies_outcomes(*referrals[:2], clients=referrals[2], period=bad)


def test_period_needs_end_dates(referrals):
    with pytest.raises(ValueError, match="needs clients with the columns 'status' and 'end_date'"):
        pk.talking_therapies_outcomes(referrals[0], period="2026-10")


def test_scores_after_the_end_date_are_ignored():
    # discharged on day 42 recovered (PHQ-9 7); a follow-up score of 15 later is not the outcome
    obs = scores(pair("a", (16, 7), (12, 5)) + [("a", 10, "PHQ-9", 15), ("a", 10, "GAD-7", 11)])
    clients = _clients([("a", "finished", "2026-02-16", "t1")])
    out = pk.talking_therapies_outcomes(obs, _treatment("a", 3), clients=clients)
    assert out.loc["a", ["depression_last", "anxiety_last"]].tolist() == [7.0, 5.0]
    assert bool(out.loc["a", "recovery"])


def test_by_month_counts_the_month_the_referral_ended(referrals):
    out = pk.talking_therapies_outcomes(*referrals[:2], clients=referrals[2])
    r = pk.service_rates(out[out["ended"]], by="month", audience="internal")
    fin = r[r["outcome"] == "finished"].set_index("month")
    assert fin["denominator"].to_dict() == {"2026-10": 3, "2026-12": 1, "2027-03": 1}
