"""Round five's changes to a report's cost, each timed against what it replaced, the two
alternating in one process (CPU seconds, so that a shared machine's neighbours move them less).

``python -m bench.changes [--repeat 6]`` prints, for a client report's pieces on the demo
clinic (100 clients, 6 months, 12 clients active in 2026-10):

* ``figures``: a figure drawn on a new canvas and renderer (before) or on the renderer kept for
  its size (``reports._png.figure_png``), ms per figure;
* ``figures_forked``: a client report's figures drawn in a child forked from a warmed process,
  as in a batch: the second session's path (before: a new figure and axes, Agg's glyph drawing
  and line metrics, every tick and text laid out at each measurement, NumPy's RGB copy), or
  this session's (``reports.notebook._figure_png``: blanks made ahead by ``prepare_batch``, kept
  glyph bitmaps and line metrics, ticks and text layouts kept while a figure is drawn, Pillow's
  RGB copy), ms per report;
* ``trend``: the three ``daily_trend_data`` calls of a client report (the two prompt windows and
  the diary's two weeks) through the pandas reference (before) or the array path, ms per report;
* ``fonts``: one ``ffi.new("hb_codepoint_t[n]", ...)`` of a glyph count not seen before (before)
  or its open-ended spelling (``reports._fonts``), ms per call (four per PDF);
* ``pdf``: a client report's PDF in a child forked from a process that made one short warm-up
  PDF with WeasyPrint's own fresh font configuration (before), or the demo report's PDF with the
  kept one (``reports._fonts.config_for``, ``engine._warm_render``), ms per PDF;
* ``pdf_work`` (third session): a client report's PDF in a child forked from a warmed process,
  made as before or with the stylesheet kept, min-content widths measured only where needed,
  Pango contexts kept (``reports._weasy``), the images' data set aside while the page is parsed
  and the garbage collector paused (``render.pdf_from_html``), ms per PDF;
* ``html_export`` (third session): the HTML export with the notebook validated after each of
  nbconvert's preprocessors (before) or once (``render.new_exporter``), ms per report.

Medians over ``--repeat`` rounds, with the load average.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

MONTH = "2026-10"


def _clinic():
    import progress_kit as pk
    from progress_kit.reports import notebook as rn
    from progress_kit.reports.context import clients_active_in, load_clinic

    work = Path(tempfile.mkdtemp(prefix="pk-changes-"))
    pk.demo_data(n_clients=100, months=6, seed=0, end="2026-10-31").write(work / "data")
    clinic = load_clinic(work / "data")
    rn.prepare_batch(clinic, MONTH)
    return work, clinic, clients_active_in(clinic, MONTH)[:12]


def _alternate(repeat: int, before, after) -> dict:
    out: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(repeat):
        for name, fn in (("before", before), ("after", after)) if i % 2 else (("after", after),
                                                                              ("before", before)):
            start = time.process_time()
            n = fn()
            out[name].append((time.process_time() - start) / n * 1000)
    return {k: statistics.median(v) for k, v in out.items()}


def _in_child(fn):
    """``fn()``'s JSON-able result, computed in a child forked from this process, which then
    ends, so nothing ``fn`` changes reaches this process; None if the child sent nothing."""
    import json
    import traceback

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.write(w, json.dumps(fn()).encode())
            code = 0
        except BaseException:  # noqa: BLE001 (said on stderr; the parent gets nothing)
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return json.loads(text) if text else None


def _cpu_in_child(fn, setup=None) -> float:
    """The CPU seconds ``fn()`` takes in a child forked from this process, as a report's child
    of a batch's zygote (after ``setup()``, not timed)."""
    def timed() -> float:
        if setup is not None:
            setup()
        start = time.process_time()
        fn()
        return time.process_time() - start

    return _in_child(timed)


def _png_drawn_on(canvas_class, sec) -> bytes:
    """A section's figure as round four drew it: laid out once, drawn on a ``canvas_class``
    canvas, the RGB encoded as the kit encodes it."""
    import numpy as np
    from matplotlib.figure import Figure

    from progress_kit.reports import notebook as rn
    from progress_kit.reports._png import encode_rgb

    fig = Figure(figsize=sec.figsize, dpi=rn.FIG_DPI, facecolor="white", layout="constrained")
    sec.plot(fig.add_subplot())
    canvas = canvas_class(fig)
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine("none")
    canvas.draw()
    return encode_rgb(np.asarray(canvas.buffer_rgba())[:, :, :3])


