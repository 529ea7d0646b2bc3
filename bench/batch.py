"""Benchmark 1: batch rendering against the plain sequential loop a user would otherwise write.

Both sides render the same client reports (and the cohort report) from the same demo clinic with
the same notebooks and template, in this process's machine and session:

* baseline: for each report, ``papermill.execute_notebook`` (a fresh Jupyter kernel; the data
  folder as parameter, or for a client report the client's page prepared from it), then the
  nbconvert HTML export through the clinical template and a
  WeasyPrint PDF, one after another, through their public APIs only, in a fresh interpreter
  (:mod:`bench.plain_loop`): until 2026-12-07 it ran in this process with the kit's own HTML
  and PDF functions, so each PDF shortcut the kit made sped the baseline up too;
* kit: ``progress_kit.reports.run_batch(..., jobs=N)`` (fork-server engine by default), run once
  before and once after the baseline; the ratio takes the slower of the two.

It then checks that every report's text (HTML stripped of tags, and the PDF's text) is the same
on both sides, and reports the throughput ratio.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import tempfile
import time
from pathlib import Path

from bench.bytecode import kit_bytecode
from progress_kit import demo_data
from progress_kit.reports.batch import run_batch
from progress_kit.reports.context import clients_active_in, load_clinic

MONTH = "2026-10"
TAG = re.compile(r"<[^>]+>")


def _text(html: str) -> str:
    body = html.split("<body", 1)[-1]
    body = re.sub(r"<img[^>]*>", "", body)  # figures are compared as text-free PNGs
    return re.sub(r"\s+", " ", html_lib.unescape(TAG.sub(" ", body))).strip()


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in PdfReader(path).pages))


def baseline(data_dir: Path, clients: list[str], out: Path) -> float:
    """The plain loop (:mod:`bench.plain_loop`), in a fresh interpreter where none of the kit's
    rendering shortcuts is installed; returns its seconds."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "bench.plain_loop", str(data_dir), str(out), MONTH,
                           *clients], check=True, capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"},
                          cwd=str(Path(__file__).resolve().parent.parent))
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def font_subsetting() -> str:
    """Which library WeasyPrint subsets fonts with here: it moves every PDF by 0.3-0.5 s."""
    from weasyprint.text.ffi import harfbuzz_subset

    return ("HarfBuzz" if harfbuzz_subset is not None
            else "fontTools (libharfbuzz-subset is not installed; see README)")


def _kit_run(data_dir: Path, out: Path, clients: list[str], jobs: int) -> float:
    start = time.perf_counter()
    res = run_batch(data_dir, MONTH, out, jobs=jobs, progress=False, clients=clients)
    seconds = time.perf_counter() - start
    if res.failed:
        raise RuntimeError(res.manifest[res.manifest["status"] != "ok"].to_string())
    return seconds


def run(n_clients: int = 40, jobs: int = 2, demo_clients: int = 100) -> dict:
    bytecode = kit_bytecode()  # before the first run, which may write it
    work = Path(tempfile.mkdtemp(prefix="pk-bench-"))
    data_dir = work / "data"
    demo_data(n_clients=demo_clients, months=6, seed=0, end="2026-10-31").write(data_dir)
    active = clients_active_in(load_clinic(data_dir), MONTH)
    if len(active) < n_clients:
        raise ValueError(f"only {len(active)} clients are active in {MONTH}; raise demo_clients")
    clients = active[:n_clients]
    # The kit runs before and after the baseline: this machine's speed drifts by up to 40 % within
    # minutes, and a kit run on one side of a two-minute baseline would carry that drift into the
    # ratio. The ratio takes the slower kit run.
    kit_before = _kit_run(data_dir, work / "kit", clients, jobs)
    base_s = baseline(data_dir, clients, work / "baseline")
    kit_after = _kit_run(data_dir, work / "kit-again", clients, jobs)
    kit_s = max(kit_before, kit_after)
    same_html = same_pdf = 0
    kit_dir = work / "kit" / MONTH
    for stem in [*clients, "cohort"]:
        kit_path = kit_dir / ("cohort" if stem == "cohort" else f"clients/{stem}")
        base_path = work / "baseline" / stem
        same_html += _text(kit_path.with_suffix(".html").read_text()) == _text(
            base_path.with_suffix(".html").read_text())
        same_pdf += _pdf_text(kit_path.with_suffix(".pdf")) == _pdf_text(base_path.with_suffix(".pdf"))
    n = len(clients) + 1
    return {"reports": n, "jobs": jobs, "cores": os.cpu_count(), "baseline_s": base_s, "kit_s": kit_s,
            "kit_runs_s": [kit_before, kit_after],
            "baseline_per_report_s": base_s / n, "kit_per_report_s": kit_s / n,
            "throughput_ratio": base_s / kit_s, "same_html_text": same_html,
            "same_pdf_text": same_pdf, "font_subsetting": font_subsetting(), "bytecode": bytecode,
            "folder": str(work)}


def batch_args(data_dir: Path, out: Path, jobs: int) -> list[str]:
    """The ``progress-kit batch`` arguments the command-line benchmarks time (here and in
    :mod:`bench.batch_tally`): the month's HTML and PDF, every report made again."""
    return ["batch", str(data_dir), "--month", MONTH, "--jobs", str(jobs), "--format", "html,pdf",
            "--force", "--quiet", "--out", str(out)]


