"""Where one report's CPU goes: each report rendered in a child forked from a warmed process, as
in a batch's zygote, with the CPU of each part summed by wrappers (no profiler, which would inflate
the Python-heavy parts).

``python -m bench.report_phases --clients 12`` prints the mean CPU seconds per client report (and
for the cohort report) of: the sections' statistics, the figures, the notebook as a whole
(papermill: the two before plus the shell and cells), the HTML export and the PDF, the report's
task, and the whole child process with its minor page faults. ``--statistics`` adds each of the
kit's statistics functions the sections call (``stat NAME``, its own CPU, part of the sections).
``--same-process N`` instead renders the first N client reports one after another in one child,
and prints each one's CPU and page faults: what a report's own process costs is the first one's
extra (docs/performance.md, round five, sixth session). ``--exports N`` does the same for the
HTML and PDF alone, as an exporter's child makes them (seventh session).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

MONTH = "2026-10"


def _wrap(acc: dict, module, name: str, label: str) -> None:
    real = getattr(module, name)

    def timed(*args, **kwargs):
        # a label's calls may nest (a notebook step computes the sections it rests on through
        # the same helper): only the outermost call is counted
        depth = acc.setdefault("_depth", {})
        depth[label] = depth.get(label, 0) + 1
        start = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            depth[label] -= 1
            if not depth[label]:
                acc[label] = acc.get(label, 0.0) + time.process_time() - start

    setattr(module, name, timed)


# the kit's statistics that the report sections call (through sections.common._stat)
STATISTICS = ("client_course", "client_flags", "clinical_significance", "daily_table",
              "daily_trend_data", "diary_summary", "evaluate_on_track", "expected_response",
              "jacobson_plot_data", "lag_scatter_data", "lagged_effect", "progress_score",
              "severity_band", "slopes", "sudden_gains", "talking_therapies_outcomes",
              "tracker_prompts", "within_person_correlation")


def _child(acc: dict, kind: str, cid: str | None, data: Path, cache: str, out: Path,
           profile: str | None = None, statistics: bool = False) -> None:
    import papermill

    import progress_kit
    from progress_kit.reports import batch, render, steps
    from progress_kit.reports import notebook as rn
    from progress_kit.reports.inprocess import ENGINE_NAME

    render.use_engine(ENGINE_NAME)
    # the sections: the client's page prepared by the kit (its status), the cohort loaded, and
    # each section a notebook step computes (steps._part)
    for module, name, label in ((steps, "prepare_client", "sections"), (steps, "load_cohort", "sections"),
                                (steps, "_part", "sections"),
                                (rn, "_figure_png", "figures"), (render, "html_from_notebook", "html"),
                                (render, "pdf_from_html", "pdf"),
                                (papermill, "execute_notebook", "notebook")):
        _wrap(acc, module, name, label)
    if statistics:  # each statistic's own CPU, part of "sections"
        for name in STATISTICS:
            acc[f"stat {name}"] = 0.0
            _wrap(acc, progress_kit, name, f"stat {name}")
    start = time.process_time()
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    outcome = batch._task(kind, cid, cid or "cohort", str(data), cache, MONTH, str(out),
                          ("html", "pdf"), None)
    if profile:
        prof.disable()
        prof.dump_stats(f"{profile}.{kind}.{cid or 'cohort'}.{os.getpid()}")
    if outcome["status"] != "ok":
        raise RuntimeError(outcome["error"])
    acc["task"] = time.process_time() - start


def run(n_clients: int = 12, profile: str | None = None, same_process: int = 0,
        statistics: bool = False, exports: int = 0) -> dict:
    sys.modules.setdefault("rfc3987_syntax", None)  # as a zygote does (reports/engine.py, _zygote_main)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import gc

    from progress_kit import demo_data
    from progress_kit.reports import batch, engine
    from progress_kit.reports.context import clients_active_in, load_clinic, write_cache

    work = Path(tempfile.mkdtemp(prefix="pk-phases-"))
    demo_data(n_clients=100, months=6, seed=0, end="2026-10-31").write(work / "data")
    clinic = load_clinic(work / "data")
    (work / "cache").mkdir()
    cache = str(write_cache(clinic, work / "cache" / "clinic.pkl"))
    engine._warm_up(cache)
    batch._prepare_shared(cache, MONTH)
    gc.collect()
    gc.freeze()
    (work / "out").mkdir()
    if same_process:
        return _in_one_process(clients_active_in(clinic, MONTH)[:same_process], work, cache)
    if exports:
        return _exports_in_one_process(clients_active_in(clinic, MONTH)[:exports], work, cache)
    jobs = [("client", c) for c in clients_active_in(clinic, MONTH)[:n_clients]] + [("cohort", None)]
    totals: dict[str, dict[str, list[float]]] = {}
    for kind, cid in jobs:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            acc: dict[str, float] = {}
            code = 0
            try:
                _child(acc, kind, cid, work / "data", cache, work / "out", profile, statistics)
            except BaseException as exc:  # noqa: BLE001 (reported to the parent)
                acc, code = {"error": repr(exc)}, 1
            acc.pop("_depth", None)
            os.write(write_fd, json.dumps(acc).encode())
            os._exit(code)
        os.close(write_fd)
        _, status, usage = os.wait4(pid, 0)
        with os.fdopen(read_fd, "rb") as fh:
            acc = json.loads(fh.read())
        if status != 0:
            raise RuntimeError(f"{kind} {cid}: {acc.get('error')}")
        acc["process"] = usage.ru_utime + usage.ru_stime
        acc["minor_faults"] = usage.ru_minflt
        for key, value in acc.items():
            totals.setdefault(kind, {}).setdefault(key, []).append(value)
    return {kind: {k: sum(v) / len(v) for k, v in parts.items()} for kind, parts in totals.items()}


def _in_one_process(clients: list[str], work: Path, cache: str) -> dict:
    """Render ``clients`` one after another in one child forked from the warmed process: the
    first report pays for copying every page of the warmed process it writes to, the later
    ones find those pages copied already. What a report's own process costs is the difference
    (a batch keeps one process per report all the same: docs/reports.md, "Engines and
    isolation")."""
    from progress_kit.reports import render
    from progress_kit.reports.inprocess import ENGINE_NAME

    def report(cid: str) -> dict:
        return {"status": _client_task(work, cache, cid)["status"]}

    rows = _in_turn_in_one_child(clients, report, lambda: render.use_engine(ENGINE_NAME))
    return {f"{i}. {r.pop('client')} ({r.pop('status')})": r for i, r in enumerate(rows, 1)}


def _exports_in_one_process(clients: list[str], work: Path, cache: str) -> dict:
    """The HTML and PDF of ``clients``' reports made one after another in one child forked from
    the warmed process, as an exporter's child makes one (``render.export_report`` on the
    executed notebook): the first export pays for the pages of the warmed process it writes to,
    the later ones find them copied. Each report's notebook runs first, in a child of its own."""
    from progress_kit.reports import render
    from progress_kit.reports.inprocess import ENGINE_NAME

    for cid in clients:  # the executed notebooks, each in its own child
        pid = os.fork()
        if pid == 0:
            render.use_engine(ENGINE_NAME)
            render.defer_export()  # only the notebook: its HTML and PDF are what is timed below
            os._exit(0 if _client_task(work, cache, cid)["status"] == "ok" else 1)
        if os.waitpid(pid, 0)[1] != 0:
            raise RuntimeError(f"the report of {cid} failed")

    def export(cid: str) -> dict:
        render.export_report(work / "out" / f"{cid}.ipynb", work / "out", f"{cid}-again",
                             formats=("html", "pdf"))
        return {}

    rows = _in_turn_in_one_child(clients, export)
    return {f"{i}. {r.pop('client')} export": r for i, r in enumerate(rows, 1)}


def _client_task(work: Path, cache: str, cid: str) -> dict:
    """One client's whole report (notebook, HTML and PDF) into ``work/out``, as a batch makes it."""
    from progress_kit.reports import batch

    return batch._task("client", cid, cid, str(work / "data"), cache, MONTH, str(work / "out"),
                       ("html", "pdf"), None)


def _in_turn_in_one_child(clients: list[str], step, setup=None) -> list[dict]:
    """``step(cid)`` for each client in turn, in one child forked from this process (after
    ``setup()``): a row per client with its CPU, page faults and what ``step`` returned."""
    import resource

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        if setup is not None:
            setup()
        rows = []
        for cid in clients:
            before = resource.getrusage(resource.RUSAGE_SELF)
            extra = step(cid)
            after = resource.getrusage(resource.RUSAGE_SELF)
            rows.append({"client": cid, **extra, "user": after.ru_utime - before.ru_utime,
                         "system": after.ru_stime - before.ru_stime,
                         "minor_faults": after.ru_minflt - before.ru_minflt})
        os.write(write_fd, json.dumps(rows).encode())
        os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as fh:
        return json.loads(fh.read())


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report_phases", description=__doc__)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--profile", metavar="PREFIX",
                        help="also profile each report (cProfile, which inflates Python-heavy "
                             "parts) into PREFIX.KIND.ID.PID; combine them with pstats")
    parser.add_argument("--same-process", type=int, default=0, metavar="N",
                        help="instead: the first N client reports one after another in one "
                             "process, with each report's CPU and page faults")
    parser.add_argument("--exports", type=int, default=0, metavar="N",
                        help="instead: the HTML and PDF of the first N client reports made one "
                             "after another in one process, with each one's CPU and page faults")
    parser.add_argument("--statistics", action="store_true",
                        help="also each of the kit's statistics the sections call (its own CPU)")
    args = parser.parse_args()
    result = run(args.clients, args.profile, args.same_process, args.statistics, args.exports)
    for kind, parts in result.items():
        print(f"{kind}: " + ", ".join(f"{k} {v:.3f}" if k != "minor_faults" else f"{k} {v:.0f}"
                                      for k, v in parts.items()
                                      if not k.startswith("stat ") or v >= 0.0005))
