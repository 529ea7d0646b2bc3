"""The command line's batch with two jobs or more: its reports' HTML and PDF are made by a
second warm process, the exporter (engine.Exporter), forked before the data are read.

The reports must be the same as when one process makes each whole report; a report whose
export fails is a failed row without files; the exporter holds none of the clinic's data.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from progress_kit.reports import new_notebook
from progress_kit.reports.engine import fork_available

pytestmark = pytest.mark.skipif(not fork_available(), reason="engine 'here' needs Linux fork")

MONTH = "2026-10"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    import progress_kit as pk

    folder = tmp_path_factory.mktemp("exporter") / "data"
    pk.demo_data(n_clients=3, months=4, seed=3, end="2026-10-31").write(folder)
    return folder


def _visible(path: Path) -> str:
    from bs4 import BeautifulSoup

    text = BeautifulSoup(path.read_text("utf-8"), "html.parser").get_text("\n")
    return re.sub(r"\s+", " ", re.sub(r"Generated \d{4}-\d\d-\d\d", "", text)).strip()


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = " ".join(p.extract_text() or "" for p in PdfReader(path).pages)
    return re.sub(r"\s+", " ", re.sub(r"Generated \d{4}-\d\d-\d\d", "", text)).strip()


@pytest.mark.slow
def test_reports_made_with_the_exporter_are_those_made_without(tmp_path, data, monkeypatch):
    from progress_kit.reports import batch, engine

    started = []
    real_start, real_load = batch._start_exporter, batch.load_clinic

    def start(*args):
        exporter = real_start(*args)
        started.append(exporter)
        return exporter

    def load(*args, **kwargs):
        # the exporter is forked before any data are read: it holds none of them
        assert started and started[0] is not None and engine._PARENT_ONLY
        return real_load(*args, **kwargs)

    monkeypatch.setattr(batch, "_start_exporter", start)
    monkeypatch.setattr(batch, "load_clinic", load)
    split = batch.run_batch(data, MONTH, tmp_path / "split", jobs=2, engine="here", progress=False)
    monkeypatch.undo()
    whole = batch.run_batch(data, MONTH, tmp_path / "whole", jobs=1, engine="here", progress=False)
    assert not engine._PARENT_ONLY  # the exporter was closed
    for res in (split, whole):
        assert (res.manifest["status"] == "ok").all(), res.manifest["error"].tolist()
    a, b = (r.manifest.set_index("client")["files"] for r in (split, whole))
    assert a.to_dict() == b.to_dict()  # the same files, in the same order
    for files in a:
        for name in files.split(";"):
            left, right = split.folder / name, whole.folder / name
            if name.endswith(".html"):
                assert _visible(left) == _visible(right), name
            elif name.endswith(".pdf"):
                assert _pdf_text(left) == _pdf_text(right), name
    assert len(a) == 3 and all(f.count(";") == 2 for f in a)  # 2 clients and the cohort


OFFLINE_BREAKER = '''if report.client_id == "C002":
    from IPython.display import HTML, display
    display(HTML('<img src="https://example.org/chart.png" alt="a chart from the web">'))'''


@pytest.mark.slow
def test_a_report_whose_pdf_fails_in_the_exporter_is_a_failed_row(tmp_path, data):
    """A page that refers to something on the web cannot become a PDF (reports are offline):
    that report fails with the reason and no files; the others are made."""
    from progress_kit.reports.batch import run_batch

    nb_path = new_notebook("client", tmp_path / "mine.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(OFFLINE_BREAKER))
    nbformat.write(nb, nb_path)
    res = run_batch(data, MONTH, tmp_path / "out", jobs=2, engine="here", progress=False,
                    client_notebook=nb_path)
    m = res.manifest.set_index("client")
    files = m.loc["C002", "files"]
    assert m.loc["C002", "status"] == "failed" and (not isinstance(files, str) or not files), files
    assert "reports are offline" in m.loc["C002", "error"], m.loc["C002", "error"]
    others = m.drop(index="C002")
    assert (others["status"] == "ok").all(), others["error"].tolist()
    assert (res.folder / "clients" / "C001.pdf").exists()


def test_the_exporter_is_used_only_where_it_helps():
    """Only the command line's engine, with two jobs or more, and HTML or PDF to make."""
    from progress_kit.reports.batch import _start_exporter

    assert _start_exporter("here", 1, ("html", "pdf"), None) is None
    assert _start_exporter("fork", 2, ("html", "pdf"), None) is None
    assert _start_exporter("here", 2, ("html", "pdf"), "local") is None
    assert _start_exporter("here", 2, (), None) is None
    exporter = _start_exporter("here", 2, ("pdf",), None)
    try:
        assert exporter is not None and exporter.pid
    finally:
        exporter.close()


