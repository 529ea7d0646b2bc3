"""The shared factorisation and sort (progress_kit._cohort) gives the plain path's results."""

import gc
import weakref

import numpy as np
import pandas as pd
import pytest

import progress_kit as pk
from progress_kit import _cohort


def _cohort_frame(n_clients=300, seed=1, order="shuffled"):
    """Weekly PHQ-9 and GAD-7 with awkward IDs, missing scores and a missing date."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"{i:05d}" for i in range(n_clients)], dtype=object)
    ids[:3] = ["Zoë-1", "ä 2", "0"]  # non-ASCII, spaces, a short ID sorting first
    n_sess = rng.integers(1, 10, n_clients)
    rows = []
    for cid, k in zip(ids, n_sess, strict=True):
        start = pd.Timestamp("2025-01-06") + pd.Timedelta(days=int(rng.integers(0, 200)))
        for s in range(k):
            day = start + pd.Timedelta(weeks=s)
            rows.append((cid, day, "PHQ-9", float(rng.integers(0, 28))))
            if rng.random() < 0.8:
                rows.append((cid, day, "GAD-7", float(rng.integers(0, 22))))
    df = pd.DataFrame(rows, columns=["client_id", "date", "measure", "score"])
    df.loc[df.sample(frac=0.03, random_state=seed).index, "score"] = np.nan
    if order == "shuffled":
        df = df.sample(frac=1, random_state=seed + 1).reset_index(drop=True)
    return df


CALLS = {
    "reliable_change PHQ-9": lambda d: pk.reliable_change(d, measure="PHQ-9"),
    "reliable_change GAD-7": lambda d: pk.reliable_change(d, measure="GAD-7"),
    "slopes PHQ-9": lambda d: pk.slopes(d, measure="PHQ-9"),
    "slopes GAD-7": lambda d: pk.slopes(d, measure="GAD-7"),
    "talking_therapies_outcomes": lambda d: pk.talking_therapies_outcomes(d),
}


def _same(a, b):
    pd.testing.assert_frame_equal(a, b)
    if "excluded" in a.attrs:
        pd.testing.assert_frame_equal(a.attrs["excluded"], b.attrs["excluded"])


@pytest.mark.parametrize("order", ["shuffled", "sorted"])
@pytest.mark.parametrize("name", list(CALLS))
def test_shared_path_equals_plain_path(name, order):
    df = _cohort_frame(order=order)
    if order == "sorted":
        df = df.sort_values(["client_id", "date"], kind="stable", ignore_index=True)
    fn = CALLS[name]
    with _cohort.plain_path():
        plain = fn(df)
    assert _cohort.prepared(df, "client_id", "date") is not None
    _same(fn(df), plain)
    _same(fn(df), plain)  # second call: from the cache


def test_missing_dates_and_excluded_clients_match():
    df = _cohort_frame(n_clients=80)
    df.loc[[3, 40], "date"] = pd.NaT
    for name in ("reliable_change PHQ-9", "slopes GAD-7"):
        with _cohort.plain_path():
            plain = CALLS[name](df)
        _same(CALLS[name](df), plain)


@pytest.mark.skipif(not _cohort.copy_on_write(), reason="without copy-on-write nothing is kept "
                    "(tests/test_cache_safety.py)")
def test_one_preparation_is_shared_across_calls(monkeypatch):
    df = _cohort_frame(n_clients=50)
    calls = []
    real = _cohort._prepare
    monkeypatch.setattr(_cohort, "_prepare", lambda *a: calls.append(1) or real(*a))
    _cohort.clear()
    for fn in CALLS.values():
        fn(df)
    assert len(calls) == 1


def test_a_changed_frame_is_prepared_again():
    df = _cohort_frame(n_clients=50)
    before = pk.reliable_change(df, measure="PHQ-9")
    # move one client's scores to a new ID, and then one date, in place
    first = df["client_id"].iloc[0]
    df.loc[df["client_id"] == first, "client_id"] = "new"
    with _cohort.plain_path():
        plain = pk.reliable_change(df, measure="PHQ-9")
    after = pk.reliable_change(df, measure="PHQ-9")
    _same(after, plain)
    assert "new" in after.index.union(after.attrs["excluded"]["client_id"])
    assert not after.index.equals(before.index)
    df.loc[df.index[0], "date"] = pd.Timestamp("2030-01-01")
    with _cohort.plain_path():
        plain = pk.slopes(df, measure="PHQ-9")
    _same(pk.slopes(df, measure="PHQ-9"), plain)


def test_the_cache_does_not_keep_a_frame_alive():
    df = _cohort_frame(n_clients=20)
    pk.slopes(df, measure="PHQ-9")
    ref = weakref.ref(df)
    del df
    gc.collect()
    assert ref() is None
    assert not _cohort._cache or all(e.ref() is not None for e in _cohort._cache.values())


def test_categorical_ids_give_the_plain_results():
    df = _cohort_frame(n_clients=90)
    # categories in an order of their own, and one category without rows
    cats = list(pd.unique(df["client_id"]))[::-1] + ["nobody"]
    df["client_id"] = pd.Categorical(df["client_id"], categories=cats)
    assert _cohort.prepared(df, "client_id", "date").categorical
    for fn in CALLS.values():
        with _cohort.plain_path():
            plain = fn(df)
        _same(fn(df), plain)


def _with_ids(df, kind):
    """The same frame with other client ID schemes, each taking another key path."""
    codes, uniq = pd.factorize(df["client_id"])
    rng = np.random.default_rng(7)
    if kind == "fixed-width text":  # P0001234: one sort gives codes and order
        ids = np.array([f"P{i:07d}" for i in rng.permutation(len(uniq))])
    elif kind == "ten-digit text":  # NHS-number-like: keys too wide to share the sort
        ids = np.array([f"{9_000_000_000 + 7919 * i}" for i in rng.permutation(len(uniq))])
    elif kind == "uuid text":  # too wide for keys: factorised, unique IDs sorted
        ids = np.array([f"{i:08x}-{i * 7:04x}-4000-8000-{i * 13:012x}" for i in range(len(uniq))])
    elif kind == "integers":
        ids = rng.permutation(len(uniq)).astype(np.int64) * 37 - 500
    elif kind == "object":
        return df.assign(client_id=pd.Series(np.asarray(df["client_id"], dtype=object),
                                             dtype=object))
    else:
        raise ValueError(kind)
    if ids.dtype.kind == "U":
        return df.assign(client_id=pd.array(ids, dtype="str").take(codes))
    return df.assign(client_id=ids[codes])


@pytest.mark.parametrize("kind", ["fixed-width text", "ten-digit text", "uuid text", "integers",
                                  "object"])
def test_every_id_scheme_gives_the_plain_results(kind):
    df = _with_ids(_cohort_frame(n_clients=150, seed=3), kind)
    _cohort.clear()
    assert _cohort.prepared(df, "client_id", "date") is not None
    for fn in CALLS.values():
        with _cohort.plain_path():
            plain = fn(df)
        _same(fn(df), plain)
    df.loc[[5, 17], "date"] = pd.NaT  # missing dates: an error for Talking Therapies outcomes
    for name, fn in CALLS.items():
        if "talking" in name:
            with pytest.raises(ValueError, match="missing dates"):
                fn(df)
            continue
        with _cohort.plain_path():
            plain = fn(df)
        _same(fn(df), plain)


@pytest.mark.parametrize("kind", ["whole numbers", "fractions"])
def test_numeric_times(kind):
    df = _cohort_frame(n_clients=120, seed=4)
    days = (df["date"] - pd.Timestamp("2025-01-06")).dt.days.astype(float)
    df = df.assign(date=days if kind == "whole numbers" else days + 0.25 * (days % 3))
    # fractional times do not pack into integers: the plain path serves them
    assert (_cohort.prepared(df, "client_id", "date") is None) == (kind == "fractions")
    for name in ("reliable_change PHQ-9", "slopes GAD-7"):
        with _cohort.plain_path():
            plain = CALLS[name](df)
        _same(CALLS[name](df), plain)


def test_text_keys_sort_like_python():
    ids = ["b", "a", "ab", "", "Zoë", "zz", "a\u00e9", "0", "00", "10", "9"]
    keys, bits = _cohort._text_keys(pd.array(ids, dtype="str"))
    assert [ids[i] for i in np.argsort(keys, kind="stable")] == sorted(ids)
    assert len(set(keys.tolist())) == len(ids)
    assert bits <= 44


def test_packed_order_is_client_then_time_then_measure_then_row():
    df = _cohort_frame(n_clients=60, seed=5)
    df.loc[[2, 9], "date"] = pd.NaT
    prep = _cohort.prepared(df, "client_id", "date")
    rows, codes, toff = prep.decode()
    m = pd.factorize(df["measure"])[0]
    expected = df.assign(row=np.arange(len(df)), m=m).sort_values(
        ["client_id", "date", "m", "row"], na_position="first", kind="stable")["row"].to_numpy()
    assert np.array_equal(rows, expected)
    assert np.array_equal(prep.uniques[codes], df["client_id"].to_numpy()[rows])
    assert np.array_equal(prep.mcats[prep.measure_codes()], df["measure"].to_numpy()[rows])
    assert np.array_equal(toff == 0, df["date"].isna().to_numpy()[rows])


def test_a_changed_measure_column_is_prepared_again():
    df = _cohort_frame(n_clients=40, seed=6)
    pk.reliable_change(df, measure="PHQ-9")
    df.loc[df["measure"] == "GAD-7", "measure"] = "PHQ-9"  # now duplicates: an error
    with _cohort.plain_path(), pytest.raises(ValueError, match="same"):
        pk.reliable_change(df, measure="PHQ-9")
    with pytest.raises(ValueError, match="same"):
        pk.reliable_change(df, measure="PHQ-9")


@pytest.mark.parametrize("seed", range(8))
def test_random_frames_give_the_plain_results(seed):
    """Random small frames: several ID schemes, a third measure, missing measures, scores and
    dates, integer-valued float scores, rows in any order."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(30, 400))
    kind = ["fixed-width text", "ten-digit text", "integers", "object", "fixed-width text",
            "uuid text", "integers", "fixed-width text"][seed]
    clients = rng.integers(0, max(2, n // 6), n)
    days = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    df = pd.DataFrame({
        "client_id": [f"c{c:03d}" for c in clients],
        "date": days,
        "measure": rng.choice(["PHQ-9", "GAD-7", "CORE-10"], n),
        "score": rng.integers(0, 22, n).astype(float),
    })
    # one row per client, date and measure, as the data layer guarantees
    df = df.drop_duplicates(["client_id", "date", "measure"], ignore_index=True)
    df.loc[rng.random(len(df)) < 0.05, "score"] = np.nan
    df.loc[rng.random(len(df)) < 0.03, "measure"] = None
    df = _with_ids(df, kind)
    assert _cohort.prepared(df, "client_id", "date") is not None
    for fn in CALLS.values():
        with _cohort.plain_path():
            plain = fn(df)
        _same(fn(df), plain)
    df.loc[rng.random(len(df)) < 0.03, "date"] = pd.NaT
    for name in ("reliable_change PHQ-9", "slopes PHQ-9", "slopes GAD-7"):
        with _cohort.plain_path():
            plain = CALLS[name](df)
        _same(CALLS[name](df), plain)


@pytest.mark.parametrize("layout", ["one sliced chunk", "several chunks"])
def test_text_ids_in_any_arrow_layout_give_the_plain_results(layout):
    """IDs whose pyarrow array is a slice of a longer one (offset > 0) or is split in chunks:
    the keys read the single chunk in place and join several (reports/_cohort._text_keys)."""
    import pyarrow as pa

    df = _with_ids(_cohort_frame(n_clients=120, seed=6), "fixed-width text")
    ids = pa.array(df["client_id"].to_numpy(dtype=object), type=pa.large_string())
    if layout == "one sliced chunk":
        chunked = pa.chunked_array([pa.concat_arrays([pa.array(["pad"], pa.large_string()), ids]).slice(1)])
        assert chunked.chunk(0).offset == 1
    else:
        cut = [0, 7, len(ids) // 2, len(ids)]
        chunked = pa.chunked_array([ids.slice(a, b - a) for a, b in zip(cut[:-1], cut[1:], strict=True)])
    df = df.assign(client_id=pd.Series(pd.arrays.ArrowExtensionArray(chunked)).astype(
        pd.StringDtype("pyarrow")))
    assert df["client_id"].array.__arrow_array__().num_chunks == chunked.num_chunks
    _cohort.clear()
    assert _cohort._text_keys(df["client_id"].array) is not None
    for fn in CALLS.values():
        with _cohort.plain_path():
            plain = fn(df)
        _same(fn(df), plain)
