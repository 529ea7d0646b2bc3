"""Render one report: parameters in, files out (executed notebook, HTML, PDF).

papermill executes the packaged notebook in a fresh kernel with the parameters injected as
JSON-native values (papermill writes them as literals; we never format them into code). nbconvert
exports the executed notebook through our ``clinical`` template (no code, no prompts, no stderr,
images embedded, no external links). WeasyPrint prints that HTML to an A4 PDF, with a URL fetcher
that refuses anything but embedded ``data:`` URLs, so rendering never touches the network.
Every file is written privately (mode 0600) to a temporary file created exclusively in the target
folder and renamed into place (:mod:`progress_kit.reports.files`); a notebook that fails is kept
as ``failed/<stem>.ipynb`` beside the reports, where no client's file name can reach it.
"""

from __future__ import annotations

import gc
import json
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ._libs import import_weasyprint
from .files import (
    claim_stems,
    make_folder,
    month_lock,
    private_dir,
    private_file,
    remove_stale,
    remove_tree,
    write_private,
)
from .resources import notebook_path, template_dir
from .safe import parse_month

__all__ = ["render_report", "render_client", "render_prep", "render_share", "render_cohort",
           "RenderResult", "FORMATS", "html_from_notebook", "new_exporter", "pdf_from_html",
           "failure_text", "export_report", "defer_export"]

FORMATS = ("html", "pdf")
KERNEL = "python3"
KERNEL_OPTIONS = {"start_timeout": 180, "iopub_timeout": 60, "raise_on_iopub_timeout": True}
"""How long papermill waits for a Jupyter kernel (the kernel engine; the fork server runs no
kernel). papermill's defaults are 60 s to start, then, after each cell's reply, 4 s for the rest of
the cell's output, *silently dropping it* when that runs out (nbclient logs "Timeout waiting for
IOPub output" and goes on): on a busy machine a report could lose a figure or a section and still
be marked ok. Here a late output is waited for a minute and then fails the report, and a kernel
has three minutes to start."""
FAILED_DIR = "failed"


@dataclass
class RenderResult:
    files: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    export: dict | None = None
    """What :func:`export_report` needs, when the HTML and PDF were left to another process
    (:func:`defer_export`); None when they were made here."""


def _check_params(params: dict) -> dict:
    """Parameters must be JSON-native (str, int, float, bool, None) and survive a round trip."""
    for key, value in params.items():
        if not key.isidentifier():
            raise ValueError(f"parameter name {key!r} is not an identifier")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(f"parameter {key} must be text, a number or None, not "
                             f"{type(value).__name__}; pass dates and paths as strings")
    if json.loads(json.dumps(params)) != params:
        raise ValueError("parameters do not survive a JSON round trip")
    return params


def _offline_fetcher():
    """A WeasyPrint URL fetcher that only resolves embedded ``data:`` URLs and fails otherwise."""
    import_weasyprint()
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint < 66 takes a plain function
        from weasyprint.urls import default_url_fetcher

        def fetch(url: str, *args, **kwargs):
            if url.startswith("data:"):
                return default_url_fetcher(url, *args, **kwargs)
            raise ValueError(f"report refers to an external resource {url[:80]!r}; reports are offline")

        return fetch
    return URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


