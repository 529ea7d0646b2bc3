"""The command line's private on-disk cache of a data folder's validated clinic and whole-clinic
results (reports/diskcache.py): invalidated by data, code and options; never loaded from a
folder or file another user could have written."""

from __future__ import annotations

import os
import pickle

import pandas as pd
import pytest

from progress_kit import demo_data
from progress_kit.reports import diskcache
from progress_kit.reports.context import load_clinic
from progress_kit.reports.diskcache import ClinicCache
from progress_kit.reports.sections.common import shared


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    demo_data(n_clients=6, months=3, seed=2, end="2026-10-31").write(folder)
    return folder


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "cache"


def _flags_like(clinic) -> pd.DataFrame:
    """A stand-in whole-clinic result kept by ``shared`` for this clinic's observations."""
    return shared("test-result", (clinic.observations,), ("PHQ-9",),
                  lambda: clinic.observations.groupby("client_id")["score"].mean().to_frame())


def _fresh(data_dir, folder, options="today=2026-12-07"):
    return ClinicCache(data_dir, options=options, folder=folder)


def test_a_saved_entry_gives_the_clinic_and_its_whole_clinic_results_back(data_dir, folder):
    cache = _fresh(data_dir, folder)
    assert cache.load() is None  # a miss
    clinic = load_clinic(data_dir)
    expected = _flags_like(clinic)
    cache.save(clinic)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(cache.path.stat().st_mode & 0o777) == "0o600"

    again = _fresh(data_dir, folder).load()
    assert again is not clinic
    pd.testing.assert_frame_equal(again.observations, clinic.observations)
    pd.testing.assert_frame_equal(again.sessions, clinic.sessions)
    pd.testing.assert_frame_equal(again.problems, clinic.problems)

    def recompute():
        raise AssertionError("the cached result was computed again")
    got = shared("test-result", (again.observations,), ("PHQ-9",), recompute)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("change", ["data", "code", "options"])
def test_an_entry_is_invalidated_by_the_data_the_code_and_the_options(data_dir, folder, change,
                                                                      monkeypatch):
    cache = _fresh(data_dir, folder)
    cache.save(load_clinic(data_dir))
    options = "today=2026-12-07"
    if change == "data":
        with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
            fh.write("C001,2026-10-30,PHQ-9,3\n")
    elif change == "code":
        monkeypatch.setattr(diskcache, "_code_digest", lambda: "another version of the kit")
    else:
        options = "today=2026-12-08"
    miss = _fresh(data_dir, folder, options)
    assert miss.name != cache.name and miss.load() is None
    clinic = load_clinic(data_dir)
    miss.save(clinic)
    # one entry per data folder: the stale one is gone
    assert sorted(p.name for p in folder.iterdir()) == [miss.name]
    if change == "data":
        assert (miss.load().observations["date"] == pd.Timestamp("2026-10-30")).any()


def _plant(path, marker) -> None:
    """A pickle that would create ``marker`` if it were ever loaded."""
    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    path.write_bytes(pickle.dumps({"clinic": Evil(), "shared": []}))


@pytest.mark.parametrize("how", ["folder-open", "file-open", "file-link", "folder-link",
                                 "file-owner"])
def test_never_unpickles_what_another_user_could_have_written(data_dir, folder, tmp_path, how,
                                                              capsys):
    cache = _fresh(data_dir, folder)
    folder.mkdir(mode=0o700)
    marker = tmp_path / "was-loaded"
    if how == "folder-open":
        _plant(cache.path, marker)
        cache.path.chmod(0o600)
        folder.chmod(0o777)
    elif how == "file-open":
        _plant(cache.path, marker)
        cache.path.chmod(0o644)
    elif how == "file-link":
        elsewhere = tmp_path / "elsewhere.pkl"
        _plant(elsewhere, marker)
        elsewhere.chmod(0o600)
        cache.path.symlink_to(elsewhere)
    elif how == "folder-link":
        real = tmp_path / "real"
        real.mkdir(mode=0o700)
        _plant(real / cache.name, marker)
        (real / cache.name).chmod(0o600)
        folder.rmdir()
        folder.symlink_to(real)
    else:
        if os.getuid() != 0:
            pytest.skip("changing a file's owner needs root")
        _plant(cache.path, marker)
        cache.path.chmod(0o600)
        os.chown(cache.path, 65534, 65534)
    assert cache.load() is None
    assert not marker.exists()
    assert "not using the cache" in capsys.readouterr().err
    cache.save(load_clinic(data_dir))  # and nothing is written there either
    assert not marker.exists()


def test_the_cache_can_be_turned_off(data_dir, monkeypatch):
    monkeypatch.setenv(diskcache.CACHE_ENV, "off")
    cache = ClinicCache(data_dir)
    assert cache.path is None and cache.load() is None
    cache.save(load_clinic(data_dir))  # a no-op


def test_a_result_whose_frame_was_written_since_is_not_kept(data_dir, folder):
    clinic = load_clinic(data_dir)
    _flags_like(clinic)
    clinic.observations["score"] = clinic.observations["score"] + 1  # written after computing
    _fresh(data_dir, folder).save(clinic)
    entry = pickle.loads((folder / _fresh(data_dir, folder).name).read_bytes())
    assert not [r for r in entry["shared"] if r[0] == "test-result"]
