"""Where the report notebooks and the nbconvert template live: inside the package, one copy.

``progress_kit/notebooks`` holds the built-in report notebooks (and ``teaching/``, the course),
``progress_kit/templates/clinical`` the nbconvert template. They are the only copies: a source
checkout installed with ``pip install -e .`` (``make venv``) edits them in place, and a
pip-installed kit ships them as package data. A service's own report notebooks live wherever
the service keeps them (a checkout's top-level ``notebooks/`` is meant for them) and are passed
with ``--notebook``; ``progress-kit report new`` writes an editable copy of a built-in one.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

__all__ = ["package_dir", "notebook_path", "template_dir", "KINDS", "new_notebook", "PARAMETERS",
           "REQUIRED", "NotebookProblem", "notebook_parameters", "check_notebook"]

KINDS = ("client", "cohort", "prep", "share")
"""The report kinds, each with a built-in notebook."""
_NAMES = {"client": "client_report.ipynb", "cohort": "cohort_report.ipynb",
          "prep": "session_prep.ipynb", "share": "client_share.ipynb"}


def package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def notebook_path(kind: str) -> Path:
    """The built-in notebook for ``kind``: "client", "cohort", "prep" (the session-preparation
    sheet) or "share" (the client's own page).

    Examples
    --------
    >>> notebook_path("prep").name
    'session_prep.ipynb'
    """
    if kind not in KINDS:
        raise ValueError(f"report kind must be 'client', 'cohort', 'prep' or 'share', not {kind!r}")
    return package_dir() / "notebooks" / _NAMES[kind]


def template_dir() -> Path:
    """The folder that holds the ``clinical`` nbconvert template (pass as extra base dir)."""
    return package_dir() / "templates"


def new_notebook(kind: str, dest: str | Path) -> Path:
    """Write an editable copy of the built-in ``kind`` notebook to ``dest`` (``.ipynb``).

    The copy renders, unchanged, the same report as the built-in one; each of its cells is one
    step (:mod:`progress_kit.reports.steps`). ``dest`` is created exclusively: an existing file
    (or link) is never overwritten. The notebook's metadata records which built-in report and
    kit version it was copied from.

    Raises
    ------
    FileExistsError
        ``dest`` exists.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = new_notebook("client", Path(tmp) / "mine.ipynb")
    ...     notebook_parameters(path)
    ['client_id', 'month', 'bundle']
    """
    from .. import __version__

    source = notebook_path(kind)
    dest = Path(dest)
    if dest.suffix != ".ipynb":
        raise ValueError(f"{dest}: a notebook's name ends in .ipynb")
    nb = json.loads(source.read_text("utf-8"))
    nb["metadata"]["progress_kit"] = {"kind": kind, "copied_from": f"{source.name}, progress-kit "
                                                                    f"{__version__}"}
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(dest, flags, 0o666)  # the user's umask applies: it holds code, no client data
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return dest


PARAMETERS = {
    "client": ("client_id", "month", "bundle"),
    "prep": ("client_id", "date", "bundle"),
    "share": ("client_id", "date", "bundle"),
    "cohort": ("data_dir", "month", "therapist_id", "group", "audience", "data_cache", "date_format"),
}
"""The parameters the kit sets in each kind of report notebook (its ``parameters`` cell may
name only these). A client's page gets ``bundle``, the kit's prepared file of that client's
data, never a data folder; the cohort report gets the data folder (or the batch's cache)."""
REQUIRED = {"client": ("client_id",), "prep": ("client_id",), "share": ("client_id",), "cohort": ()}
"""Parameters a notebook of each kind must have in its ``parameters`` cell."""


class NotebookProblem(ValueError):
    """A report notebook the kit refuses before rendering anything (its file and the reason)."""


def notebook_parameters(path: str | Path) -> list[str]:
    """The names assigned in a notebook's cell tagged ``parameters``, in order.

    Raises
    ------
    NotebookProblem
        The file is not a readable notebook, has no (or more than one) ``parameters`` cell, or
        that cell is not plain Python assignments.

    Examples
    --------
    >>> notebook_parameters(notebook_path("client"))
    ['client_id', 'month', 'bundle']
    """
    path = Path(path)
    try:
        nb = json.loads(path.read_text("utf-8"))
        cells = nb["cells"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a Jupyter notebook (.ipynb JSON)"
        raise NotebookProblem(f"{path}: {reason}") from None
    tagged = [i for i, c in enumerate(cells)
              if "parameters" in (c.get("metadata", {}).get("tags") or [])]
    if not tagged:
        raise NotebookProblem(f"{path}: no cell is tagged 'parameters'; tag the cell that sets "
                              f"client_id, month ... (in JupyterLab: the cell's property "
                              f"inspector, Common Tools, Cell Tags)")
    if len(tagged) > 1:
        raise NotebookProblem(f"{path}: {len(tagged)} cells are tagged 'parameters' (cells "
                              f"{', '.join(str(i + 1) for i in tagged)}); keep one")
    source = cells[tagged[0]].get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookProblem(f"{path}: the parameters cell (cell {tagged[0] + 1}) is not valid "
                              f"Python: line {exc.lineno}: {exc.msg}") from None
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else None
        if targets is None or not all(isinstance(t, ast.Name) for t in targets):
            raise NotebookProblem(f"{path}: the parameters cell (cell {tagged[0] + 1}) may hold only "
                                  f"assignments such as month = \"2026-10\" (line {node.lineno})")
        names += [t.id for t in targets if t.id not in names]
    return names


def check_notebook(path: str | Path, kind: str) -> Path:
    """Refuse a report notebook whose parameters the kit cannot set, before anything renders.

    The notebook needs exactly one cell tagged ``parameters``; it may name only the parameters
    of its kind (:data:`PARAMETERS`) and must name the required ones (:data:`REQUIRED`:
    ``client_id`` for client, prep and share notebooks).

    Returns
    -------
    Path
        The notebook's absolute path.

    Raises
    ------
    NotebookProblem
        Naming the file and the parameter.

    Examples
    --------
    >>> check_notebook(notebook_path("prep"), "prep").name
    'session_prep.ipynb'
    >>> check_notebook(notebook_path("cohort"), "client")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    progress_kit.reports.resources.NotebookProblem: ...cohort_report.ipynb: the parameters cell names ...
    """
    if kind not in PARAMETERS:
        raise ValueError(f"report kind must be one of {', '.join(PARAMETERS)}, not {kind!r}")
    path = Path(path).resolve()
    if not path.is_file():
        raise NotebookProblem(f"{path}: no such notebook file")
    names = notebook_parameters(path)
    unknown = [n for n in names if n not in PARAMETERS[kind]]
    if unknown:
        raise NotebookProblem(f"{path}: the parameters cell names {', '.join(unknown)}, which a "
                              f"{kind} notebook is not given (its parameters: "
                              f"{', '.join(PARAMETERS[kind])})")
    missing = [n for n in REQUIRED[kind] if n not in names]
    if missing:
        raise NotebookProblem(f"{path}: the parameters cell lacks {', '.join(missing)}; a {kind} "
                              f"notebook must set it (e.g. {missing[0]} = None)")
    return path
