"""Teaching helpers for the progress-kit course in ``progress_kit/notebooks/teaching/``.

* :func:`check` compares a student's answer with the expected value and prints a verdict with a
  hint. It never raises for a wrong or missing answer, so a notebook with unanswered exercises
  still runs end to end.
* :func:`checker` gives a notebook its ``check(answer_N)``: the expected value, tolerance and hint
  come from the course key (``course_key.toml`` beside the notebooks), so a handout shows neither
  the answer nor the code that computes it. Instructor keys print both under each verdict.
* :func:`render_course` executes every course notebook with papermill and renders it as a
  student handout (solutions hidden) or an instructor key (solutions shown).
* :func:`add_commands` registers ``progress-kit teach render`` with the CLI.

Notebook conventions (see ``docs/teaching.md``):

* a cell tagged ``parameters`` holds ``show_solutions = False``;
* cells tagged ``solution`` hold worked solutions; they run only when ``show_solutions`` is
  true (their code is guarded by ``if show_solutions:``) and are removed from handouts;
* cells tagged ``hide-input`` (e.g. the set-up of the expected values) keep their output but
  not their code in the rendered pages.
"""

from __future__ import annotations

import argparse
import ast
import logging
import math
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check", "checker", "course_key", "Verdict", "attribution", "render_course", "course_notebooks",
           "course_page_html", "math_svg", "typeset_math", "add_commands", "SOLUTION_TAG", "HIDE_INPUT_TAG"]

