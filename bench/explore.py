"""Benchmark: how long the explorer (``pk.explore``) takes to redraw when the client or the
measure changes (issue 27: 0.5 s or less on the demo clinic).

Builds the explorer on the demo clinic (60 clients, 6 months), then picks ``--switches`` clients
in turn (each one new, so nothing is served from a cache), then flips the measure back and forth
(the first visit to a measure computes its flags, table and Jacobson plot; a revisit shows them
again). Wall and CPU seconds per switch, and the load average.

``python -m bench explore [--switches 12]``
"""

from __future__ import annotations

import os
import statistics
import time


def run(switches: int = 12) -> dict:
    import progress_kit as pk
    from progress_kit.explorer import Explorer

    clinic = pk.demo_data(n_clients=60, months=6, seed=0, end="2026-10-31")
    t0 = time.perf_counter()
    ex = Explorer(clinic)
    build = time.perf_counter() - t0

    def timed(setter) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        setter()
        return time.perf_counter() - w, time.process_time() - c

    clients = [timed(lambda c=c: setattr(ex.client_picker, "value", c))
               for c in ex.clients[1:1 + switches]]
    other = [m for m in ex.measures if m != ex.measure_picker.value][0]
    first = ex.measure_picker.value
    measures = [timed(lambda m=m: setattr(ex.measure_picker, "value", m))
                for m in (other, first, other, first)]
    return {"build_s": build, "clients": clients, "measures": measures,
            "load": os.getloadavg(), "n_clients": len(ex.clients)}


def to_markdown(res: dict) -> str:
    def row(name, runs):
        walls = [w for w, _ in runs]
        return (f"| {name} | {statistics.median(walls):.3f} | {max(walls):.3f} | "
                f"{statistics.median(c for _, c in runs):.3f} | {len(runs)} |")

    m = res["measures"]
    return "\n".join([
        f"Explorer on the demo clinic ({res['n_clients']} clients), built in {res['build_s']:.2f} s; "
        f"load average {' '.join(f'{x:.2f}' for x in res['load'])}.", "",
        "| switch | wall s (median) | wall s (max) | CPU s (median) | n |", "|---|---|---|---|---|",
        row("client (each a new one)", res["clients"]),
        row("measure, first visit", m[:1]), row("measure, back to the first", m[1:2]),
        row("measure, revisits", m[2:])])