def new_exporter():
    """A fresh nbconvert ``HTMLExporter`` for the clinical template (compiles the template)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="clinical", extra_template_basedirs=[str(template_dir())],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True,
                            # the notebook is validated once, after the preprocessors, not
                            # after each of the thirteen (6 ms of a report's 30 ms export)
                            optimistic_validation=True)
    # cells tagged notebook-only (the how-to-run notes) are for JupyterLab, not for the report
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"notebook-only"}),
                                   enabled=True)
    return exporter


# One exporter per process and template folder: each new exporter compiles the template's six
# Jinja files again (0.3 s a report). The fork server builds it in the zygote, so every child
# starts with it compiled. An export keeps no state in the exporter that reaches the next one
# (its per-call filters are registered anew each time); the lock keeps threads from sharing it.
_EXPORTERS: dict[str, object] = {}
_EXPORT_LOCK = threading.Lock()


def html_from_notebook(nb, title: str, exporter=None) -> str:
    """The executed notebook as one self-contained HTML page through the clinical template.

    ``exporter``: an exporter from :func:`new_exporter`; by default one kept for the process.
    """
    with _EXPORT_LOCK:
        if exporter is None:
            key = str(template_dir())
            exporter = _EXPORTERS.get(key) or _EXPORTERS.setdefault(key, new_exporter())
        body, _ = exporter.from_notebook_node(nb, resources={"pk_title": title,
                                                             "metadata": {"name": title}})
    return body


def pdf_from_html(html: str, target: Path) -> None:
    from . import _fonts, _weasy
    from ._png import install_passthrough

    install_passthrough()  # the figures' PNG data go into the PDF as they are, not decoded and re-encoded
    _fonts.install()  # font subsets without a C-declaration parse per font (reports/_fonts.py)
    _weasy.install()  # the stylesheet parsed once, fewer measurements (reports/_weasy.py)
    with private_file(target) as fh, _gc_paused():
        try:
            _parsed_html(html, _offline_fetcher()).write_pdf(
                fh, font_config=_fonts.config_for(html))  # fonts measured once per thread
        except BaseException as exc:
            _offline_refusal(exc)
            raise


def _offline_refusal(exc: BaseException) -> None:
    """WeasyPrint (66 and later) stops on a URL the offline fetcher refuses with an exception
    that is not an ``Exception`` (so a batch took it for a crash, without the reason): raise it
    as a ``ValueError`` that says why."""
    from weasyprint import urls

    fatal = getattr(urls, "FatalURLFetchingError", None)
    if fatal is not None and isinstance(exc, fatal):
        raise ValueError(f"the page refers to a resource outside it, and reports are offline "
                         f"(only embedded data: URLs are allowed): {exc}") from exc


# an embedded image's data URL in a src attribute, spelled with characters HTML leaves as they
# are (no character reference, no white space), long enough to be worth moving aside
_DATA_SRC = re.compile(r'(\ssrc=")(data:[A-Za-z0-9+/=;,:._-]{1024,})(")')


def _parsed_html(html: str, url_fetcher):
    """WeasyPrint's ``HTML`` of ``html``, parsed without its images' data.

    WeasyPrint's HTML parser reads every character of the page, and the figures' base64 data
    are most of a report's (150 of 170 kB): each ``src="data:..."`` is parsed as a short
    placeholder and set back on its element in the parsed tree, so WeasyPrint sees the same
    URLs and the PDF is byte for byte the same (tested). A placeholder not found on exactly one
    element's ``src`` (the text was in a comment, a script or a duplicated attribute) makes the
    page parse as it is.
    """
    import_weasyprint()
    from weasyprint import HTML

    token = secrets.token_hex(8)
    urls: dict[str, str] = {}

    def aside(match):
        key = f"pk-{token}-{len(urls)}"
        urls[key] = match[2]
        return match[1] + key + match[3]

    light = _DATA_SRC.sub(aside, html)
    document = None
    if urls:
        document = HTML(string=light, url_fetcher=url_fetcher)
        put = 0
        for element in document.etree_element.iter():
            src = element.get("src")
            if src is not None and src in urls:
                element.set("src", urls[src])
                put += 1
        if put != len(urls):
            document = None
    if document is None:
        document = HTML(string=html, url_fetcher=url_fetcher)
    return document


_GC = {"depth": 0, "enabled": False}
_GC_LOCK = threading.Lock()


@contextmanager
def _gc_paused():
    """Python's cyclic garbage collector off while a PDF is made (on again after, if it was).

    WeasyPrint makes some hundred thousand objects a report, so the collector ran about 40
    times a client report's PDF (6 ms of its 0.19 s); what the document leaves is collected
    after it. Nested and threaded PDFs count: the collector is back on after the last one.
    """
    with _GC_LOCK:
        if _GC["depth"] == 0:
            _GC["enabled"] = gc.isenabled()
            gc.disable()
        _GC["depth"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC["depth"] -= 1
            if _GC["depth"] == 0 and _GC["enabled"]:
                gc.enable()


def _write_text(target: Path, text: str) -> None:
    write_private(target, text)


_ENGINE: str | None = None


def use_engine(name: str | None) -> None:
    """Run notebooks in this process with papermill engine ``name`` (None: a Jupyter kernel).

    The fork server's children set the in-process engine; see :mod:`progress_kit.reports.engine`.
    """
    global _ENGINE
    _ENGINE = name


def _forget_clinics() -> None:
    """In a report's own process (a fork child, whose notebook runs in process): drop the
    references this process holds to whole clinics (the batch's preloaded cache, the
    whole-clinic results every report takes its row from), now that this client's page is
    prepared, so that the notebook's process keeps no other client's rows on purpose."""
    from . import context
    from .sections import common

    context._PRELOADED.clear()
    common._SHARED.clear()


def render_report(kind: str, params: dict, out_dir: str | Path, stem: str, *,
                  formats=FORMATS, title: str = "progress-kit report",
                  timeout: int = 600, notebook: str | Path | None = None,
                  bundle=None) -> RenderResult:
    """Execute the ``kind`` notebook with ``params`` and write ``stem``.ipynb/.html/.pdf.

    Parameters
    ----------
    kind : {"client", "cohort", "prep", "share"}
    params : dict
        Notebook parameters, JSON-native only (paths and dates as strings).
    out_dir : path
        The folder for the files; ``stem`` must be a plain file name (use :func:`safe_name`).
    formats : iterable of {"html", "pdf"}
        The executed notebook is always kept beside them as the audit trail.
    notebook : path, optional
        A notebook of your own instead of the built-in one for ``kind`` (checked by the
        callers: :func:`~progress_kit.reports.steps.check_notebook`).
    bundle : ClientReport, optional
        A client's page as the kit prepared it
        (:func:`~progress_kit.reports.steps.prepare_client`): written privately into this
        render's own work folder (mode 0700, removed afterwards) and passed as the notebook's
        ``bundle`` parameter, so the notebook is given that client's data and nothing else.

    Returns
    -------
    RenderResult
        The files written and the seconds spent executing, on HTML and on PDF.
    """
    import papermill

    formats = tuple(formats)
    bad = set(formats) - set(FORMATS)
    if bad:
        raise ValueError(f"unknown format(s) {sorted(bad)}; choose from {', '.join(FORMATS)}")
    if Path(stem).name != stem or stem in ("", ".", ".."):
        raise ValueError(f"stem {stem!r} must be a plain file name")
    out_dir = make_folder(out_dir)
    params = _check_params(dict(params))
    result = RenderResult()
    ipynb = out_dir / f"{stem}.ipynb"
    failed = out_dir / FAILED_DIR / f"{stem}.ipynb"
    # papermill writes by path, so it writes inside a folder only this user can enter
    work = private_dir(out_dir, "run-")
    tmp = work / "notebook.ipynb"
    t0 = time.perf_counter()
    try:
        if bundle is not None:
            from .steps import write_bundle

            # absolute: the notebook runs in ``out_dir``
            params["bundle"] = str(write_bundle(bundle, make_folder(work / "data")).resolve())
            if _ENGINE is not None:
                _forget_clinics()
        source = notebook_path(kind) if notebook is None else Path(notebook)
        papermill.execute_notebook(str(source), str(tmp), parameters=params,
                                   kernel_name=KERNEL, progress_bar=False, log_output=False,
                                   engine_name=_ENGINE,
                                   # in process, the notebook is written once at the end (or
                                   # with the failed cell marked); saving it before and after
                                   # every cell would only show a kernel's progress (0.1 s)
                                   request_save_on_cell_execute=_ENGINE is None,
                                   execution_timeout=timeout, cwd=str(out_dir),
                                   extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                                   **({} if _ENGINE else KERNEL_OPTIONS))
        os.chmod(tmp, 0o600)
        os.replace(tmp, ipynb)
        if not failed.parent.is_symlink():
            failed.unlink(missing_ok=True)  # this stem's own earlier failure, now superseded
    except BaseException as exc:
        _name_the_cell(exc, source)
        if tmp.exists():  # keep the partly executed notebook: its traceback is the audit trail
            os.chmod(tmp, 0o600)
            os.replace(tmp, make_folder(failed.parent) / failed.name)
        raise
    finally:
        remove_tree(work)
    result.files.append(ipynb)
    result.seconds["execute"] = time.perf_counter() - t0
    if not ("html" in formats or "pdf" in formats):
        return result
    if _DEFER_EXPORT:
        result.export = {"ipynb": str(ipynb), "out_dir": str(out_dir), "stem": stem,
                         "formats": list(formats), "title": title}
        return result
    exported = export_report(ipynb, out_dir, stem, formats=formats, title=title)
    result.files += exported.files
    result.seconds.update(exported.seconds)
    return result


_DEFER_EXPORT = False


def defer_export(on: bool = True) -> None:
    """Leave each report's HTML and PDF to another process (:func:`render_report` then returns
    what :func:`export_report` needs as ``RenderResult.export``). For the command line's batch
    and single sheets, whose exporting process warms up beside the one that runs the notebooks
    (:class:`~progress_kit.reports.engine.Exporter`); set only in a report's own process."""
    global _DEFER_EXPORT
    _DEFER_EXPORT = on