log = logging.getLogger("progress_kit.teaching")
EXACT = {"exact": True}  # the command's own lines (paths, counts): not masked
KEY_FILE = "course_key.toml"
SOLUTION_TAG = "solution"
HIDE_INPUT_TAG = "hide-input"
NOT_ANSWERED = "not answered yet"


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`check`: ``ok`` is True (right), False (wrong) or None (not answered).

    ``bool(verdict)`` is true only for a right answer. The message has already been printed, so
    the notebook shows it once (the verdict itself displays nothing).
    """

    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return self.ok is True

    def _ipython_display_(self) -> None:  # the message was printed already
        return None


# --------------------------------------------------------------------------------------------
# comparing answers


def _is_missing(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


def _scalar_diagnosis(a: float, e: float) -> str:
    """A guess at the usual slip behind a wrong number (sign, percent, square root, rounding)."""
    if e == 0 or a == 0 or not (math.isfinite(a) and math.isfinite(e)):
        return ""
    ratio = a / e
    guesses = [(-1.0, "it has the right size but the wrong sign: check the direction "
                      "(post minus pre, and whether lower or higher is better)"),
               (100.0, "it is 100 times too large: give a proportion (0-1), not a percentage"),
               (0.01, "it is 100 times too small: give a percentage, not a proportion"),
               (math.sqrt(2), "it is √2 times too large: check where the 2 goes in the formula"),
               (1 / math.sqrt(2), "it is √2 times too small: a difference of two scores carries "
                                  "the error of both"),
               (2.0, "it is twice too large"), (0.5, "it is half the expected value")]
    for factor, text in guesses:
        if abs(ratio - factor) <= 0.01 * abs(factor):
            return text
    if abs(a - e) <= 0.05 * abs(e):
        return "it is close: did you round an intermediate result, or use n instead of n - 1?"
    if abs(a * a - e) <= 0.01 * abs(e):
        return "it looks like the square root of the expected value: did you forget to square?"
    if e > 0 and abs(math.sqrt(abs(a)) - e) <= 0.01 * e:
        return "it looks like the square of the expected value: did you forget the square root?"
    return ""


def _label(x: Any) -> str:
    """A row label as a reader would write it: 2, not np.int64(2); 'a' keeps its quotes."""
    if isinstance(x, np.generic):
        x = x.item()
    return repr(x) if isinstance(x, str) else str(x)


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    return repr(x)


def _compare(answer: Any, expected: Any, rtol: float, atol: float) -> tuple[bool, str]:
    """Return (right, what is wrong)."""
    if isinstance(expected, (pd.DataFrame, pd.Series)):
        return _compare_pandas(answer, expected, rtol, atol)
    if isinstance(expected, Mapping):
        if not isinstance(answer, Mapping):
            if isinstance(answer, pd.Series):
                answer = answer.to_dict()
            else:
                return False, f"expected a dict with keys {sorted(map(str, expected))}, got " \
                              f"{type(answer).__name__}"
        missing = [k for k in expected if k not in answer]
        if missing:
            return False, f"the answer has no entry for {', '.join(map(repr, missing))}"
        for key in expected:
            ok, why = _compare(answer[key], expected[key], rtol, atol)
            if not ok:
                return False, f"{key!r}: {why}"
        return True, ""
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return False, f"expected text such as {expected!r}, got {type(answer).__name__}"
        if answer.strip().lower() == expected.strip().lower():
            return True, ""
        return False, f"{answer!r} is not the expected answer"
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(answer, (bool, np.bool_)):
            return (bool(answer) == bool(expected)), "" if bool(answer) == bool(expected) else \
                f"{bool(answer)} is not right"
        return False, f"expected True or False, got {type(answer).__name__}"
    if np.ndim(expected) > 0 or isinstance(expected, (list, tuple, np.ndarray)):
        return _compare_array(answer, expected, rtol, atol)
    return _compare_number(answer, expected, rtol, atol)


def _compare_number(answer: Any, expected: Any, rtol: float, atol: float) -> tuple[bool, str]:
    if isinstance(answer, (pd.DataFrame, pd.Series, np.ndarray, list, tuple)) and np.size(answer) == 1:
        answer = np.asarray(answer).ravel()[0]
    try:
        a, e = float(answer), float(expected)
    except (TypeError, ValueError):
        return False, f"expected a number, got {type(answer).__name__} {answer!r}"
    if math.isnan(e):
        return (math.isnan(a), "" if math.isnan(a) else "expected NaN (no value)")
    if math.isclose(a, e, rel_tol=rtol, abs_tol=atol):
        return True, ""
    why = f"{_fmt(a)} is not within the tolerance of the expected value"
    diagnosis = _scalar_diagnosis(a, e)
    return False, why + (f"; {diagnosis}" if diagnosis else "")


def _compare_array(answer: Any, expected: Any, rtol: float, atol: float) -> tuple[bool, str]:
    e = np.asarray(expected)
    try:
        a = np.asarray(answer)
    except Exception:  # noqa: BLE001 - any odd object is just a wrong answer
        return False, f"expected an array, got {type(answer).__name__}"
    if a.shape != e.shape:
        return False, f"expected shape {e.shape} ({e.size} values), the answer has shape {a.shape}"
    if e.dtype.kind in "fciub" and a.dtype.kind in "fciub":
        close = np.isclose(a.astype(float), e.astype(float), rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = a.astype(str) == e.astype(str)
    if close.all():
        return True, ""
    bad = np.argwhere(~close)
    first = tuple(int(i) for i in bad[0]) if e.ndim > 1 else int(bad[0][0])
    return False, (f"{len(bad)} of {e.size} values differ; the first at position {first}: "
                   f"{_fmt(a[first])} instead of the expected value")


def _compare_pandas(answer: Any, expected: pd.DataFrame | pd.Series, rtol: float,
                    atol: float) -> tuple[bool, str]:
    kind = type(expected).__name__
    if isinstance(expected, pd.Series) and isinstance(answer, Mapping):
        answer = pd.Series(answer)
    if not isinstance(answer, type(expected)):
        if isinstance(answer, (np.ndarray, list, tuple)):
            return _compare_array(answer, expected.to_numpy(), rtol, atol)
        return False, f"expected a {kind}, got {type(answer).__name__}"
    if isinstance(expected, pd.DataFrame):
        missing = [c for c in expected.columns if c not in answer.columns]
        if missing:
            return False, f"the table has no column {', '.join(map(repr, missing))}"
        answer = answer[list(expected.columns)]
    if len(answer) != len(expected):
        return False, f"expected {len(expected)} rows, the answer has {len(answer)}"
    if not answer.index.equals(expected.index):
        if set(answer.index) == set(expected.index):
            answer = answer.loc[expected.index]
        else:
            extra = [_label(i) for i in answer.index if i not in set(expected.index)][:3]
            return False, (f"the rows are labelled differently (e.g. {', '.join(extra)}) from the "
                           "expected ones")
    columns = expected.columns if isinstance(expected, pd.DataFrame) else [None]
    for col in columns:
        a = answer[col] if col is not None else answer
        e = expected[col] if col is not None else expected
        numeric = pd.api.types.is_numeric_dtype(e) and pd.api.types.is_numeric_dtype(a)
        if numeric:
            close = np.isclose(a.to_numpy(dtype=float), e.to_numpy(dtype=float), rtol=rtol,
                               atol=atol, equal_nan=True)
        else:
            close = a.astype(str).to_numpy() == e.astype(str).to_numpy()
        if not close.all():
            i = int(np.flatnonzero(~close)[0])
            where = f"column {col!r}, " if col is not None else ""
            return False, (f"{int((~close).sum())} of {len(e)} values differ; the first in "
                           f"{where}row {_label(e.index[i])}: {_fmt(a.iloc[i])}")
    return True, ""


def check(answer: Any, expected: Any, *, hint: str = "", name: str = "answer",
          rtol: float = 1e-3, atol: float = 1e-9, tol: float | None = None,
          quiet: bool = False) -> Verdict:
    """Check an exercise answer against the expected value and print a helpful verdict.

    Parameters
    ----------
    answer : object
        The student's answer. ``None`` (or ``...``) means "not answered yet": a friendly note
        and the hint are printed and nothing is raised, so an unanswered notebook still runs.
    expected : number, str, bool, array-like, dict, Series or DataFrame
        The right answer, computed in the notebook from the data or taken from a published
        figure (never pasted from the kit's own output).
    hint : str
        Printed when the answer is missing or wrong.
    name : str
        How to call the answer in the message, e.g. ``"answer_1"``.
    rtol, atol : float
        Relative and absolute tolerance for numbers (``math.isclose``/``numpy.isclose``
        semantics). The default relative tolerance, 0.1 %, forgives rounding in the fourth
        significant digit.
    tol : float, optional
        Shorthand for an absolute tolerance (sets ``atol`` and ``rtol = 0``), e.g. ``tol=0.01``
        for "correct to two decimals", ``tol=0`` for exact counts.
    quiet : bool
        Do not print (the message is still in the returned verdict).

    Returns
    -------
    Verdict
        ``ok`` True, False or None (not answered) and the printed ``message``.

    Notes
    -----
    Numbers compare with the tolerance; text ignores case and surrounding spaces; arrays must
    have the expected shape; a Series or DataFrame must have the expected columns and row
    labels (rows are aligned by label, extra columns are ignored). A wrong number gets a
    diagnosis of the usual slips when one fits (wrong sign, percent against proportion, a
    factor of √2 or 2, rounding too early).

    Examples
    --------
    >>> check(3.1623, np.sqrt(10), name="S_diff", tol=0.001).ok
    ✓ S_diff: correct.
    True
    >>> check(None, 4.0, hint="SE = SD·√(1 − r)").ok is None
    … answer: not answered yet. Hint: SE = SD·√(1 − r)
    True
    >>> v = check(-4.0, 4.0, hint="post minus pre")  # doctest: +ELLIPSIS
    ✗ answer: not quite. -4 is not within ...; it has the right size but the wrong sign: ...
    """
    if tol is not None:
        if tol < 0:
            raise ValueError(f"tol must be 0 or more, not {tol!r}")
        atol, rtol = float(tol), 0.0
    hint_text = f" Hint: {hint}" if hint else ""
    if _is_missing(answer):
        verdict = Verdict(None, f"… {name}: {NOT_ANSWERED}.{hint_text}")
    else:
        ok, why = _compare(answer, expected, rtol, atol)
        if ok:
            verdict = Verdict(True, f"✓ {name}: correct.")
        else:
            verdict = Verdict(False, f"✗ {name}: not quite. {why}.{hint_text}")
    if not quiet:
        print(verdict.message)
    return verdict


# --------------------------------------------------------------------------------------------
# the course key: check(answer_N) without the answer in the handout


def course_key(path: str | Path | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """The answer key of the course: ``{notebook: {answer_N: entry}}`` from ``course_key.toml``.

    Without ``path``, the key in the working folder (where a notebook runs) is used when there
    is one, else the course's own (``progress_kit/notebooks/teaching``).
    """
    import tomllib

    if path is None:
        local = Path.cwd() / KEY_FILE
        path = local if local.is_file() else _default_notebook_dir() / KEY_FILE
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            key = tomllib.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"no course key at {path}: the course notebooks need "
                                f"{KEY_FILE} beside them") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    for notebook, entries in key.items():
        for name, entry in entries.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("expected"), str):
                raise ValueError(f"{path}: [{notebook}.{name}] needs expected = \"code\"")
            unknown = set(entry) - {"expected", "tol", "rtol", "atol", "hint", "source"}
            if unknown:
                raise ValueError(f"{path}: [{notebook}.{name}] has unknown field(s) "
                                 f"{', '.join(sorted(unknown))}")
    return key


def _evaluate(code: str, namespace: Mapping[str, Any]) -> Any:
    """Run ``code`` in a copy of ``namespace``; the value of its last line is the result.

    A copy, so that the key's own names (e.g. an intermediate table) never appear in the
    student's notebook.
    """
    tree = ast.parse(code.strip(), filename="<course key>", mode="exec")
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("the key's code must end with an expression (the expected value)")
    scope = dict(namespace)
    exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), "<course key>", "exec"), scope)  # noqa: S102
    return eval(compile(ast.Expression(tree.body[-1].value), "<course key>", "eval"), scope)  # noqa: S307


def _argument_name(frame: Any) -> str | None:
    """The variable written as ``check``'s first argument in the calling cell (``answer_2``)."""
    try:
        import executing  # ships with IPython, which reads cells the same way for tracebacks

        node = executing.Source.executing(frame).node
    except Exception:  # noqa: BLE001 - no source to read: the caller passes name=
        return None
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
        return node.args[0].id
    return None


def checker(notebook: str, *, key: str | Path | Mapping | None = None):
    """``check(answer_N)`` for one course notebook, with the expected value from the course key.

    Parameters
    ----------
    notebook : str
        The notebook's name in the key, its file name without ``.ipynb``.
    key : path or mapping, optional
        The key (default :func:`course_key`).

    Returns
    -------
    callable
        ``check(answer, *, name=None, quiet=False) -> Verdict``. The name is read from the call
        (``check(answer_2)`` checks against ``answer_2`` of the key). The key's code runs in a
        copy of the notebook's variables, so it can use the data the notebook loaded. When the
        notebook's ``show_solutions`` is true (an instructor key), the verdict is followed by the
        key's code, its value and its source.

    Examples
    --------
    >>> key = {"demo": {"answer_1": {"expected": "values.mean()", "tol": 0.01, "hint": "a mean"}}}
    >>> check = checker("demo", key=key)
    >>> values = np.array([1.0, 2.0, 4.0])
    >>> answer_1 = 7 / 3
    >>> check(answer_1).ok
    ✓ answer_1: correct.
    True
    >>> check(None, name="answer_1").ok is None
    … answer_1: not answered yet. Hint: a mean
    True
    """
    entries_all = course_key(key) if key is None or isinstance(key, (str, Path)) else key
    if notebook not in entries_all:
        raise ValueError(f"the course key has no notebook {notebook!r}; it has "
                         f"{', '.join(entries_all) or 'none'}")
    entries = entries_all[notebook]

    def check_answer(answer: Any, *, name: str | None = None, quiet: bool = False) -> Verdict:
        frame = sys._getframe(1)
        name = name or _argument_name(frame)
        if name is None:
            raise ValueError("check() could not read which answer this is; write it as "
                             "check(answer_N) or pass name='answer_N'")
        if name not in entries:
            raise ValueError(f"the course key has no {name!r} for {notebook}; it has "
                             f"{', '.join(entries)}")
        entry = entries[name]
        hint = entry.get("hint", "")
        tol = {k: entry[k] for k in ("tol", "rtol", "atol") if k in entry}
        namespace = frame.f_globals
        try:
            expected = _evaluate(entry["expected"], namespace)
        except Exception as exc:  # noqa: BLE001 - a cell above has not run yet
            if _is_missing(answer):
                return check(answer, None, name=name, hint=hint, quiet=quiet)
            verdict = Verdict(None, f"… {name}: cannot check yet: run the cells above first "
                                    f"({type(exc).__name__}: {exc}).")
            if not quiet:
                print(verdict.message)
            return verdict
        verdict = check(answer, expected, name=name, hint=hint, quiet=quiet, **tol)
        if namespace.get("show_solutions") is True and not quiet:
            # instructor keys show everything: the key's code, its value and its source
            source = f" ({entry['source']})" if entry.get("source") else ""
            tolerance = ", ".join(f"{k} {v:g}" for k, v in tol.items()) or "rtol 0.001"
            print(f"   key{source}, {tolerance}:")
            print("\n".join("   | " + line for line in entry["expected"].strip().splitlines()))
            print(f"   = {_fmt_expected(expected)}")
        return verdict

    check_answer.__doc__ = f"Check answer_N of {notebook} against the course key."
    return check_answer


def _fmt_expected(x: Any) -> str:
    if isinstance(x, (pd.DataFrame, pd.Series)):
        return "\n     ".join(x.to_string().splitlines())
    return _fmt(x) if not isinstance(x, np.generic) else _fmt(x.item())


# --------------------------------------------------------------------------------------------
# attribution of the bundled datasets


def attribution(name: str) -> str:
    """The attribution line of a bundled dataset, from ``progress_kit/datasets/README.md``.

    Examples
    --------
    >>> print(attribution("bland1995"))
    bland1995.csv: 8 subjects, repeated pH and PaCO2. Source: Bland & Altman (1995), BMJ 310:446, Table I
    """
    from importlib import resources

    text = resources.files("progress_kit.datasets").joinpath("README.md").read_text("utf-8")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and f"`{name}.csv`" in cells[0]:
            return f"{name}.csv: {cells[1]}. Source: {cells[2]}".replace("`", "")
    raise ValueError(f"no attribution for dataset {name!r} in progress_kit/datasets/README.md")


# --------------------------------------------------------------------------------------------
# rendering the course


def _default_notebook_dir() -> Path:
    """The course's notebooks: ``progress_kit/notebooks/teaching`` (their only copy)."""
    return Path(__file__).resolve().parent / "notebooks" / "teaching"


def course_notebooks(folder: str | Path | None = None) -> list[Path]:
    """The course notebooks in order (``NN_*.ipynb`` in ``progress_kit/notebooks/teaching/``)."""
    folder = Path(folder) if folder is not None else _default_notebook_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"no teaching notebooks folder at {folder}; pass --notebooks DIR")
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {folder}")
    return found


