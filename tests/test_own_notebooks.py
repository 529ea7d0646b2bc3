"""A service's own report notebooks (issue 25): report new, --notebook, batch --client-notebook.

A notebook of the user's goes through the same engines, template, names, locks, file modes,
manifest and resume as the built-in ones; its parameters are checked before anything renders
(exit 2); a failing one is a failed manifest row with its cell; a client's notebook is handed
only that client's page. The clinic here has three clients with IDs that occur nowhere else
(``ALPHA7``, ``BRAVO7``, ``CHARLIE7``), so any leak of another client's rows shows as an ID.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from progress_kit.cli import main
from progress_kit.reports import check_notebook, new_notebook, notebook_parameters
from progress_kit.reports.resources import KINDS, NotebookProblem, notebook_path

MONTH = "2026-10"
IDS = {"C001": "ALPHA7", "C002": "BRAVO7", "C003": "CHARLIE7"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """The demo clinic's first three clients, renamed, as a data folder."""
    import progress_kit as pk

    clinic = pk.demo_data(n_clients=3, months=4, seed=3, end="2026-10-31")
    folder = tmp_path_factory.mktemp("own") / "data"
    folder.mkdir()
    for name in ("observations", "clients", "sessions"):
        frame = getattr(clinic, name).copy()
        frame["client_id"] = frame["client_id"].map(IDS)
        assert frame["client_id"].notna().all()
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _text(html_path: Path) -> str:
    """A report's visible text (what a reader sees), without the generated date."""
    from bs4 import BeautifulSoup

    text = BeautifulSoup(html_path.read_text("utf-8"), "html.parser").get_text("\n")
    lines = (line.strip() for line in text.splitlines())
    return re.sub(r"Generated \d{4}-\d\d-\d\d", "Generated DATE", "\n".join(x for x in lines if x))


def _edit(path: Path, drop: str | None = None, add_after: str | None = None, cell: str = "") -> Path:
    """Delete the code cell containing ``drop``, add ``cell`` after the one containing
    ``add_after`` (as a user would in JupyterLab)."""
    nb = nbformat.read(path, as_version=4)
    cells = []
    for c in nb.cells:
        if drop and c.cell_type == "code" and drop in c.source:
            continue
        cells.append(c)
        if add_after and c.cell_type == "code" and add_after in c.source:
            cells.append(nbformat.v4.new_code_cell(cell))
    nb.cells = cells
    nbformat.write(nb, path)
    return path


# ------------------------------------------------------------------ report new


def test_report_new_writes_an_exclusive_editable_copy(tmp_path, capsys):
    for kind in KINDS:
        dest = tmp_path / f"{kind}.ipynb"
        assert main(["report", "new", kind, str(dest)]) == 0
        mine, built_in = (json.loads(p.read_text()) for p in (dest, notebook_path(kind)))
        assert mine["cells"] == built_in["cells"]  # the same steps: same report (slow test below)
        assert mine["metadata"]["progress_kit"]["kind"] == kind
        out = capsys.readouterr().out
        assert f"--notebook {dest}" in out and "Write your own report" in out
    assert "--client-notebook" in capsys.readouterr().out or True
    dest = tmp_path / "client.ipynb"
    before = dest.read_bytes()
    assert main(["report", "new", "client", str(dest)]) == 1  # never overwritten
    assert "already exists" in capsys.readouterr().err and dest.read_bytes() == before
    link = tmp_path / "link.ipynb"
    link.symlink_to(tmp_path / "elsewhere.ipynb")
    with pytest.raises(FileExistsError):
        new_notebook("client", link)  # a planted link is not followed
    assert not (tmp_path / "elsewhere.ipynb").exists()
    with pytest.raises(ValueError, match="ends in .ipynb"):
        new_notebook("client", tmp_path / "x.txt")


