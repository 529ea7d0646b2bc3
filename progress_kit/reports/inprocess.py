"""The in-process papermill engine the fork server's report processes run notebooks with.

Kept apart from :mod:`progress_kit.reports.engine` because it imports papermill (and with it
nbformat and jsonschema, about 1.2 s): the zygotes and their children need it, the process that
runs the batch does not.
"""

from __future__ import annotations

import traceback

from papermill.engines import Engine

__all__ = ["InProcessEngine", "register_engine", "new_shell", "ENGINE_NAME"]

ENGINE_NAME = "progress-kit-inprocess"


def new_shell():
    """The process's IPython shell (a singleton), set so that last-expression results are
    captured, not printed. The fork server builds it in the zygote: each report's process
    then runs its cells in its own copy, which no report has used."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell

    class _SilentHook(DisplayHook):
        """Records the last expression's value (and honours a trailing ';') but prints nothing:
        the engine turns ``result.result`` into an ``execute_result`` output itself."""

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            pass

    shell = InteractiveShell.instance()
    shell.displayhook = _SilentHook(shell=shell)
    shell.display_trap.hook = shell.displayhook  # run_cell installs the trap's hook, not ours
    shell.run_line_magic("colors", "nocolor")
    return shell


def new_output(output_type: str, **fields):
    """An nbformat v4 output, as ``nbformat.v4.new_output`` builds it, without validating it on
    its own: that validation goes through ``jsonschema`` by reference (fastjsonschema cannot),
    1-2 ms per output, 20-40 ms per report. Papermill validates the whole notebook when it
    writes it, so an invalid output still fails there."""
    from nbformat import NotebookNode, from_dict

    if "data" in fields:
        fields["data"] = from_dict(fields["data"])
    if "metadata" in fields:
        fields["metadata"] = from_dict(fields["metadata"])
    return NotebookNode(output_type=output_type, **fields)


def _run_cell(shell, source: str) -> tuple[list[dict], BaseException | None]:
    """Run one cell; return its nbformat outputs and the exception it raised, if any."""
    from IPython.utils.capture import capture_output

    with capture_output(display=True) as cap:
        result = shell.run_cell(source, store_history=False, silent=False)
    outputs = []
    if cap.stdout:
        outputs.append(new_output("stream", name="stdout", text=cap.stdout))
    if cap.stderr:
        outputs.append(new_output("stream", name="stderr", text=cap.stderr))
    for rich in cap.outputs:
        outputs.append(new_output("display_data", data=rich.data, metadata=rich.metadata or {}))
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        tb = traceback.format_exception(type(error), error, error.__traceback__)
        outputs.append(new_output("error", ename=type(error).__name__, evalue=str(error),
                                  traceback=tb))
    elif result.result is not None:
        data, metadata = shell.display_formatter.format(result.result)
        outputs.append(new_output("execute_result", data=data, metadata=metadata,
                                  execution_count=None))
    return outputs, error


class InProcessEngine(Engine):
    """A papermill engine that runs the cells in this process, in a fresh IPython shell.

    Meant for a process that exists for one notebook only (the fork server's children): the
    shell's namespace, like everything else in the process, ends with it. Outputs are the same
    nbformat outputs a kernel produces (streams, display data, execute results, errors), and
    execution stops at the first failing cell, as with nbclient; papermill then raises
    ``PapermillExecutionError``.
    """

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        import matplotlib

        matplotlib.use("Agg")  # figures are embedded as PNG; never a GUI in a worker
        shell = new_shell()
        for index, cell in enumerate(nb_man.nb.cells):
            nb_man.cell_start(cell, index)
            if cell.cell_type == "code":
                cell.outputs, error = _run_cell(shell, cell.source)
                if error is not None:
                    nb_man.cell_exception(cell, cell_index=index, exception=error)
                    nb_man.cell_complete(cell, cell_index=index)
                    break
            nb_man.cell_complete(cell, cell_index=index)


def register_engine() -> None:
    """Make :class:`InProcessEngine` known to papermill under :data:`ENGINE_NAME`."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, InProcessEngine)