def _strip_solutions(nb: Any) -> Any:
    """A copy of the notebook without solution cells and without outputs (the student copy)."""
    import copy

    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return out


# The course pages reuse the reports' offline "clinical" template (no MathJax, no external links,
# images embedded, A4 print CSS) but, unlike a report, show the code: students learn from it.
# ``super.super()`` skips the clinical template's empty block and uses JupyterLab's cell markup.
# The running header is copied from the banner by string-set: no text of the notebook is ever
# written into the CSS, so a title cannot end the <style> element.
_TEACHING_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block input_group %}{{ super.super() }}{% endblock input_group %}
{%- block body_header -%}
{{ super() }}
<style>
@page { @top-left { content: string(pkrunning); } }
.pk-running { string-set: pkrunning content(text); }
h2 { break-before: auto; margin-top: 14pt; }
.jp-InputArea { margin: 4pt 0 2pt; }
.jp-InputArea pre, .jp-InputArea .highlight pre { background: #f4f4f4; border-left: 2.5pt solid #888;
  padding: 4pt 6pt; font-size: 8.3pt; white-space: pre-wrap; overflow-wrap: anywhere; }
.jp-OutputArea-output pre { font-size: 8.3pt; }
.pk-course-banner { border: 1pt solid #222; padding: 4pt 8pt; margin-bottom: 8pt; font-size: 9pt; }
/* course tables: as wide as their content, so an index column stays narrow; words are never
   split inside a header or cell ("treatment", not "trea tme nt"); numbers line up on the right */
main table { table-layout: auto; width: auto; max-width: 100%; }
main th:first-child, main td:first-child { width: auto; }
main th, main td { overflow-wrap: normal; word-break: normal; hyphens: manual; padding: 2pt 6pt; }
table.dataframe td, table.dataframe thead th { text-align: right; }
table.dataframe tbody th { text-align: left; white-space: nowrap; }
/* figures: small enough that one never leaves most of a page empty by moving to the next */
.jp-RenderedImage img { max-height: 88mm; width: auto; max-width: 100%; }
/* formulas: typeset offline as SVG (matplotlib mathtext), inline or on their own line */
img.pk-math { display: inline; max-width: none; max-height: none; margin: 0 1pt; }
img.pk-math-display { display: block; margin: 5pt auto 7pt; }
</style>
<p class="pk-course-banner"><span class="pk-running">{{
  resources.get('pk_running', '') | escape_html }}</span>{{
  resources.get('pk_banner_more', '') | escape_html }}</p>
{%- endblock body_header -%}
"""

# $$display$$ or $inline$ (not a lone dollar, not "$ 5", not an escaped \$)
_MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|(?<![\\$\w])\$(?P<inline>[^\s$](?:[^$]*?[^\s\\$])?)\$(?!\w)",
                   re.S)
_CODE_SPAN = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def math_svg(tex: str, *, display: bool = False, size: float | None = None) -> tuple[str, float]:
    r"""A LaTeX formula typeset as SVG by matplotlib's mathtext: (svg text, depth below the baseline in pt).

    Offline and without a TeX installation; mathtext covers the usual notation (fractions, roots,
    sums, sub- and superscripts, Greek letters, accents such as ``\bar{x}``).

    Examples
    --------
    >>> svg, depth = math_svg(r"\sqrt{1 - r}")
    >>> svg.lstrip().startswith("<?xml") and "<svg" in svg and depth >= 0
    True
    """
    import io

    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    size = size or (11.0 if display else 10.0)
    text = f"${tex.strip()}$"
    with rc_context({"mathtext.fontset": "dejavusans", "svg.fonttype": "path",
                     "svg.hashsalt": "progress-kit"}):
        prop = FontProperties(family="DejaVu Sans", size=size)
        try:
            width, height, depth, *_ = MathTextParser("path").parse(text, dpi=72, prop=prop)
        except ValueError as exc:
            raise ValueError(f"cannot typeset the formula {tex!r}: {str(exc).splitlines()[-1]}") from None
        fig = Figure(figsize=(width / 72, height / 72))
        fig.text(0, depth / height, text, fontproperties=prop)
        out = io.StringIO()
        fig.savefig(out, format="svg", transparent=True, metadata={"Date": None})
    # the DOCTYPE names a DTD on the web; nothing should even look like fetching one
    return re.sub(r"<!DOCTYPE[^>]*>\s*", "", out.getvalue()), float(depth)


def typeset_math(markdown: str) -> str:
    """Replace ``$...$`` and ``$$...$$`` in Markdown with inline SVG images (outside code spans)."""
    import base64
    import html

    def one(m: re.Match) -> str:
        display = m.group("display") is not None
        tex = m.group("display") if display else m.group("inline")
        # full-size fractions on their own line, as LaTeX's display style sets them
        shown = re.sub(r"\\frac(?![a-z])", r"\\dfrac", tex) if display else tex
        svg, depth = math_svg(shown, display=display)
        src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        alt = html.escape(tex.strip(), quote=True)
        if display:
            return f'<img class="pk-math pk-math-display" src="{src}" alt="{alt}">'
        return f'<img class="pk-math" src="{src}" alt="{alt}" style="vertical-align: -{depth:.2f}pt">'

    parts = _CODE_SPAN.split(markdown)
    return "".join(part if i % 2 else _MATH.sub(one, part) for i, part in enumerate(parts))


_REMOTE = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']?((?:[a-z][a-z0-9+.-]*:)?//[^"'\s>]+)""", re.I)


