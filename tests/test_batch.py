"""The batch and report files under attack and failure (issue 14): names, temp files, locks,
caches, resumes, CSV cells, errors. Rendering is faked in-process here (fast); real renders are in
test_reports_render.py."""

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from progress_kit.reports import batch as batch_mod
from progress_kit.reports import render as render_mod
from progress_kit.reports.files import (
    FolderBusy,
    claim_stems,
    month_lock,
    private_file,
    remove_stale,
    write_private,
)
from progress_kit.reports.render import RenderResult
from progress_kit.reports.safe import csv_cell, csv_uncell, mask_numbers, safe_name


def _clinic(folder: Path, ids, month="2026-10") -> Path:
    """A minimal valid data folder: each client has one PHQ-9 score in ``month``."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"client_id": ids, "date": f"{month}-05", "measure": "PHQ-9",
                  "score": 10}).to_csv(folder / "observations.csv", index=False)
    pd.DataFrame({"client_id": ids, "therapist_id": "T1", "start_date": "2026-09-01",
                  "end_date": "", "status": "active", "problem": "depression",
                  "session_frequency": "weekly"}).to_csv(folder / "clients.csv", index=False)
    pd.DataFrame({"client_id": ids, "date": f"{month}-05", "attended": "true",
                  "kind": "treatment"}).to_csv(folder / "sessions.csv", index=False)
    return folder


def _fake_render(calls: list, fail=(), on_call=None):
    """Fake render_client/render_cohort: write <stem>.ipynb/.html holding the ID they were given."""

    def client(data_dir, client_id, month, out_dir, *, stem, data_cache=None, **kw):
        calls.append((client_id, stem, data_cache))
        if on_call:
            on_call(client_id, data_cache)
        if client_id in fail:
            raise ValueError(f"PHQ-9 score 17 for {client_id} on line 12 of {data_dir}/observations.csv")
        paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("ipynb", "html")]
        for p in paths:
            p.write_text(json.dumps({"client_id": client_id}))
        return RenderResult(paths)

    def cohort(data_dir, month, out_dir, *, stem="cohort", **kw):
        paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("ipynb", "html")]
        for p in paths:
            p.write_text("cohort")
        return RenderResult(paths)

    return client, cohort


@pytest.fixture
def fake(monkeypatch):
    calls: list = []

    def install(**kw):
        client, cohort = _fake_render(calls, **kw)
        monkeypatch.setattr(batch_mod, "render_client", client)
        monkeypatch.setattr(batch_mod, "render_cohort", cohort)
        return calls

    return install


def _batch(data, out, **kw):
    kw = {"formats": ("html",), "progress": False, "engine": "kernel", **kw}
    return batch_mod.run_batch(data, "2026-10", out, **kw)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ------------------------------------------------------------------ 1. one naming scheme


def test_colliding_ids_get_distinct_files_and_rows(tmp_path, fake):
    clash = "ab-" + hashlib.sha256(b"ab").hexdigest()[:8]
    ids = ["ab", clash, "AB", "a/b", "a_b", "A_B", "C001", "c001"]
    fake()
    res = _batch(_clinic(tmp_path / "data", ids), tmp_path / "out")
    m = res.manifest[res.manifest["kind"] == "client"].set_index("client")
    assert (m["status"] == "ok").all()
    stems = {cid: m.loc[cid, "files"].split(";")[0] for cid in ids}
    assert len({s.lower() for s in stems.values()}) == len(ids)  # also on case-blind disks
    for cid in ids:  # every row points at that client's own file
        html = res.folder / m.loc[cid, "files"].split(";")[1]
        assert json.loads(html.read_text())["client_id"] == cid
    assert m.loc["C001", "files"] == "clients/C001.ipynb;clients/C001.html"


def test_report_client_uses_the_batch_names_and_never_overwrites(tmp_path, fake, monkeypatch):
    fake()
    data = _clinic(tmp_path / "data", ["a/b", "ab"])
    res = _batch(data, tmp_path / "out")
    clients = res.folder / "clients"
    written = []

    def fake_report(kind, params, out_dir, stem, **kw):
        written.append((params["client_id"], stem))
        path = Path(out_dir) / f"{stem}.html"
        path.write_text(params["client_id"])
        return RenderResult([path])

    monkeypatch.setattr(render_mod, "render_report", fake_report)
    batch_stem = res.manifest.set_index("client").loc["a/b", "files"].split(";")[0]
    render_mod.render_client(data, "a/b", "2026-10", clients)
    render_mod.render_client(data, "a_b", "2026-10", clients)  # another ID: its own stem
    render_mod.render_client(data, "AB", "2026-10", clients)  # case-only twin of "ab"
    stems = dict(written)
    assert "clients/" + stems["a/b"] + ".ipynb" == batch_stem
    assert stems["a_b"] != stems["a/b"] and stems["AB"].lower() != "ab"
    assert json.loads((clients / "ab.html").read_text())["client_id"] == "ab"  # untouched


def test_files_of_unknown_owners_are_never_taken(tmp_path):
    folder = tmp_path / "clients"
    folder.mkdir()
    (folder / "C009.html").write_text("someone else's report")
    legacy = {"cells": [{"cell_type": "code", "metadata": {"tags": ["injected-parameters"]},
                         "source": ['client_id = "C010"\n', 'month = "2026-10"\n']}]}
    (folder / "C010.ipynb").write_text(json.dumps(legacy))
    stems = claim_stems(folder, ["C009", "C010"])
    assert stems["C009"] != "C009" and stems["C009"].startswith("C009-")
    assert stems["C010"] == "C010"  # an older kit's report of the same client is adopted
    assert claim_stems(folder, ["C009"]) == {"C009": stems["C009"]}  # stable afterwards
    assert _mode(folder / ".stems.json") == 0o600


def test_safe_name_never_mistakes_an_id_for_a_hashed_name():
    clash = "ab-" + hashlib.sha256(b"AB").hexdigest()[:8]
    assert safe_name(clash) != clash  # looks hashed, so it is hashed itself
    assert safe_name("ab") == "ab" and safe_name("C001.") != "C001"


# ------------------------------------------------------------------ 2. temp files


def test_private_files_are_exclusive_and_replace_links(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "report.html"
    target.symlink_to(victim)
    for stem in ("report", ".report"):  # the old predictable temp names, planted as links
        (tmp_path / f".{stem}.{os.getpid()}.tmp.html").symlink_to(victim)
    write_private(target, "<p>client data</p>")
    assert victim.read_text() == "keep me"
    assert not target.is_symlink() and target.read_text() == "<p>client data</p>"
    assert _mode(target) == 0o600
    with pytest.raises(RuntimeError), private_file(tmp_path / "x.pdf") as fh:
        fh.write(b"half")
        raise RuntimeError("render failed")
    assert not (tmp_path / "x.pdf").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pk-tmp-")]


def test_cache_and_manifest_are_private_while_the_batch_runs(tmp_path, fake):
    seen = {}

    def look(cid, cache):
        cache = Path(cache)
        seen["modes"] = (_mode(cache), _mode(cache.parent))

    fake(on_call=look)
    res = _batch(_clinic(tmp_path / "data", ["C1"]), tmp_path / "out")
    assert seen["modes"] == (0o600, 0o700)
    assert _mode(res.folder / "manifest.csv") == 0o600
    assert not [p for p in res.folder.rglob(".pk-tmp-*")], "no cache or temp file is left"


# ------------------------------------------------------------------ 3. caches and manifests


def test_malformed_manifest_is_a_clear_error_and_leaves_no_cache(tmp_path, fake):
    fake()
    data = _clinic(tmp_path / "data", ["C1", "C2"])
    res = _batch(data, tmp_path / "out")
    path = res.folder / "manifest.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.to_csv(path, sep=";", index=False)  # what a spreadsheet in some locales saves
    with pytest.raises(ValueError, match=r"not a progress-kit manifest.*';'-separated.*--force"):
        _batch(data, tmp_path / "out")
    assert not [p for p in res.folder.rglob("*") if ".pk-tmp-" in str(p) or ".cache" in str(p)]
    assert _batch(data, tmp_path / "out", force=True).manifest["status"].eq("ok").all()
    assert not [p for p in res.folder.rglob("*") if ".pk-tmp-" in str(p) or ".cache" in str(p)]


def test_stale_caches_and_temp_files_are_removed_at_start(tmp_path, fake):
    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    month = tmp_path / "out" / "2026-10"
    (month / ".cache-4242").mkdir(parents=True)  # an older kit's cache, left by SIGKILL
    (month / ".cache-4242" / "clinic.pkl").write_bytes(b"every client's data")
    (month / ".pk-tmp-cache-abc").mkdir()
    (month / "clients").mkdir()
    (month / "clients" / ".C1.4242.tmp.html").write_text("half")
    (month / "clients" / ".pk-tmp-xyz.part").write_text("half")
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "f").write_text("x")
    (month / ".pk-tmp-link").symlink_to(outside)  # removed as a link, never followed
    _batch(data, tmp_path / "out")
    left = {p.name for p in month.rglob("*")}
    assert not {".cache-4242", ".pk-tmp-cache-abc", ".C1.4242.tmp.html", ".pk-tmp-xyz.part",
                ".pk-tmp-link"} & left
    assert (outside / "f").exists()


def test_cache_is_removed_when_the_batch_is_interrupted(tmp_path, fake):
    def stop(cid, cache):
        raise KeyboardInterrupt

    fake(on_call=stop)
    with pytest.raises(KeyboardInterrupt):
        _batch(_clinic(tmp_path / "data", ["C1"]), tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.pkl"))


# ------------------------------------------------------------------ 4. lock and content hashes


def test_a_second_writer_refuses_or_waits(tmp_path, fake):
    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    month = tmp_path / "out" / "2026-10"
    with month_lock(month, what="test holder"), month_lock(month / "clients", what="test holder"):
        with pytest.raises(FolderBusy, match="test holder.*--wait"):
            _batch(data, tmp_path / "out")
        with pytest.raises(FolderBusy):  # report client refuses too, before rendering anything
            render_mod.render_client(data, "C1", "2026-10", month / "clients")
    assert not (month / "manifest.csv").exists()
    holder = month_lock(month)
    holder.__enter__()
    threading.Timer(0.3, holder.__exit__, (None, None, None)).start()
    t0 = time.monotonic()
    res = _batch(data, tmp_path / "out", wait=10)
    assert res.manifest["status"].eq("ok").all() and time.monotonic() - t0 >= 0.25


def test_a_changed_file_is_rendered_again(tmp_path, fake):
    calls = fake()
    data = _clinic(tmp_path / "data", ["C1", "C2"])
    res = _batch(data, tmp_path / "out")
    assert res.manifest["sha256"].str.len().ge(64).all()
    (res.folder / "clients" / "C2.html").write_text('{"client_id": "someone else"}')
    calls.clear()
    again = _batch(data, tmp_path / "out").manifest.set_index("client")["status"]
    assert again["C1"] == "up to date" and again["C2"] == "ok"
    assert [c[0] for c in calls] == ["C2"]


# ------------------------------------------------------------------ 8. failed notebooks


FAILING_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "p", "outputs": [],
               "metadata": {"tags": ["parameters"]}, "source": "client_id = None"},
              {"cell_type": "code", "execution_count": None, "id": "b", "outputs": [],
               "metadata": {}, "source": "assert not client_id.endswith('.failed'), 'boom'"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.slow
def test_failed_notebooks_are_out_of_reach_of_client_stems(tmp_path, monkeypatch):
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps(FAILING_NOTEBOOK))
    monkeypatch.setattr(render_mod, "notebook_path", lambda kind: nb)
    out = tmp_path / "clients"
    out.mkdir()
    (out / "C001.failed.ipynb").write_text("the audit notebook of client 'C001.failed'")
    with pytest.raises(Exception, match="boom"):
        render_mod.render_report("client", {"client_id": "C001.failed"}, out, "C001.failed",
                                 formats=())
    assert (out / "failed" / "C001.failed.ipynb").is_file()
    render_mod.render_report("client", {"client_id": "C001"}, out, "C001", formats=())
    assert (out / "C001.failed.ipynb").read_text().startswith("the audit notebook")
    assert (out / "failed" / "C001.failed.ipynb").is_file()
    assert _mode(out / "C001.ipynb") == 0o600 and _mode(out / "failed" / "C001.failed.ipynb") == 0o600
    assert not [p for p in out.iterdir() if p.name.startswith(".pk-tmp-")]


# ------------------------------------------------------------------ 9. formula injection


def test_manifest_cells_never_start_a_formula(tmp_path, fake):
    ids = ["=HYPERLINK(\"http://x\",\"y\")", "+SUM(1,1)", "@SUM(A1)", "-rf", "'quoted", "C2"]
    fake()
    data = _clinic(tmp_path / "data", ids)
    res = _batch(data, tmp_path / "out")
    text = (res.folder / "manifest.csv").read_text()
    rows = pd.read_csv(res.folder / "manifest.csv", dtype=str, keep_default_na=False)
    for col in rows.columns:
        assert not rows[col].str.match(r"[=+\-@\t\r]").any(), col
    assert "'=HYPERLINK" in text and "'+SUM" in text
    assert sorted(res.manifest["client"]) == sorted([*ids, "(cohort)"])
    again = _batch(data, tmp_path / "out")  # read back exactly: everything is up to date
    assert again.manifest["status"].eq("up to date").all()
    for value in ["=1", "+1", "-1", "@a", "\t", "\rx", "'", "''=", "plain", ""]:
        assert csv_uncell(csv_cell(value)) == value


# ------------------------------------------------------------------ 10. resumable batch


KILLED_BATCH = """
import json, os, signal, sys
from pathlib import Path
from progress_kit.reports import batch as b
from progress_kit.reports.render import RenderResult
done = []
def client(data_dir, client_id, month, out_dir, *, stem, **kw):
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    done.append(client_id)
    paths = [Path(out_dir) / f"{stem}.{e}" for e in ("ipynb", "html")]
    for p in paths:
        p.write_text(client_id)
    return RenderResult(paths)