def figures(clinic, clients, repeat: int) -> dict:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from progress_kit.reports import notebook as rn
    from progress_kit.reports import steps
    from progress_kit.reports.context import client_data

    def flat(x):
        if isinstance(x, list | tuple):
            for y in x:
                yield from flat(y)
        elif x is not None:
            yield x

    secs = {id(s): s for c in clients
            for s in flat(list(steps.client_sections(client_data(clinic, c, MONTH), clinic).values()))
            if s.plot is not None}
    secs = list(secs.values())

    def before():  # round four's _figure_png: a new canvas, so a new renderer, per figure
        for sec in secs:
            _png_drawn_on(FigureCanvasAgg, sec)
        return len(secs)

    def after():
        for sec in secs:
            rn._figure_png(sec)
        return len(secs)

    before(), after()  # first calls
    return {**_alternate(repeat, before, after), "unit": f"ms per figure ({len(secs)} figures)"}


def figures_forked(clinic, clients, repeat: int) -> dict:
    import gc

    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

    from progress_kit.reports import _png, engine, steps
    from progress_kit.reports import notebook as rn
    from progress_kit.reports.context import client_data

    kept_canvas = _png._canvas_class()
    agg_text = type(kept_canvas(Figure()).get_renderer())
    renderers: dict = {}

    class OldText(agg_text):  # the second session's renderer: Agg draws and measures text
        _draw_text_glyphs_and_boxes = RendererAgg._draw_text_glyphs_and_boxes

        def _get_font_height_metrics(self, prop):
            return None, None, None  # Text._get_layout reads the font's tables itself

    class OldCanvas(kept_canvas):
        def get_renderer(self):
            w, h = self.get_width_height(physical=True)
            key = (w, h, self.figure.dpi)
            if self._lastKey != key:
                if key not in renderers:
                    renderers[key] = OldText(w, h, self.figure.dpi)
                self.renderer, self._lastKey = renderers[key], key
            return self.renderer

    def old_png(sec) -> bytes:
        return _png_drawn_on(OldCanvas, sec)

    def flat(x):
        if isinstance(x, list | tuple):
            for y in x:
                yield from flat(y)
        elif x is not None:
            yield x

    reports = []
    for c in clients[:8]:
        secs = flat(list(steps.client_sections(client_data(clinic, c, MONTH), clinic).values()))
        reports.append(list({id(s): s for s in secs if s.plot is not None}.values()))
    # a warmed worker, as a batch's zygote: the demo report's figures drawn both ways, then the
    # month's shared results and this session's blank figures (prepare_batch)
    engine._exercise_pipeline()
    real = rn._figure_png
    rn._figure_png = old_png
    try:
        engine._exercise_pipeline()
    finally:
        rn._figure_png = real
    rn.prepare_batch(clinic, MONTH)
    gc.collect()
    gc.freeze()

    def forked(draw) -> float:
        def zygote() -> list[float]:  # one child per report, as in a batch
            return [_cpu_in_child(lambda secs=secs: [draw(sec) for sec in secs])
                    for secs in reports]

        cpu = _in_child(zygote)
        return sum(cpu) / len(cpu) * 1000

    res: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(repeat):
        for name in ("before", "after") if i % 2 else ("after", "before"):
            res[name].append(forked(old_png if name == "before" else real))
    gc.unfreeze()
    n = sum(map(len, reports)) / len(reports)
    return {**{k: statistics.median(v) for k, v in res.items()},
            "unit": f"ms per client report in a forked child ({len(reports)} reports, "
                    f"{n:.2f} figures each)"}


def trend(clinic, clients, repeat: int) -> dict:
    import progress_kit as pk
    from progress_kit import daily as D
    from progress_kit.reports.context import client_data
    from progress_kit.reports.sections.client import _last_day

    tables = []
    for c in clients:
        rd = client_data(clinic, c, MONTH)
        if not rd.diary.empty:
            tables.append((pk.daily_table(rd.diary), _last_day(rd)))
    real = D._trend_lines

    def calls():
        for daily, last in tables:
            pk.daily_trend_data(daily, measures=["mood", "homework"], days=14, end=last, min_days=7)
            pk.daily_trend_data(daily, measures=["mood", "goals_on_track"], days=91, end=last,
                                min_days=28)
            pk.daily_trend_data(daily, measures=["mood", "homework"], days=14, end=last)
        return len(tables)

    def before():
        D._trend_lines = lambda *a: None
        try:
            return calls()
        finally:
            D._trend_lines = real

    return {**_alternate(repeat, before, calls),
            "unit": f"ms per report ({len(tables)} diaries, three calls each)"}


