"""Where one report's CPU goes: each report rendered in a child forked from a warmed process, as
in a batch's zygote, with the CPU of each part summed by wrappers (no profiler, which would inflate
the Python-heavy parts).

``python -m bench.report_phases --clients 12`` prints the mean CPU seconds per client report (and
for the cohort report) of: the sections' statistics, the figures, the notebook as a whole
(papermill: the two before plus the shell and cells), the HTML export and the PDF, the report's
task, and the whole child process with its minor page faults.
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


def _child(acc: dict, kind: str, cid: str | None, data: Path, cache: str, out: Path,
           profile: str | None = None) -> None:
    import papermill

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


def run(n_clients: int = 12, profile: str | None = None) -> dict:
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
    jobs = [("client", c) for c in clients_active_in(clinic, MONTH)[:n_clients]] + [("cohort", None)]
    totals: dict[str, dict[str, list[float]]] = {}
    for kind, cid in jobs:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            acc: dict[str, float] = {}
            code = 0
            try:
                _child(acc, kind, cid, work / "data", cache, work / "out", profile)
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


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report_phases", description=__doc__)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--profile", metavar="PREFIX",
                        help="also profile each report (cProfile, which inflates Python-heavy "
                             "parts) into PREFIX.KIND.ID.PID; combine them with pstats")
    args = parser.parse_args()
    result = run(args.clients, args.profile)
    for kind, parts in result.items():
        print(f"{kind}: " + ", ".join(f"{k} {v:.3f}" if k != "minor_faults" else f"{k} {v:.0f}"
                                      for k, v in parts.items()))