def test_the_built_in_notebooks_are_steps_over_the_public_api():
    """Each code cell calls the documented API; every name it uses is in progress_kit.reports."""
    import progress_kit.reports as pr
    from progress_kit.reports import steps

    assert sorted(pr.STEPS) == sorted(steps.__all__)
    for kind in KINDS:
        nb = nbformat.read(notebook_path(kind), as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert len(code) >= 6, kind  # parameters, loading, and one cell per section
        used = set(re.findall(r"\bpr\.(\w+)", "\n".join(code)))
        assert used <= set(pr.__all__), used - set(pr.__all__)
        assert "rn." not in "\n".join(code) and "report[" not in "\n".join(code)
        for name in used:
            doc = getattr(pr, name).__doc__ or ""
            assert "Examples" in doc or name in ("title", "heading"), name


# ------------------------------------------------------------------ bad parameters: exit 2


def _with_parameters(tmp_path: Path, source: str | None, kind: str = "client") -> Path:
    path = new_notebook(kind, tmp_path / f"bad-{abs(hash(source))}.ipynb")
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    if source is None:
        cell.metadata["tags"] = []
    else:
        cell.source = source
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("source, says", [
    ('client_id = None\nmonth = "2026-10"\ndata_dir = None', "names data_dir"),
    ('month = "2026-10"\nbundle = None', "lacks client_id"),
    (None, "no cell is tagged 'parameters'"),
    ("client_id = None\nfor x in []: pass", "only assignments"),
])
def test_bad_parameters_are_refused_before_anything_renders(tmp_path, data, capsys, source, says):
    path = _with_parameters(tmp_path, source)
    out = tmp_path / "out"
    with pytest.raises(NotebookProblem, match=re.escape(says)):
        check_notebook(path, "client")
    commands = [["report", "client", str(data), "--client", "ALPHA7", "--month", MONTH,
                 "--out", str(out), "--notebook", str(path)],
                ["report", "prep", str(data), "--client", "ALPHA7", "--date", "2026-10-20",
                 "--out", str(out), "--notebook", str(path)],
                ["batch", str(data), "--month", MONTH, "--out", str(out), "--client-notebook",
                 str(path), "--quiet"]]
    for argv in commands:
        if argv[1] == "prep" and "month" in (source or ""):
            continue  # a client notebook's month is not a prep parameter: refused anyway below
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert str(path) in err and says in err, err
    assert not out.exists()  # nothing rendered, not even a folder


def test_a_cohort_notebook_is_checked_as_one(tmp_path, data, capsys):
    client = new_notebook("client", tmp_path / "client.ipynb")
    out = tmp_path / "out"
    assert main(["batch", str(data), "--month", MONTH, "--out", str(out), "--cohort-notebook",
                 str(client), "--quiet"]) == 2
    assert "names client_id" in capsys.readouterr().err and not out.exists()
    assert notebook_parameters(notebook_path("cohort"))[:2] == ["data_dir", "month"]
    with pytest.raises(NotebookProblem, match="no such notebook"):
        check_notebook(tmp_path / "missing.ipynb", "client")


# ------------------------------------------------------------------ renders (slow)


@pytest.mark.slow
@pytest.mark.parametrize("kind, when, page", [
    ("client", ["--month", MONTH], f"{MONTH}/clients/BRAVO7.html"),
    ("prep", ["--date", "2026-10-20"], "prep/BRAVO7-prep-2026-10-20.html"),
    ("share", ["--date", "2026-10-20"], "share/BRAVO7-share-2026-10-20.html"),
    ("cohort", ["--month", MONTH], f"{MONTH}/cohort.html"),
])
def test_the_unchanged_scaffold_renders_the_built_in_text(tmp_path, data, kind, when, page):
    """report new, rendered as it is through --notebook: the same text as the built-in report."""
    mine = tmp_path / "mine.ipynb"
    assert main(["report", "new", kind, str(mine)]) == 0
    who = [] if kind == "cohort" else ["--client", "BRAVO7"]
    for out, own in (("built-in", []), ("own", ["--notebook", str(mine)])):
        assert main(["report", kind, str(data), *who, *when, "--out", str(tmp_path / out),
                     "--format", "html", *own]) == 0
    built_in, own = _text(tmp_path / "built-in" / page), _text(tmp_path / "own" / page)
    assert built_in == own and len(own.splitlines()) > 10
    assert kind == "cohort" or "BRAVO7" in own


DIARY_CELL = '''ax = pk.plot_diary(pr.diary_table(report), start=report.start, end=report.end)
pr.show(pr.section("My diary chart", "Every day of the month.", figure=ax))'''


def _custom(tmp_path: Path) -> Path:
    """A client notebook with one section deleted and one of the user's own added."""
    path = new_notebook("client", tmp_path / "custom.ipynb")
    return _edit(path, drop="pr.sudden_gains(report)", add_after="pr.progress_note(report)",
                 cell=DIARY_CELL)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fork", "kernel", "here", "dask"])
def test_a_custom_notebook_through_every_engine(tmp_path, data, engine):
    from progress_kit.reports.batch import run_batch

    nb = _custom(tmp_path)
    kw = {"scheduler": "local"} if engine == "dask" else {"engine": engine}
    res = run_batch(data, MONTH, tmp_path / "out", jobs=2 if engine == "dask" else 1,
                    formats=("html",), progress=False, client_notebook=nb, **kw)
    m = res.manifest.set_index("client")
    assert (m["status"] == "ok").all(), m["error"].to_dict()
    page = _text(res.folder / "clients" / "ALPHA7.html")
    assert "My diary chart" in page and "Every day of the month." in page
    assert "Sudden gains" not in page and "For the progress note" in page
    html = (res.folder / "clients" / "ALPHA7.html").read_text()
    assert html.count("data:image/png;base64,") >= 2  # the headline and the user's own chart
    for name in ("ALPHA7.html", "ALPHA7.ipynb"):
        assert stat.S_IMODE(os.lstat(res.folder / "clients" / name).st_mode) == 0o600
    if engine != "fork":
        return
    # resume: nothing changed, nothing rendered; the notebook edited, its reports again
    again = run_batch(data, MONTH, tmp_path / "out", formats=("html",), progress=False,
                      client_notebook=nb, engine=engine)
    assert (again.manifest["status"] == "up to date").all()
    _edit(nb, drop="pr.data_quality(report)")
    edited = run_batch(data, MONTH, tmp_path / "out", formats=("html",), progress=False,
                       client_notebook=nb, engine=engine)
    s = edited.manifest.set_index("kind")["status"]
    assert (s["client"] == "ok").all() and s["cohort"] == "up to date"
    built_in = run_batch(data, MONTH, tmp_path / "out", formats=("html",), progress=False,
                         engine=engine)  # back to the built-in notebook: rendered again
    assert (built_in.manifest.set_index("kind")["status"]["client"] == "ok").all()


FAILING_CELL = '''if report.client_id == "BRAVO7":
    raise ValueError(f"score {int(report.data.observations['score'].iloc[-1]) + 1000} is odd")'''


@pytest.mark.slow
def test_a_failing_notebook_is_a_failed_row_with_its_cell(tmp_path, data, capsys):
    nb = _edit(new_notebook("client", tmp_path / "failing.ipynb"), add_after="pr.trends(report)",
               cell=FAILING_CELL)
    out = tmp_path / "out"
    assert main(["batch", str(data), "--month", MONTH, "--out", str(out), "--format", "html",
                 "--client-notebook", str(nb), "--quiet"]) == 1  # the batch went on, then said so
    m = pd.read_csv(out / MONTH / "manifest.csv", dtype=str, keep_default_na=False).set_index("client")
    assert m.loc["BRAVO7", "status"] == "failed"
    assert (m.drop(index="BRAVO7")["status"] == "ok").all()
    error = m.loc["BRAVO7", "error"]
    assert re.fullmatch(r"failing\.ipynb cell \d+ \(if report\.client_id == \"BRAVO7\":\): "
                        r"ValueError: score # is odd", error), error  # its cell; the score masked
    cell = int(error.split()[2]) - 1
    assert "raise ValueError" in nbformat.read(nb, as_version=4).cells[cell].source  # as in the file
    kept = nbformat.read(out / MONTH / "clients" / "failed" / "BRAVO7.ipynb", as_version=4)
    assert any("score" in str(o) for c in kept.cells for o in c.get("outputs", []))  # the traceback
    assert "failed: BRAVO7: failing.ipynb cell" in capsys.readouterr().err


ATTACK = r'''
import gc
import pickle
import progress_kit as pk
from progress_kit import reports as pr
from progress_kit.reports import context, notebook as rn

found = []
found += [repr(v) for k, v in dict(globals()).items() if isinstance(v, str) and not k.startswith("_")]
report = pr.load_client(bundle, client_id, month=month)
found.append(repr(pickle.loads(pickle.dumps(report)).__dict__))

def walk(obj, depth=0, seen=set()):
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    found.append(repr(obj)[:100000])
    for child in (getattr(obj, "__dict__", {}) or {}).values():
        walk(child, depth + 1)
    if isinstance(obj, dict):
        for child in obj.values():
            walk(child, depth + 1)
    if isinstance(obj, (list, tuple)):
        for child in obj:
            walk(child, depth + 1)
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        found.append(obj.to_csv())
        walk(obj.attrs, depth + 1)

import pandas as pd
walk(report)
for step in (pr.status, pr.trends, pr.headline_chart, pr.progress_note, pr.since_last_month,
             pr.questionnaires, pr.expected_range, pr.sessions, pr.data_quality, pr.diary,
             pr.diary_table, pr.methods):
    walk(step(report))
for name in ("ALPHA7", "BRAVO7", "CHARLIE7"):
    try:
        found.append(repr(pr.load_client(bundle, name, month=month).data.observations))
    except Exception as exc:
        found.append(f"refused: {type(exc).__name__}")
found.append(repr(list(context._PRELOADED)))
for cache in list(context._PRELOADED):
    found.append(rn.load_clinic(None, cache).observations.to_csv())
for obj in gc.get_objects():
    if isinstance(obj, pd.DataFrame) and "client_id" in obj.columns:
        found.append(",".join(map(str, obj["client_id"].unique())))
print("\n".join(found))
'''


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fork", "kernel", "here", "report client"])
def test_a_client_notebook_that_tries_gets_only_its_client(tmp_path, data, engine):
    """A notebook that looks everywhere the kit hands it (its parameters, the documented API,
    the objects' attributes and pickled state, load calls with the other IDs, the preloaded
    cache, every DataFrame the collector tracks in its process) prints no other client's ID:
    in a batch on each engine, and from ``report client --notebook``."""
    from progress_kit.reports.batch import run_batch

    nb = _edit(new_notebook("client", tmp_path / "attack.ipynb"), add_after="pr.title(",
               cell=ATTACK)
    folder = tmp_path / "out" / MONTH
    if engine == "report client":
        mine = ["ALPHA7", "BRAVO7"]
        for me in mine:
            assert main(["report", "client", str(data), "--client", me, "--month", MONTH,
                         "--out", str(tmp_path / "out"), "--format", "html",
                         "--notebook", str(nb)]) == 0
    else:
        res = run_batch(data, MONTH, tmp_path / "out", formats=("html",), progress=False,
                        client_notebook=nb, engine=engine)
        m = res.manifest[res.manifest["kind"] == "client"].set_index("client")
        assert (m["status"] == "ok").all() and len(m) >= 2, m["error"].to_dict()
        mine = list(m.index)
    for me in mine:
        executed = nbformat.read(folder / "clients" / f"{me}.ipynb", as_version=4)
        printed = "\n".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                            for o in c.outputs)
        assert "refused: ValueError" in printed and me in printed
        others = [o for o in IDS.values() if o != me]
        leaked = [o for o in others if o in printed]
        assert not leaked, (me, leaked)
        page = (folder / "clients" / f"{me}.html").read_text()
        assert not [o for o in others if o in page]


