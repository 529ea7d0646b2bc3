"""The PDF's repeated work done once (reports/_weasy.py, render._parsed_html, render._gc_paused,
the exporter's single validation): the PDFs are byte for byte those of WeasyPrint left as it is,
made in another process (docs/performance.md, round five, third session)."""

import base64
import gc
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from progress_kit.reports import _weasy, render
from progress_kit.reports.resources import template_dir

DATA = Path(__file__).parent / "data"

# the kit's pdf_from_html with WeasyPrint as it is: no _weasy patches, the page parsed whole
_PLAIN = """
import sys
from pathlib import Path
import weasyprint
from progress_kit.reports import _weasy, render
_weasy.install = lambda: False
render._parsed_html = lambda html, fetcher: weasyprint.HTML(string=html, url_fetcher=fetcher)
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    render.pdf_from_html(Path(src).read_text(encoding="utf-8"), Path(dst))
"""


def _plain_pdfs(pages: dict, tmp_path) -> dict:
    args = []
    for name, html in pages.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
        args += [str(tmp_path / f"{name}.html"), str(tmp_path / f"{name}-plain.pdf")]
    subprocess.run([sys.executable, "-c", _PLAIN, *args], check=True, timeout=300)
    return {name: (tmp_path / f"{name}-plain.pdf").read_bytes() for name in pages}


def _figure(seed: int) -> str:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(body: str, css: str | None = None) -> str:
    css = (template_dir() / "clinical" / "report.css").read_text("utf-8") if css is None else css
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
            f"<style>\n{css}\n</style></head><body><main>{body}</main></body></html>")


_TITLE = ('<header class="pk-title"><h1>Monthly progress report, 2026-11</h1>'
          '<p class="pk-subtitle">Client C010</p><p class="pk-generated">{}</p></header>')
_SECTION = ('<div class="jp-Cell"><section class="pk-section pk-ok pk-with-figure"><h3>PHQ-9 by '
            'session</h3><p class="pk-note">10 scores · 07 Jun 2026 to 22 Nov 2026</p><ul '
            'class="pk-lines"><li>reliable improvement: 17 → 8</li><li>diary on 24 of 26 days</li>'
            '</ul><figure class="pk-figure"><img src="{}" width="680" alt="Figure"></figure>'
            '</section></div>')
_TABLE = ('<h2>Measures</h2><table class="pk-table"><thead><tr><th>measure</th><th>first</th>'
          '<th>last</th></tr></thead><tbody>' + "".join(
              f"<tr><td>GAD-7 row {i}</td><td>{i}</td><td>{20 - i}</td></tr>" for i in range(30))
          + "</tbody></table>")


def _notebook_page(extra_css: str = "") -> str:
    """A page through nbconvert and the clinical template: cells, output wrappers, a cell tag,
    a markdown cell, text output in a <pre>, sections and a figure."""
    import nbformat

    cell = nbformat.v4.new_code_cell("", metadata={"tags": ["summary"]})
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html})
                    for html in (_TITLE.format("Generated 2026-12-07"), _SECTION.format(_figure(4)),
                                 _TABLE)]
    cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="PHQ-9  12\nGAD-7   9\n"))
    styled = nbformat.v4.new_code_cell("")
    styled.outputs = [nbformat.v4.new_output("display_data", data={"text/html": (
        f"<style>{extra_css}</style>" if extra_css else "") + "<p>own output</p>"})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Notes\n\n- one\n- two"),
                                         cell, styled])
    return render.html_from_notebook(nb, "notebook page")


def _pages() -> dict:
    figures = "".join(_SECTION.format(_figure(i)) for i in range(3))
    long_footer = "Generated 2026-12-07 by progress-kit. " + "For clinical use only; " * 14
    return {
        "report": _page(_TITLE.format("Generated 2026-12-07 by progress-kit 0.1.0.") + figures
                        + _TABLE),
        # the footer wider than the page: margin boxes share the width by min-content widths
        "long-footer": _page(_TITLE.format(long_footer) + figures[:2000] + _TABLE),
        # a user's own styles after the template's, same specificity: theirs win
        "own-style": _page(_TITLE.format("x") + "<style>p.pk-note { color: #D55E00 }</style>"
                           + figures),
        # the same rules in another stylesheet text: parsed anew, not taken from the store
        "changed-css": _page(_TITLE.format("y") + figures,
                             css=(template_dir() / "clinical" / "report.css").read_text("utf-8")
                             .replace("color: #111", "color: #1f77b4")),
        # a data URL also in a comment: the page is parsed whole
        "comment": _page(f'<!-- <img src="{_figure(9)}"> -->' + figures),
        # a page through nbconvert, with its cell wrappers, and stylesheets that could see them
        "notebook": _notebook_page(),
        "named-wrapper": _notebook_page(".jp-OutputArea-child { border: 1pt solid #D55E00 }"),
        "child-combinator": _notebook_page("main > div { margin-left: 20pt }"),
        "kept-white-space": _notebook_page("main { white-space: pre-wrap }"),
        # the body's or main's children as flex items; a kept wrapper's children as grid items
        "flex-main": _notebook_page("main { display: flex; flex-direction: column; gap: 4pt }"),
        "grid-wrapper": _notebook_page(".jp-Cell-outputWrapper { display: grid; gap: 6pt }"),
        # a demo clinic's report (bench batch's C056, its figures blanked to their sizes): a
        # page 3 that starts with a heading after a break; lifting nbconvert's cell wrappers out
        # of the parsed tree moved that heading up and with it the page's last lines
        "demo-C056": (DATA / "demo_report_C056.html").read_text("utf-8"),
    }


