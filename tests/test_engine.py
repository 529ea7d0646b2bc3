"""The fork server and in-process engine: kernel-equivalent outputs and strict isolation."""

import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from progress_kit.reports.engine import ForkServer, execute_notebook_task, fork_available

pytestmark = pytest.mark.skipif(not fork_available(), reason="the fork server needs Linux fork")


@pytest.fixture(scope="module")
def server():
    # one warm zygote for the whole module: every notebook below runs from the same process
    with ForkServer(1, timeout=5) as srv:
        yield srv


def _notebook(path, *sources, parameters="client_id = 'x'"):
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return str(path)


# What a report could leak: a global, a module attribute, an open pyplot figure, an env var.
LEAK_PROBE = """
import os, sys, json
import matplotlib.pyplot as plt
import progress_kit
seen = {"global": globals().get("secret"), "module": getattr(progress_kit, "_probe", None),
        "figures": len(plt.get_fignums()), "env": os.environ.get("PK_PROBE")}
print(json.dumps(seen))
secret = client_id
progress_kit._probe = client_id
os.environ["PK_PROBE"] = client_id
plt.figure()
"""


def _outputs(path):
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_no_state_reaches_the_next_report(tmp_path, server):
    probe = _notebook(tmp_path / "probe.ipynb", LEAK_PROBE)
    tasks = [(cid, (execute_notebook_task, (probe, str(tmp_path / f"{cid}.ipynb"),
                                            {"client_id": cid}))) for cid in ["A", "B", "C"]]
    # A, B and C run one after another from the same warm zygote
    outcomes = dict(server.map(tasks))
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    for cid in ["A", "B", "C"]:
        seen = json.loads(_outputs(tmp_path / f"{cid}.ipynb")[0]["text"])
        assert seen == {"global": None, "module": None, "figures": 0, "env": None}, (cid, seen)


def test_outputs_match_kernel_semantics_and_errors_stop_execution(tmp_path, server):
    nb = _notebook(tmp_path / "nb.ipynb",
                   "print('hello')",
                   "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))",
                   "import sys\nprint('warn', file=sys.stderr)",
                   "1 + 1",
                   "raise ValueError('boom')",
                   "print('never')")
    out = str(tmp_path / "out.ipynb")
    [(_, outcome)] = list(server.map([("k", (execute_notebook_task, (nb, out, {})))]))
    # papermill raised PapermillExecutionError, which names the failing cell's exception
    assert outcome["status"] == "failed" and outcome["error"] == "ValueError"
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert cells[1].outputs[0]["text"] == "hello\n"
    assert cells[2].outputs[0]["data"]["text/html"] == "<b>x</b>"
    assert cells[3].outputs[0]["name"] == "stderr"
    assert cells[4].outputs[0]["output_type"] == "execute_result"
    assert cells[4].outputs[0]["data"]["text/plain"] == "2"
    assert cells[5].outputs[-1]["ename"] == "ValueError"
    assert cells[6].outputs == []


@pytest.mark.parametrize("kind, fields", [
    ("stream", {"name": "stderr", "text": "warn\n"}),
    ("display_data", {"data": {"text/html": "<b>x</b>", "image/png": "iVBO"},
                      "metadata": {"image/png": {"width": 600}}}),
    ("execute_result", {"data": {"text/plain": "2"}, "metadata": {}, "execution_count": None}),
    ("error", {"ename": "ValueError", "evalue": "boom", "traceback": ["line 1", "line 2"]})])
def test_the_engine_builds_the_outputs_nbformat_builds(kind, fields):
    """The engine builds outputs without validating each one (jsonschema, 1-2 ms apiece): the
    same nodes as nbformat's own new_output, which validates them."""
    import copy

    from nbformat.v4 import new_output as nbformat_output

    from progress_kit.reports.inprocess import new_output

    ours = new_output(kind, **copy.deepcopy(fields))
    assert ours == nbformat_output(kind, **copy.deepcopy(fields))
    assert isinstance(ours.get("data", ours), nbformat.NotebookNode)
    nbformat.validate(ours, ref=kind, version=4)


