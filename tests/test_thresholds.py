"""Every comparison with a published threshold counts a difference equal to it as reaching it
(issue 21 part 5), tested on a decimal-step measure: the ORS (step 0.1, reliable change 5,
clinical below 25; Miller et al. 2003). In binary, 16.4 - 11.4 is 4.999999999999998."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

DAY0 = pd.Timestamp("2026-01-05")


def ors_pairs_five_apart():
    """Every ORS pair on the 0.1 grid whose difference is exactly 5 points, both directions."""
    grid = np.round(np.arange(0, 351) / 10, 1)  # 0.0 .. 35.0
    pre = np.concatenate([grid, grid + 5])
    post = np.concatenate([grid + 5, grid])
    post, pre = np.round(post, 1), np.round(pre, 1)
    return pre, post


def two_scores(pre, post, measure="ORS"):
    n = len(pre)
    ids = np.char.add("c", np.arange(n).astype(str))
    return pd.DataFrame({"client_id": np.repeat(ids, 2),
                         "date": np.tile([DAY0, DAY0 + pd.Timedelta(days=28)], n),
                         "measure": measure, "score": np.column_stack([pre, post]).ravel()})


def test_plain_subtraction_misses_the_threshold_on_many_pairs():
    pre, post = ors_pairs_five_apart()
    assert (np.abs(post - pre) < 5).sum() >= 30  # what the old ">=" got wrong
    assert pk.reaches(np.abs(post - pre), 5).all()
    assert not pk.reaches(4.9, 5) and pk.reaches(5.0, 5) and not pk.reaches(np.nan, 5)


def test_reliable_change_counts_every_five_point_ors_change():
    pre, post = ors_pairs_five_apart()
    res = pk.reliable_change(two_scores(pre, post), measure="ORS", method="threshold")
    rising = post > pre  # higher is better on the ORS
    cat = res["category"].astype(str).to_numpy()
    assert (cat[rising] == "improved").all() and (cat[~rising] == "deteriorated").all()


def test_clinical_cutoff_holds_at_its_boundary():
    # a sum of four decimal VAS marks that equals the cut-off is at it, not beyond it:
    # 5.0 + 6.3 + 5.9 + 7.8 = 25.000000000000004 in binary; the ORS is clinical below 25
    total = 5.0 + 6.3 + 5.9 + 7.8
    assert total != 25
    m = pk.get_measure("ORS")
    assert not m.is_clinical([total])[0] and m.is_clinical([24.9])[0]
    phq = pk.get_measure("PHQ-9")  # clinical at >= 10
    assert phq.is_clinical([10 - 1e-12])[0] and not phq.is_clinical([9.9])[0]


def test_client_flags_at_the_boundary():
    pre, post = ors_pairs_five_apart()
    falling = post < pre
    f = pk.client_flags(two_scores(pre[falling], post[falling]), measure="ORS")
    assert f["reliable_deterioration"].all()


def test_sudden_gains_at_the_boundary():
    # Tang & DeRubeis: a gain of at least the reliable change (ORS 5) and 25% of the score
    # before, with a stable period around it; 16.4 -> 21.4 is exactly 5
    scores = [12.0, 16.2, 16.4, 21.4, 21.6, 21.5, 21.8]
    d = pd.DataFrame({"client_id": "a", "date": DAY0 + pd.to_timedelta(np.arange(7) * 7, unit="D"),
                      "measure": "ORS", "score": scores})
    res = pk.sudden_gains(d, measure="ORS")
    assert list(res["type"]) == ["gain"] and res["magnitude"].iloc[0] == pytest.approx(5)


def test_talking_therapies_outcomes_at_the_boundary():
    # PHQ-9 and GAD-7 are whole numbers; a prorated or imported total can carry rounding:
    # 16 - 10.000000000000002 is a fall of 5.999999999999998, a reliable improvement of 6
    obs = pd.DataFrame({"client_id": "a", "date": [DAY0, DAY0, DAY0 + pd.Timedelta(days=56),
                                                   DAY0 + pd.Timedelta(days=56)],
                        "measure": ["PHQ-9", "GAD-7", "PHQ-9", "GAD-7"],
                        "score": [16.0, 12.0, 16 - 5.999999999999998, 12.0]})
    out = pk.talking_therapies_outcomes(obs)
    assert bool(out.loc["a", "reliable_improvement"])


def test_trajectory_plot_labels_at_the_boundary():
    d = two_scores(np.array([16.4]), np.array([11.4]))
    res = pk.trajectory_plot_data(d, "c0", "ORS")
    assert res["reliable"].iloc[-1] == "deteriorated"
