"""The client decision layer: every rule branch, mirrored direction, critical items, the backtest."""

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk

DAY0 = pd.Timestamp("2026-01-05")


def course(cid, scores, measure="PHQ-9", every_days=7, start=DAY0):
    return pd.DataFrame({"client_id": cid, "date": start + pd.to_timedelta(
        np.arange(len(scores)) * every_days, unit="D"), "measure": measure,
        "score": np.asarray(scores, dtype=float)})


def service(n=200, k=10, share_worse=0.05, seed=0, measure="PHQ-9", noise=1.0):
    """Simulated service with planted deteriorators (known truth).

    Improvers fall 0.8 points per session, deteriorators rise 1.5 per session; noise is uniform
    within +-noise, so every deteriorator ends reliably worse (>= 6) and no improver does.
    """
    rng = np.random.default_rng(seed)
    worse = np.arange(n) < round(share_worse * n)
    s = np.tile(np.arange(k), n)
    intake = np.repeat(rng.integers(12, 20, n), k).astype(float)
    slope = np.where(np.repeat(worse, k), 1.5, -0.8)
    y = intake + slope * s + np.where(s > 0, rng.uniform(-noise, noise, n * k), 0)
    m = pk.get_measure(measure)
    y = np.clip(np.round(y), m.min, m.max)
    ids = np.char.add("c", np.repeat(np.arange(n), k).astype(str))
    obs = pd.DataFrame({"client_id": ids, "date": DAY0 + pd.to_timedelta(s * 7, unit="D"),
                        "measure": measure, "score": y})
    truth = pd.Series(worse, index=pd.Index(np.char.add("c", np.arange(n).astype(str))))
    return obs, truth


def test_columns_and_types():
    obs, _ = service(n=40)
    f = pk.client_flags(obs)
    assert list(f.columns) == ["status", "reliable_deterioration", "not_on_track", "stalled",
                               "critical_item", "reasons", "n_scores", "first_score", "first_date",
                               "latest_score", "latest_date", "severity"]
    assert f.index.name == "client_id" and f.index.is_unique and len(f) == 40
    assert f["not_on_track"].dtype == "boolean"
    for col in ("reliable_deterioration", "stalled", "critical_item"):
        assert f[col].dtype == bool
    assert set(f["status"]) <= set(pk.FLAG_STATUSES)
    assert "Reliable deterioration" in f.attrs["method"] and "6 points" in f.attrs["method"]
    assert pd.api.types.is_datetime64_any_dtype(f["latest_date"])


def test_reliable_deterioration_at_the_threshold():
    # PHQ-9 reliable change is 6 points (NHS Talking Therapies manual)
    obs = pd.concat([course("up6", [10, 12, 16]), course("up5", [10, 12, 15]),
                     course("down", [20, 14])])
    f = pk.client_flags(obs)
    assert f.loc["up6", "reliable_deterioration"] and f.loc["up6", "status"] == "alert"
    assert "PHQ-9 up 6 points since the first score (reliable deterioration" in f.loc["up6", "reasons"]
    assert not f.loc["up5", "reliable_deterioration"]
    assert not f.loc["down", "reliable_deterioration"]
    assert f.loc["up6", "severity"] == "moderately severe"  # 16, Kroenke et al. 2001


def test_higher_is_better_measure_is_mirrored():
    # ORS: higher is better, reliable change 5, clinical below 25 (Miller et al. 2003)
    obs = pd.concat([course("fall", [30, 27, 25], "ORS"), course("rise", [15, 20, 25], "ORS"),
                     course("stuck", [18, 19, 18, 20, 19, 21, 20], "ORS")])
    f = pk.client_flags(obs, measure="ORS")
    assert f.loc["fall", "reliable_deterioration"] and f.loc["fall", "status"] == "alert"
    assert "ORS down 5 points" in f.loc["fall", "reasons"]
    assert not f.loc["rise", "reliable_deterioration"]
    assert f.loc["stuck", "stalled"] and f.loc["stuck", "status"] == "watch"
    assert not f.loc["rise", "stalled"]
    assert f["severity"].isna().all()  # the ORS has no published severity bands