def test_a_crashing_report_is_recorded_and_the_worker_goes_on(tmp_path, server):
    crash = _notebook(tmp_path / "crash.ipynb", "import os\nos._exit(3)")
    fine = _notebook(tmp_path / "fine.ipynb", "print('ok')")
    tasks = [("crash", (execute_notebook_task, (crash, str(tmp_path / "c.ipynb"), {}))),
             ("fine", (execute_notebook_task, (fine, str(tmp_path / "f.ipynb"), {})))]
    outcomes = dict(server.map(tasks))
    assert outcomes["crash"]["status"] == "failed"
    assert "exit status 3" in outcomes["crash"]["error"]
    assert outcomes["fine"]["status"] == "ok"


def test_a_hung_report_times_out(tmp_path, server):
    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    [(_, outcome)] = list(server.map([("s", (execute_notebook_task,
                                             (slow, str(tmp_path / "s.ipynb"), {})))]))
    assert outcome["status"] == "failed" and "timed out after 5 s" in outcome["error"]


def test_reports_run_with_garbage_collection_on(tmp_path, server):
    """The zygote warms up without cyclic collection (engine._zygote_main) and turns it back on,
    with its own heap frozen, before any report: a report's cycles are still collected."""
    probe = _notebook(tmp_path / "gc.ipynb", "import gc, json\n"
                      "print(json.dumps([gc.isenabled(), gc.get_freeze_count() > 0]))")
    outcomes = dict(server.map([("gc", (execute_notebook_task, (probe, str(tmp_path / "out.ipynb"),
                                                                {"client_id": "x"})))]))
    assert outcomes["gc"]["status"] == "ok", outcomes
    assert json.loads(_outputs(tmp_path / "out.ipynb")[0]["text"]) == [True, True]


KILLED_PARENT = """
import os, signal, sys
from progress_kit.reports.engine import ForkServer
if __name__ == "__main__":
    server = ForkServer(1, timeout=5).__enter__()
    print(server._procs[0].pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return False


def test_zygotes_end_when_the_batch_process_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "killed.py"
    script.write_text(KILLED_PARENT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    zygote = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _running(zygote) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(zygote), "an orphaned zygote kept waiting for work"


def test_zygotes_leave_out_the_iri_grammar(tmp_path, server):
    """The zygote's start (engine._zygote_main) skips rfc3987_syntax before papermill loads."""
    probe = _notebook(tmp_path / "skip.ipynb", "import sys, json\n"
                      "print(json.dumps(sys.modules.get('rfc3987_syntax', 'absent') is None))")
    out = tmp_path / "skip-out.ipynb"
    [(_, outcome)] = list(server.map([("k", (execute_notebook_task, (probe, str(out), {})))]))
    assert outcome["status"] == "ok"
    assert json.loads(_outputs(out)[0]["text"]) is True


def test_a_warmed_zygote_never_imported_statsmodels(tmp_path, server):
    """The warm-up draws a demo client's report with a diary (lagged_effect for one person: OLS
    in numpy); importing statsmodels would cost every batch 0.75 s of CPU before its reports."""
    probe = _notebook(tmp_path / "sm.ipynb", "import sys, json\n"
                      "print(json.dumps(sorted(m for m in sys.modules if m.startswith('statsm'))))")
    out = tmp_path / "sm-out.ipynb"
    [(_, outcome)] = list(server.map([("k", (execute_notebook_task, (probe, str(out), {})))]))
    assert outcome["status"] == "ok"
    assert json.loads(_outputs(out)[0]["text"]) == []


# ---------------------------------------------- fork_each: the command line's warm path


def _crash():
    os._exit(3)


def _hang():
    import time

    time.sleep(60)


def test_fork_each_isolates_every_report_and_runs_them_side_by_side(tmp_path):
    """Each report forks from the calling (warm) process: none sees what another did, and the
    caller's own state stays as it was."""
    from progress_kit.reports.engine import fork_each

    probe = _notebook(tmp_path / "probe.ipynb", LEAK_PROBE)
    ids = ["A", "B", "C", "D"]
    tasks = [(cid, (execute_notebook_task, (probe, str(tmp_path / f"{cid}.ipynb"),
                                            {"client_id": cid}))) for cid in ids]
    outcomes = dict(fork_each(tasks, jobs=2))
    assert sorted(outcomes) == ids and all(o["status"] == "ok" for o in outcomes.values()), outcomes
    for cid in ids:
        seen = json.loads(_outputs(tmp_path / f"{cid}.ipynb")[0]["text"])
        assert seen == {"global": None, "module": None, "figures": 0, "env": None}, (cid, seen)
    import progress_kit

    assert not hasattr(progress_kit, "_probe") and "PK_PROBE" not in os.environ


