"""A reports folder that another account can write (issue 24, item 1: code execution through a
shared reports folder). The tests run as root here, so "another account" is made real with
``chown`` to an unused uid, or with group/other write bits, which the check refuses whoever runs it."""

import os
import pickle
import stat
from pathlib import Path

import pytest

from progress_kit.reports import batch as batch_mod
from progress_kit.reports.context import load_clinic, preload_cache, write_cache
from progress_kit.reports.files import UnsafeFolder, check_private_folder, month_lock

from . import test_batch
from .test_batch import _batch, _clinic

fake = test_batch.fake  # the fixture that fakes rendering

OTHER_UID = 54321  # nobody on this machine; root may chown to it
can_chown = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="giving a folder to another account needs root")


class _Payload:
    """What an attacker plants: unpickling it creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o707])
def test_a_month_folder_others_can_write_is_refused_before_anything_runs(tmp_path, fake, mode):
    calls = fake()
    month = tmp_path / "out" / "2026-10"
    month.mkdir(parents=True)
    os.chmod(month, mode)  # made in advance by a colleague with a shared group, or world-writable
    with pytest.raises(UnsafeFolder, match=r"2026-10 can be changed by (others|its group).*"
                                           r"mode [01]7?0?7.*Shared folders"):
        _batch(_clinic(tmp_path / "data", ["C1"]), tmp_path / "out")
    assert calls == [] and not list(month.iterdir()), "nothing is written into an unsafe folder"


def test_an_unsafe_reports_root_or_clients_folder_is_refused(tmp_path, fake):
    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    root = tmp_path / "out"
    (root / "2026-10" / "clients").mkdir(parents=True, mode=0o700)
    os.chmod(root, 0o777)  # the root: anyone may rename the month folder away and plant theirs
    with pytest.raises(UnsafeFolder, match=r"out can be changed by others"):
        _batch(data, root)
    os.chmod(root, 0o700)
    os.chmod(root / "2026-10" / "clients", 0o757)
    with pytest.raises(UnsafeFolder, match=r"clients can be changed by others"):
        _batch(data, root)
    os.chmod(root / "2026-10" / "clients", 0o755)
    assert _batch(data, root).manifest["status"].eq("ok").all()


@can_chown
def test_a_month_folder_owned_by_another_account_is_refused(tmp_path, fake):
    fake()
    month = tmp_path / "out" / "2026-11"
    month.mkdir(parents=True, mode=0o755)
    os.chown(month, OTHER_UID, OTHER_UID)  # created first by someone else: they can swap files
    with pytest.raises(UnsafeFolder, match=rf"owner uid {OTHER_UID}"):
        batch_mod.run_batch(_clinic(tmp_path / "data", ["C1"], "2026-11"), "2026-11",
                            tmp_path / "out", formats=("html",), progress=False, engine="kernel")
    with pytest.raises(UnsafeFolder), month_lock(month):
        pass


@can_chown
def test_a_month_folder_a_shared_group_can_write_is_refused(tmp_path, fake):
    fake()
    month = tmp_path / "out" / "2026-10"
    month.mkdir(parents=True)
    os.chown(month, -1, OTHER_UID)  # a team group, not the user's own private group
    os.chmod(month, 0o2770)
    with pytest.raises(UnsafeFolder, match=r"2026-10 can be changed by its group"):
        _batch(_clinic(tmp_path / "data", ["C1"]), tmp_path / "out")
    os.chmod(month, 0o2750)  # the group may read, not write: fine
    assert _batch(_clinic(tmp_path / "data", ["C1"]), tmp_path / "out").failed == 0


def test_the_cli_says_what_is_wrong_and_exits_1(tmp_path, capsys):
    from progress_kit.cli import main

    data = _clinic(tmp_path / "data", ["C1"])
    month = tmp_path / "out" / "2026-10"
    month.mkdir(parents=True)
    os.chmod(month, 0o777)
    code = main(["batch", str(data), "--month", "2026-10", "--out", str(tmp_path / "out"),
                 "--quiet", "--engine", "kernel"])
    err = capsys.readouterr().err
    assert code == 1 and "can be changed by others" in err and "Traceback" not in err
    code = main(["report", "client", str(data), "--client", "C1", "--month", "2026-10",
                 "--out", str(tmp_path / "out")])
    assert code == 1 and "can be changed by others" in capsys.readouterr().err


def test_a_private_tree_and_missing_folders_pass(tmp_path):
    (tmp_path / "a").mkdir(mode=0o755)
    check_private_folder(tmp_path / "a" / "b" / "c", root=tmp_path)  # b, c do not exist yet
    os.chmod(tmp_path, 0o1777)  # above the reports root: not ours to judge (e.g. /tmp)
    check_private_folder(tmp_path / "a", root=tmp_path / "a")
    os.chmod(tmp_path, 0o700)


# ------------------------------------------------------------------ the cache is verified


def _clinic_cache(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    clinic = load_clinic(_clinic(tmp_path / "data", ["C1"]))
    return write_cache(clinic, folder / "clinic.pkl")


def test_the_cache_is_named_by_its_digest_and_loads(tmp_path):
    path = _clinic_cache(tmp_path)
    assert path.name.startswith("clinic-") and len(path.stem) == len("clinic-") + 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert list(load_clinic(None, path).clients["client_id"]) == ["C1"]


@pytest.mark.parametrize("load", [lambda p: load_clinic(None, p), preload_cache])
def test_a_swapped_cache_is_refused_and_never_unpickled(tmp_path, load):
    path = _clinic_cache(tmp_path)
    marker = tmp_path / "PWNED"
    path.write_bytes(pickle.dumps(_Payload(marker)))  # same name, mode and owner: a new payload
    with pytest.raises(ValueError, match=r"SHA-256 differs.*refusing"):
        load(path)
    assert not marker.exists()


def test_a_cache_in_a_folder_others_can_write_is_refused(tmp_path):
    path = _clinic_cache(tmp_path)
    os.chmod(path.parent, 0o777)
    with pytest.raises(UnsafeFolder, match="can be changed by others"):
        load_clinic(None, path)
    os.chmod(path.parent, 0o700)
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="not a private file"):
        load_clinic(None, path)
    link = path.with_name("clinic-" + "0" * 64 + ".pkl")
    os.chmod(path, 0o600)
    link.symlink_to(path)
    with pytest.raises(ValueError, match="cannot open the data cache safely"):
        load_clinic(None, link)
    with pytest.raises(ValueError, match="not a data cache written by the batch"):
        load_clinic(None, tmp_path / "clinic.pkl")


@can_chown
def test_a_cache_owned_by_another_account_is_refused(tmp_path):
    path = _clinic_cache(tmp_path)
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(ValueError, match=f"owner uid {OTHER_UID}"):
        load_clinic(None, path)
