"""Fast, isolated report rendering: a fork server with an in-process papermill engine.

Where the time of one report goes (measured on the demo clinic, see docs/performance.md): a
fresh Jupyter kernel costs about 2 s (start-up and imports) before the notebook's own 0.7 s of
work, and the first nbconvert and WeasyPrint calls of a process pay for template compilation
and font loading. None of that depends on the client.

So each batch worker is a *zygote*: a process that imports everything, loads the batch's
validated data cache once and warms nbconvert and WeasyPrint up on a dummy page, and never runs
report code itself. For every report it ``fork()``s a child, which

1. executes the notebook with papermill through
   :class:`~progress_kit.reports.inprocess.InProcessEngine` (the notebook's cells
   run in a fresh IPython shell inside the child; papermill still injects the parameters,
   records the execution and raises on a failed cell),
2. exports HTML and PDF exactly as the kernel path does, writing every file atomically, and
3. exits. Nothing it did (variables, figures, module state) survives it.

Isolation therefore comes from the operating system: every report starts from the same
zygote state, which holds no report's output, and no report's process outlives its report.

Besides the imported code, the zygote holds the batch's validated data, caches from the warm-up
on the synthetic demo clinic, the compiled HTML exporter and what the batch computes there from
the whole clinic before any report (``prepare``: the expected-response model and the
service-wide ``client_flags``, by library calls only; each report takes its own client's row).
After that it freezes its heap (``gc.freeze``), so that no child's garbage collector walks and
copies it. A zygote starts in :func:`_zygote_main`, which leaves out an optional import that
costs seconds before papermill is imported (see there).
The fork server needs ``os.fork`` (Linux, and other POSIX systems); elsewhere the batch uses
one kernel per report.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import queue
import selectors
import signal
import sys
from collections.abc import Iterable, Iterator
from typing import Any

# The in-process engine lives in .inprocess, imported only by the zygotes and their children:
# it imports papermill (and with it nbformat and jsonschema, 1.2 s), which the process that runs
# a batch does not need, and which took CPU from the zygotes warming up beside it.
__all__ = ["fork_available", "ForkServer", "warm_here", "warmed_here", "fork_each", "Exporter"]

log = logging.getLogger(__name__)


def fork_available() -> bool:
    """True where the fork server can run (POSIX ``fork``; not macOS, whose GUI libs dislike it)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


# ---------------------------------------------------------------- fork server