def test_fork_each_records_a_crash_and_a_timeout_and_goes_on(tmp_path):
    from progress_kit.reports.engine import fork_each

    ok = _notebook(tmp_path / "ok.ipynb", "x = 1")
    tasks = [("crash", (_crash, ())), ("hang", (_hang, ())),
             ("ok", (execute_notebook_task, (ok, str(tmp_path / "out.ipynb"), {})))]
    outcomes = dict(fork_each(tasks, jobs=2, timeout=2))
    assert outcomes["crash"]["status"] == "failed" and "exit status 3" in outcomes["crash"]["error"]
    assert outcomes["hang"]["status"] == "failed" and "timed out" in outcomes["hang"]["error"]
    assert outcomes["ok"]["status"] == "ok"


# ---------------------------------------------- the batch's exporter (engine "here", jobs >= 2)


def _first_stage(name: str, tmp: str) -> dict:
    """A report's notebook stage: writes its part and leaves the rest to the exporter."""
    path = os.path.join(tmp, f"{name}.nb")
    with open(path, "w") as fh:
        fh.write(name)
    return {"status": "ok", "files": [path], "seconds": 0.5, "error": "",
            "export": {"name": name, "tmp": tmp, "batch": os.getppid()}}


def _second_stage(spec: dict) -> dict:
    """The exporter's part: fails for "bad", records which process made it for the others."""
    if spec["name"] == "bad":
        raise ValueError("the page refers to an external resource")
    path = os.path.join(spec["tmp"], f"{spec['name']}.out")
    with open(path, "w") as fh:  # the exporter's pid, or the batch process's when made there
        fh.write(f"{os.getppid()} {spec['timeout']}")
    return {"status": "ok", "files": [path], "seconds": 0.25, "error": ""}


def _made_by(path) -> int:
    return int(path.read_text().split()[0])


def _stuck_second_stage(spec: dict) -> dict:
    """"S" in the exporter's child: records its pid, kills the exporter when asked to, and then
    hangs; it must die with the exporter instead of writing later."""
    import signal
    import time

    if spec["name"] == "S" and os.getppid() != spec["batch"]:
        with open(os.path.join(spec["tmp"], "S.pid"), "w") as fh:
            fh.write(str(os.getpid()))
        if spec.get("kill_exporter"):
            os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
    return _second_stage(spec)


def _stuck_first_stage(name: str, tmp: str, kill_exporter: bool) -> dict:
    outcome = _first_stage(name, tmp)
    outcome["export"]["kill_exporter"] = kill_exporter
    return outcome


