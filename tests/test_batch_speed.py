"""What makes the batch fast must not change a report (issue 16): results shared across a
batch's reports, the kept HTML exporter, the order reports start in, the zygote's preparation."""

import dataclasses
import json
import os

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import progress_kit
from progress_kit import demo_data
from progress_kit.reports import batch as batch_mod
from progress_kit.reports import notebook as rn
from progress_kit.reports import steps
from progress_kit.reports.engine import ForkServer, execute_notebook_task, fork_available
from progress_kit.reports.render import html_from_notebook, new_exporter
from progress_kit.reports.sections import common

MONTH = "2026-10"


@pytest.fixture(scope="module")
def clinic():
    data = demo_data(n_clients=30, months=6, seed=3, end="2026-10-31")
    data.problems = data.problems.assign(client_id=pd.Series(dtype=str))
    return data


@pytest.fixture
def no_shared(monkeypatch):
    monkeypatch.setattr(common, "_SHARED", {})


def _count_calls(monkeypatch, name):
    calls = []
    real = getattr(progress_kit, name)

    def counting(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(progress_kit, name, counting)
    return calls


def _shown(report) -> list[str]:
    """Everything a report shows, as HTML, figures included (as PNG bytes in the HTML)."""
    out = []
    for part in report.values():
        for sec in part if isinstance(part, list) else [part]:
            if sec is None:
                continue
            png = rn._figure_png(sec) if sec.plot is not None else b""
            out.append(sec.to_html(3, figure=str(png)))
    return out


def _active(clinic):
    from progress_kit.reports.context import clients_active_in

    return clients_active_in(clinic, MONTH)


def test_prepared_batch_reports_equal_reports_computed_alone(clinic, no_shared, monkeypatch):
    ids = _active(clinic)[:3]
    alone = []
    for cid in ids:  # each report on its own: the shared results are computed for it and dropped
        common._SHARED.clear()
        alone.append(_shown(steps.client_sections(rn.client_data(clinic, cid, MONTH), clinic)))
    common._SHARED.clear()
    rn.prepare_batch(clinic, MONTH)
    flags = _count_calls(monkeypatch, "client_flags")
    models = _count_calls(monkeypatch, "expected_response")
    prepared = [_shown(steps.client_sections(rn.client_data(clinic, cid, MONTH), clinic)) for cid in ids]
    assert prepared == alone
    # the service-wide flags (now and a month ago) and the model came from the preparation
    assert flags == [] and models == []


def test_a_report_sees_only_its_own_row_of_the_shared_flags(clinic, no_shared):
    from progress_kit.reports.sections import client as sc

    rn.prepare_batch(clinic, MONTH)
    end = pd.Timestamp(f"{MONTH}-31")
    table = sc.service_flags(clinic, end)
    assert len(table) > 1  # the shared table holds every client ...
    for cid in _active(clinic)[:3]:
        rd = rn.client_data(clinic, cid, MONTH)
        flags = sc.client_status(rd, "PHQ-9", service=clinic)
        assert flags.row is not None and flags.row.name == cid  # ... a report keeps one row
        pd.testing.assert_series_equal(flags.row, table.loc[cid])


def test_shared_results_follow_the_frames_not_their_contents(clinic, no_shared):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    frames = (clinic.observations,)
    assert common.shared("x", frames, ("PHQ-9",), compute) == 1
    assert common.shared("x", frames, ("PHQ-9",), compute) == 1  # kept
    assert common.shared("x", frames, ("GAD-7",), compute) == 2  # other arguments
    copy = clinic.observations.copy()  # equal contents, another frame: computed again
    assert common.shared("x", (copy,), ("PHQ-9",), compute) == 3
    assert common.shared("x", (copy,), ("PHQ-9",), compute) == 3
    copy.loc[copy.index[0], "score"] = 0.0  # the same frame edited in place: computed again
    assert common.shared("x", (copy,), ("PHQ-9",), compute) == 4
    assert common.shared("x", (copy,), ("PHQ-9",), compute) == 4
    for i in range(common._SHARED_MAX + 2):  # bounded: the oldest entries go
        common.shared("y", frames, (i,), compute)
    assert len(common._SHARED) == common._SHARED_MAX


def test_a_changed_clinic_is_not_served_stale_flags(clinic, no_shared):
    from progress_kit.reports.sections import client as sc

    end = pd.Timestamp(f"{MONTH}-31")
    before = sc.service_flags(clinic, end)
    changed = clinic.observations.copy()
    changed["score"] = changed["score"].where(changed["measure"] != "PHQ-9", 27)
    other = dataclasses.replace(clinic, observations=changed)
    after = sc.service_flags(other, end)
    assert not before.equals(after)


def test_kept_exporter_writes_what_a_new_one_writes(tmp_path):
    def page(text, html):
        cell = new_code_cell("")
        cell.outputs = [new_output("display_data", data={"text/html": html})]
        return new_notebook(cells=[new_markdown_cell(text), cell])

    pages = [page("First & one", "<p>client A: 12</p>"), page("Second", "<table><tr><td>B</td></tr></table>"),
             page("Third <x>", "<p>C</p>")]
    for nb in pages:  # after other pages, the kept exporter still gives a fresh exporter's page
        assert html_from_notebook(nb, "T") == html_from_notebook(nb, "T", exporter=new_exporter())
    assert "client A" not in html_from_notebook(pages[1], "T")


def test_the_longest_reports_start_first():
    todo = [(("client", c), "fp", ()) for c in ["A", "B", "C", "D"]] + [(("cohort", "(cohort)"), "fp", ())]
    order = batch_mod._longest_first(todo, {"A": 3, "B": 10, "C": 3})
    assert [k for (_, k), _, _ in order] == ["(cohort)", "B", "A", "C", "D"]


def test_client_sizes_count_observations_and_sessions(clinic):
    sizes = batch_mod._client_sizes(clinic)
    cid = clinic.clients["client_id"].iloc[0]
    expected = (clinic.observations["client_id"] == cid).sum() + (clinic.sessions["client_id"] == cid).sum()
    assert sizes[cid] == expected


def _probe_prepare(path):
    """Run in the zygote: leave a mark that children can read (and must not be able to change)."""
    progress_kit._prepared_mark = path


PREPARED_PROBE = """
import json, sys, progress_kit
grammar = sys.modules.get("rfc3987_syntax") is not None
print(json.dumps([getattr(progress_kit, "_prepared_mark", None), grammar]))
progress_kit._prepared_mark = "changed by " + client_id
"""


@pytest.mark.slow
@pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")
def test_zygote_preparation_reaches_every_report_unchanged(tmp_path):
    nb = tmp_path / "probe.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("client_id = 'x'", metadata={"tags": ["parameters"]}),
                                       new_code_cell(PREPARED_PROBE)],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), nb)
    tasks = [(c, (execute_notebook_task, (str(nb), str(tmp_path / f"{c}.ipynb"), {"client_id": c})))
             for c in "AB"]
    with ForkServer(1, timeout=30, prepare=(_probe_prepare, ("ready",))) as server:
        outcomes = dict(server.map(tasks))
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    for c in "AB":  # B sees the zygote's value, not A's change
        out = nbformat.read(tmp_path / f"{c}.ipynb", as_version=4).cells[-1].outputs[0]["text"]
        assert json.loads(out)[0] == "ready"
    # a failing preparation (no cache there) is not fatal: the reports compute what they need
    # themselves; and the zygote, started from the package alone, never built the IRI grammar
    failing = (batch_mod._prepare_shared, (str(tmp_path / "missing.pkl"), "2026-10"))
    with ForkServer(1, timeout=30, prepare=failing) as server:
        outcomes = dict(server.map(tasks[:1]))
    assert outcomes["A"]["status"] == "ok"
    out = nbformat.read(tmp_path / "A.ipynb", as_version=4).cells[-1].outputs[0]["text"]
    assert json.loads(out) == [None, False]


