"""Render one report: parameters in, files out (executed notebook, HTML, PDF).

papermill executes the packaged notebook in a fresh kernel with the parameters injected as
JSON-native values (papermill writes them as literals; we never format them into code). nbconvert
exports the executed notebook through our ``clinical`` template (no code, no prompts, no stderr,
images embedded, no external links). WeasyPrint prints that HTML to an A4 PDF, with a URL fetcher
that refuses anything but embedded ``data:`` URLs, so rendering never touches the network.
Every file is written to a temporary name in the target folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .resources import notebook_path, template_dir
from .safe import parse_month, safe_name

__all__ = ["render_report", "render_client", "render_prep", "render_cohort", "RenderResult", "FORMATS",
           "html_from_notebook", "pdf_from_html"]

FORMATS = ("html", "pdf")
KERNEL = "python3"


@dataclass
class RenderResult:
    files: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


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


def html_from_notebook(nb, title: str) -> str:
    """The executed notebook as one self-contained HTML page through the clinical template."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="clinical", extra_template_basedirs=[str(template_dir())],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    # cells tagged notebook-only (the how-to-run notes) are for JupyterLab, not for the report
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"notebook-only"}),
                                   enabled=True)
    body, _ = exporter.from_notebook_node(nb, resources={"pk_title": title,
                                                         "metadata": {"name": title}})
    return body


def pdf_from_html(html: str, target: Path) -> None:
    from weasyprint import HTML

    tmp = _tmp(target)
    try:
        HTML(string=html, url_fetcher=_offline_fetcher()).write_pdf(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text(target: Path, text: str) -> None:
    tmp = _tmp(target)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


_ENGINE: str | None = None


def use_engine(name: str | None) -> None:
    """Run notebooks in this process with papermill engine ``name`` (None: a Jupyter kernel).

    The fork server's children set the in-process engine; see :mod:`progress_kit.reports.engine`.
    """
    global _ENGINE
    _ENGINE = name


def render_report(kind: str, params: dict, out_dir: str | Path, stem: str, *,
                  formats=FORMATS, title: str = "progress-kit report",
                  timeout: int = 600) -> RenderResult:
    """Execute the ``kind`` notebook with ``params`` and write ``stem``.ipynb/.html/.pdf.

    Parameters
    ----------
    kind : {"client", "cohort"}
    params : dict
        Notebook parameters, JSON-native only (paths and dates as strings).
    out_dir : path
        The folder for the files; ``stem`` must be a plain file name (use :func:`safe_name`).
    formats : iterable of {"html", "pdf"}
        The executed notebook is always kept beside them as the audit trail.

    Returns
    -------
    RenderResult
        The files written and the seconds spent executing, on HTML and on PDF.
    """
    import nbformat
    import papermill

    formats = tuple(formats)
    bad = set(formats) - set(FORMATS)
    if bad:
        raise ValueError(f"unknown format(s) {sorted(bad)}; choose from {', '.join(FORMATS)}")
    if Path(stem).name != stem or stem in ("", ".", ".."):
        raise ValueError(f"stem {stem!r} must be a plain file name")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = _check_params(dict(params))
    result = RenderResult()
    ipynb = out_dir / f"{stem}.ipynb"
    tmp = _tmp(ipynb)
    t0 = time.perf_counter()
    failed = out_dir / f"{stem}.failed.ipynb"
    try:
        papermill.execute_notebook(str(notebook_path(kind)), str(tmp), parameters=params,
                                   kernel_name=KERNEL, progress_bar=False, log_output=False,
                                   engine_name=_ENGINE,
                                   execution_timeout=timeout, cwd=str(out_dir),
                                   extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        os.replace(tmp, ipynb)
        failed.unlink(missing_ok=True)
    except BaseException:
        if tmp.exists():  # keep the partly executed notebook: its traceback is the audit trail
            os.replace(tmp, failed)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    result.files.append(ipynb)
    result.seconds["execute"] = time.perf_counter() - t0
    if "html" in formats or "pdf" in formats:
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
                  reference_dir=None, data_cache=None, stem: str | None = None) -> RenderResult:
    """Render one client's monthly report into ``out_dir/<safe client id>.*``."""
    if not isinstance(client_id, str):
        raise ValueError(f"client_id must be text (IDs like 00123 keep their zeros), "
                         f"not {type(client_id).__name__}")
    parse_month(month)
    params = {"data_dir": _abs(data_dir), "client_id": client_id, "month": month,
              "reference_dir": _abs(reference_dir), "data_cache": _abs(data_cache)}
    return render_report("client", params, out_dir, stem or safe_name(client_id), formats=formats,
                         title=f"Progress report {month}")


def render_prep(data_dir, client_id: str, date: str, out_dir, *, formats=FORMATS, reference_dir=None,
                data_cache=None, stem: str | None = None) -> RenderResult:
    """Render one client's session-preparation sheet for ``date`` (YYYY-MM-DD) into
    ``out_dir/<safe client id>-prep-<date>.*``."""
    from .context import parse_day

    if not isinstance(client_id, str):
        raise ValueError(f"client_id must be text (IDs like 00123 keep their zeros), "
                         f"not {type(client_id).__name__}")
    parse_day(date)
    params = {"data_dir": _abs(data_dir), "client_id": client_id, "date": date,
              "reference_dir": _abs(reference_dir), "data_cache": _abs(data_cache)}
    return render_report("prep", params, out_dir, stem or f"{safe_name(client_id)}-prep-{date}",
                         formats=formats, title=f"Session preparation {date}")


def render_cohort(data_dir, month: str, out_dir, *, formats=FORMATS, therapist_id: str | None = None,
                  data_cache=None, stem: str = "cohort") -> RenderResult:
    """Render the cohort report for ``month`` into ``out_dir/cohort.*``."""
    parse_month(month)
    params = {"data_dir": _abs(data_dir), "month": month, "therapist_id": therapist_id,
              "data_cache": _abs(data_cache)}
    return render_report("cohort", params, out_dir, stem, formats=formats,
                         title=f"Service report {month}")