def _gone(pid_file, seconds: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


def _exporter_of(function):
    from progress_kit.reports.engine import Exporter

    return Exporter(function, timeout=30).start()


def test_the_exporter_makes_the_second_stage_and_the_outcomes_are_joined(tmp_path):
    """fork_each hands each outcome that carries "export" to the exporter's child, and yields
    the report once both stages have run; a failed second stage fails the report, with no
    files, as when one process makes the whole report (a crash in it is caught by the child)."""
    from progress_kit.reports.engine import _PARENT_ONLY, fork_each

    exporter = _exporter_of(_second_stage)
    try:
        tasks = [(n, (_first_stage, (n, str(tmp_path)))) for n in ("A", "B", "bad", "C")]
        outcomes = dict(fork_each(tasks, jobs=2, exporter=exporter))
        exporter_pid = exporter.pid
    finally:
        exporter.close()
    assert not _PARENT_ONLY  # closed with it
    for n in ("A", "B", "C"):
        o = outcomes[n]
        assert o["status"] == "ok" and o["seconds"] == 0.75 and "export" not in o, o
        assert o["files"] == [str(tmp_path / f"{n}.nb"), str(tmp_path / f"{n}.out")]
        made_by, limit = (tmp_path / f"{n}.out").read_text().split()
        assert int(made_by) == exporter_pid
        assert int(limit) == 599  # one deadline for both stages: 600 s less the first 0.5 s
    assert outcomes["bad"]["status"] == "failed" and outcomes["bad"]["files"] == []
    assert "ValueError in the report process" in outcomes["bad"]["error"]


def _logged_first_stage(name: str, tmp: str) -> dict:
    with open(os.path.join(tmp, "order"), "a") as fh:
        fh.write(f"notebook {name}\n")
    return _first_stage(name, tmp)


def _logged_second_stage(spec: dict) -> dict:
    with open(os.path.join(spec["tmp"], "order"), "a") as fh:
        fh.write(f"export {spec['name']}\n")
    return _second_stage(spec)


@pytest.mark.parametrize("names, order", [
    # one notebook left, one slot: it goes before the waiting export, which would leave it to
    # run alone at the end (and then its export alone)
    ("AB", ["notebook A", "notebook B", "export A", "export B"]),
    # more notebooks waiting than slots: the export goes first, so that A is finished early
    ("ABC", ["notebook A", "export A", "notebook B", "notebook C", "export B", "export C"]),
])
def test_near_the_end_a_notebook_goes_before_a_waiting_export(tmp_path, names, order):
    from progress_kit.reports.engine import _export_first, fork_each

    assert _export_first(0, 2) and _export_first(3, 2)
    assert not _export_first(1, 2) and not _export_first(2, 2)
    exporter = _exporter_of(_logged_second_stage)
    try:
        tasks = [(n, (_logged_first_stage, (n, str(tmp_path)))) for n in names]
        outcomes = dict(fork_each(tasks, jobs=1, exporter=exporter))
    finally:
        exporter.close()
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    assert (tmp_path / "order").read_text().splitlines() == order


def test_reports_are_finished_here_when_the_exporter_has_died(tmp_path):
    import signal

    from progress_kit.reports.engine import _PARENT_ONLY, fork_each

    exporter = _exporter_of(_second_stage)
    os.kill(exporter.pid, signal.SIGKILL)
    os.waitpid(exporter.pid, 0)  # reaped here: close() finds it gone
    try:
        tasks = [(n, (_first_stage, (n, str(tmp_path)))) for n in ("A", "B", "C")]
        outcomes = dict(fork_each(tasks, jobs=2, exporter=exporter))
    finally:
        exporter.close()
    for n in ("A", "B", "C"):
        assert outcomes[n]["status"] == "ok", outcomes[n]
        assert _made_by(tmp_path / f"{n}.out") == os.getpid()
    assert not _PARENT_ONLY and exporter.pid is None


def _deferred() -> dict:
    from progress_kit.reports import render

    return {"status": "ok", "files": [], "seconds": 0.0, "error": "",
            "deferred": render._DEFER_EXPORT}


def test_with_an_exporter_a_reports_child_leaves_the_html_and_pdf_to_it():
    """fork_each tells each report's child to defer its export when there is an exporter (its
    callers need not), and only then: a day's sheets, made without one, make their own."""
    from progress_kit.reports.engine import fork_each

    exporter = _exporter_of(_second_stage)
    try:
        with_exporter = dict(fork_each([("A", (_deferred, ()))], jobs=1, exporter=exporter))
    finally:
        exporter.close()
    without = dict(fork_each([("A", (_deferred, ()))], jobs=1))
    assert with_exporter["A"]["deferred"] is True
    assert without["A"]["deferred"] is False


@pytest.mark.parametrize("pdf", [True, False])
def test_the_fallback_warms_weasyprint_only_for_a_batch_with_pdfs(tmp_path, monkeypatch, pdf):
    """With the exporter gone, this process warms the HTML and PDF side up once for the reports'
    export children, as the exporter did: WeasyPrint only when the batch makes PDFs."""
    import signal

    from progress_kit.reports import engine

    warmed = []
    monkeypatch.setattr(engine, "_WARMED_EXPORT", False)
    monkeypatch.setattr(engine, "_warm_render", lambda *a, **kw: warmed.append(kw))
    exporter = engine.Exporter(_second_stage, timeout=30, pdf=pdf).start()
    os.kill(exporter.pid, signal.SIGKILL)
    os.waitpid(exporter.pid, 0)
    try:
        tasks = [(n, (_first_stage, (n, str(tmp_path)))) for n in ("A", "B")]
        outcomes = dict(engine.fork_each(tasks, jobs=2, exporter=exporter))
    finally:
        exporter.close()
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    assert warmed == [{"shell": False, "pdf": pdf}]


def test_an_export_dies_with_its_exporter_and_is_made_here_instead(tmp_path):
    """The exporter killed (by the out-of-memory killer, say) while an export runs: that
    export's process dies with it, and the batch notices at once and makes it itself."""
    from progress_kit.reports.engine import fork_each

    exporter = _exporter_of(_stuck_second_stage)
    try:
        tasks = [(n, (_stuck_first_stage, (n, str(tmp_path), True))) for n in ("S", "A")]
        outcomes = dict(fork_each(tasks, jobs=2, timeout=60, exporter=exporter))
    finally:
        exporter.close()
    assert all(o["status"] == "ok" for o in outcomes.values()), outcomes
    assert _made_by(tmp_path / "S.out") == os.getpid()  # made here, after the exporter died
    assert _gone(tmp_path / "S.pid"), "the exporter's child outlived it"


def test_a_batch_stopped_early_leaves_no_export_running(tmp_path):
    """When the batch stops (an error, Ctrl-C) while the exporter holds reports, the exporter is
    killed with their processes: nothing writes into the month folder after the batch let go."""
    from progress_kit.reports.engine import _PARENT_ONLY, fork_each

    exporter = _exporter_of(_stuck_second_stage)
    try:
        tasks = [(n, (_stuck_first_stage, (n, str(tmp_path), False))) for n in ("S", "A")]
        run = fork_each(tasks, jobs=2, timeout=60, exporter=exporter)
        key, outcome = next(run)
        assert key == "A" and outcome["status"] == "ok"
        run.close()  # the consumer stops: S is still at the exporter
        assert exporter.pid is None and not _PARENT_ONLY
    finally:
        exporter.close()
    assert _gone(tmp_path / "S.pid")
    assert not (tmp_path / "S.out").exists()


def test_no_exporter_when_no_process_can_be_forked(monkeypatch):
    """Out of processes: the batch goes on without an exporter, saying so, and leaks no pipe."""
    from progress_kit.reports.batch import _start_exporter

    def refuse():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", refuse)
    assert _start_exporter("here", 2, ("html", "pdf"), None) is None
    assert set(os.listdir("/proc/self/fd")) == before


def test_the_exporter_ends_when_the_batch_process_is_gone(tmp_path):
    """Its pipe closes with the process that started it (killed outright, say): it exits
    instead of waiting for work for ever."""
    import subprocess
    import sys
    import time

    script = tmp_path / "gone.py"
    script.write_text("import os, signal\n"
                      "from progress_kit.reports.engine import Exporter\n"
                      "e = Exporter(print).start()\n"
                      "print(e.pid, flush=True)\n"
                      "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "MPLBACKEND": "Agg"})
    exporter = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _running(exporter) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(exporter), "an orphaned exporter kept waiting for work"


def test_messages_survive_being_split_anywhere():
    import pickle

    from progress_kit.reports.engine import _split_messages

    messages = [("done", ("client", "A"), {"status": "ok"}), ("warm", [{"text/html": "x" * 9000}])]
    stream = b"".join(len(d).to_bytes(8, "big") + d for d in map(pickle.dumps, messages))
    for cut in (0, 3, 8, 20, len(stream) - 1, len(stream)):
        got, rest = _split_messages(stream[:cut])
        more, rest = _split_messages(rest + stream[cut:])
        assert got + more == messages and rest == b""


PDF_OR_NOT = '''
import sys
from progress_kit.reports.engine import Exporter, fork_each

def first(n):
    return {"status": "ok", "files": [], "seconds": 0.0, "error": "", "export": {"n": n}}

def second(spec):
    return {"status": "ok", "files": [], "seconds": 0.0, "error": str("weasyprint" in sys.modules)}

assert "weasyprint" not in sys.modules
for pdf in (False, True):
    exporter = Exporter(second, pdf=pdf).start()
    try:
        [(_, outcome)] = list(fork_each([(1, (first, (1,)))], jobs=2, exporter=exporter))
    finally:
        exporter.close()
    print(pdf, outcome["status"], outcome["error"])
'''


def test_an_exporter_for_html_only_leaves_weasyprint_out(tmp_path):
    """A batch that makes no PDF (``--format html``) does not spend a core on WeasyPrint."""
    import subprocess
    import sys

    script = tmp_path / "pdf_or_not.py"
    script.write_text(PDF_OR_NOT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:2] == ["False ok False", "True ok True"], proc.stdout
