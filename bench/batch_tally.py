"""Where the whole ``progress-kit batch`` command's CPU goes, process by process.

``python -m bench.batch_tally --clients 40 --jobs 2 --runs 3`` writes the 40-client demo clinic
(as ``python -m bench batch --cli`` does), runs the command ``--runs`` times, each in a fresh
interpreter, and prints for each run the wall time and the user and system CPU seconds and
minor page faults of: the command's own process; the exporter (its own share); the reports'
notebook children; the exporter's children (each report's HTML and PDF). Each child's figures
come from ``os.wait4`` when its parent reaps it (the command's ``os.waitpid`` is wrapped in the
measured process only; nothing else changes), so they are the kernel's, not a profiler's.

It also times what one copy-on-write page fault costs on this machine: a child forked from a
process that holds 80 MB writes one byte on each of its pages. The reports' children fault on
the pages of the warmed process they write to, so this price times their faults is most of their
system time (docs/performance.md, round five, sixth session).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.batch import batch_args

# the console script's own entry point (its fast exit included), with every reaped child's
# rusage logged and, at exit, the command's own
_WRAPPED = """
import atexit, os, resource, sys
log = open(sys.argv[1], "a", buffering=1)
def waitpid(pid, options):
    got, status, usage = os.wait4(pid, options)
    if got:
        log.write(f"{os.getpid()} {got} {usage.ru_utime} {usage.ru_stime} {usage.ru_minflt}\\n")
    return got, status
os.waitpid = waitpid
def own_usage():
    me = resource.getrusage(resource.RUSAGE_SELF)
    log.write(f"self {os.getpid()} {me.ru_utime} {me.ru_stime} {me.ru_minflt}\\n")
atexit.register(own_usage)  # console() runs the exit handlers before its fast exit
sys.argv = ["progress-kit", *sys.argv[2:]]
from progress_kit.cli import console
console()
"""


def _run_once(data_dir: Path, out: Path, jobs: int, log: Path) -> dict:
    args = batch_args(data_dir, out, jobs)
    # its messages go to a file, not a pipe nobody reads while it runs (a full pipe would stop it)
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _WRAPPED, str(log), *args],
                                stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "MPLBACKEND": "Agg"})
        busy = _busy_cores_while(proc, start)
        wall = time.perf_counter() - start
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"the batch failed: {err.read().decode()[-2000:]}")
    return {"wall_s": wall, "busy_cores": busy, **_tally(log.read_text().splitlines())}


def _machine_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # all, idle + iowait


def _busy_cores_while(proc: subprocess.Popen, start: float, step: float = 0.1) -> list[float]:
    """Mean busy cores of the whole machine in each second until ``proc`` ends (from
    ``/proc/stat``, sampled every ``step`` s; this sampler's own share is in it, about 1 %)."""
    samples, last = [], _machine_jiffies()
    while proc.poll() is None:
        time.sleep(step)
        now = _machine_jiffies()
        total, idle = now[0] - last[0], now[1] - last[1]
        if total:
            samples.append((time.perf_counter() - start, (os.cpu_count() or 1) * (1 - idle / total)))
        last = now
    seconds = int(samples[-1][0]) + 1 if samples else 0
    return [statistics.fmean([b for t, b in samples if s <= t < s + 1] or [0.0])
            for s in range(seconds)]


def _tally(lines: list[str]) -> dict:
    """Sum the log's rows by kind of process: the command, the exporter, and their children."""
    top, rows = None, []
    for line in lines:
        parts = line.split()
        if parts[0] == "self":
            top = parts[1]
            own = [float(parts[2]), float(parts[3]), int(parts[4])]
        else:
            rows.append((parts[0], parts[1], float(parts[2]), float(parts[3]), int(parts[4])))
    waiters = {r[0] for r in rows}
    exporters = {r[1] for r in rows if r[0] == top and r[1] in waiters}
    kinds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0, 0])

    def add(kind, user, system, faults):
        k = kinds[kind]
        k[0] += user
        k[1] += system
        k[2] += faults
        k[3] += 1

    add("command", *own)
    for waiter, child, user, system, faults in rows:
        if waiter == top and child in exporters:
            add("exporter (itself)", user, system, faults)  # its children are taken out below
        elif waiter == top:
            add("notebook children", user, system, faults)
        else:
            add("export children", user, system, faults)
    ex = kinds.get("exporter (itself)")
    ch = kinds.get("export children")
    if ex and ch:  # a reaped process's usage includes its reaped children's
        ex[0] -= ch[0]
        ex[1] -= ch[1]
        ex[2] -= ch[2]
    return {"kinds": {k: {"user_s": v[0], "sys_s": v[1], "minflt": v[2], "processes": v[3]}
                      for k, v in kinds.items()}}


