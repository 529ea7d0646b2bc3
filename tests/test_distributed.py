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


@pytest.fixture(scope="module")
def by_client(tmp_path_factory, clinic):
    """The shuffled observations written in client order, whole clients per row group."""
    from progress_kit.distributed import write_parquet_by_client

    _, obs = clinic
    path = tmp_path_factory.mktemp("parquet") / "obs.parquet"
    write_parquet_by_client(obs, str(path), clients_per_group=11)
    return path


def test_parquet_by_client_keeps_whole_clients_per_partition(by_client, clinic):
    import pyarrow.parquet as pq

    from progress_kit.distributed import read_parquet_by_client

    _, obs = clinic
    meta = pq.ParquetFile(by_client).metadata
    assert meta.num_row_groups == -(-obs["client_id"].nunique() // 11)
    ddf = read_parquet_by_client(str(by_client))
    assert ddf.known_divisions and ddf.npartitions == meta.num_row_groups
    spans = ddf.map_partitions(lambda p: p.index.to_frame(index=False).drop_duplicates()).compute()
    assert not spans["client_id"].duplicated().any()  # no client in two partitions
    assert len(ddf) == len(obs)


@pytest.mark.parametrize("call", ["reliable_change", "slopes", "talking_therapies_outcomes"])
@pytest.mark.parametrize("measure", ["PHQ-9", "GAD-7"])
def test_parquet_by_client_gives_exactly_the_in_memory_tables(by_client, clinic, call, measure):
    """No shuffle, and the same tables bit for bit (the slopes too: each client's sums come
    from one partition). Parquet returns the IDs as pyarrow strings: the index dtype aside."""
    import dask

    from progress_kit.distributed import read_parquet_by_client

    if call == "talking_therapies_outcomes" and measure == "GAD-7":
        pytest.skip("one call covers both measures")
    _, obs = clinic
    ddf = read_parquet_by_client(str(by_client))
    kwargs = {} if call == "talking_therapies_outcomes" else {"measure": measure}
    with dask.config.set(scheduler="sync"):
        got = getattr(pk, call)(ddf, **kwargs)
    want = getattr(pk, call)(obs, **kwargs)
    pd.testing.assert_frame_equal(got, want.sort_index(), check_exact=True, check_index_type=False)
    assert got.attrs.get("method") == want.attrs.get("method")


def test_parquet_not_in_client_order_is_refused(tmp_path, clinic):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from progress_kit.distributed import read_parquet_by_client

    _, obs = clinic
    table = pa.Table.from_pandas(obs, preserve_index=False)  # shuffled: groups overlap
    pq.write_table(table, tmp_path / "obs.parquet", row_group_size=len(obs) // 3)
    with pytest.raises(ValueError, match="not in client order"):
        read_parquet_by_client(str(tmp_path / "obs.parquet"))