def export_outcome(spec: dict) -> dict:
    """:func:`export_report` of ``spec`` (a ``RenderResult.export`` and the ``keep`` list of
    :func:`failure_text`) as a forked child's outcome dict; never raises. Run in a child of the
    :class:`~progress_kit.reports.engine.Exporter`."""
    t0 = time.perf_counter()
    try:
        res = export_report(spec["ipynb"], spec["out_dir"], spec["stem"],
                            formats=tuple(spec["formats"]), title=spec["title"])
        return {"status": "ok", "files": [str(p) for p in res.files],
                "seconds": time.perf_counter() - t0, "error": ""}
    except Exception as exc:  # noqa: BLE001 (one report's failure must not stop the others)
        return {"status": "failed", "files": [], "seconds": time.perf_counter() - t0,
                "error": failure_text(exc, spec["keep"])}


def export_report(ipynb: str | Path, out_dir: str | Path, stem: str, *, formats=FORMATS,
                  title: str = "progress-kit report") -> RenderResult:
    """Export an executed report notebook as ``stem``.html and/or ``stem``.pdf in ``out_dir``
    (the HTML through the clinical template, the PDF from that HTML), as :func:`render_report`
    does after executing it."""
    import nbformat

    result = RenderResult()
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    html = html_from_notebook(nbformat.read(ipynb, as_version=4), title)
    if "html" in formats:
        _write_text(out_dir / f"{stem}.html", html)
        result.files.append(out_dir / f"{stem}.html")
    result.seconds["html"] = time.perf_counter() - t0
    if "pdf" in formats:
        t0 = time.perf_counter()
        pdf_from_html(html, out_dir / f"{stem}.pdf")
        result.files.append(out_dir / f"{stem}.pdf")
        result.seconds["pdf"] = time.perf_counter() - t0
    return result