def _check_offline(body: str, title: str) -> None:
    """Course pages are offline files: a remote image is named with the reason, not fetched."""
    for url in _REMOTE.findall(body):
        raise ValueError(f"{title}: the image {url} is on the web, and course pages are rendered "
                         "offline (nothing is downloaded, so that a page looks the same anywhere and "
                         "leaks nothing). Save the image beside the notebook and refer to it by "
                         "file name, e.g. ![figure](figure.png).")


def _reports_render():
    """The reports' template folder and offline PDF printer (``progress_kit.reports``)."""
    try:
        from .reports.render import pdf_from_html
        from .reports.resources import template_dir
    except ImportError as exc:  # the reports package is a separate piece of the kit
        raise RuntimeError("teach render needs progress_kit.reports (the report template and the "
                           f"offline PDF printer), which this installation lacks: {exc}") from exc
    return template_dir, pdf_from_html


def course_page_html(executed: Any, *, solutions: bool, title: str) -> str:
    """One executed course notebook as a self-contained, offline HTML page.

    Handouts lose the cells tagged ``solution``; both lose the parameter cells and the code of
    cells tagged ``hide-input``. Formulas written as ``$...$`` or ``$$...$$`` in Markdown are
    typeset as SVG (:func:`typeset_math`). A remote image is a ValueError that names it: the page
    is an offline file.
    """
    import copy

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    template_dir, _ = _reports_render()
    remove = {"parameters", "injected-parameters"} | (set() if solutions else {SOLUTION_TAG})
    exporter = HTMLExporter(template_name="clinical", template_file="teaching.html.j2",
                            extra_template_basedirs=[str(template_dir())],
                            extra_loaders=[DictLoader({"teaching.html.j2": _TEACHING_TEMPLATE})],
                            exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=remove, remove_input_tags={HIDE_INPUT_TAG}),
        enabled=True)
    kind = "Instructor key" if solutions else "Student handout"
    more = (": worked solutions shown" if solutions else
            ": replace each None after answer_... with your answer and run check()")
    page = copy.deepcopy(executed)
    for cell in page.cells:
        if cell.cell_type == "markdown":
            try:
                cell.source = typeset_math(cell.source)
            except ValueError as exc:
                raise ValueError(f"{title}: {exc}") from None
    body, _ = exporter.from_notebook_node(page, resources={
        "pk_title": title, "pk_running": f"{title} · {kind}", "pk_banner_more": more,
        "metadata": {"name": title}})
    _check_offline(body, title)
    return body