def _cli_run(data_dir: Path, out: Path, jobs: int) -> float:
    """The whole ``progress-kit batch`` command in a new process, from process start."""
    import subprocess
    import sys

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "progress_kit", *batch_args(data_dir, out, jobs)],
                   check=True, capture_output=True, env={**os.environ, "MPLBACKEND": "Agg"})
    return time.perf_counter() - start


def run_cli(n_clients: int = 40, jobs: int = 2) -> dict:
    """The batch as a service runs it (issue 27): the whole command line on a demo clinic of
    ``n_clients``, every client active in the month plus the cohort, against the plain loop
    over the same reports; the command runs before and after the loop, the slower counts."""
    bytecode = kit_bytecode()  # before the first run, which may write it
    work = Path(tempfile.mkdtemp(prefix="pk-bench-cli-"))
    data_dir = work / "data"
    demo_data(n_clients=n_clients, months=6, seed=0, end="2026-10-31").write(data_dir)
    clients = clients_active_in(load_clinic(data_dir), MONTH)
    loads = [os.getloadavg()[0]]
    kit_before = _cli_run(data_dir, work / "kit", jobs)
    loads.append(os.getloadavg()[0])
    base_s = baseline(data_dir, clients, work / "baseline")
    loads.append(os.getloadavg()[0])
    kit_after = _cli_run(data_dir, work / "kit-again", jobs)
    loads.append(os.getloadavg()[0])
    n = len(clients) + 1
    kit_s = max(kit_before, kit_after)
    return {"reports": n, "jobs": jobs, "cores": os.cpu_count(), "baseline_s": base_s,
            "kit_s": kit_s, "kit_runs_s": [kit_before, kit_after], "load": loads,
            "baseline_per_report_s": base_s / n, "kit_per_report_s": kit_s / n,
            "throughput_ratio": base_s / kit_s, "bytecode": bytecode, "folder": str(work)}


def cli_to_markdown(res: dict) -> str:
    return "\n".join([
        f"`progress-kit batch` from the command line: {res['reports']} reports "
        f"({res['reports'] - 1} clients + the cohort), {res['cores']} cores, load average "
        f"{min(res['load']):.1f}-{max(res['load']):.1f}.", "",
        "| run | seconds | per report |", "|---|---|---|",
        f"| baseline: sequential papermill + nbconvert + WeasyPrint | {res['baseline_s']:.1f} | "
        f"{res['baseline_per_report_s']:.2f} |",
        f"| `progress-kit batch --jobs {res['jobs']}`, whole command (runs: "
        f"{' and '.join(f'{s:.1f}' for s in res['kit_runs_s'])} s; the slower) | {res['kit_s']:.1f} | "
        f"{res['kit_per_report_s']:.2f} |",
        "", f"- throughput: **{res['throughput_ratio']:.1f}x** the baseline",
        f"- {res['bytecode']}"])


def to_markdown(res: dict) -> str:
    return "\n".join([
        f"{res['reports']} reports ({res['reports'] - 1} clients + the cohort), HTML and PDF each, "
        f"{res['cores']} cores.", "",
        "| run | seconds | per report |", "|---|---|---|",
        f"| baseline: sequential papermill + nbconvert + WeasyPrint | {res['baseline_s']:.1f} | "
        f"{res['baseline_per_report_s']:.2f} |",
        f"| progress-kit batch --jobs {res['jobs']} (slower of the runs before and after the "
        f"baseline: {' and '.join(f'{s:.1f}' for s in res['kit_runs_s'])} s) | {res['kit_s']:.1f} | "
        f"{res['kit_per_report_s']:.2f} |",
        "", f"- throughput: **{res['throughput_ratio']:.1f}x** the baseline",
        f"- same text as the baseline: HTML {res['same_html_text']}/{res['reports']}, "
        f"PDF {res['same_pdf_text']}/{res['reports']}",
        f"- fonts subset by {res['font_subsetting']}",
        f"- {res['bytecode']}"])


def kit_only(n_clients: int = 40, jobs: int = 2, demo_clients: int = 100) -> dict:
    """The kit's side alone, with the CPU time of every process of the batch: for measuring on a
    shared machine, where CPU seconds move less with the neighbours than wall seconds do."""
    import resource

    work = Path(tempfile.mkdtemp(prefix="pk-bench-"))
    data_dir = work / "data"
    demo_data(n_clients=demo_clients, months=6, seed=0, end="2026-10-31").write(data_dir)
    clients = clients_active_in(load_clinic(data_dir), MONTH)[:n_clients]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, start = time.process_time(), time.perf_counter()
    res = run_batch(data_dir, MONTH, work / "kit", jobs=jobs, progress=False, clients=clients)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"reports": len(clients) + 1, "failed": res.failed, "kit_s": wall,
            "cpu_s": time.process_time() - cpu + children, "load": os.getloadavg(),
            "font_subsetting": font_subsetting(), "folder": str(work)}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.batch",
                                     description="the kit's batch alone: wall and CPU seconds")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    r = kit_only(args.clients, args.jobs)
    print(f"{r['reports']} reports ({r['failed']} failed): {r['kit_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU "
          f"(all processes); load average {' '.join(f'{x:.2f}' for x in r['load'])}; fonts subset by "
          f"{r['font_subsetting']}")