def fonts(repeat: int) -> dict:
    import random

    from weasyprint.text.ffi import ffi

    from progress_kit.reports._fonts import _OpenArrays

    opened, rng, seen = _OpenArrays(ffi), random.Random(1), set()

    def lengths():
        out = []
        while len(out) < 40:
            n = rng.randint(200, 6000)
            if n not in seen:
                seen.add(n)
                out.append(n)
        return out

    def make(f):
        ns = lengths()
        for n in ns:
            f.new(f"hb_codepoint_t[{n}]", tuple(range(n)))
        return len(ns)

    return {**_alternate(repeat, lambda: make(ffi), lambda: make(opened)),
            "unit": "ms per array of a new length"}


_PAGES: list = []


def _client_pages(work: Path, clinic, clients) -> list[tuple[str, Path]]:
    """Eight client reports' HTML and executed notebooks, rendered once for the benches below."""
    from progress_kit.reports import render
    from progress_kit.reports.context import write_cache
    from progress_kit.reports.inprocess import ENGINE_NAME, register_engine

    if not _PAGES:
        register_engine()
        render.use_engine(ENGINE_NAME)
        cache = str(write_cache(clinic, work / "clinic.pkl"))
        for c in clients[:8]:
            res = render.render_client(str(work / "data"), c, MONTH, str(work / "out"),
                                       formats=("html",), data_cache=cache)
            html = next(p for p in res.files if p.suffix == ".html")
            _PAGES.append((html.read_text(), html.with_suffix(".ipynb")))
    return _PAGES


def pdf(work: Path, clinic, clients, repeat: int) -> dict:

    from progress_kit.reports import _fonts, engine, render

    pages = [html for html, _ in _client_pages(work, clinic, clients)]
    keep = _fonts.config_for

    def forked(warm_outputs, kept: bool) -> float:
        def zygote() -> list[float]:  # a warm-up as a zygote's, then one child per PDF
            _fonts.config_for = keep if kept else (lambda html: None)
            _fonts._CONFIGS.__dict__.clear()
            render.pdf_from_html(render.html_from_notebook(engine.warm_up_notebook(warm_outputs),
                                                           "warm-up"),
                                 work / f"warm-{os.getpid()}.pdf")
            return [_cpu_in_child(lambda i=i, page=page: render.pdf_from_html(
                        page, work / f"p-{os.getpid()}-{i}.pdf")) for i, page in enumerate(pages)]

        times = _in_child(zygote)
        return sum(times) / len(times) * 1000

    outputs = engine._exercise_pipeline()
    res: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(repeat):
        for name in ("before", "after") if i % 2 else ("after", "before"):
            res[name].append(forked(outputs if name == "after" else None, kept=name == "after"))
    return {**{k: statistics.median(v) for k, v in res.items()},
            "unit": f"ms per PDF in a forked child ({len(pages)} client reports)"}


class _Patched:
    """Attributes set for a "before" run and put back after it."""

    def __init__(self, *changes):
        self.changes = changes

    def __enter__(self):
        self.saved = [(obj, name, getattr(obj, name)) for obj, name, _ in self.changes]
        for obj, name, value in self.changes:
            setattr(obj, name, value)

    def __exit__(self, *exc):
        for obj, name, value in self.saved:
            setattr(obj, name, value)


def _old_as_days(values, column):  # round five's second session: always pandas' conversion
    import numpy as np
    import pandas as pd

    out = pd.to_datetime(values)
    if out.isna().any():
        i = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise ValueError(f"column {column!r} has a missing date in row {i}; every row needs a day")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def _old_as_numeric(data, column):
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(data[column], errors="coerce").astype(float)
    bad = values.isna() & data[column].notna()
    if bad.any():
        raise ValueError(f"column {column!r} must be numeric; row {int(np.flatnonzero(bad)[0])}")
    return values


def _old_unique_days(data, subject, time):
    if data.duplicated([subject, time], keep=False).any():
        raise ValueError(f"more than one row for a {subject} on a {time}")