def _abs(path) -> str | None:
    return None if path is None else str(Path(path).resolve())


def render_client(data_dir, client_id: str, month: str, out_dir, *, formats=FORMATS,
                  reference_dir=None, data_cache=None, stem: str | None = None,
                  wait: float = 0.0, date_format: str | None = None,
                  notebook: str | Path | None = None) -> RenderResult:
    """Render one client's monthly report into ``out_dir/<stem>.*``.

    Without ``stem``, ``out_dir`` is locked (waiting up to ``wait`` seconds for another writer)
    and the client's stem is taken from the folder's name index
    (:func:`~progress_kit.reports.files.claim_stems`), so a file of another client is never
    overwritten. The batch holds the lock itself and passes the stems it claimed.

    The data are read here (``data_cache`` or ``data_dir``), and the client's page is prepared
    here (:func:`~progress_kit.reports.steps.prepare_client`: that client's rows and status);
    the notebook, the built-in one or ``notebook`` (your own), is given only that.
    """
    _check_client_id(client_id)
    parse_month(month)
    notebook = _own_notebook(notebook, "client")
    bundle = _client_page(data_dir, data_cache, date_format, reference_dir, client_id,
                          month=month, kind="client")
    return _render_for_client("client", client_id, {"client_id": client_id, "month": month},
                              out_dir, stem=stem, suffix="", formats=formats,
                              title=f"Progress report {month}", wait=wait, notebook=notebook,
                              bundle=bundle)