def _warm_up(cache: str | None) -> None:
    """Import and warm everything a report needs, without touching any client's report."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import papermill  # noqa: F401

    from . import notebook  # noqa: F401  (pulls in pandas, matplotlib, statsmodels, the kit)
    from .context import preload_cache
    from .inprocess import register_engine

    register_engine()
    if cache:
        preload_cache(cache)
    _warm_render(_exercise_pipeline())


def _warm_render(outputs: list | None = None, shell: bool = True, pdf: bool = True) -> None:
    """Build what every report's child would otherwise build: the IPython shell, the HTML
    exporter and WeasyPrint's fonts.

    ``outputs``: what :func:`_exercise_pipeline` displayed (a demo report's sections); the
    warm-up page is made of them, so that WeasyPrint's kept font configuration
    (:func:`._fonts.config_for`) has measured the glyphs and sizes of a real report before
    any child forks (a child's PDF then takes 15 % less; docs/performance.md, round five).
    ``shell=False``: without the shell (the :class:`Exporter` runs no notebook); ``pdf=False``:
    without WeasyPrint (a batch that makes no PDF)."""
    import tempfile
    from pathlib import Path

    from .render import html_from_notebook, pdf_from_html

    if shell:
        from .inprocess import new_shell

        # IPython's shell is a process-wide singleton that takes ~25 ms to build: built here,
        # every child gets it as a copy that has never run a cell, and runs its notebook in it
        new_shell()
    # builds the process's HTML exporter (its template compiled once for every child); the page's
    # "&" makes BeautifulSoup (inside nbconvert) build its entity tables here, not in each child
    html = html_from_notebook(warm_up_notebook(outputs), "warm-up")
    if pdf:
        with tempfile.TemporaryDirectory() as tmp:
            pdf_from_html(html, Path(tmp) / "warm-up.pdf")


def warm_up_notebook(outputs: list | None = None):
    """The warm-up page: a line of text, then the HTML displays in ``outputs`` (a demo
    report's, from :func:`_exercise_pipeline`), as an nbformat notebook."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("warm-up & done")]
    displays = [dict(getattr(o, "data", o)) for o in outputs or []]  # captured, or their data
    if displays:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)
                        for data in displays if "text/html" in data]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def _exercise_pipeline(kind: str = "client") -> list:
    """Compute and draw a client report's sections once, on the built-in synthetic demo clinic.

    First calls pay for lazy imports, font caches and compiled code paths (the first
    ``lagged_effect`` takes 0.6 s, later ones 0.02 s); paying once here spares every forked
    child. Only library functions run (the IPython shell is built first, so that what is shown
    is captured for :func:`_warm_render`, but runs no cell), and the demo clinic holds no
    client's data, so the zygote stays free of anything a report could see. The cohort
    sections are left out: after a client report's, their first call costs no more than later
    ones (0.36 s of warm-up for 0.06 s on the one cohort report; docs/performance.md).
    """
    from IPython.utils.capture import capture_output

    from . import notebook as rn
    from . import steps
    from .inprocess import new_shell

    new_shell()  # without a shell, display() prints text, and nothing is captured for _warm_render
    demo = rn.load_clinic(None, None)
    if kind == "prep":
        client = steps.prep_sections(rn.client_data_until(demo, rn.DEFAULT_CLIENT, "2026-10-20"),
                                     demo)
    else:
        client = steps.client_sections(rn.client_data(demo, rn.DEFAULT_CLIENT, rn.DEFAULT_MONTH),
                                       demo)
    with capture_output() as shown:
        for part in client.values():
            rn.show(*(part if isinstance(part, list) else [part]))
    return shown.outputs  # the demo report's displays, for the warm-up page (_warm_render)


def execute_notebook_task(notebook: str, output: str, parameters: dict) -> dict:
    """Execute one notebook with papermill in this process (for a fork-server child).

    Returns ``{"status": "ok" | "failed", "files": [output], "error": ...}``; never raises.
    """
    import papermill

    from .inprocess import ENGINE_NAME, register_engine

    register_engine()
    try:
        papermill.execute_notebook(notebook, output, parameters=parameters,
                                   engine_name=ENGINE_NAME, progress_bar=False)
        return {"status": "ok", "files": [output], "seconds": 0.0, "error": ""}
    except Exception as exc:  # noqa: BLE001 (reported, not raised)
        return {"status": "failed", "files": [], "seconds": 0.0,
                "error": f"{getattr(exc, 'ename', type(exc).__name__)}"}


def _child(task: tuple, write_fd: int, timeout: int, notebooks: bool = True,
           parent: int | None = None, defer: bool = False) -> None:
    """Body of a forked child: run one task ``(function, args)``, send the outcome, exit.
    ``notebooks=False``: a child of the :class:`Exporter`, which runs none (and must not import
    the in-process engine, papermill with it). ``defer``: a report's child in a batch with an
    exporter, which leaves the HTML and PDF to it (:func:`~.render.defer_export`)."""
    from . import render

    code = 0
    try:
        _close_parent_only()
        # a report's warnings belong in its notebook's stderr (hidden from the report), as in a
        # kernel, not in the zygote's log on the terminal
        logging.captureWarnings(False)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(timeout)  # a hung report is killed; the zygote records it as failed
        if notebooks:
            from .inprocess import ENGINE_NAME

            render.use_engine(ENGINE_NAME)
            render.defer_export(defer)
        else:
            _die_with_parent(parent)
        fn, args = task
        outcome = fn(*args)
    except BaseException as exc:  # noqa: BLE001 (the child must always report back)
        outcome = {"status": "failed", "files": [], "seconds": 0.0,
                   "error": f"{type(exc).__name__} in the report process"}
        code = 1
    try:
        with os.fdopen(write_fd, "wb") as fh:
            fh.write(json.dumps(outcome).encode())
    finally:
        os._exit(code)  # skip atexit and finalisers: they belong to the zygote


def _die_with_parent(parent: int | None) -> None:
    """An exporter's child is killed when the exporter ends (killed by the batch when it stops
    early, or by the out-of-memory killer), so that no export writes after the batch has let its
    month folder go, or is made twice (Linux' ``PR_SET_PDEATHSIG``; elsewhere nothing)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(1)


def _fork_child(task: tuple, timeout: int, notebooks: bool = True, defer: bool = False
                ) -> tuple[int, int]:
    """Fork one report's child; returns its pid and the pipe its outcome arrives on."""
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        _child(task, write_fd, timeout, notebooks, parent, defer)
    os.close(write_fd)
    return pid, read_fd


def _render_forked(task: tuple, timeout: int) -> dict:
    pid, read_fd = _fork_child(task, timeout)
    with os.fdopen(read_fd, "rb") as fh:
        payload = fh.read()
    _, status = os.waitpid(pid, 0)
    return _outcome(payload, status, timeout)


def _outcome(payload: bytes, status: int, timeout: int) -> dict:
    """A child's outcome from what it sent, or why it sent nothing."""
    if payload:
        return json.loads(payload)
    reason = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
              else f"exit status {os.WEXITSTATUS(status)}")
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
        reason = f"timed out after {timeout} s"
    return {"status": "failed", "files": [], "seconds": 0.0,
            "error": f"report process ended without a result ({reason})"}