def test_stalled_needs_every_condition():
    flat = [16, 15, 17, 16, 15, 16]            # 6 scores over 5 weeks
    obs = pd.concat([
        course("stalled", flat, every_days=8.4),          # 6 scores over exactly 6 weeks
        course("too_short", flat, every_days=7),         # only 5 weeks
        course("too_few", flat[:5], every_days=14),      # 5 scores
        course("improved", [16, 15, 14, 13, 12, 10], every_days=10),  # 6 points better
        course("recovered", [12, 11, 10, 10, 9, 9], every_days=10),   # latest below cut-off 10
        course("at_cutoff", [12, 11, 12, 11, 10, 10], every_days=10),  # 10 is clinical
    ])
    f = pk.client_flags(obs)
    assert f["stalled"].to_dict() == {"at_cutoff": True, "improved": False, "recovered": False,
                                      "stalled": True, "too_few": False, "too_short": False}
    assert f.loc["stalled", "status"] == "watch"
    assert "stalled: no reliable improvement over 6 scores in 6 weeks" in f.loc["stalled", "reasons"]
    assert "clinical if PHQ-9 >= 10" in f.loc["stalled", "reasons"]
    assert f.loc["recovered", "status"] == "on track"
    assert "no alert or watch rule met" in f.loc["recovered", "reasons"]
    f2 = pk.client_flags(obs, stall_after=5, stall_weeks=5)
    assert f2.loc["too_short", "stalled"] and f2.loc["too_few", "stalled"]


def test_insufficient_data_unless_critical_item():
    obs = pd.concat([course("one", [14]), course("two", [14, 13])])
    items = pd.DataFrame({"client_id": "crit_only", "date": DAY0, "measure": "PHQ-9",
                          "item": range(1, 10), "response": [1, 1, 1, 1, 1, 1, 1, 1, 1]})
    f = pk.client_flags(obs, items=items)
    assert f.loc["one", "status"] == "insufficient data"
    assert "only one PHQ-9 score (14 on 2026-01-05)" in f.loc["one", "reasons"]
    assert f.loc["crit_only", "status"] == "alert" and f.loc["crit_only", "critical_item"]
    assert f.loc["crit_only", "n_scores"] == 0 and "no PHQ-9 score yet" in f.loc["crit_only", "reasons"]
    assert pd.isna(f.loc["one", "not_on_track"])


def phq_items(cid, date, responses):
    return pd.DataFrame({"client_id": cid, "date": pd.Timestamp(date), "measure": "PHQ-9",
                         "item": np.arange(1, 10), "response": responses}).dropna(subset=["response"])


def test_critical_item_at_latest_administration_with_prorated_items():
    obs = pd.concat([course("a", [15, 14]), course("b", [15, 14]), course("c", [15, 14]),
                     course("d", [15, 14])])
    nan = np.nan
    items = pd.concat([
        # a: item 9 was 2 at intake but 0 at the latest administration -> no flag
        phq_items("a", "2026-01-05", [2, 2, 2, 2, 2, 2, 1, 0, 2]),
        phq_items("a", "2026-01-12", [2, 2, 2, 2, 2, 2, 1, 1, 0]),
        # b: item 3 unanswered (prorated total), item 9 answered 1 -> flag
        phq_items("b", "2026-01-12", [2, 2, nan, 2, 2, 2, 1, 0, 1]),
        # c: item 9 itself unanswered at the latest administration -> no flag, but said
        phq_items("c", "2026-01-12", [2, 2, 2, 2, 2, 2, 1, 1, nan]),
        # d: another measure's items do not count
        pd.DataFrame({"client_id": "d", "date": DAY0, "measure": "GAD-7", "item": range(1, 8),
                      "response": 3}),
    ])
    # the prorated total of b's items is the score the data layer would derive
    wide = items[items["client_id"] == "b"].pivot(index="client_id", columns="item", values="response")
    wide = wide.reindex(columns=range(1, 10))
    wide.columns = [f"phq{i}" for i in wide.columns]
    assert pk.score_items(wide.reset_index(), "PHQ-9")["prorated"].iloc[0]
    f = pk.client_flags(obs, items=items)
    assert f["critical_item"].to_dict() == {"a": False, "b": True, "c": False, "d": False}
    assert f.loc["b", "status"] == "alert"
    assert "item 9 (thoughts of being better off dead or of hurting oneself) answered 1 on 2026-01-12" \
        in f.loc["b", "reasons"]
    assert "item 9 (thoughts of being better off dead or of hurting oneself) not answered on 2026-01-12" \
        in f.loc["c", "reasons"]
    # as_of goes back to a's intake, where item 9 was 2
    assert pk.client_flags(obs, items=items, as_of="2026-01-05").loc["a", "critical_item"]