def test_a_refused_batch_leaves_no_exporter_behind(tmp_path, data):
    """The exporter starts before the month folder is locked: a batch refused there (another
    run holds the folder) ends it again, and its pipes are closed."""
    from progress_kit.reports import engine
    from progress_kit.reports.batch import run_batch
    from progress_kit.reports.files import FolderBusy, month_lock

    started = []
    real = engine.Exporter.start

    def start(self):
        started.append(self)
        return real(self)

    engine.Exporter.start = start
    try:
        with month_lock(tmp_path / "out" / MONTH, what="test holder"), pytest.raises(FolderBusy):
            run_batch(data, MONTH, tmp_path / "out", jobs=2, engine="here", progress=False)
    finally:
        engine.Exporter.start = real
    assert len(started) == 1 and started[0].pid is None and not engine._PARENT_ONLY


# ---------------------------------------------- one sheet from the command line


@pytest.fixture
def exporters(monkeypatch):
    """Every exporter a command starts, recorded."""
    from progress_kit.reports import engine

    started = []
    real = engine.Exporter.start

    def start(self):
        started.append(self)
        return real(self)

    monkeypatch.setattr(engine.Exporter, "start", start)
    return started


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    ["report", "prep", "--client", "C002", "--date", "2026-10-20"],
    ["report", "client", "--client", "C002", "--month", MONTH],
    ["report", "share", "--client", "C002", "--date", "2026-10-20"],
])
def test_one_sheet_is_exported_by_a_warm_exporter_and_is_the_same(tmp_path, data, exporters,
                                                                   command, capsys):
    """``report prep/client/share`` start the exporter before reading the data and the sheet is
    the one made without it (visible text of the HTML, text of the PDF)."""
    from progress_kit.cli import main
    from progress_kit.reports import engine

    kind, rest = command[1], command[2:]
    assert main([*command[:2], str(data), *rest, "--out", str(tmp_path / "split")]) == 0
    assert len(exporters) == 1 and exporters[0].pid is None and not engine._PARENT_ONLY
    files = [Path(line) for line in capsys.readouterr().out.split()]
    assert sorted(f.suffix for f in files) == [".html", ".ipynb", ".pdf"], files
    whole_dir = tmp_path / "whole"
    rendered = {"prep": "render_prep", "client": "render_client", "share": "render_share"}[kind]
    from progress_kit.reports import render

    when = rest[rest.index("--date" if "--date" in rest else "--month") + 1]
    whole = getattr(render, rendered)(data, "C002", when, whole_dir, formats=("html", "pdf"))
    by_suffix = {p.suffix: p for p in whole.files}
    for f in files:
        if f.suffix == ".html":
            assert _visible(f) == _visible(by_suffix[".html"])
        elif f.suffix == ".pdf":
            assert _pdf_text(f) == _pdf_text(by_suffix[".pdf"])


def test_a_command_that_stops_early_kills_its_exporter_at_once(tmp_path, data, exporters):
    """An unknown client: the command ends before any sheet, and so does its exporter (killed,
    not left to finish a warm-up nothing needs)."""
    from progress_kit.cli import main
    from progress_kit.reports import engine

    code = main(["report", "prep", str(data), "--client", "NOBODY", "--date", "2026-10-20",
                 "--out", str(tmp_path)])
    assert code != 0
    assert len(exporters) == 1 and exporters[0].pid is None and not engine._PARENT_ONLY


@pytest.mark.slow
def test_a_sheet_whose_pdf_fails_in_the_exporter_fails_with_the_reason(tmp_path, data, capsys):
    from progress_kit.cli import main

    nb_path = new_notebook("prep", tmp_path / "mine.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(OFFLINE_BREAKER.replace("report.", "sheet.")))
    nbformat.write(nb, nb_path)
    code = main(["report", "prep", str(data), "--client", "C002", "--date", "2026-10-20",
                 "--out", str(tmp_path / "out"), "--notebook", str(nb_path)])
    err = capsys.readouterr().err
    assert code != 0 and "failed: C002" in err and "reports are offline" in err, err[-2000:]
    assert not list((tmp_path / "out" / "prep").glob("*.pdf"))
