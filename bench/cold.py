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
* with ``--before DIR`` (a checkout of the code before round five, e.g.
  ``git worktree add --detach /tmp/old e99e143``): ``report prep`` and ``report client`` of that
  code too, in the same alternation;
* the text check: the sheet and the client report of the command line against those of the
  code before (with ``--before``), else against this code's kernel path (a Jupyter kernel per
  report, no cache; how every report was rendered before round five): HTML without tags, and
  the PDF's text.

``python -m bench cold [--clients 40] [--day-clients 8] [--repeat 3] [--before DIR]``
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

from bench.bytecode import kit_bytecode
from progress_kit import demo_data

END = "2026-11-30"
PREP_DATE = "2026-11-20"
MONTH = "2026-11"
DAY = "2026-12-09"  # after the data's last day: booked, not yet held
BARE = "import pandas, matplotlib.pyplot, weasyprint"


def _run(argv: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=cwd)
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


def _has_share(env: dict, cwd: Path) -> bool:
    done = subprocess.run([sys.executable, "-m", "progress_kit", "report", "share", "--help"],
                          capture_output=True, env=env, cwd=cwd)
    return done.returncode == 0


REPO = Path(__file__).resolve().parents[1]


def run(n_clients: int = 40, day_clients: int = 8, repeat: int = 3, before: str | None = None
        ) -> dict:
    bytecode = kit_bytecode()  # before the first command, which may write it
    work = Path(tempfile.mkdtemp(prefix="pk-bench-cold-"))
    data, booked = make_folder(work, n_clients, day_clients)
    cache = work / "cache"
    # every command runs in the work folder, with this checkout (or --before) first on the path
    env = {**os.environ, "MPLBACKEND": "Agg", "PROGRESS_KIT_CACHE_DIR": str(cache),
           "PYTHONPATH": str(REPO)}
    kit = [sys.executable, "-m", "progress_kit"]
    out, old = work / "out", work / "before"
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
    if before:
        commands["report prep, code before"] = (
            [*kit, "report", "prep", str(data), "--client", "C002", "--date", PREP_DATE, "--out",
             str(old)], "before")
        commands["report client, code before"] = (
            [*kit, "report", "client", str(data), "--client", "C002", "--month", MONTH, "--out",
             str(old)], "before")
    if _has_share(env, work):
        commands["report share"] = ([*kit, "report", "share", str(data), "--client", "C002",
                                     "--date", PREP_DATE, "--out", str(out)], None)
    old_env = {**env, "PYTHONPATH": str(before)} if before else env
    _run(commands["report prep"][0], env, work)  # bytecode and the OS file cache, for every side
    if before:
        _run(commands["report prep, code before"][0], old_env, work)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    loads = []
    for _ in range(repeat):
        for name, (argv, state) in commands.items():
            if state == "empty":
                shutil.rmtree(cache, ignore_errors=True)
            times[name].append(_run(argv, old_env if state == "before" else env, work))
            loads.append(os.getloadavg()[0])
    bare = statistics.median(w for w, _ in times["bare import"])
    rows = {name: {"wall_s": statistics.median(w for w, _ in runs),
                   "cpu_s": statistics.median(c for _, c in runs),
                   "walls": [round(w, 2) for w, _ in runs]} for name, runs in times.items()}
    for row in rows.values():
        row["ratio"] = row["wall_s"] / bare
    same = text_check(data, out, old if before else None, work / "kernel")
    return {"rows": rows, "repeat": repeat,
            "against": f"the code in {before}" if before else "the kernel path",
            "load": [min(loads), max(loads)],
            "cores": os.cpu_count(), "text": same, "bytecode": bytecode, "folder": str(work)}


def text_check(data: Path, out: Path, before: Path | None, kernel: Path) -> dict[str, bool]:
    """The command line's sheet and client report against the code before's (``before``), or
    else against this code's kernel path, text only."""
    from bench.batch import _pdf_text, _text
    from progress_kit.reports.render import render_client, render_prep

    if before is None:
        render_prep(data, "C002", PREP_DATE, kernel / "prep", stem=f"C002-prep-{PREP_DATE}")
        render_client(data, "C002", MONTH, kernel / MONTH / "clients", stem="C002")
        before = kernel
    pairs = {"prep": (out / "prep" / f"C002-prep-{PREP_DATE}",
                      before / "prep" / f"C002-prep-{PREP_DATE}"),
             "client": (out / MONTH / "clients" / "C002", before / MONTH / "clients" / "C002")}
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
              f"- same text as {res['against']}: " + ", ".join(
                  f"{k} {'yes' if v else 'NO'}" for k, v in res["text"].items()),
              f"- {res['bytecode']}"]
    return "\n".join(lines)