def cow_fault_us(pages: int = 20_000) -> float:
    """Microseconds of system time per copy-on-write fault: a forked child writes one byte on
    each page of a buffer its parent has written (median of three)."""
    buf = bytearray(pages * 4096)
    buf[::4096] = b"\1" * pages
    costs = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            buf[::4096] = b"\2" * pages
            os._exit(0)
        _, _, usage = os.wait4(pid, 0)
        costs.append(usage.ru_stime / max(usage.ru_minflt, 1) * 1e6)
    return statistics.median(costs)


def _spin(n: int = 20_000_000) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def core_seconds(rounds: int = 3) -> dict[str, list[float]]:
    """Seconds the same pure-Python loop takes pinned to each core alone, and on both cores at
    once (two processes, one per core): a machine whose cores are not equally fast, or slow
    each other down, cannot run two reports in the time of one."""
    def in_child(cores: list[int]) -> list[float]:
        read_fd, write_fd = os.pipe()
        pids = []
        for core in cores:
            pid = os.fork()
            if pid == 0:
                os.sched_setaffinity(0, {core})
                os.write(write_fd, f"{core} {_spin()}\n".encode())
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        os.close(write_fd)
        with os.fdopen(read_fd) as fh:
            got = dict(line.split() for line in fh.read().splitlines())
        return [float(got[str(c)]) for c in cores]

    cores = sorted(os.sched_getaffinity(0))[:2]
    out: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for core in cores:
            out[f"core {core} alone"] += in_child([core])
        if len(cores) == 2:
            both = in_child(cores)
            for core, s in zip(cores, both, strict=True):
                out[f"core {core} beside core {cores[1 - cores.index(core)]}"].append(s)
    return dict(out)


def run(n_clients: int = 40, jobs: int = 2, runs: int = 3) -> dict:
    from progress_kit import demo_data

    work = Path(tempfile.mkdtemp(prefix="pk-bench-tally-"))
    data_dir = work / "data"
    demo_data(n_clients=n_clients, months=6, seed=0, end="2026-10-31").write(data_dir)
    results = [_run_once(data_dir, work / f"out{i}", jobs, work / f"log{i}") for i in range(runs)]
    return {"runs": results, "cow_fault_us": cow_fault_us(), "core_seconds": core_seconds(),
            "cores": os.cpu_count(),
            "load": os.getloadavg()[0], "folder": str(work)}


def to_markdown(res: dict) -> str:
    lines = [f"{res['cores']} cores; one copy-on-write page fault costs "
             f"{res['cow_fault_us']:.1f} µs of system time here.", "",
             "| run | wall s | process | n | user s | system s | minor faults |",
             "|---|---|---|---|---|---|---|"]
    lines[1:1] = ["", "The same loop (20 million additions) on each core, seconds, in "
                  "rounds:", ""] + [f"- {k}: {', '.join(f'{s:.2f}' for s in v)}"
                                  for k, v in res["core_seconds"].items()]
    for i, r in enumerate(res["runs"], 1):
        total = [0.0, 0.0, 0]
        for kind, k in r["kinds"].items():
            lines.append(f"| {i} | {r['wall_s']:.2f} | {kind} | {k['processes']} | "
                         f"{k['user_s']:.2f} | {k['sys_s']:.2f} | {k['minflt']} |")
            total = [total[0] + k["user_s"], total[1] + k["sys_s"], total[2] + k["minflt"]]
        lines.append(f"| {i} | {r['wall_s']:.2f} | **all** | | **{total[0]:.2f}** | "
                     f"**{total[1]:.2f}** | **{total[2]}** |")
    lines += ["", "Busy cores of the machine, second by second (mean of 0.1 s samples):", ""]
    lines += [f"- run {i}: " + " ".join(f"{b:.2f}" for b in r["busy_cores"])
              for i, r in enumerate(res["runs"], 1)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_tally", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(to_markdown(run(args.clients, args.jobs, args.runs)))


if __name__ == "__main__":
    main()