SKIPPED_IMPORTS = ("rfc3987_syntax",)
"""Modules a zygote goes without. jsonschema imports ``rfc3987_syntax`` (an IRI format checker)
when it is installed, and that module builds a parser from its grammar on import: 2.4-3.3 s of CPU
in every zygote. Notebook validation never checks string formats, so the zygotes go without it
(jsonschema then skips its IRI check). The process that runs the batch keeps its modules as they
are, and does not import papermill at all (it needs only the fork server)."""


def _log_settings() -> tuple[int, bool] | None:
    """How the process that starts the zygotes logs (None: it has not set the kit's logging up)."""
    from .safe import LOGGER

    kit = logging.getLogger(LOGGER)
    if not any(getattr(h, "_progress_kit", False) for h in kit.handlers):
        return None
    return kit.level, logging.getLogger("py.warnings").level <= logging.WARNING


def _zygote_main(*args, log_settings: tuple[int, bool] | None = None) -> None:
    """Where a new zygote process starts: run :func:`_zygote` after leaving out
    :data:`SKIPPED_IMPORTS`. This module imports neither papermill nor nbformat (the in-process
    engine lives in :mod:`~progress_kit.reports.inprocess`), so the skip comes first."""
    # No cyclic garbage collection during the warm-up: it is nearly all imports and first calls,
    # whose objects live as long as the zygote, so each automatic collection walks a growing heap
    # for nothing (0.2-0.5 s of a 2.8 s warm-up). The zygote collects once, freezes what is left
    # and turns collection back on before its first report (_zygote).
    gc.disable()
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # ``import name`` now raises ImportError
    from .safe import log_to_stderr

    # a spawned process starts with no logging set up: log as the batch's process does (masked;
    # with --quiet, no warnings), or else masked warnings and errors as before
    level, warnings = log_settings or (logging.WARNING, True)
    log_to_stderr(level, warnings=warnings)
    _zygote(*args)


_PARENT_CHECK_S = 2.0
"""How often an idle zygote checks that the process that started it still runs (seconds)."""


def _zygote(tasks, results, cache: str | None, timeout: int, prepare: tuple | None = None) -> None:
    """A warm worker: wait for tasks, fork a child for each, pass its outcome on."""
    try:
        _warm_up(cache)
    except BaseException as exc:  # noqa: BLE001
        results.put(("__startup_failed__", f"{type(exc).__name__}: {exc}"))
        return
    if prepare is not None:
        fn, args = prepare
        try:
            fn(*args)  # results shared by every report of the batch (library calls only)
        except Exception as exc:  # noqa: BLE001 (each report then computes them itself, and
            # records any error in its own manifest row; the log says why it had to)
            log.warning("a render worker could not compute the month's shared results (%s: %s); "
                        "each report computes them itself", type(exc).__name__, exc)
    # Everything the warm-up made lives as long as the zygote: move it out of the garbage
    # collector's reach. Otherwise the first full collection in each child walks (and, by
    # touching every object's header, copies) the whole inherited heap: 0.3-0.4 s per report.
    gc.collect()
    gc.freeze()
    gc.enable()  # off during the warm-up (_zygote_main); each report's child collects
    results.put(("__ready__", os.getpid()))
    parent = os.getppid()
    while True:
        try:
            item = tasks.get(timeout=_PARENT_CHECK_S)
        except queue.Empty:
            # a batch killed outright (SIGKILL, the out-of-memory killer) never sends the closing
            # None: without this check its zygotes would wait for work, holding memory, for ever
            if os.getppid() != parent:
                return
            continue
        if item is None:
            return
        key, task = item
        results.put((key, _render_forked(task, timeout)))