def render_course(out: str | Path, *, solutions: bool = False, notebooks: str | Path | None = None,
                  pdf: bool = True, only: Sequence[str] | None = None,
                  timeout: int = 600) -> list[Path]:
    """Execute the course notebooks and write handouts (or, with ``solutions``, the keys).

    Parameters
    ----------
    out : path
        Output folder. Per notebook it gets ``NAME.html`` (and ``NAME.pdf`` with ``pdf``), plus
        for handouts ``NAME.ipynb``: the student's working copy, without solution cells or
        outputs. Keys get the executed notebook ``NAME.ipynb`` with solutions and a copy of the
        course key (``course_key.toml``). Handouts never get the key: it holds the code of every
        answer. A student copy checks against the key installed with the kit.
    solutions : bool
        Instructor key (``show_solutions=True``) instead of a student handout.
    notebooks : path, optional
        Folder of ``NN_name.ipynb`` notebooks (default: the kit's own, progress_kit/notebooks/teaching).
    pdf : bool
        Also write a PDF of each page.
    only : sequence of str, optional
        Render only the notebooks whose file name contains one of these strings.
    timeout : int
        Seconds a cell may run.

    Returns
    -------
    list of Path
        The files written.
    """
    import tempfile

    import nbformat
    import papermill as pm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = course_notebooks(notebooks)
    if only:
        paths = [p for p in paths if any(s in p.name for s in only)]
        if not paths:
            raise ValueError(f"no course notebook matches {list(only)}")
    written: list[Path] = []
    _, pdf_from_html = _reports_render()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        source = nb if solutions else _strip_solutions(nb)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / path.name
            nbformat.write(source, src)
            executed = Path(tmp) / f"executed_{path.name}"
            pm.execute_notebook(str(src), str(executed), parameters={"show_solutions": solutions},
                                cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                                execution_timeout=timeout, log_output=False,
                                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
            executed_nb = nbformat.read(executed, as_version=4)
            title = _title(executed_nb, path)
            html = out / f"{path.stem}.html"
            html.write_text(course_page_html(executed_nb, solutions=solutions, title=title),
                            encoding="utf-8")
            written.append(html)
            if pdf:
                pdf_from_html(html.read_text(encoding="utf-8"), html.with_suffix(".pdf"))
                written.append(html.with_suffix(".pdf"))
            copy = out / path.name
            if solutions:
                shutil.copyfile(executed, copy)
            else:
                nbformat.write(_strip_solutions(nb), copy)
            written.append(copy)
    # The key holds the code of every answer: it goes with the instructor keys, never into the
    # handouts that are given to students (their copies check against the kit's installed key).
    key = (Path(notebooks) if notebooks is not None else _default_notebook_dir()) / KEY_FILE
    if solutions and key.is_file():
        shutil.copyfile(key, out / KEY_FILE)
        written.append(out / KEY_FILE)
    return written


def _title(nb: Any, path: Path) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return path.stem


# --------------------------------------------------------------------------------------------
# CLI


def _teach_render(args: argparse.Namespace) -> int:
    # default under reports/, which git ignores, so rendered pages never end up in a commit
    kind_dir = "keys" if args.solutions else "handouts"
    out = Path(args.out) if args.out else Path("reports") / "teaching" / kind_dir
    try:
        written = render_course(out, solutions=args.solutions, notebooks=args.notebooks,
                                pdf=not args.no_pdf, only=args.only)
    except (RuntimeError, ValueError) as exc:  # no report template; a remote image; bad formula
        log.error(f"progress-kit teach render: {exc}", extra=EXACT)
        return 1
    kind = "instructor keys" if args.solutions else "student handouts"
    n = sum(p.suffix == ".html" for p in written)
    log.info(f"rendered {n} {kind} to {out}", extra=EXACT)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``progress-kit teach render`` (called by :mod:`progress_kit.cli`)."""
    teach = sub.add_parser("teach", help="the teaching course: render handouts and keys",
                           description="The ROM teaching course (progress_kit/notebooks/teaching/).")
    tsub = teach.add_subparsers(dest="teach_command", metavar="TEACH_COMMAND", required=True)
    render = tsub.add_parser(
        "render", help="execute the course notebooks and render handouts (or keys)",
        description="Execute every course notebook with papermill and render it to HTML and PDF: "
                    "a student handout (solutions removed) or, with --solutions, the instructor "
                    "key.")
    render.add_argument("--solutions", action="store_true",
                        help="render the instructor keys (show_solutions=True)")
    render.add_argument("--out", metavar="DIR",
                        help="output folder (default reports/teaching/handouts or reports/teaching/keys)")
    render.add_argument("--notebooks", metavar="DIR",
                        help="folder of the course notebooks (default: the kit's own course)")
    render.add_argument("--only", nargs="+", metavar="NAME",
                        help="render only notebooks whose file name contains NAME")
    render.add_argument("--no-pdf", action="store_true", help="write HTML only")
    render.set_defaults(func=_teach_render)
