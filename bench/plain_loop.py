"""The plain loop the batch benchmarks compare against, in a fresh interpreter of its own.

``python -m bench.plain_loop DATA_DIR OUT MONTH CLIENT [CLIENT ...]`` renders each client's
report and then the cohort report one after another, the way a user without the kit's batch
would: ``papermill.execute_notebook`` in a fresh Jupyter kernel, then nbconvert's
``HTMLExporter`` (a new one per report, through the clinical template), then
``weasyprint.HTML(...).write_pdf()``. It prints the seconds the loop took (from its first
report, imports excluded) as JSON.

Only public APIs of papermill, nbconvert and WeasyPrint are used, in a process where none of
the kit's rendering shortcuts is installed (its PNG pass-through, its font arrays and its
WeasyPrint work savers: ``reports/_png.py``, ``_fonts.py``, ``_weasy.py``; its way of importing
WeasyPrint, ``_libs.py``), so that what the kit does to its own PDFs does not speed the
baseline up too: the loop checks this at its end.
The kit's code runs where a user's loop would run it too: inside the notebook (the kernel), and
to prepare a client's page (``prepare_client``/``write_bundle``, what a client notebook takes
since issue 25).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def run(data_dir: Path, out: Path, month: str, clients: list[str]) -> float:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from weasyprint import HTML

    from progress_kit.reports.context import load_clinic
    from progress_kit.reports.resources import notebook_path, template_dir
    from progress_kit.reports.steps import prepare_client, write_bundle

    out.mkdir(parents=True, exist_ok=True)
    jobs = [("client", {"client_id": c, "month": month}, c) for c in clients]
    jobs.append(("cohort", {"data_dir": str(data_dir), "month": month}, "cohort"))
    start = time.perf_counter()
    for kind, params, stem in jobs:
        executed = out / f"{stem}.ipynb"
        if kind == "client":  # the data folder validated for each report, as a kernel would
            page = prepare_client(load_clinic(data_dir), stem, month=month)
            params["bundle"] = str(write_bundle(page, out).resolve())
        papermill.execute_notebook(str(notebook_path(kind)), str(executed), parameters=params,
                                   kernel_name="python3", progress_bar=False, cwd=str(out))
        exporter = HTMLExporter(template_name="clinical",
                                extra_template_basedirs=[str(template_dir())],
                                exclude_input=True, exclude_input_prompt=True,
                                exclude_output_prompt=True, embed_images=True)
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"notebook-only"}),
                                       enabled=True)
        html, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4),
                                              resources={"pk_title": "progress-kit report",
                                                         "metadata": {"name": "progress-kit report"}})
        (out / f"{stem}.html").write_text(html, encoding="utf-8")
        HTML(string=html, base_url=str(out)).write_pdf(out / f"{stem}.pdf")
    seconds = time.perf_counter() - start
    _check_plain()
    return seconds


def _check_plain() -> None:
    """None of the kit's rendering shortcuts reached this process."""
    for module, flag in (("progress_kit.reports._weasy", "_INSTALLED"),):
        if getattr(sys.modules.get(module), flag, None):
            raise RuntimeError(f"{module} was installed in the plain loop's process")
    for module in ("progress_kit.reports._png", "progress_kit.reports._fonts",
                   "progress_kit.reports._libs", "progress_kit.reports.render"):
        if module in sys.modules:
            raise RuntimeError(f"the plain loop imported {module}")


if __name__ == "__main__":
    data, target, month_arg, *ids = sys.argv[1:]
    print(json.dumps({"seconds": run(Path(data), Path(target), month_arg, ids)}))