@pytest.fixture(scope="module")
def pages():
    return _pages()


def test_pdfs_are_byte_for_byte_weasyprints_own(pages, tmp_path):
    assert _weasy.install()
    plain = _plain_pdfs(pages, tmp_path)
    for name, html in pages.items():
        render.pdf_from_html(html, tmp_path / f"{name}.pdf")
        assert (tmp_path / f"{name}.pdf").read_bytes() == plain[name], name
    assert len({plain["report"], plain["changed-css"], plain["own-style"]}) == 3


def test_a_changed_stylesheet_is_parsed_anew(pages, tmp_path):
    _weasy.install()
    _weasy._SHEETS.clear()
    render.pdf_from_html(pages["report"], tmp_path / "a.pdf")
    render.pdf_from_html(pages["changed-css"], tmp_path / "b.pdf")
    kept = [key[0] for key in _weasy._SHEETS]
    assert len(kept) == 2 and any("#1f77b4" in text for text in kept)
    assert (tmp_path / "a.pdf").read_bytes() != (tmp_path / "b.pdf").read_bytes()


def test_stylesheets_that_add_to_the_document_are_not_kept():
    calls = []

    def parse():
        calls.append(1)
        return object()

    for text in ("@font-face { font-family: x; src: url(x.ttf) }", "@IMPORT 'a.css';",
                 "@counter-style x { system: cyclic; symbols: '*' }", "@layer a { p {} }"):
        assert _weasy.kept_stylesheet(parse, text, None, "print") is None
    assert not calls


def test_only_the_weasyprint_it_was_written_for_is_patched(monkeypatch):
    import weasyprint

    assert _weasy._targets() is not None
    monkeypatch.setattr(_weasy, "_fingerprint", lambda function: "0" * 16)
    assert _weasy._targets() is None  # a WeasyPrint whose replaced code is not the same
    monkeypatch.undo()
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    assert _weasy._targets() is None


def test_images_are_set_back_after_the_page_is_parsed(pages):
    html = pages["report"]
    document = render._parsed_html(html, render._offline_fetcher())
    srcs = [el.get("src") for el in document.etree_element.iter() if el.get("src")]
    assert len(srcs) == 3 and all(src.startswith("data:image/png;base64,") and src in html
                                  for src in srcs)
    # in a comment too: the placeholder is not on an element, so the page is parsed whole
    document = render._parsed_html(pages["comment"], render._offline_fetcher())
    assert not any("pk-" in (el.get("src") or "") for el in document.etree_element.iter())


def test_the_collector_is_back_on_after_a_pdf_even_a_failed_one(pages, tmp_path):
    assert gc.isenabled()
    with render._gc_paused():
        with render._gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(OSError):
        render.pdf_from_html(pages["report"], tmp_path / "missing" / "x.pdf")
    assert gc.isenabled()
    gc.disable()
    try:  # off before: left off
        render.pdf_from_html(pages["report"], tmp_path / "off.pdf")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_prints_with_the_parents_kept_work(pages, tmp_path):
    """As in a batch: the zygote parsed the stylesheet and built Pango contexts; its child's PDF
    is the one the parent makes itself."""
    render.pdf_from_html(pages["report"], tmp_path / "warm.pdf")
    assert _weasy._SHEETS and _weasy._PANGO.contexts
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            render.pdf_from_html(pages["own-style"], tmp_path / "child.pdf")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    render.pdf_from_html(pages["own-style"], tmp_path / "parent.pdf")
    assert (tmp_path / "child.pdf").read_bytes() == (tmp_path / "parent.pdf").read_bytes()


def test_one_validation_gives_the_same_html():
    import nbformat

    from progress_kit.reports import engine

    nb = engine.warm_up_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("**PHQ-9** < 10 & GAD-7"))
    once = render.new_exporter()
    each = render.new_exporter()
    each.optimistic_validation = False
    assert once.optimistic_validation
    assert render.html_from_notebook(nb, "t", once) == render.html_from_notebook(nb, "t", each)