# ------------------------------------------------------------------ the steps (fast)


def _shown_html(*items) -> str:
    """What ``pr.show`` displays (outside a kernel, ``display`` would only print a repr)."""
    import progress_kit.reports as pr
    from progress_kit.reports import notebook

    shown: list[str] = []
    real = notebook.display
    notebook.display = lambda obj: shown.append(obj.data)
    try:
        pr.show(*items)
    finally:
        notebook.display = real
    return "".join(shown)


def test_a_section_of_your_own_with_a_chart_and_the_footnote_of_what_was_shown():
    import matplotlib.pyplot as plt

    import progress_kit as pk
    import progress_kit.reports as pr

    report = pr.load_client(None, month=MONTH)
    ax = pk.plot_diary(pr.diary_table(report), start=report.start, end=report.end)
    page = _shown_html(pr.section("Diary, day by day", "Every day.", figure=ax,
                                  method="Diary drawn with pk.plot_diary."))
    assert "Diary, day by day" in page and page.count("data:image/png;base64,") == 1
    assert not plt.get_fignums()  # closed: a kernel's inline backend does not show it again
    _shown_html(pr.status(report))
    lines = pr.methods(report).lines
    assert lines[0].startswith("Status (primary measure PHQ-9)")
    assert "Diary drawn with pk.plot_diary." in lines
    # a section whose cell was deleted has no line in the footnote; shown, it has
    assert not any(line.startswith("Expected range:") for line in lines)
    _shown_html(pr.expected_range(report))
    assert any(line.startswith("Expected range:") for line in pr.methods(report).lines)