def sections(clinic, clients, repeat: int) -> dict:
    """The sections' changes of the third session, each against what it replaced (the calls a
    client report makes), and all of them together on every section of a client report."""
    import importlib

    import progress_kit as pk
    from progress_kit import daily as D
    from progress_kit import prompts as P
    from progress_kit.reports import steps
    from progress_kit.reports.context import client_data
    from progress_kit.reports.sections import common
    from progress_kit.reports.sections.client import _last_day

    PS = importlib.import_module("progress_kit.progress_score")
    pages = [client_data(clinic, c, MONTH) for c in clients]
    diaries = [(rd, pk.daily_table(rd.diary), _last_day(rd)) for rd in pages if len(rd.diary)]
    real_registry = D.registry_state
    befores = {
        "prompts": [(P, "_prompts_from_arrays", lambda *a, **k: None)],
        "kahan": [(D, "_FEW_ROWS", 0)],
        "daily_table": [(D, "_daily_grid", lambda *a: None),
                        (D, "registry_state", lambda: (pk.measures(), real_registry())[1])],
        "typed input": [(D, "_as_days", _old_as_days), (D, "_as_numeric", _old_as_numeric),
                        (D, "_check_unique_days", _old_unique_days)],
        "progress_score": [(PS, "_one_client", lambda *a: None)],
        "within_person": [(D, "_within_one", lambda *a: None)],
        "client_data": [(common, "client_rows", lambda clinic: None)],
    }

    def prompts_and_trend():
        for rd, daily, last in diaries:
            pk.tracker_prompts(daily, rd.client.to_frame().T, as_of=last)
            pk.daily_trend_data(daily, measures=["mood", "homework"], days=14, end=last)
        return len(pages)

    calls = {
        "prompts": prompts_and_trend, "kahan": prompts_and_trend, "typed input": prompts_and_trend,
        "daily_table": lambda: [pk.daily_table(rd.diary) for rd, _, _ in diaries] and len(pages),
        "progress_score": lambda: [pk.progress_score(d, window="14D")
                                   for _, d, _ in diaries] and len(pages),
        "within_person": lambda: [pk.within_person_correlation(d, x="homework", y="mood")
                                  for _, d, _ in diaries] and len(pages),
        "client_data": lambda: [client_data(clinic, c, MONTH) for c in clients] and len(clients),
    }

    def report():
        for c in clients:
            steps.client_sections(client_data(clinic, c, MONTH), clinic)
        return len(clients)

    out = {}
    for name, fn in calls.items():
        def before(fn=fn, name=name):
            with _Patched(*befores[name]):
                return fn()
        before(), fn()
        out[name] = {**_alternate(repeat, before, fn), "unit": "ms per client report (its calls)"}

    def all_before():
        with _Patched(*[c for changes in befores.values() for c in changes]):
            return report()
    all_before(), report()
    out["sections"] = {**_alternate(repeat, all_before, report),
                       "unit": f"ms per client report, every section ({len(clients)} clients)"}
    return out


def funnel(repeat: int) -> dict:
    """A cohort report's funnel limits in a child forked from a process that has not imported
    scipy.stats (as a batch's zygote since the warm-up dropped statsmodels): through
    scipy.stats.binom, imported by the child (before), or _dist.binom (after), ms per report."""
    import sys

    import progress_kit as pk
    from progress_kit import _dist

    if "scipy.stats._stats_py" in sys.modules:
        return {"before": float("nan"), "after": float("nan"),
                "unit": "ms (not measured: this process has imported scipy.stats)"}
    light = _dist.binom

    class _Scipy:  # what funnel_limits did before: import scipy.stats for its binomial
        def __getattr__(self, name):
            import scipy.stats

            return getattr(scipy.stats.binom, name)

    def forked(binom) -> float:
        return _cpu_in_child(lambda: pk.funnel_limits(0.5, list(range(5, 400, 7))),
                             setup=lambda: setattr(_dist, "binom", binom)) * 1000

    res: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(repeat):
        for name in ("before", "after") if i % 2 else ("after", "before"):
            res[name].append(forked(_Scipy() if name == "before" else light))
    return {**{k: statistics.median(v) for k, v in res.items()},
            "unit": "ms per cohort report's funnel limits, in a forked child"}


def _pdf_as_it_was(html: str, target: Path) -> None:
    """``render.pdf_from_html`` before the third session: WeasyPrint parses the whole page and
    every stylesheet, measures every min-content width and builds a Pango context per text,
    with the garbage collector on."""
    from weasyprint import HTML

    from progress_kit.reports import _fonts, render
    from progress_kit.reports._png import install_passthrough

    install_passthrough()
    _fonts.install()
    with render.private_file(target) as fh:
        HTML(string=html, url_fetcher=render._offline_fetcher()).write_pdf(
            fh, font_config=_fonts.config_for(html))