class ForkServer:
    """``jobs`` warm zygote processes that render reports, one forked child per report.

    Use as a context manager. :meth:`map` takes ``(key, (function, args))`` items, where
    ``function`` is importable (it is pickled by reference, e.g. ``batch._task``) and returns a
    JSON-able outcome dict; it yields ``(key, outcome)`` as tasks finish. ``prepare``, an
    importable ``(function, args)``, runs in each zygote after the warm-up, before any report:
    the batch computes there what all its reports derive from the whole clinic.
    """

    def __init__(self, jobs: int, cache: str | None = None, timeout: int = 600,
                 prepare: tuple | None = None):
        if not fork_available():
            raise RuntimeError("the fork server needs os.fork on Linux; use engine='kernel'")
        ctx = multiprocessing.get_context("spawn")  # zygotes start from a clean interpreter
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._procs = [ctx.Process(target=_zygote_main, name=f"progress-kit-zygote-{i}", daemon=False,
                                   args=(self._tasks, self._results, cache, timeout, prepare),
                                   kwargs={"log_settings": _log_settings()})
                       for i in range(max(1, jobs))]

    def __enter__(self) -> ForkServer:
        for p in self._procs:
            p.start()
        ready = 0
        while ready < len(self._procs):
            kind, value = self._next()
            if kind == "__startup_failed__":
                self.close()
                raise RuntimeError(f"a render worker failed to start: {value}")
            ready += 1
        return self

    def _next(self):
        """The next message from a zygote; a clear error, not a wait for ever, when one died
        without a word (killed by the out-of-memory killer, say): its task would never end."""
        while True:
            try:
                return self._results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in self._procs if p.exitcode is not None]
                if dead:
                    try:  # its last words (a failed start) may have arrived meanwhile
                        return self._results.get(timeout=0.5)
                    except queue.Empty:
                        pass
                    self.close()
                    raise RuntimeError(f"a render worker ended unexpectedly (exit code "
                                       f"{dead[0].exitcode}); reports not yet recorded in the "
                                       f"manifest are rendered by the next run") from None

    def map(self, items: Iterable[tuple[Any, tuple]]) -> Iterator[tuple[Any, dict]]:
        items = list(items)
        for item in items:
            self._tasks.put(item)
        for _ in items:
            yield self._next()

    def close(self) -> None:
        for _ in self._procs:
            self._tasks.put(None)
        for p in self._procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------ the command line's own warm path


_WARMED_HERE = False


def warmed_here() -> bool:
    """True once this process has made itself the zygote of its own reports (:func:`warm_here`):
    its heap then holds the whole rendering stack, and tearing that down object by object at
    exit takes longer than a report (0.8 s of a 12 s batch), which the command line skips
    (:func:`progress_kit.cli.console`)."""
    return _WARMED_HERE