def cohort(data_dir, month, out_dir, *, stem="cohort", **kw):
    paths = [Path(out_dir) / f"{stem}.{e}" for e in ("ipynb", "html")]
    for p in paths:
        p.write_text("cohort")
    return RenderResult(paths)
b.render_client = client
b.render_cohort = cohort
b.run_batch(sys.argv[1], "2026-10", sys.argv[2], formats=("html",), progress=False, engine="kernel")
"""


def test_a_killed_batch_resumes_where_it_stopped(tmp_path, fake):
    data = _clinic(tmp_path / "data", ["C1", "C2", "C3", "C4"])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_BATCH), str(data),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    month = tmp_path / "out" / "2026-10"
    assert list(month.glob(".pk-tmp-cache-*")), "SIGKILL leaves the cache (removed at next start)"
    manifest = month / "manifest.csv"
    kept = {**batch_mod._read_manifest(manifest), **batch_mod._read_journal(manifest)}
    # the cohort report, the longest, starts first; the batch was killed in the third client
    assert sorted(k[1] for k in kept) == ["(cohort)", "C1", "C2"]
    assert all(r["status"] == "ok" for r in kept.values())
    calls = fake()
    res = _batch(data, tmp_path / "out")
    status = res.manifest.set_index("client")["status"]
    assert status[["(cohort)", "C1", "C2"]].eq("up to date").all()
    assert status[["C3", "C4"]].eq("ok").all()
    assert [c[0] for c in calls] == ["C3", "C4"]
    assert not list(month.glob(".pk-tmp-*")) and not (month / batch_mod.JOURNAL).exists()


# ------------------------------------------------------------------ 16. no ID in defaults


def test_notebook_defaults_hold_no_client_id():
    from progress_kit.reports.context import DEFAULT_CLIENT, client_or_demo
    from progress_kit.reports.resources import notebook_path

    for kind in ("client", "cohort"):
        nb = json.loads(notebook_path(kind).read_text())
        params = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        assert DEFAULT_CLIENT not in "".join(params[0]["source"])
    assert client_or_demo(None) == DEFAULT_CLIENT and client_or_demo("x", "/d") == "x"
    with pytest.raises(ValueError, match="set client_id"):
        client_or_demo(None, "/data")


# ------------------------------------------------------------------ 19. errors


def test_masking_hides_scores_but_keeps_paths_ids_and_lines(tmp_path, fake):
    fake(fail=("C77",))
    data = _clinic(tmp_path / "da7a", ["C77", "C1"])
    res = _batch(data, tmp_path / "out")
    error = res.manifest.set_index("client").loc["C77", "error"]
    path = str(data / "observations.csv")
    assert path in error
    # the score is gone; the path is kept as it is, and may itself hold digits (pytest-176)
    assert "17" not in error.replace(path, "") and "score #" in error
    assert "C77" in error and "line 12" in error
    assert mask_numbers("scores 12.5 and 3 from 2026-10-01") == "scores # and # from #-#-#"


def test_unwritable_output_and_folder_manifest_are_plain_errors(tmp_path, fake, capsys):
    from progress_kit.cli import main

    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    (tmp_path / "file").write_text("not a folder")
    code = main(["batch", str(data), "--month", "2026-10", "--out", str(tmp_path / "file"),
                 "--quiet", "--engine", "kernel"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot write the reports" in err and "Traceback" not in err
    (tmp_path / "out" / "2026-10" / "manifest.csv").mkdir(parents=True)
    code = main(["batch", str(data), "--month", "2026-10", "--out", str(tmp_path / "out"),
                 "--quiet", "--engine", "kernel"])
    err = capsys.readouterr().err
    assert code == 1 and "manifest.csv is not a regular file" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_output_folder_is_a_plain_error(tmp_path, fake, capsys):
    from progress_kit.cli import main

    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    code = main(["batch", str(data), "--month", "2026-10", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Permission denied" in err and "Traceback" not in err


# ------------------------------------------------------------------ 20, empty months


def test_unknown_therapist_is_an_error_with_a_hint(tmp_path, capsys):
    from progress_kit.cli import main

    data = _clinic(tmp_path / "data", ["C1"])
    code = main(["report", "cohort", str(data), "--month", "2026-10", "--therapist", "t1",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "'t1' has no clients" in err and "did you mean 'T1'" in err
    assert not list((tmp_path / "out").rglob("*.html"))


def test_empty_month_warns_and_fails_unless_allowed(tmp_path, fake, capsys):
    from progress_kit.cli import main

    fake()
    data = _clinic(tmp_path / "data", ["C1"], month="2026-09")
    args = ["batch", str(data), "--month", "2026-10", "--out", str(tmp_path / "out"), "--quiet",
            "--engine", "kernel"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "no client has an observation or a session in 2026-10" in err
    assert "data end on 2026-09-05" in err and "--allow-empty" in err
    assert not (tmp_path / "out" / "2026-10" / "manifest.csv").exists()
    assert main([*args, "--allow-empty"]) == 0


def test_remove_stale_ignores_reports(tmp_path):
    (tmp_path / "C1.html").write_text("x")
    (tmp_path / ".pk-tmp-1.part").write_text("x")
    assert remove_stale(tmp_path) == [".pk-tmp-1.part"] and (tmp_path / "C1.html").exists()


def test_a_torn_journal_line_is_ignored(tmp_path):
    manifest = tmp_path / "manifest.csv"
    good = ["C1", "client", "ok", "clients/C1.ipynb", "1.0", "", "f" * 16, "a" * 64]
    (tmp_path / batch_mod.JOURNAL).write_text(",".join(good) + "\n" + "C2,client,o")
    assert list(batch_mod._read_journal(manifest)) == [("client", "C1")]


def test_a_planted_lock_link_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / ".lock").symlink_to(victim)
    with pytest.raises(ValueError, match="symbolic link"), month_lock(tmp_path / "m"):
        pass
    assert victim.read_text() == "keep"


def test_a_masked_error_shows_the_clients_file_name_not_a_placeholder(tmp_path, fake):
    """Issue 24, item 12: render C001, put a folder where C001.html goes, re-run with --force."""
    fake()
    data = _clinic(tmp_path / "data", ["C001"])
    res = _batch(data, tmp_path / "out")
    html = res.folder / "clients" / "C001.html"
    html.unlink()
    html.mkdir()
    again = _batch(data, tmp_path / "out", force=True).manifest.set_index("client")
    error = again.loc["C001", "error"]
    assert again.loc["C001", "status"] == "failed"
    assert "clients/C001.html" in error, error
    assert not [ch for ch in error if 0xE000 <= ord(ch) <= 0xF8FF], repr(error)


def test_atomic_writes_reach_the_disk_before_and_after_the_rename(tmp_path, monkeypatch):
    """Durability: the file's data are fsynced before os.replace, and its folder after it."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(kind)
        return real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_private(tmp_path / "manifest.csv", "a,b\n")
    assert events == ["file", "replace", "folder"]


def test_editing_benchmarks_toml_renders_the_cohort_again(tmp_path, fake):
    """Issue 24, item 8: the cohort report draws benchmarks.toml; it was called up to date after
    an edit and kept the old benchmark."""
    fake()
    data = _clinic(tmp_path / "data", ["C1"])
    (data / "benchmarks.toml").write_text("# the service's benchmarks, first version\n")
    _batch(data, tmp_path / "out")
    assert set(_batch(data, tmp_path / "out").manifest["status"]) == {"up to date"}
    (data / "benchmarks.toml").write_text("# the service's benchmarks, edited\n")
    status = _batch(data, tmp_path / "out").manifest.set_index("kind")["status"]
    assert status["cohort"] == "ok"