def _own_notebook(notebook, kind: str) -> Path | None:
    """A notebook of the user's, checked (its parameters) before anything renders."""
    if notebook is None:
        return None
    from .steps import check_notebook

    return check_notebook(notebook, kind)


def _client_page(data_dir, data_cache, date_format, reference_dir, client_id: str, **when):
    """One client's page prepared from the validated clinic (in this process, never the notebook's)."""
    from .context import load_clinic
    from .steps import prepare_client

    if date_format is not None and not isinstance(date_format, str):
        raise ValueError(f"date_format must be text such as '%d/%m/%Y', not {date_format!r}")
    clinic = load_clinic(data_dir, data_cache, date_format=date_format)
    reference = load_clinic(reference_dir) if reference_dir else None
    return prepare_client(clinic, client_id, reference=reference, **when)


def _name_the_cell(exc: BaseException, source) -> None:
    """Mark a notebook's failure with the cell it stopped in, numbered as in the notebook's own
    file (papermill counts the parameters cell it injected): ``exc.pk_cell`` (from 1) and
    ``exc.pk_notebook`` (the file's name)."""
    index = getattr(exc, "cell_index", None)
    if index is None:
        return
    try:
        cells = json.loads(Path(source).read_text("utf-8"))["cells"]
        tagged = next(i for i, c in enumerate(cells)
                      if "parameters" in (c.get("metadata", {}).get("tags") or []))
    except (OSError, ValueError, KeyError, StopIteration):
        tagged = len(cells) if "cells" in locals() else index
    exc.pk_cell = index + (0 if index <= tagged else -1) + 1
    exc.pk_notebook = Path(source).name


def failure_text(exc: BaseException, keep=()) -> str:
    """A failed report's error for the manifest and the log: the notebook cell it stopped in
    (the notebook's file name, the cell's number in that file and its first line) and the error, every
    number masked (a message holds no score) except in ``keep`` (IDs, paths)."""
    from .safe import mask_numbers

    keep = [str(k) for k in keep if k]
    name = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc))
    where = ""
    if getattr(exc, "pk_cell", None) is not None:
        # the cell's first line that does something (not a comment, not an import)
        first = next((line.strip() for line in str(getattr(exc, "source", "")).splitlines()
                      if line.strip() and not line.lstrip().startswith(("#", "import ", "from "))),
                     "")
        first = first if len(first) <= 60 else first[:57] + "..."
        where = (f"{exc.pk_notebook} cell {exc.pk_cell}" + (f" ({mask_numbers(first, keep)})"
                                                             if first else "") + ": ")
    return f"{where}{name}: {mask_numbers(value, keep)}"


def _check_client_id(client_id: object) -> None:
    if not isinstance(client_id, str):
        raise ValueError(f"client_id must be text (IDs like 00123 keep their zeros), "
                         f"not {type(client_id).__name__}")


def _render_for_client(kind: str, client_id: str, params: dict, out_dir, *, stem: str | None,
                       suffix: str, formats, title: str, wait: float, notebook=None,
                       bundle=None) -> RenderResult:
    """Render a one-client report as ``stem`` or, without one, as the client's stem from the
    folder's name index plus ``suffix``, holding the folder's lock."""
    more = {"formats": formats, "title": title, "notebook": notebook, "bundle": bundle}
    if stem is not None:
        return render_report(kind, params, out_dir, stem, **more)
    with month_lock(out_dir, wait=wait, what=f"progress-kit report {kind}"):
        remove_stale(out_dir)
        stem = claim_stems(out_dir, [client_id])[client_id]
        return render_report(kind, params, out_dir, stem + suffix, **more)


def render_prep(data_dir, client_id: str, date: str, out_dir, *, formats=FORMATS, reference_dir=None,
                data_cache=None, stem: str | None = None, wait: float = 0.0,
                date_format: str | None = None, notebook: str | Path | None = None) -> RenderResult:
    """Render one client's session-preparation sheet for ``date`` (YYYY-MM-DD) into
    ``out_dir/<client stem>-prep-<date>.*``.

    As in :func:`render_client`, ``out_dir`` is locked and the client's stem comes from the
    folder's name index, so a sheet never overwrites another client's.
    """
    return _render_dated("prep", f"Session preparation {date}", data_dir, client_id, date, out_dir,
                         formats, reference_dir, data_cache, stem, wait, date_format, notebook)


