"""client_data takes a client's rows by their positions in the index a batch's warm process
makes once for every client (reports.notebook.prepare_batch -> sections.common.index_client_rows)
and gets exactly the page the comparison over the whole tables gives: every table, every
client, with and without episodes of care, for a month and for a prep sheet's day
(docs/performance.md, round five). The index is not used once a table's client_id column was
written."""

import dataclasses

import pandas as pd
import pytest

import progress_kit as pk
from progress_kit.reports import notebook as rn
from progress_kit.reports.context import client_data, client_data_until
from progress_kit.reports.sections import common


def _same(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y, check_exact=True)
        elif isinstance(x, pd.Series):
            pd.testing.assert_series_equal(x, y, check_exact=True)
        else:
            assert x == y, f.name


@pytest.fixture(autouse=True)
def _fresh():
    common._SHARED.clear()
    yield
    common._SHARED.clear()


@pytest.mark.parametrize("episodes", [False, True], ids=["plain", "episodes"])
def test_the_index_gives_every_clients_page_as_the_comparison_does(episodes):
    clinic = pk.demo_data(n_clients=24, months=6, seed=2, end="2026-10-31", items=True,
                          episodes=episodes)
    clinic.problems = pd.DataFrame({"file": ["observations.csv"] * 2, "line": [3, 9],
                                    "column": ["score"] * 2, "value": ["x", "y"],
                                    "reason": ["not a number"] * 2, "severity": ["error"] * 2,
                                    "client_id": ["C003", ""]})
    ids = [*pd.unique(clinic.clients["client_id"]), "C999"]  # one with no rows at all
    pages = lambda: ([client_data(clinic, c, "2026-10") for c in ids]  # noqa: E731
                     + [client_data(clinic, c, "2026-08") for c in ids[:5]]
                     + [client_data_until(clinic, c, "2026-10-14") for c in ids[:5]])
    before = pages()
    assert common.client_rows(clinic) is None
    rn.prepare_batch(clinic, "2026-10")
    assert common.client_rows(clinic) is not None
    for a, b in zip(before, pages(), strict=True):
        _same(a, b)


def test_the_index_is_not_used_after_a_client_id_column_is_written():
    clinic = pk.demo_data(n_clients=6, months=3, seed=1, end="2026-10-31")
    common.index_client_rows(clinic)
    assert common.client_rows(clinic) is not None
    clinic.observations.loc[0, "client_id"] = "C999"  # copy-on-write: a new column
    assert common.client_rows(clinic) is None
    assert set(client_data(clinic, "C999", "2026-10").observations["client_id"]) == {"C999"}
