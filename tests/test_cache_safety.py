"""The cohort cache and sections.common.shared never serve a result for a table edited in place,
with or without pandas' copy-on-write (issue 24, "Stale caches on pandas 2.2").

On pandas 3 copy-on-write is always on. On pandas 2 it is an option, off by default; the tests
then run with it on and off. To check pandas 2.2 here: a venv holding only ``pandas==2.2.3``
put before this checkout's site-packages on ``PYTHONPATH`` (docs/performance.md does not
depend on it; the commit message of this test says what was run)."""

import contextlib

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import _cohort
from progress_kit.reports.sections import common

PANDAS_2 = int(pd.__version__.split(".")[0]) < 3
MODES = [True, False] if PANDAS_2 else [None]


@contextlib.contextmanager
def _cow(mode):
    if mode is None:  # pandas 3: always on, the option is deprecated
        yield
        return
    with pd.option_context("mode.copy_on_write", mode):
        yield


def _frame(n_clients=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(f"C{c:03d}", pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=w), "PHQ-9",
             float(rng.integers(0, 28))) for c in range(n_clients) for w in range(6)]
    return pd.DataFrame(rows, columns=["client_id", "date", "measure", "score"])


def _same(a, b):
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


@pytest.fixture(autouse=True)
def _empty_caches():
    _cohort.clear()
    common._SHARED.clear()
    yield
    _cohort.clear()
    common._SHARED.clear()


@pytest.mark.parametrize("mode", MODES)
def test_the_cohort_cache_sees_an_id_or_a_date_edited_in_place(mode):
    with _cow(mode):
        df = _frame()
        pk.reliable_change(df, measure="PHQ-9")  # cached
        df.loc[df["client_id"] == "C000", "client_id"] = "C999"
        with _cohort.plain_path():
            plain = pk.reliable_change(df, measure="PHQ-9")
        _same(pk.reliable_change(df, measure="PHQ-9"), plain)
        pk.slopes(df, measure="PHQ-9")
        df.loc[df.index[0], "date"] = pd.Timestamp("2030-01-01")
        df.loc[df.index[1], "score"] = 27.0
        with _cohort.plain_path():
            plain = pk.slopes(df, measure="PHQ-9")
        _same(pk.slopes(df, measure="PHQ-9"), plain)


@pytest.mark.parametrize("mode", MODES)
def test_shared_results_are_computed_again_after_an_in_place_edit(mode):
    with _cow(mode):
        df = _frame()

        def first_ids():
            return sorted(df["client_id"].unique())[:2]

        assert common.shared("ids", (df,), (), first_ids) == ["C000", "C001"]
        df.loc[df["client_id"] == "C000", "client_id"] = "B000"
        assert common.shared("ids", (df,), (), first_ids) == ["B000", "C001"]


@pytest.mark.parametrize("mode", MODES)
def test_copy_on_write_is_detected(mode):
    with _cow(mode):
        assert _cohort.copy_on_write() is (mode is not False)


def test_without_copy_on_write_nothing_is_kept(monkeypatch):
    """What pandas 2 without the option gets: results computed afresh, none held."""
    monkeypatch.setattr(_cohort, "copy_on_write", lambda: False)
    df = _frame()
    pk.reliable_change(df, measure="PHQ-9")
    calls = []
    common.shared("n", (df,), (), lambda: calls.append(1))
    common.shared("n", (df,), (), lambda: calls.append(1))
    assert not _cohort._cache and not common._SHARED and len(calls) == 2
