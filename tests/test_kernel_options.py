"""A Jupyter kernel on a busy machine (issue 24, item 18).

Under load, a kernel's output can reach papermill after the cell's reply. papermill then waited 4 s
(nbclient's ``iopub_timeout``), logged "Timeout waiting for IOPub output" and went on without the
rest of the cell's output: the report lost figures or sections and was still marked ok, so
test_every_engine_renders_the_same_reports[kernel] found different bytes. Kernels now get a
minute for late output, and a report fails rather than come out incomplete."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from progress_kit.reports import render


def _notebook(path):
    cells = [new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    cells += [new_code_cell("for i in range(300):\n    print('line', i)") for _ in range(6)]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return str(path)


def test_render_hands_the_kernel_options_to_papermill(tmp_path, monkeypatch):
    import papermill

    seen = {}

    def execute(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setattr(render, "_ENGINE", None)
    with pytest.raises(RuntimeError, match="stop here"):
        render.render_report("client", {}, tmp_path, "x", formats=())
    assert {k: seen[k] for k in render.KERNEL_OPTIONS} == render.KERNEL_OPTIONS
    assert render.KERNEL_OPTIONS["raise_on_iopub_timeout"] is True
    assert render.KERNEL_OPTIONS["iopub_timeout"] >= 30 and render.KERNEL_OPTIONS["start_timeout"] > 60


@pytest.mark.slow
def test_output_that_arrives_too_late_fails_the_report_instead_of_going_missing(tmp_path):
    """Lateness made certain with no wait at all: with the kit's options the run fails; with
    papermill's own (raise_on_iopub_timeout False) it would be "ok" with cells missing output."""
    import papermill

    options = {**render.KERNEL_OPTIONS, "iopub_timeout": 0}
    with pytest.raises(Exception, match="Timeout waiting for IOPub output"):
        papermill.execute_notebook(_notebook(tmp_path / "late.ipynb"), str(tmp_path / "out.ipynb"),
                                   kernel_name="python3", progress_bar=False, **options)