def test_core10_item6_is_critical():
    obs = course("a", [12, 12], "CORE-10")
    items = pd.DataFrame({"client_id": "a", "date": DAY0 + pd.Timedelta(days=7), "measure": "CORE-10",
                          "item": range(1, 11), "response": [1, 1, 1, 1, 1, 1, 2, 2, 1, 1]})
    assert pk.client_flags(obs, items=items, measure="CORE-10").loc["a", "critical_item"]


def test_not_on_track_with_a_reference_matches_on_track():
    ref, _ = service(n=300, seed=1, share_worse=0.1)
    er = pk.expected_response(ref, measure="PHQ-9")
    obs, _ = service(n=100, seed=2, share_worse=0.2)
    obs = obs[obs["date"] <= DAY0 + pd.Timedelta(days=7 * 5)]
    f = pk.client_flags(obs, expected=er)
    signal = pk.on_track(obs, er, measure="PHQ-9").groupby("client_id")["signal"].last()
    assert (f["not_on_track"].astype(bool) == (signal == "not on track")).all()
    assert f["not_on_track"].sum() >= 20
    assert (f.loc[f["not_on_track"].astype(bool), "status"] == "watch").all() or \
        f.loc[f["not_on_track"].astype(bool), "status"].isin(["watch", "alert"]).all()
    assert "reference given as expected=" in f.attrs["method"]


def brute_force_loo(obs):
    """The rule read literally: for each client, fit the band without them, then judge them."""
    out = {}
    for cid, own in obs.groupby("client_id"):
        if len(own) < 2:
            out[cid] = pd.NA
            continue
        er = pk.expected_response(obs[obs["client_id"] != cid], measure="PHQ-9")
        out[cid] = pk.on_track(own, er, measure="PHQ-9")["signal"].iloc[-1] == "not on track"
    return pd.Series(out)


def test_leave_one_client_out_band_agrees_with_refitting_per_client():
    obs, _ = service(n=60, k=7, seed=3, share_worse=0.1, noise=2.5)
    rng = np.random.default_rng(4)
    # uneven course lengths
    keep = obs.groupby("client_id").cumcount() < np.repeat(rng.integers(2, 8, 60), 7)
    obs = obs[keep.to_numpy()]
    f = pk.client_flags(obs)
    ref = brute_force_loo(obs).reindex(f.index)
    agree = (f["not_on_track"].astype(bool) == ref.astype(bool)).mean()
    # the band is refitted without the client exactly, except that the other clients'
    # residuals are taken around the all-client curve (an O(1/N) shift); see _loo_band
    assert agree >= 0.95, agree
    assert f["not_on_track"].notna().all()


def test_judged_client_does_not_shape_its_own_band():
    # 20 ordinary clients and 4 identical deteriorators. Fitted on everyone, the 90% quantile of
    # 24 residuals lies between the 21st and 22nd, both deteriorators, so they judge themselves
    # on track; left out, each faces 3 deteriorators among 23 and is flagged.
    obs, _ = service(n=20, k=6, seed=5, share_worse=0.0, noise=1.0)
    worst = [course(f"w{i}", [14, 16, 18, 20, 22, 24]) for i in range(4)]
    obs = pd.concat([obs, *worst])
    everyone = pk.expected_response(obs, measure="PHQ-9")
    assert (pk.on_track(worst[0], everyone, measure="PHQ-9")["signal"].iloc[-1] != "not on track")
    f = pk.client_flags(obs)
    assert f.loc[[f"w{i}" for i in range(4)], "not_on_track"].all()
    assert f.loc["w0", "status"] == "alert"  # and reliably worse (+10)


def test_not_on_track_is_na_with_too_few_clients():
    obs, _ = service(n=15)
    f = pk.client_flags(obs)
    assert f["not_on_track"].isna().all()
    assert "only 14 other clients have 2 or more PHQ-9 scores" in f["reasons"].iloc[0]
    assert set(f["status"]) <= {"alert", "watch", "on track"}