def pdf_work(work: Path, clinic, clients, repeat: int) -> dict:
    """A client report's PDF in a child forked from a warmed process, with the third session's
    changes (``reports._weasy``, ``render._parsed_html``, ``render._gc_paused``) or without."""
    import gc

    from progress_kit.reports import _weasy, engine, render

    pages = [html for html, _ in _client_pages(work, clinic, clients)]
    outputs = engine._exercise_pipeline()
    real = render.pdf_from_html

    def forked(after: bool) -> float:
        def zygote() -> list[float] | None:  # its warm-up, then one child per PDF
            if not after and _weasy._INSTALLED:
                return None  # the patches are process-wide: "before" needs a process without
            render.pdf_from_html = real if after else _pdf_as_it_was
            engine._warm_render(outputs)
            gc.collect()
            gc.freeze()  # as the batch's zygote does after its warm-up
            return [_cpu_in_child(lambda i=i, page=page: render.pdf_from_html(
                        page, work / f"w-{os.getpid()}-{i}.pdf")) for i, page in enumerate(pages)]

        times = _in_child(zygote)
        if times is None:
            raise RuntimeError("the 'before' side needs a process where reports._weasy is not "
                               "installed (run pdf_work before anything makes a PDF)")
        return sum(times) / len(times) * 1000

    res: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(repeat):
        for name in ("before", "after") if i % 2 else ("after", "before"):
            res[name].append(forked(name == "after"))
    return {**{k: statistics.median(v) for k, v in res.items()},
            "unit": f"ms per PDF in a forked child ({len(pages)} client reports)"}


def html_export(work: Path, clinic, clients, repeat: int) -> dict:
    """A client report's HTML export with the notebook validated after each of nbconvert's
    preprocessors (before) or once after them all (``render.new_exporter``)."""
    import nbformat

    from progress_kit.reports import render

    nbs = [nbformat.read(nb, as_version=4) for _, nb in _client_pages(work, clinic, clients)]
    once, each = render.new_exporter(), render.new_exporter()
    each.optimistic_validation = False

    def export(exporter):
        for nb in nbs:
            render.html_from_notebook(nb, "progress-kit report", exporter)
        return len(nbs)

    export(once), export(each)
    return {**_alternate(repeat, lambda: export(each), lambda: export(once)),
            "unit": f"ms per HTML export ({len(nbs)} client reports)"}


def run(repeat: int = 6, only: str | None = None) -> dict:
    os.environ.setdefault("MPLBACKEND", "Agg")
    work, clinic, clients = _clinic()
    load = [os.getloadavg()[0]]
    if only == "sections":
        out = {**sections(clinic, clients, repeat), "funnel": funnel(repeat)}
    elif only == "pdf":
        out = {"pdf_work": pdf_work(work, clinic, clients, max(2, repeat // 2)),
               "html_export": html_export(work, clinic, clients, repeat)}
    elif only == "figures":
        out = {"figures_forked": figures_forked(clinic, clients, repeat)}
    else:
        out = {"figures": figures(clinic, clients, repeat), "trend": trend(clinic, clients, repeat),
               "fonts": fonts(repeat),
               # before "pdf": its zygotes are forked from this process, which makes no PDF itself
               "pdf_work": pdf_work(work, clinic, clients, max(2, repeat // 2)),
               "html_export": html_export(work, clinic, clients, repeat),
               "pdf": pdf(work, clinic, clients, max(2, repeat // 2)),
               # after the PDF's: it warms this process as a zygote (the demo report's figures)
               "figures_forked": figures_forked(clinic, clients, repeat),
               **sections(clinic, clients, repeat), "funnel": funnel(repeat)}
    load.append(os.getloadavg()[0])
    out["load"] = load
    return out


def to_markdown(res: dict) -> str:
    rows = [f"| {name} | {r['before']:.1f} | {r['after']:.1f} | {r['before'] - r['after']:.1f} | "
            f"{r['unit']} |" for name, r in res.items() if name != "load"]
    return "\n".join([f"Load average {min(res['load']):.1f}-{max(res['load']):.1f}.", "",
                      "| change | before | after | saved | unit |", "|---|---|---|---|---|", *rows])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.changes", description=__doc__)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--only", choices=["sections", "pdf", "figures"],
                        help="only the sections' changes, the PDF's and HTML export's, or the "
                             "figures' (third session)")
    args = parser.parse_args()
    print(to_markdown(run(args.repeat, args.only)))
