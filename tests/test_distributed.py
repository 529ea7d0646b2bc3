"""Dask dataframes give exactly the pandas results, on a LocalCluster as in production."""

import pandas as pd
import pytest

import progress_kit as pk

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster_client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def clinic():
    c = pk.demo_data(n_clients=80, months=6, seed=4, end="2026-10-31")
    # rows in a random order, so every client is spread over several partitions
    obs = c.observations.sample(frac=1, random_state=1).reset_index(drop=True)
    return c, obs


def test_clients_really_span_partitions(clinic):
    _, obs = clinic
    ddf = dd.from_pandas(obs, npartitions=6, sort=False)
    spans = ddf.map_partitions(lambda p: p[["client_id"]].drop_duplicates()).compute()
    assert spans["client_id"].duplicated().any()


def test_slopes_match_pandas(cluster_client, clinic):
    _, obs = clinic
    ddf = dd.from_pandas(obs, npartitions=6, sort=False)
    got = pk.slopes(ddf, measure="PHQ-9")
    want = pk.slopes(obs, measure="PHQ-9")
    pd.testing.assert_frame_equal(got, want, rtol=1e-9, check_index_type=False, check_names=False)


@pytest.mark.parametrize("kwargs", [{"measure": "PHQ-9"},
                                    {"measure": "GAD-7", "method": "JT"}])
def test_reliable_change_matches_pandas(cluster_client, clinic, kwargs):
    _, obs = clinic
    ddf = dd.from_pandas(obs, npartitions=6, sort=False)
    got, want = pk.reliable_change(ddf, **kwargs), pk.reliable_change(obs, **kwargs)
    pd.testing.assert_frame_equal(got, want.sort_index(), check_index_type=False)
    assert got.attrs["method"] == want.attrs["method"]
    pd.testing.assert_frame_equal(got.attrs["excluded"].reset_index(drop=True),
                                  want.attrs["excluded"].sort_values("client_id").reset_index(drop=True),
                                  check_dtype=False)


def test_clinical_significance_matches_pandas(cluster_client, clinic):
    _, obs = clinic
    ddf = dd.from_pandas(obs, npartitions=5, sort=False)
    kwargs = {"measure": "PHQ-9", "method": "JT", "cutoff_type": "c", "functional_mean": 5,
              "functional_sd": 4}
    got, want = pk.clinical_significance(ddf, **kwargs), pk.clinical_significance(obs, **kwargs)
    pd.testing.assert_frame_equal(got, want.sort_index(), check_index_type=False)


def test_talking_therapies_outcomes_match_pandas(cluster_client, clinic):
    c, obs = clinic
    got = pk.talking_therapies_outcomes(dd.from_pandas(obs, npartitions=6, sort=False),
                                        dd.from_pandas(c.sessions, npartitions=3, sort=False),
                                        clients=c.clients)
    want = pk.talking_therapies_outcomes(obs, c.sessions, clients=c.clients)
    pd.testing.assert_frame_equal(got, want.sort_index(), check_index_type=False)
    pd.testing.assert_frame_equal(pk.service_rates(got), pk.service_rates(want.sort_index()))


def test_talking_therapies_outcomes_with_period_match_pandas(cluster_client, clinic):
    c, obs = clinic
    got = pk.talking_therapies_outcomes(dd.from_pandas(obs, npartitions=6, sort=False),
                                        c.sessions, clients=c.clients, period="2026Q3")
    want = pk.talking_therapies_outcomes(obs, c.sessions, clients=c.clients, period="2026Q3")
    assert len(want) and want["end_date"].between("2026-07-01", "2026-09-30").all()
    pd.testing.assert_frame_equal(got, want.sort_index(), check_index_type=False)