@pytest.mark.slow
@pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")
def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path):
    import os
    import signal

    with pytest.raises(RuntimeError, match="ended unexpectedly"):  # dies while starting
        with ForkServer(1, timeout=30, prepare=(os._exit, (3,))):
            pass
    nb = tmp_path / "probe.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("client_id = 'x'", metadata={"tags": ["parameters"]})],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), nb)
    task = ("A", (execute_notebook_task, (str(nb), str(tmp_path / "A.ipynb"), {"client_id": "A"})))
    with ForkServer(1, timeout=30) as server:  # killed between reports
        os.kill(server._procs[0].pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="ended unexpectedly"):
            list(server.map([task]))


def _figure_sections(clinic, n_clients: int = 4) -> list:
    out = []
    for cid in _active(clinic)[:n_clients]:
        for part in steps.client_sections(rn.client_data(clinic, cid, MONTH), clinic).values():
            shown = part if isinstance(part, list) else [part]
            out += [s for s in shown if s is not None and s.plot is not None]
    out += [s for s in steps.cohort_sections(clinic, MONTH)["outcomes"] if s.plot is not None]
    return out


def test_figures_are_the_pixels_savefig_gives(clinic):
    """The one-draw RGB figure path draws what matplotlib's own ``savefig`` draws."""
    import io

    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    sections = _figure_sections(clinic)
    assert len(sections) >= 10
    for sec in sections:
        fig = Figure(figsize=sec.figsize, layout="constrained")
        sec.plot(fig.add_subplot())
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=rn.FIG_DPI, facecolor="white")
        expected = Image.open(buf)
        got = Image.open(io.BytesIO(rn._figure_png(sec)))
        assert got.mode == "RGB" and expected.mode == "RGBA"
        assert np.asarray(expected)[:, :, 3].min() == 255  # opaque: no alpha is lost
        assert np.array_equal(np.asarray(got), np.asarray(expected.convert("RGB"))), sec.key