def render_share(data_dir, client_id: str, date: str, out_dir, *, formats=FORMATS,
                 reference_dir=None, data_cache=None, stem: str | None = None, wait: float = 0.0,
                 date_format: str | None = None, notebook: str | Path | None = None) -> RenderResult:
    """Render the client's own one-page summary for ``date`` (YYYY-MM-DD) into
    ``out_dir/<client stem>-share-<date>.*``: the same engine, template, folder lock, name index
    and private file modes as :func:`render_prep`.
    """
    return _render_dated("share", f"Your diary and forms {date}", data_dir, client_id, date,
                         out_dir, formats, reference_dir, data_cache, stem, wait, date_format,
                         notebook)


def _render_dated(kind: str, title: str, data_dir, client_id: str, date: str, out_dir, formats,
                  reference_dir, data_cache, stem, wait, date_format, notebook) -> RenderResult:
    """A client's page as of a day (``prep`` or ``share``) into ``<stem>-<kind>-<date>.*``."""
    from .context import parse_day

    _check_client_id(client_id)
    parse_day(date)
    notebook = _own_notebook(notebook, kind)
    bundle = _client_page(data_dir, data_cache, date_format, reference_dir, client_id, date=date,
                          kind=kind)
    return _render_for_client(kind, client_id, {"client_id": client_id, "date": date}, out_dir,
                              stem=stem, suffix=f"-{kind}-{date}", formats=formats, title=title,
                              wait=wait, notebook=notebook, bundle=bundle)


def _date_format(date_format: str | None) -> dict:
    """The notebook parameter, only when set (a notebook of an older kit has no such parameter)."""
    if date_format is not None and not isinstance(date_format, str):
        raise ValueError(f"date_format must be text such as '%d/%m/%Y', not {date_format!r}")
    return {} if date_format is None else {"date_format": date_format}


def render_cohort(data_dir, month: str, out_dir, *, formats=FORMATS, therapist_id: str | None = None,
                  data_cache=None, stem: str | None = None, wait: float = 0.0,
                  audience: str = "internal", date_format: str | None = None,
                  notebook: str | Path | None = None) -> RenderResult:
    """Render the cohort report for ``month`` into ``out_dir/cohort.*``.

    ``notebook``: a cohort notebook of your own instead of the built-in one (the same
    parameters, engine, template and file names).

    ``audience``: ``"internal"`` (exact counts, clients to review by name) or ``"publication"``
    (NHS Digital suppression and rounding, no client named; printed on the first page). Without
    ``stem``, a publication report is ``published-cohort.*`` (``published-cohort-<therapist>.*``)
    so it never replaces the internal one.

    With ``therapist_id``, the files are ``cohort-<therapist stem>.*``, named through the
    folder's index like client reports. Without ``stem``, ``out_dir`` is locked as in
    :func:`render_client`.
    """
    parse_month(month)
    if therapist_id is not None and not isinstance(therapist_id, str):
        raise ValueError(f"therapist_id must be text, not {type(therapist_id).__name__}")
    if audience not in ("internal", "publication"):
        raise ValueError(f"audience {audience!r}: choose 'internal' or 'publication'")
    notebook = _own_notebook(notebook, "cohort")
    params = {"data_dir": _abs(data_dir), "month": month, "therapist_id": therapist_id,
              "data_cache": _abs(data_cache), "audience": audience, **_date_format(date_format)}
    title = f"Service report {month}"
    more = {"formats": formats, "title": title, "notebook": notebook}
    if stem is not None:
        return render_report("cohort", params, out_dir, stem, **more)
    with month_lock(out_dir, wait=wait, what="progress-kit report cohort"):
        remove_stale(out_dir)
        stem = "cohort" if therapist_id is None else claim_stems(
            out_dir, [therapist_id], kind="therapist", prefix="cohort-")[therapist_id]
        # the therapist's own, unique stem; the published version sits beside the internal one
        stem = stem if audience == "internal" else f"published-{stem}"
        return render_report("cohort", params, out_dir, stem, **more)