def warm_here(sheets: str | None = None, exporter: Exporter | None = None) -> None:
    """Make this process the zygote of its own reports: the command line's warm path.

    For ``report client``, ``report prep`` and the day's prep sheets: the command itself
    validates the data (or reads its private cache) and computes the whole-clinic results, so
    it prepares what a batch's zygote does, then forks one child per sheet
    (:func:`fork_each`), which runs the notebook in process
    (:class:`~progress_kit.reports.inprocess.InProcessEngine`) on the clinic already loaded
    (:func:`~progress_kit.reports.context.preload`). A Jupyter kernel per report would pay a
    second interpreter's start-up and imports and a second validation of the data (about 5 s
    of an 8 s command). Only the command line does this: its process exists for its reports, so
    no caller's state can reach them (why the batch does not fork from its caller,
    docs/performance.md). Like the zygotes (:func:`_zygote_main`), it leaves out
    the optional IRI grammar import, when nothing has loaded jsonschema yet.

    ``sheets``: ``"prep"`` or ``"client"`` when several sheets of that kind follow: then this
    process also draws that kind's sections once on the built-in demo clinic and builds the
    exporter, the shell and WeasyPrint's fonts (as a zygote does), so that no child pays for
    first calls; for one sheet that would only move the same work from the child to here.
    With an ``exporter`` (the batch's, :class:`Exporter`), the HTML exporter and WeasyPrint are
    warmed up there instead: this process sends it the demo page it drew and builds only the shell.
    """
    global _WARMED_HERE
    _WARMED_HERE = True
    os.environ.setdefault("MPLBACKEND", "Agg")
    if "jsonschema" not in sys.modules:
        for name in SKIPPED_IMPORTS:
            sys.modules.setdefault(name, None)
    from . import notebook  # noqa: F401  (what every report's cells import, loaded once here)
    from .inprocess import register_engine

    register_engine()
    if sheets is not None:
        gc.disable()  # as in a zygote's warm-up (_zygote_main): its objects live on
        try:
            shown = _exercise_pipeline(sheets)  # builds the shell too
            if exporter is None:
                _warm_render(shown)
            else:
                exporter.warm(shown)
        finally:
            gc.enable()


def fork_each(items: Iterable[tuple[Any, tuple]], jobs: int, timeout: int = 600,
              exporter: Exporter | None = None) -> Iterator[tuple[Any, dict]]:
    """Run each ``(key, (function, args))`` in a child forked from this process, ``jobs`` at once.

    The caller has warmed itself (:func:`warm_here`) and computed what its reports share; each
    child gets a copy-on-write view of that, runs ``function(*args)`` (which returns a JSON-able
    outcome dict, as for :class:`ForkServer`), sends the outcome and exits. Yields
    ``(key, outcome)`` as children finish; a child that dies or times out gives a failed
    outcome saying why. The heap is frozen first (``gc.freeze``) so that no child's collector
    walks and copies it.

    With an ``exporter``, each report's child runs only its notebook
    (:func:`~.render.defer_export`), and an outcome that carries ``"export"`` (a report whose
    HTML and PDF are still to make) goes on to the exporter's ``function`` in a child of the
    exporter, and the report's outcome is yielded when that ends, the two joined
    (:func:`_joined`). Both kinds of child count towards ``jobs``; a free slot goes to a waiting
    export first, except near the end (:func:`_export_first`). Should the exporter end, what it
    had not finished is made in children of this process instead.
    """
    if not fork_available():
        raise RuntimeError("forking per report needs os.fork on Linux")
    pending = list(items)
    exports: list[tuple[Any, dict]] = []  # reports whose notebook has run, waiting for a slot
    sent: dict[Any, dict] = {}  # at the exporter: key -> what it was sent
    first: dict[Any, dict] = {}  # the notebook's outcome of each report being exported
    function = exporter.function if exporter is not None else None
    pdf = exporter.pdf if exporter is not None else True  # kept should the exporter end
    # no collection first (0.07 s on the batch's one core): the warm-up's garbage is frozen with
    # the rest, never walked or finalised in a child, and collected here after the last one
    gc.freeze()
    sel = selectors.DefaultSelector()
    children = _Children(sel)
    if exporter is not None:
        sel.register(exporter.fileno(), selectors.EVENT_READ, "exporter")
    try:
        while pending or exports or children or sent:
            while (pending or exports) and len(children) + len(sent) < max(1, jobs):
                limit = timeout
                if exports and _export_first(len(pending), jobs):
                    key, spec = exports.pop(0)
                    # one deadline for the report's two stages, as for one process
                    limit = spec["timeout"] = max(1, int(timeout - first[key]["seconds"]))
                    if exporter is not None and exporter.submit(key, spec):
                        sent[key] = spec
                        continue
                    task, notebooks = (function, (spec,)), False  # made here: no exporter
                    _warm_export_here(pdf)
                else:
                    (key, task), notebooks = pending.pop(0), True
                # with an exporter, a report's child runs only its notebook
                children.start(key, task, limit, notebooks, defer=notebooks and function is not None)
            for ready, _ in sel.select():
                if ready.data == "exporter":
                    done = exporter.receive()
                    if done is None:  # it ended: what it had not finished is made here
                        log.warning("the export process ended; the HTML and PDF of %d "
                                    "report(s) are made without it", len(sent))
                        sel.unregister(ready.fd)
                        exporter = None
                        exports[:0] = list(sent.items())
                        sent.clear()
                        continue
                    for key, outcome in done:
                        sent.pop(key, None)
                        yield key, _joined(first.pop(key), outcome)
                    continue
                ended = children.read(ready.fd)
                if ended is None:
                    continue
                key, outcome = ended
                if key in first:
                    yield key, _joined(first.pop(key), outcome)
                elif function is not None and outcome.get("export"):
                    exports.append((key, outcome.pop("export")))
                    first[key] = outcome
                else:
                    yield key, outcome
    finally:
        if sent and exporter is not None:  # stopped early: no export may write after this
            exporter.kill()
        children.kill()  # only when the caller stopped early
        sel.close()
        gc.unfreeze()


