"""The simulated service of tests/trajectory_sim.py: deterministic, shares and noise as documented."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trajectory_sim import BASE_SHARES, CLASSES, SEM_PHQ9, simulate_service


def test_same_seed_same_service_and_valid_scores():
    a_obs, a_truth = simulate_service(500, 0.10, seed=4)
    b_obs, b_truth = simulate_service(500, 0.10, seed=4)
    assert a_obs.equals(b_obs) and a_truth.equals(b_truth)
    assert not a_obs.equals(simulate_service(500, 0.10, seed=5)[0])
    assert list(a_obs.columns[:4]) == ["client_id", "date", "measure", "score"]
    assert a_obs["score"].between(0, 27).all()
    assert (a_obs["score"] == a_obs["score"].round()).all()
    n = a_obs.groupby("client_id").size()
    assert n.between(8, 14).all() and (n.to_numpy() == a_truth["n_scores"].to_numpy()).all()
    gaps = a_obs.groupby("client_id")["date"].diff().dropna().dt.days
    assert (gaps == 7).all()  # weekly sessions


@pytest.mark.parametrize("d", [0.03, 0.25])
def test_deteriorating_share_scales_the_other_classes(d):
    _, truth = simulate_service(40_000, d, seed=1)
    share = truth["cls"].value_counts(normalize=True)
    assert share["deteriorating"] == pytest.approx(d, abs=0.006)
    total = sum(BASE_SHARES.values())
    for c in CLASSES[:-1]:
        assert share[c] == pytest.approx(BASE_SHARES[c] / total * (1 - d), abs=0.008)


def test_noise_is_the_sem_implied_by_the_reliable_change_threshold():
    # no_change clients (slope ~ -0.15/session, away from the floor and ceiling):
    # successive differences carry 2 * SEM^2; the check fails at noise_scale 0.75 or 1.25
    assert SEM_PHQ9 == pytest.approx(6 / 1.96 / np.sqrt(2))
    obs, truth = simulate_service(20_000, 0.0, seed=2, noise_scale=1.0)
    flat = set(truth.loc[(truth["cls"] == "no_change") & truth["y0_true"].between(8, 19),
                         "client_id"])
    d = obs[obs["client_id"].isin(flat)].groupby("client_id")["score"].diff().dropna()
    # integer rounding adds 1/12 per score; slope spread adds a little more
    assert d.std() == pytest.approx(np.sqrt(2 * (SEM_PHQ9**2 + 1 / 12)), rel=0.06)


def test_bad_arguments():
    with pytest.raises(ValueError, match="deteriorating_share"):
        simulate_service(10, 1.2)
    with pytest.raises(ValueError, match="n_clients"):
        simulate_service(0, 0.1)
    with pytest.raises(ValueError, match="sessions"):
        simulate_service(10, 0.1, sessions=(1, 3))