def test_shown_sections_go_with_their_report():
    # a JupyterLab session loads and shows report after report: the sections a report showed
    # (figures, tables) are released with it, not kept by the process for its footnote
    import gc
    import weakref

    import progress_kit.reports as pr

    report = pr.load_client(None, month=MONTH)
    status = pr.status(report)
    _shown_html(status)
    later = pr.load_client(None, month=MONTH)  # a second report sees only what it showed
    assert status in report._shown and status not in later._shown
    gone = weakref.ref(status)
    del report, status
    gc.collect()
    assert gone() is None


def test_load_client_refuses_a_page_for_another_client(tmp_path):
    import progress_kit.reports as pr
    from progress_kit.reports.context import load_clinic

    page = pr.prepare_client(load_clinic(), "C002", month=MONTH)
    bundle = pr.write_bundle(page, tmp_path)
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600
    assert pr.load_client(bundle, "C002", month=MONTH).client_id == "C002"
    with pytest.raises(ValueError, match="client_id is 'C005'"):
        pr.load_client(bundle, "C005", month=MONTH)
    with pytest.raises(ValueError, match="month is '2026-09'"):
        pr.load_client(bundle, "C002", month="2026-09")
    assert set(page.data.observations["client_id"]) == {"C002"}
    scores = page.data.observations.query("measure == 'PHQ-9'")
    assert page.status_now.row.name == "C002" and len(page.course[0]) == len(scores)
