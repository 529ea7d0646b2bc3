"""The teaching course: the check() helper, attribution lines, notebook conventions, and (slow)
every notebook executed as the instructor key plus a rendered handout and key.

nbval runs the notebooks as stored (solutions hidden) in ``make test``; the slow test here runs
them with ``show_solutions=True`` so both variants are exercised in CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from progress_kit import list_datasets
from progress_kit.teaching import (
    HIDE_INPUT_TAG,
    NOT_ANSWERED,
    SOLUTION_TAG,
    Verdict,
    attribution,
    check,
    checker,
    course_key,
    course_notebooks,
    typeset_math,
)

COURSE = Path(__file__).resolve().parents[1] / "progress_kit" / "notebooks" / "teaching"
NOTEBOOKS = sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))


# ------------------------------------------------------------------------------------------
# check(): right, wrong with a hint, not answered, tolerance, containers


def test_right_answer_prints_a_tick(capsys):
    verdict = check(0.5, 0.5, name="answer_1")
    assert verdict.ok is True and bool(verdict)
    assert capsys.readouterr().out.strip() == "✓ answer_1: correct."


def test_wrong_answer_prints_the_hint_and_does_not_raise(capsys):
    verdict = check(3.0, 4.0, name="answer_2", hint="SE = SD · √(1 − r)")
    out = capsys.readouterr().out
    assert verdict.ok is False and not verdict
    assert out.startswith("✗ answer_2: not quite.")
    assert "Hint: SE = SD · √(1 − r)" in out


def test_none_is_not_answered_yet_with_hint(capsys):
    for missing in (None, ...):
        verdict = check(missing, 4.0, name="answer_3", hint="count the improved")
        assert verdict.ok is None and not verdict
        out = capsys.readouterr().out
        assert f"answer_3: {NOT_ANSWERED}" in out and "Hint: count the improved" in out


def test_verdict_is_not_displayed_twice():
    verdict = Verdict(True, "✓")
    assert verdict._ipython_display_() is None


@pytest.mark.parametrize(("answer", "expected", "kwargs", "ok"), [
    (4.1385, 4.138517, {}, True),                     # default relative tolerance 0.1 %
    (4.15, 4.138517, {}, False),
    (4.14, 4.138517, {"tol": 0.01}, True),            # "two decimals"
    (4.16, 4.138517, {"tol": 0.01}, False),
    (29, 29, {"tol": 0}, True),
    (28, 29, {"tol": 0}, False),
    (np.int64(29), 29.0, {"tol": 0}, True),
    (1e-12, 0.0, {}, True),                           # absolute tolerance near zero
    (float("nan"), float("nan"), {}, True),
    (1.0, float("nan"), {}, False),
    (np.array([3.2]), 3.2, {}, True),                 # a one-element array is a number
])
def test_numbers_and_tolerance(answer, expected, kwargs, ok):
    assert check(answer, expected, quiet=True, **kwargs).ok is ok


def test_negative_tolerance_is_a_usage_error():
    with pytest.raises(ValueError, match="tol"):
        check(1.0, 1.0, tol=-1)


@pytest.mark.parametrize(("answer", "expected", "phrase"), [
    (-4.0, 4.0, "wrong sign"),
    (37.9, 0.379, "proportion"),
    (0.379, 37.9, "percentage"),
    (2.988, 2.112, "√2 times too large"),
    (1.4937, 2.1125, "√2 times too small"),
    (4.1, 4.0, "round"),
])
def test_wrong_numbers_get_a_diagnosis(answer, expected, phrase):
    assert phrase in check(answer, expected, quiet=True).message


def test_not_a_number_is_wrong_not_an_error():
    verdict = check("four", 4.0, quiet=True)
    assert verdict.ok is False and "expected a number" in verdict.message


def test_text_ignores_case_and_spaces():
    assert check("  Within ", "within", quiet=True).ok
    assert not check("between", "within", quiet=True).ok
    assert not check(1, "within", quiet=True).ok


def test_booleans():
    assert check(True, True, quiet=True).ok
    assert not check(False, True, quiet=True).ok
    assert not check("yes", True, quiet=True).ok


def test_arrays_shape_and_values():
    expected = np.array([1.0, 2.0, 3.0])
    assert check([1.0, 2.0, 3.0004], expected, quiet=True).ok
    wrong = check([1.0, 2.5, 3.0], expected, quiet=True)
    assert not wrong.ok and "1 of 3 values differ" in wrong.message and "position 1" in wrong.message
    shape = check([1.0, 2.0], expected, quiet=True)
    assert not shape.ok and "shape" in shape.message
    assert check(np.eye(2), np.eye(2), quiet=True).ok
    assert check(["a", "b"], np.array(["a", "b"]), quiet=True).ok


def test_series_align_by_label():
    expected = pd.Series({"improved": 29, "unchanged": 10, "deteriorated": 1})
    shuffled = pd.Series({"deteriorated": 1, "improved": 29, "unchanged": 10})
    assert check(shuffled, expected, tol=0, quiet=True).ok
    assert check({"improved": 29, "unchanged": 10, "deteriorated": 1}, expected, quiet=True).ok
    wrong = check(pd.Series({"improved": 28, "unchanged": 11, "deteriorated": 1}), expected,
                  tol=0, quiet=True)
    assert not wrong.ok and "'improved'" in wrong.message
    labels = check(pd.Series({"better": 29, "same": 10, "worse": 1}), expected, quiet=True)
    assert not labels.ok and "labelled differently" in labels.message
    assert check([29, 10, 1], expected, quiet=True).ok   # values in order also pass


def test_dataframes():
    expected = pd.DataFrame({"pre": [25.0, 15.0], "rci": [-5.681, -1.894]}, index=[1, 2])
    answer = expected.assign(extra="x")                  # extra columns are ignored
    assert check(answer, expected, tol=0.001, quiet=True).ok
    missing = check(expected[["pre"]], expected, quiet=True)
    assert not missing.ok and "no column 'rci'" in missing.message
    off = expected.copy()
    off.loc[2, "rci"] = -1.7
    wrong = check(off, expected, tol=0.001, quiet=True)
    assert not wrong.ok and "column 'rci'" in wrong.message and "row 2" in wrong.message
    rows = check(expected.iloc[:1], expected, quiet=True)
    assert not rows.ok and "expected 2 rows" in rows.message
    assert not check(3.0, expected, quiet=True).ok


def test_dicts():
    expected = {"r": -0.5067697, "dof": 38}
    assert check({"r": -0.50677, "dof": 38}, expected, quiet=True).ok
    assert "'dof'" in check({"r": -0.50677, "dof": 39}, expected, tol=1e-4, quiet=True).message
    assert "no entry" in check({"r": -0.50677}, expected, quiet=True).message
    assert not check(3.0, expected, quiet=True).ok


# ------------------------------------------------------------------------------------------
# attribution lines


def test_every_bundled_dataset_has_an_attribution_line():
    for name in list_datasets():
        line = attribution(name)
        assert line.startswith(f"{name}.csv: ") and "Source: " in line and "`" not in line


def test_attribution_of_unknown_dataset():
    with pytest.raises(ValueError, match="no attribution"):
        attribution("no_such_data")


# ------------------------------------------------------------------------------------------
# notebook conventions (fast: read, do not execute)


def test_course_has_six_notebooks_in_order():
    assert [p.name[:2] for p in course_notebooks(COURSE)] == ["01", "02", "03", "04", "05", "06"]
    assert course_notebooks() == NOTEBOOKS        # the default folder is the kit's own


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(c.source for c in nb.cells)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and re.search(r"^show_solutions = False\b", params[0].source, re.M)
    assert "Learning objectives" in nb.cells[0].source
    assert all(not c.outputs for c in code), "store the notebooks without outputs"
    # a published dataset, with its attribution printed
    assert "pk.read_dataset(" in text and "attribution(" in text
    # at least two exercises: an unanswered answer_N, a guarded solution, a check
    answers = set(re.findall(r"^(answer_\d+) = None", text, re.M))
    assert len(answers) >= 2
    key = course_key(COURSE / "course_key.toml")[path.stem]
    assert set(key) == answers, "every exercise, and only those, has an entry in the course key"
    for answer in answers:
        # the check cell shows neither the expected value nor the code that computes it
        cells = [c.source.strip() for c in code if f"check({answer}" in c.source]
        assert cells == [f"check({answer})"], cells
    solutions = [c for c in code if SOLUTION_TAG in c.metadata.get("tags", [])]
    assert len(solutions) >= len(answers)
    for cell in solutions:
        assert cell.source.startswith("if show_solutions:"), cell.source[:80]
    # solutions only in solution cells: no answer is filled in elsewhere
    for cell in code:
        if cell not in solutions:
            assert not re.search(r"^\s*answer_\d+ = (?!None)", cell.source, re.M), cell.source[:80]
    # formulas are LaTeX that mathtext can typeset offline (typeset_math raises if not), and at
    # least one per notebook is typeset rather than written as plain text
    pages = [typeset_math(c.source) for c in nb.cells if c.cell_type == "markdown"]
    assert any('class="pk-math' in page for page in pages)
    assert not any("$" in re.sub(r"`[^`]*`", "", page) for page in pages), "a $ left untypeset"


def test_teach_render_command_line():
    from progress_kit.cli import build_parser

    args = build_parser().parse_args(["teach", "render", "--solutions", "--out", "k", "--only", "01"])
    assert args.solutions and args.out == "k" and args.only == ["01"] and not args.no_pdf
    args = build_parser().parse_args(["teach", "render"])
    assert not args.solutions and args.out is None
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["teach"])
    assert info.value.code == 2


def test_render_unknown_notebook_is_a_clear_error(tmp_path):
    from progress_kit.teaching import render_course

    with pytest.raises(FileNotFoundError, match="no teaching notebooks folder"):
        render_course(tmp_path / "out", notebooks=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no course notebooks"):
        render_course(tmp_path / "out", notebooks=tmp_path / "empty")
    with pytest.raises(ValueError, match="no course notebook matches"):
        render_course(tmp_path / "out", notebooks=COURSE, only=["99"])


# ------------------------------------------------------------------------------------------
# slow: execute every notebook as the instructor key; render a handout and a key


def _executed_checks(nb) -> list[str]:
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                lines += [ln for ln in out["text"].splitlines() if re.match(r"[✓✗…] answer_", ln)]
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_with_solutions_passes_every_check(path, tmp_path):
    import papermill as pm

    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters={"show_solutions": True},
                        cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                        execution_timeout=120)
    verdicts = _executed_checks(nbformat.read(out, as_version=4))
    assert len(verdicts) >= 2
    assert all(v.startswith("✓") for v in verdicts), verdicts


@pytest.mark.slow
def test_render_handout_and_key(tmp_path):
    pytest.importorskip("progress_kit.reports.render")
    from progress_kit.cli import main

    assert main(["teach", "render", "--only", "01", "--out", str(tmp_path / "h")]) == 0
    assert main(["teach", "render", "--solutions", "--only", "01", "--no-pdf",
                 "--out", str(tmp_path / "k")]) == 0
    handout = (tmp_path / "h" / "01_reliable_change.html").read_text(encoding="utf-8")
    key = (tmp_path / "k" / "01_reliable_change.html").read_text(encoding="utf-8")
    assert (tmp_path / "h" / "01_reliable_change.pdf").read_bytes().startswith(b"%PDF")
    assert not (tmp_path / "k" / "01_reliable_change.pdf").exists()
    # handouts: code shown, solutions gone, checks unanswered; keys: solutions and ticks
    assert "pk.reliable_change" in handout and "Student handout" in handout
    text = {name: re.sub(r"<[^>]+>", "", page) for name, page in (("h", handout), ("k", key))}
    assert "if show_solutions:" not in text["h"] and "if show_solutions:" in text["k"]
    # the handout shows neither the expected values nor the key's code; the key shows both
    assert 'rc_bdi.attrs["parameters"]' not in text["h"] and "key, tol 0.01:" not in text["h"]
    assert "key, tol 0.01:" in text["k"] and 'rc_bdi.attrs["parameters"]' in text["k"]
    # the answer key goes with the instructor keys, never into the students' folder
    assert not (tmp_path / "h" / "course_key.toml").exists()
    assert (tmp_path / "k" / "course_key.toml").is_file()
    entries = course_key(COURSE / "course_key.toml")["01_reliable_change"].values()
    key_lines = {line.strip() for entry in entries for line in entry["expected"].splitlines()
                 if len(line.strip()) > 12}
    for file in (tmp_path / "h").iterdir():
        if file.suffix != ".pdf":
            content = file.read_text(encoding="utf-8")
            assert not [line for line in key_lines if line in content], file.name
    # tables: whole numbers as 1, not 1.0 (the CSV stores them as floats); sized to their content
    assert re.search(r"<th>1</th>", handout) and not re.search(r"<th>\d+\.0</th>", handout)
    assert "main table { table-layout: auto; width: auto;" in handout
    # formulas typeset, not left as TeX
    assert 'class="pk-math pk-math-display"' in handout and "$$" not in text["h"]
    assert NOT_ANSWERED in handout and "✓ answer_1" not in handout
    assert "Instructor key" in key and "✓ answer_1" in key and "✗" not in key
    # offline: no MathJax or other external script
    for page in (handout, key):
        assert "mathjax" not in page.lower() and "<script src" not in page
    # the student's working copy has no solution cells and no outputs
    student = nbformat.read(tmp_path / "h" / "01_reliable_change.ipynb", as_version=4)
    assert not any(SOLUTION_TAG in c.metadata.get("tags", []) for c in student.cells)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


# ------------------------------------------------------------------------------------------
# slow: no exercise can be passed by copying a number the handout already shows

# Whole-number answers that a page shows only by coincidence, each reviewed by hand: a count that
# equals a score in a data table, or a single digit (every page has the digits 0-9 in lists, sessions
# and formulas). Each entry says why nothing is given away. An entry the test no longer needs fails
# it too, so the list cannot go stale.
COINCIDENCES = {
    ("01_reliable_change", "answer_2"): "25 patients improve on the BDI-II; 25.0 is a HAMD score in the "
                                        "data tables",
    ("01_reliable_change", "answer_3"): "a 5-point drop; the page shows the threshold 4.15, which the "
                                        "student must round up to a whole point",
    ("02_clinical_significance", "answer_4"): "EN and JT disagree on 5 patients; the page shows no EN "
                                              "result at all",
}

_NUMBER = re.compile(r"(?<![\w.])([-−+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?)(%?)")


def _shown_numbers(text: str) -> list[tuple[str, float]]:
    """Every number a reader sees in the text, as written and as a value (a percentage also as
    a proportion, since the exercises ask for proportions)."""
    found = []
    for token, percent in _NUMBER.findall(text):
        value = float(token.replace("−", "-").replace(",", ""))
        found.append((token + percent, value))
        if percent:
            found.append((token + percent, value / 100))
    return found


def _page_text(cell) -> str:
    """What a rendered handout shows of a cell: its text or code, and its text outputs."""
    tags = cell.metadata.get("tags", [])
    if {"parameters", "injected-parameters"} & set(tags):
        return ""
    parts = [] if HIDE_INPUT_TAG in tags else [cell.source]
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        for mime in ("text/plain", "text/html", "text/markdown"):
            if mime in out.get("data", {}):
                parts.append(re.sub(r"<[^>]+>", " ", out["data"][mime]))
    return "\n".join(parts)


def _handout_with_probes(path: Path, values: Path):
    """The student handout, with a cell after each ``check(answer_N)`` that stores the expected
    value the key computes at that point of the notebook (pickled into ``values``)."""
    from nbformat.v4 import new_code_cell

    from progress_kit.teaching import _strip_solutions

    handout = _strip_solutions(nbformat.read(path, as_version=4))
    cells = []
    for cell in handout.cells:
        cells.append(cell)
        m = re.fullmatch(r"check\((answer_\d+)\)", cell.source.strip())
        if cell.cell_type == "code" and m:
            probe = (f"def _pk_probe():\n"
                     f"    import pandas\n"
                     f"    from progress_kit.teaching import _evaluate, course_key\n"
                     f"    entry = course_key({str(COURSE / 'course_key.toml')!r})[{path.stem!r}][{m[1]!r}]\n"
                     f"    pandas.to_pickle((_evaluate(entry['expected'], globals()), entry), "
                     f"{str(values / m[1])!r})\n"
                     f"_pk_probe(); del _pk_probe")
            cells.append(new_code_cell(probe, metadata={"tags": ["pk-probe"]}))
    handout.cells = cells
    return handout


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_exercise_answer_is_shown_earlier_in_the_handout(path, tmp_path):
    import papermill as pm

    from progress_kit.teaching import check as check_value

    values = tmp_path / "values"
    values.mkdir()
    src, out = tmp_path / "handout.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(_handout_with_probes(path, values), src)
    pm.execute_notebook(str(src), str(out), parameters={"show_solutions": False},
                        cwd=str(path.parent), kernel_name="python3", progress_bar=False,
                        execution_timeout=120)
    executed = nbformat.read(out, as_version=4)
    shown, problems, coincidences, n_checked = [], [], set(), 0
    for cell in executed.cells:
        if "pk-probe" in cell.metadata.get("tags", []):
            continue
        shown.append(_page_text(cell))   # up to and including the check cell and its hint
        m = re.fullmatch(r"check\((answer_\d+)\)", cell.source.strip())
        if cell.cell_type != "code" or not m:
            continue
        expected, entry = pd.read_pickle(values / m[1])
        n_checked += 1
        if isinstance(expected, str):
            continue  # a choice between named options: the options are on the page by design
        assert np.ndim(expected) == 0, f"{m[1]}: teach this test to compare a {type(expected)}"
        tol = {k: entry[k] for k in ("tol", "rtol", "atol") if k in entry}
        for token, value in _shown_numbers("\n".join(shown)):
            if check_value(value, expected, quiet=True, **tol).ok:
                if (path.stem, m[1]) in COINCIDENCES and float(expected).is_integer():
                    coincidences.add((path.stem, m[1]))
                else:
                    problems.append(f"{m[1]} (expected {expected!r}) passes with {token!r}, "
                                    "shown before it")
                break
    assert n_checked == len(course_key(COURSE / "course_key.toml")[path.stem])
    assert problems == [], problems
    assert coincidences == {k for k in COINCIDENCES if k[0] == path.stem}, "COINCIDENCES is stale"


# ------------------------------------------------------------------------------------------
# checker(): check(answer_N) against the course key, which handouts never show

KEY = {"demo": {
    "answer_1": {"expected": "helper = values * 2\nhelper.mean()", "tol": 0.01, "hint": "twice the mean"},
    "answer_2": {"expected": "int(len(values))", "tol": 0, "source": "a count"},
    "answer_3": {"expected": "not_defined_yet + 1"},
}}


def test_checker_takes_the_name_from_the_call_and_the_value_from_the_key(capsys):
    global values
    values = np.array([1.0, 2.0, 4.0])
    check_ = checker("demo", key=KEY)
    answer_1 = 14 / 3
    assert check_(answer_1).ok is True
    answer_2 = 4
    verdict = check_(answer_2)
    assert verdict.ok is False and "answer_2" in verdict.message
    out = capsys.readouterr().out
    assert "✓ answer_1: correct." in out
    # neither the expected value nor the key's code is printed for a student
    assert "4.66" not in out and "values * 2" not in out and "key" not in out
    # the key's own names do not leak into the notebook
    assert "helper" not in globals()


def test_checker_shows_everything_in_instructor_keys(capsys):
    global values, show_solutions
    values, show_solutions = np.array([1.0, 2.0]), True
    try:
        answer_2 = 2
        assert checker("demo", key=KEY)(answer_2).ok
    finally:
        del show_solutions
    out = capsys.readouterr().out
    assert "key (a count), tol 0:" in out and "| int(len(values))" in out and "= 2" in out


def test_checker_unanswered_not_yet_runnable_and_unknown(capsys):
    check_ = checker("demo", key=KEY)
    answer_3 = None
    assert check_(answer_3).ok is None                       # not answered: hint, no error
    answer_3 = 5
    verdict = check_(answer_3)
    assert verdict.ok is None and "run the cells above first" in verdict.message
    answer_9 = 1
    with pytest.raises(ValueError, match="no 'answer_9' for demo"):
        check_(answer_9)
    with pytest.raises(ValueError, match="check\\(answer_N\\)"):
        check_(1.0)                                          # a literal: no name to look up
    with pytest.raises(ValueError, match="no notebook 'other'"):
        checker("other", key=KEY)


def test_course_key_file_errors(tmp_path):
    bad = tmp_path / "course_key.toml"
    bad.write_text('[nb.answer_1]\nexpected = 3\n')
    with pytest.raises(ValueError, match=r"\[nb.answer_1\] needs expected"):
        course_key(bad)
    bad.write_text('[nb.answer_1]\nexpected = "3"\ntolerance = 1\n')
    with pytest.raises(ValueError, match="unknown field.*tolerance"):
        course_key(bad)
    bad.write_text('[nb.answer_1\n')
    with pytest.raises(ValueError, match="not valid TOML"):
        course_key(bad)
    with pytest.raises(FileNotFoundError, match="no course key"):
        course_key(tmp_path / "missing.toml")


# ------------------------------------------------------------------------------------------
# course pages: formulas, a hostile title, remote images (issue 14 item 21)


def _page(*markdown: str, solutions: bool = False) -> str:
    pytest.importorskip("progress_kit.reports.render")
    from nbformat.v4 import new_markdown_cell, new_notebook

    from progress_kit.teaching import course_page_html

    nb = new_notebook(cells=[new_markdown_cell(m) for m in markdown])
    title = markdown[0].splitlines()[0][2:]
    return course_page_html(nb, solutions=solutions, title=title)


def test_formulas_are_typeset_as_svg():
    page = _page("# Formulas", r"The error is $\mathrm{SE} = \mathrm{SD} \cdot \sqrt{1 - r}$ and",
                 r"$$S_{\mathrm{diff}} = \sqrt{2}\,\mathrm{SE}$$", "costs `$HOME` and $5")
    assert page.count('class="pk-math"') == 1 and page.count('class="pk-math pk-math-display"') == 1
    assert "data:image/svg+xml;base64," in page
    assert "\\sqrt" not in re.sub(r'alt="[^"]*"', "", page)        # the TeX only as alt text
    assert "$5" in page and "$HOME" in page                          # money and code stay as they are
    with pytest.raises(ValueError, match=r"Broken: cannot typeset the formula '\\\\frac\{1'"):
        _page("# Broken", r"$\frac{1$")


def test_a_title_cannot_break_out_of_the_style_element():
    evil = '</style><script>alert(1)</script><style>"} body { display: none'
    page = _page(f"# {evil}", "text")
    assert "<script>alert" not in page
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    # the title's text, not the word: the reports' CSS styles a ".pk-status-alert" box
    assert styles and not any("alert(1)" in css or "\"} body" in css for css in styles)
    assert page.count("<style") == page.count("</style>")
    assert "&lt;/style&gt;&lt;script&gt;alert(1)" in page            # shown, escaped, as text


def test_a_remote_image_is_named_with_the_reason():
    with pytest.raises(ValueError, match=r"Pictures: the image https://example\.org/brain\.png is on "
                                         r"the web, and course pages are rendered offline"):
        _page("# Pictures", "![a brain](https://example.org/brain.png)")
    with pytest.raises(ValueError, match="//cdn.example.org/x.png"):
        _page("# Pictures", '<img src="//cdn.example.org/x.png">')
