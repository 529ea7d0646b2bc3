"""Benchmark: one report, and a clinic day's prep sheets, from a cold command line (round five).

Every figure is a whole command from process start (``python -m progress_kit ...`` in a new
process), as a clinician runs it, against a bare ``python -c "import pandas, matplotlib.pyplot,
weasyprint"`` in the same run; the commands alternate, ``--repeat`` times each, and the table
gives the median wall time, the median CPU time (the command's process and its children) and
the ratio of the median wall time to the bare import's. The load average is printed with it:
on a shared machine, wall times move with the neighbours.

* ``report prep --client`` on an empty cache (the data are validated) and on a warm one;
* ``report client`` (warm cache);
* ``report share`` when this kit has it (warm cache);
* ``report prep --date`` without ``--client``: the day's sheets of ``--day-clients`` clients;
* the text check: the sheet and the client report rendered the old way (a Jupyter kernel per
  report, no cache) must have the same text as the command line's (HTML without tags, and the
  PDF's text).

``python -m bench cold [--clients 40] [--day-clients 8] [--repeat 3]``
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from progress_kit import demo_data

END = "2026-11-30"
PREP_DATE = "2026-11-20"
MONTH = "2026-11"
DAY = "2026-12-09"  # after the data's last day: booked, not yet held
BARE = "import pandas, matplotlib.pyplot, weasyprint"


def _run(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def make_folder(work: Path, n_clients: int, day_clients: int) -> tuple[Path, list[str]]:
    """A demo clinic to ``END`` with ``day_clients`` sessions booked on ``DAY``."""
    data = work / "data"
    clinic = demo_data(n_clients=n_clients, months=6, seed=0, end=END)
    clinic.write(data)
    booked = sorted(clinic.clients["client_id"])[:day_clients]
    with open(data / "sessions.csv", "a", encoding="utf-8") as fh:
        fh.writelines(f"{c},{DAY},,treatment,\n" for c in booked)
    return data, booked


def _has_share() -> bool:
    done = subprocess.run([sys.executable, "-m", "progress_kit", "report", "share", "--help"],
                          capture_output=True)
    return done.returncode == 0


def run(n_clients: int = 40, day_clients: int = 8, repeat: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="pk-bench-cold-"))
    data, booked = make_folder(work, n_clients, day_clients)
    cache = work / "cache"
    env = {**os.environ, "MPLBACKEND": "Agg", "PROGRESS_KIT_CACHE_DIR": str(cache)}
    kit = [sys.executable, "-m", "progress_kit"]
    out = work / "out"
    commands = {
        "bare import": ([sys.executable, "-c", BARE], None),
        "report prep (empty cache)": ([*kit, "report", "prep", str(data), "--client", "C002",
                                       "--date", PREP_DATE, "--out", str(out)], "empty"),
        "report prep": ([*kit, "report", "prep", str(data), "--client", "C002", "--date",
                         PREP_DATE, "--out", str(out)], None),
        "report client": ([*kit, "report", "client", str(data), "--client", "C002", "--month",
                           MONTH, "--out", str(out)], None),
        f"report prep --date (a day of {len(booked)})": (
            [*kit, "report", "prep", str(data), "--date", DAY, "--out", str(out)], None),
    }
    if _has_share():
        commands["report share"] = ([*kit, "report", "share", str(data), "--client", "C002",
                                     "--date", PREP_DATE, "--out", str(out)], None)
    _run(commands["report prep"][0], env)  # compiled bytecode and the OS file cache, for every side
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    loads = []
    for _ in range(repeat):
        for name, (argv, state) in commands.items():
            if state == "empty":
                shutil.rmtree(cache, ignore_errors=True)
            times[name].append(_run(argv, env))
            loads.append(os.getloadavg()[0])
    bare = statistics.median(w for w, _ in times["bare import"])
    rows = {name: {"wall_s": statistics.median(w for w, _ in runs),
                   "cpu_s": statistics.median(c for _, c in runs),
                   "walls": [round(w, 2) for w, _ in runs]} for name, runs in times.items()}
    for row in rows.values():
        row["ratio"] = row["wall_s"] / bare
    same = text_check(data, out, work / "kernel", env)
    return {"rows": rows, "repeat": repeat, "load": [min(loads), max(loads)],
            "cores": os.cpu_count(), "text": same, "folder": str(work)}


def text_check(data: Path, out: Path, old: Path, env: dict) -> dict[str, bool]:
    """The command line's sheet and client report against the kernel path's (the way every
    report was rendered before round five), text only."""
    from bench.batch import _pdf_text, _text
    from progress_kit.reports.render import render_client, render_prep

    render_prep(data, "C002", PREP_DATE, old / "prep", stem="C002-prep")
    render_client(data, "C002", MONTH, old / "clients", stem="C002")
    pairs = {"prep": (out / "prep" / f"C002-prep-{PREP_DATE}", old / "prep" / "C002-prep"),
             "client": (out / MONTH / "clients" / "C002", old / "clients" / "C002")}
    same = {}
    for kind, (new, before) in pairs.items():
        same[f"{kind} html"] = _text(new.with_suffix(".html").read_text()) == _text(
            before.with_suffix(".html").read_text())
        same[f"{kind} pdf"] = _pdf_text(new.with_suffix(".pdf")) == _pdf_text(
            before.with_suffix(".pdf"))
    return same


def to_markdown(res: dict) -> str:
    bare = res["rows"]["bare import"]["wall_s"]
    lines = [f"Cold command lines, median of {res['repeat']} runs each (alternating), "
             f"{res['cores']} cores, load average {res['load'][0]:.1f}-{res['load'][1]:.1f}.", "",
             "| command | wall s (median) | CPU s | wall / bare import | runs |", "|---|---|---|---|---|"]
    for name, row in res["rows"].items():
        lines.append(f"| {name} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {row['ratio']:.2f}x | "
                     f"{', '.join(f'{w:.2f}' for w in row['walls'])} |")
    lines += ["", f"- bare import: `python -c \"{BARE}\"`, {bare:.2f} s",
              "- same text as the kernel path: " + ", ".join(
                  f"{k} {'yes' if v else 'NO'}" for k, v in res["text"].items())]
    return "\n".join(lines)
