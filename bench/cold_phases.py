"""CPU seconds per phase of ``report prep --client`` on the command line's warm path (round five).

``PROGRESS_KIT_CACHE_DIR=/tmp/pk-cache python -m bench.cold_phases DATA_DIR OUT_DIR``, on a folder
with client C002 and data to 2026-11-20 (``progress-kit demo-data --clients 40 --end 2026-11-30
DATA_DIR``). The first run validates (an empty cache); later ones read the cache. Run it from
outside the checkout's parent process state: it is a fresh interpreter, as a command is.
"""

from __future__ import annotations

import json
import os
import sys
import time

DATE, CLIENT = "2026-11-20", "C002"


def main(data: str, out: str) -> None:
    clock = time.process_time
    phases: dict[str, float] = {}
    t = clock()
    from progress_kit.reports import cli as rc

    phases["import the kit and the command line"] = clock() - t
    t = clock()
    from progress_kit.reports.day import prepare_day

    clinic, cache = rc._warm_clinic(data)
    prepare_day(clinic, DATE, [CLIENT], each=True)
    phases["the clinic (cache or validation) and whole-clinic results"] = clock() - t
    t = clock()
    from progress_kit.reports.engine import warm_here

    warm_here()
    phases["import papermill and the report modules, register the engine"] = clock() - t
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the report's process, as engine.fork_each makes it
        child = {}
        t = clock()
        import matplotlib.figure  # noqa: F401
        import nbconvert  # noqa: F401
        import weasyprint  # noqa: F401

        child["child: import matplotlib's figure, nbconvert, WeasyPrint"] = clock() - t
        t = clock()
        from progress_kit.reports import render
        from progress_kit.reports.inprocess import ENGINE_NAME

        render.use_engine(ENGINE_NAME)
        render.render_prep(data, CLIENT, DATE, out, data_cache=rc._cache_param(cache),
                           stem="phases")
        child["child: the notebook's cells, HTML, PDF"] = clock() - t
        os.write(write_fd, json.dumps(child).encode())
        os._exit(0)
    os.close(write_fd)
    payload = os.read(read_fd, 1 << 16)
    os.waitpid(pid, 0)
    phases.update(json.loads(payload))
    print("| phase | CPU s |\n|---|---|")
    for name, seconds in phases.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"| total | {sum(phases.values()):.2f} |")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