def _export_first(notebooks_waiting: int, jobs: int) -> bool:
    """Whether a free slot goes to a report waiting for its export rather than to a notebook.

    Exports go first, so that reports are finished (and recorded in the manifest) as early as
    possible; but not near the end, when no more notebooks wait than there are slots: a notebook
    is followed by its export, so the last one, started after the exports, would run alone and
    then its export alone, with the other cores idle (in a traced 40-client batch on 2 cores,
    the last 0.6 s; docs/performance.md, round five, sixth session).
    """
    return notebooks_waiting == 0 or notebooks_waiting > jobs


class _Children:
    """The forked report processes a loop waits for (:func:`fork_each`, the exporter's): each
    one's pipe registered in ``sel``, its output gathered until it ends."""

    def __init__(self, sel: selectors.BaseSelector):
        self.sel = sel
        self.running: dict[int, tuple[int, Any, int, list[bytes]]] = {}  # fd -> pid, key, timeout

    def __len__(self) -> int:
        return len(self.running)

    def start(self, key: Any, task: tuple, timeout: int, notebooks: bool = True,
              defer: bool = False) -> None:
        pid, fd = _fork_child(task, timeout, notebooks, defer)
        self.running[fd] = (pid, key, timeout, [])
        self.sel.register(fd, selectors.EVENT_READ)

    def read(self, fd: int) -> tuple[Any, dict] | None:
        """What the child on ``fd`` sent: None while it is still writing; once it has ended, its
        key and outcome (:func:`_outcome`), the child reaped."""
        chunk = os.read(fd, 1 << 16)
        if chunk:
            self.running[fd][3].append(chunk)
            return None
        self.sel.unregister(fd)
        os.close(fd)
        pid, key, timeout, chunks = self.running.pop(fd)
        _, status = os.waitpid(pid, 0)
        return key, _outcome(b"".join(chunks), status, timeout)

    def kill(self) -> None:
        """Kill and reap every child still running, and close their pipes."""
        for fd, (pid, *_) in self.running.items():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            os.close(fd)
        self.running.clear()


def _joined(notebook: dict, export: dict) -> dict:
    """One report's outcome from its notebook's and its export's (the export's status and error;
    no files when it failed, as when one process makes the whole report)."""
    ok = export["status"] == "ok"
    return {"status": export["status"], "files": notebook["files"] + export["files"] if ok else [],
            "seconds": notebook["seconds"] + export["seconds"], "error": export["error"]}


# ------------------------------------------------ the command line batch's export process

_PARENT_ONLY: set[int] = set()
"""The file descriptors of this process's pipes to its :class:`Exporter`, closed in every child
(a report's process must not hold them: the exporter ends when they close)."""


def _close_parent_only() -> None:
    """In a forked child: close the pipes its parent keeps to an exporter."""
    for fd in _PARENT_ONLY:
        try:
            os.close(fd)
        except OSError:
            pass
    _PARENT_ONLY.clear()