def test_sessions_table_sets_session_numbers():
    # the client missed the questionnaire at sessions 1-3: the second score is at session 4
    obs = course("a", [18, 18], every_days=28)
    sessions = pd.DataFrame({"client_id": "a", "date": DAY0 + pd.to_timedelta(np.arange(5) * 7, unit="D"),
                             "attended": True})
    er = pk.ExpectedResponse("PHQ-9", (-0.5, -0.15), pd.DataFrame(
        {"n": [50] * 4, "q_low": [-3.0] * 4, "q_low_inner": [-1.0] * 4, "q_high_inner": [1.0] * 4,
         "q_high": [3.0] * 4}, index=pd.Index([1, 2, 3, 4], name="session")), 0.75, 0.9, 50)
    by_order = pk.client_flags(obs, expected=er)
    by_session = pk.client_flags(obs, sessions=sessions, expected=er)
    # expected at session 1: 18 - 3.2 log 2 = 15.8 (limit 18.8); at session 4: 12.8 (limit 15.8)
    assert not by_order.loc["a", "not_on_track"]
    assert by_session.loc["a", "not_on_track"]
    assert "at session 4" in by_session.loc["a", "reasons"]


def test_as_of_ignores_later_data():
    obs = course("a", [10, 12, 18])
    f = pk.client_flags(obs, as_of=DAY0 + pd.Timedelta(days=7))
    assert f.loc["a", "n_scores"] == 2 and f.loc["a", "latest_score"] == 12
    assert not f.loc["a", "reliable_deterioration"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"measure": "PCL-5"}, "no reliable-change threshold"),
    ({"measure": "WSAS"}, "no reliable-change threshold"),
    ({"stall_after": 1}, "stall_after"),
    ({"stall_weeks": -1}, "stall_weeks"),
    ({"measure": "PHQ9"}, "did you mean 'PHQ-9'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pk.client_flags(course("a", [10, 12]), **kwargs)


def test_duplicate_scores_are_refused():
    obs = pd.concat([course("a", [10, 12]), course("a", [11])])
    with pytest.raises(ValueError, match="two PHQ-9 scores for client_id 'a' on 2026-01-05"):
        pk.client_flags(obs)


# ---------------------------------------------------------------------------------------------
# the backtest


def test_backtest_finds_planted_deteriorators():
    # 5% planted deteriorators: the 90% band's flagged 10% holds all of them plus about 5% of
    # the rest, so sensitivity 1 and specificity about 1 - 0.05 / 0.95 = 0.947
    obs, truth = service(n=1000, k=10, share_worse=0.05, seed=7)
    r = pk.evaluate_on_track(obs, at_session=4)
    row = r.iloc[0]
    assert row["n"] == 1000
    assert row["base_rate"] == truth.mean() == 0.05
    assert row["tp"] + row["fn"] == truth.sum()
    assert row["sensitivity"] == 1.0
    assert abs(row["specificity"] - (1 - 0.05 / 0.95)) < 0.03
    assert row["ppv"] == pytest.approx(row["tp"] / (row["tp"] + row["fp"]))
    assert "session 4" in r.attrs["method"]


def test_backtest_no_reliable_improvement_and_counting_rule():
    obs, truth = service(n=300, k=6, share_worse=0.1, seed=8)
    # clients with fewer than at_session + 2 scores do not count
    short = obs.groupby("client_id").cumcount() < 5
    obs = obs[~(obs["client_id"].isin(["c10", "c11"]) & ~short)]
    r = pk.evaluate_on_track(obs, at_session=4, outcome="no_reliable_improvement").iloc[0]
    assert r["n"] == 298
    # improvers lose 0.8 x 5 = 4 points (< 6): every client is "not reliably improved"
    assert r["base_rate"] == 1.0 and np.isnan(r["specificity"])


def test_backtest_refuses_bad_arguments():
    obs, _ = service(n=40)
    with pytest.raises(ValueError, match="at_session"):
        pk.evaluate_on_track(obs, at_session=0)
    with pytest.raises(ValueError, match="outcome"):
        pk.evaluate_on_track(obs, outcome="dropout")
    with pytest.raises(ValueError, match="no client has a PHQ-9 score at session 20"):
        pk.evaluate_on_track(obs, at_session=20)