def test_daily_table_is_computed_once_per_report_and_changes_nothing(clinic, monkeypatch):
    from progress_kit.reports.sections import client as client_sections

    ids = [c for c in _active(clinic) if not rn.client_data(clinic, c, MONTH).diary.empty][:3]
    assert ids
    calls = _count_calls(monkeypatch, "daily_table")
    cached = [_shown(steps.client_sections(rn.client_data(clinic, cid, MONTH), clinic)) for cid in ids]
    assert len(calls) == len(ids)  # once per report, though four sections read it

    def fresh(rd):  # the table computed anew for every section that asks, as before the cache
        return None if rd.diary.empty else progress_kit.daily_table(rd.diary)

    monkeypatch.setattr(client_sections, "_daily", fresh)
    uncached = [_shown(steps.client_sections(rn.client_data(clinic, cid, MONTH), clinic)) for cid in ids]
    assert len(calls) > 2 * len(ids)
    assert cached == uncached


def test_daily_table_follows_a_replaced_or_edited_diary(clinic):
    from progress_kit.reports.sections import client as client_sections

    cid = next(c for c in _active(clinic) if not rn.client_data(clinic, c, MONTH).diary.empty)
    rd = rn.client_data(clinic, cid, MONTH)
    first = client_sections._daily(rd)
    assert client_sections._daily(rd) is first  # kept while the diary is as it was
    rd.diary = rd.diary.iloc[: len(rd.diary) // 2]  # replaced, as a notebook might
    assert len(client_sections._daily(rd)) < len(first)
    shorter = client_sections._daily(rd)
    rd.diary.loc[rd.diary.index[0], "score"] = rd.diary["score"].max() + 1  # written in place
    assert client_sections._daily(rd) is not shorter


BATCH_MODULES_PROBE = """
import sys
from pathlib import Path

def main(work):
    from progress_kit import demo_data
    from progress_kit.reports.batch import run_batch
    from progress_kit.reports.context import clients_active_in, load_clinic
    demo_data(n_clients=8, months=3, seed=0, end="2026-10-31").write(work / "data")
    ids = clients_active_in(load_clinic(work / "data"), "2026-10")[:1]
    res = run_batch(work / "data", "2026-10", work / "out", jobs=2, progress=False, clients=ids,
                    engine="fork", formats=("html",))
    assert res.failed == 0, res.manifest
    print(sorted(m for m in ("papermill", "nbformat", "jsonschema", "nbconvert", "weasyprint")
                 if m in sys.modules))

if __name__ == "__main__":
    main(Path(sys.argv[1]))
"""


@pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")
def test_batch_process_leaves_the_heavy_imports_to_the_zygotes(tmp_path):
    """The process running a fork-server batch imports none of papermill, nbformat, nbconvert or
    WeasyPrint (1-2 s of CPU, which it took from the zygotes warming up beside it)."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(BATCH_MODULES_PROBE)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