class Exporter:
    """A second warm process for the command line's batch and single sheets: it makes every
    report's HTML and PDF.

    A report is a notebook run, then an HTML export through the template and a PDF from that
    HTML. Before any report starts, the process that forks them warms all three up: about
    1.1 s of that, nbconvert's and WeasyPrint's imports, the template and the fonts, ran on
    one core while the other waited (docs/performance.md, round five, fifth session). The
    exporter is forked from the batch's process (or a single sheet's command) right after the
    kit is imported, before any data are read, so it holds no client's data; it warms the HTML
    and PDF side up on the other core while the command validates the data and warms the
    notebooks' side up. Then, for each report whose notebook has run, it forks a child that
    runs ``function(spec)`` (the kit's :func:`~progress_kit.reports.render.export_outcome`:
    read the executed notebook, write the HTML and PDF) and ends: one report, one process, as
    for the notebooks; the child dies with the exporter (:func:`_die_with_parent`).
    :func:`fork_each` decides when; the exporter only forks on request, so ``jobs`` counts its
    children too.

    Messages are pickles, each after its length in 8 bytes: to the exporter ``("warm",
    displays)`` (the demo page the batch drew: warmed on too) and ``("task", key, spec)``; from
    it ``("done", key, outcome)``. It ends when its pipe closes (its running children are then
    killed unless it was closed by :meth:`close`, which waits for them).
    """

    def __init__(self, function: Any, timeout: int = 600, pdf: bool = True):
        self.function = function
        self.timeout = timeout
        self.pdf = pdf  # False: the batch makes no PDF, so WeasyPrint is not warmed up
        self.pid: int | None = None
        self._to = self._from = -1
        self._buffer = b""
        self._submitted = False

    def start(self) -> Exporter:
        """Fork the exporter; it starts warming up at once. Raises ``OSError`` when it cannot
        (no pipe or process left), having closed what it opened."""
        to_r, to_w = os.pipe()
        try:
            from_r, from_w = os.pipe()
        except OSError:
            os.close(to_r)
            os.close(to_w)
            raise
        _bigger_pipe(to_w)  # the warm-up page (~0.2 MB) is written while the exporter is busy
        try:
            pid = os.fork()
        except OSError:
            for fd in (to_r, to_w, from_r, from_w):
                os.close(fd)
            raise
        if pid == 0:
            os.close(to_w)
            os.close(from_r)
            _close_parent_only()
            _exporter_main(self.function, to_r, from_w, self.timeout, self.pdf)  # never returns
        os.close(to_r)
        os.close(from_w)
        self.pid, self._to, self._from = pid, to_w, from_r
        _PARENT_ONLY.update((to_w, from_r))
        return self

    def fileno(self) -> int:
        return self._from

    def _send(self, message: tuple) -> bool:
        if self._to < 0:
            return False
        try:
            _write_message(self._to, message)
            return True
        except OSError:  # it has ended (BrokenPipeError): the caller works without it
            return False

    def warm(self, displays: list) -> bool:
        """Send the exporter a demo page's displays to warm up on (HTML and PDF)."""
        return self._send(("warm", [dict(getattr(o, "data", o)) for o in displays]))

    def submit(self, key: Any, spec: dict) -> bool:
        """Ask for one report's export; False when the exporter has ended."""
        self._submitted = True
        return self._send(("task", key, spec))

    def receive(self) -> list[tuple[Any, dict]] | None:
        """The outcomes that have arrived (after a select on :meth:`fileno`), or None when
        the exporter has ended."""
        chunk = os.read(self._from, 1 << 16)
        if not chunk:
            return None
        self._buffer += chunk
        messages, self._buffer = _split_messages(self._buffer)
        return [(key, outcome) for _, key, outcome in messages]

    def close(self) -> None:
        """End the exporter: it finishes what it runs, then exits. One that was never given a
        report (every report up to date, or the batch refused) is killed at once, rather than
        left to finish a warm-up that nothing needs."""
        if not self._submitted:
            self.kill()
            return
        self._close_pipe(self._from)
        self._send(("quit",))
        self._close_pipe(self._to)
        self._reap()

    def kill(self) -> None:
        """End the exporter now; its children die with it (:func:`_die_with_parent`)."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for fd in (self._from, self._to):
            self._close_pipe(fd)
        self._reap()

    def _close_pipe(self, fd: int) -> None:
        if fd >= 0:
            _PARENT_ONLY.discard(fd)
            os.close(fd)
            if fd == self._to:
                self._to = -1
            else:
                self._from = -1

    def _reap(self) -> None:
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:  # already reaped
                pass
            self.pid = None


_WARMED_EXPORT = False


def _warm_export_here(pdf: bool = True) -> None:
    """When the exporter has gone and this process makes the HTML and PDF itself: warm those up
    here once, so that each report's child does not pay for it again (about 1 s each).
    ``pdf=False``: the batch makes no PDF (the exporter's :attr:`Exporter.pdf`), so WeasyPrint is
    left alone, as the exporter left it."""
    global _WARMED_EXPORT
    if not _WARMED_EXPORT:
        _WARMED_EXPORT = True
        gc.unfreeze()
        try:
            _warm_render(shell=False, pdf=pdf)
        finally:
            gc.freeze()


def start_exporter(formats: tuple[str, ...]) -> Exporter | None:
    """An :class:`Exporter` for reports in ``formats`` (the kit's
    :func:`~progress_kit.reports.render.export_outcome` in each child), or None where it cannot
    run (no ``fork``) or has nothing to make (neither HTML nor PDF), or when no process can be
    forked now (a warning says so, and each report makes its own HTML and PDF)."""
    from .render import export_outcome

    if not fork_available() or not set(formats) & {"html", "pdf"}:
        return None
    try:
        return Exporter(export_outcome, pdf="pdf" in formats).start()
    except OSError as exc:
        log.warning("no export process (%s); each report makes its own HTML and PDF",
                    exc.strerror or type(exc).__name__)
        return None


def _bigger_pipe(fd: int) -> None:
    import fcntl

    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (AttributeError, OSError):  # not Linux, or above the system's limit: writes wait
        pass


def _write_message(fd: int, message: tuple) -> None:
    import pickle

    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _split_messages(buffer: bytes) -> tuple[list[tuple], bytes]:
    """The whole messages at the start of ``buffer``, and what is left of it."""
    import pickle

    messages = []
    while len(buffer) >= 8:
        size = int.from_bytes(buffer[:8], "big")
        if len(buffer) < 8 + size:
            break
        messages.append(pickle.loads(buffer[8:8 + size]))  # noqa: S301 (our own forked process)
        buffer = buffer[8 + size:]
    return messages, buffer


def _exporter_main(function: Any, tasks: int, results: int, timeout: int, pdf: bool = True
                   ) -> None:
    """The exporter's life: warm up, then fork a child per task until its pipe closes."""
    code = 0
    sel = selectors.DefaultSelector()
    children = _Children(sel)
    _PARENT_ONLY.update((tasks, results))  # its children close them: they must not keep them open
    try:
        gc.disable()  # as in a zygote's warm-up: what it builds lives as long as the exporter
        if "jsonschema" not in sys.modules:
            for name in SKIPPED_IMPORTS:
                sys.modules.setdefault(name, None)
        _warm_render(shell=False, pdf=pdf)
        gc.freeze()  # no collection first (0.1 s): frozen garbage is never walked in a child
        gc.enable()
        sel.register(tasks, selectors.EVENT_READ)
        buffer, listening = b"", True
        while listening or children:
            for ready, _ in sel.select():
                if ready.fd != tasks:
                    ended = children.read(ready.fd)
                    if ended is not None:
                        _write_message(results, ("done", *ended))
                    continue
                chunk = os.read(tasks, 1 << 16)
                if not chunk:  # the batch's process has gone without a word: so do its exports
                    return
                messages, buffer = _split_messages(buffer + chunk)
                for message in messages:
                    if message[0] == "quit":
                        listening = False
                        sel.unregister(tasks)
                    elif message[0] == "warm":
                        gc.disable()
                        _warm_render(message[1], shell=False, pdf=pdf)
                        gc.freeze()
                        gc.enable()
                    else:
                        _, key, spec = message
                        children.start(key, (function, (spec,)), spec.get("timeout", timeout),
                                       notebooks=False)
    except KeyboardInterrupt:  # Ctrl-C reached the whole batch, which says so
        code = 1
    except BaseException as exc:  # noqa: BLE001 (the batch makes the rest itself, and says why)
        from .safe import mask_numbers

        log.warning("the export process stopped (%s: %s)", type(exc).__name__,
                    mask_numbers(str(exc)))
        code = 1
    finally:
        children.kill()
        os._exit(code)
