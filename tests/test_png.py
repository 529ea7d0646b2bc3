"""The figures' PNG data go into the PDF as they are (reports/_png.py): same pixels
as WeasyPrint's own decode-and-re-encode path, and every other kind of image left to WeasyPrint."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from progress_kit.reports import _png as pp
from progress_kit.reports.render import pdf_from_html


def _png(mode: str = "RGB", **save) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(37, 53, len(mode)), dtype=np.uint8)
    img = Image.fromarray(pixels.squeeze(), mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save)
    return buf.getvalue(), pixels


def _pdf_images(png: bytes, path) -> list[np.ndarray]:
    src = base64.b64encode(png).decode()
    pdf_from_html(f'<html><body><img src="data:image/png;base64,{src}" width="200"></body></html>', path)
    return [np.asarray(im.image) for page in PdfReader(path).pages for im in page.images]


def test_plain_rgb_png_yields_its_idat():
    png, _ = _png()
    width, height, data = pp.plain_rgb_idat(png)
    assert (width, height) == (53, 37)
    assert data and data in png


@pytest.mark.parametrize("mode", ["RGBA", "L", "LA"])
def test_other_colour_types_are_left_to_weasyprint(mode):
    png, _ = _png(mode)
    assert pp.plain_rgb_idat(png) is None


@pytest.mark.parametrize("offset,value", [(24, 16), (28, 1)], ids=["16-bit", "interlaced"])
def test_other_layouts_are_left_to_weasyprint(offset, value):
    png, _ = _png()
    # IHDR's bit depth (byte 24) and interlace method (byte 28); Pillow writes neither variant
    edited = png[:offset] + bytes([value]) + png[offset + 1:]
    assert pp.plain_rgb_idat(edited) is None


def test_palette_and_transparent_colour_are_left_to_weasyprint():
    png, _ = _png()
    img = Image.open(io.BytesIO(png))
    for convert, save in ((lambda i: i.convert("P"), {}), (lambda i: i, {"transparency": (0, 0, 0)})):
        buf = io.BytesIO()
        convert(img).save(buf, format="PNG", **save)
        assert pp.plain_rgb_idat(buf.getvalue()) is None
    assert pp.plain_rgb_idat(b"GIF89a" + png[6:]) is None
    assert pp.plain_rgb_idat(png[:40]) is None  # cut short: no IEND


def test_pdf_holds_the_same_pixels_as_weasyprints_own_path(tmp_path, monkeypatch):
    from weasyprint.images import RasterImage

    png, pixels = _png()
    assert pp.install_passthrough()
    passed = _pdf_images(png, tmp_path / "passed.pdf")
    assert len(passed) == 1 and np.array_equal(passed[0], pixels)
    patched = RasterImage.get_x_object
    assert patched._progress_kit
    monkeypatch.setattr(RasterImage, "get_x_object", patched.__closure__[0].cell_contents)
    monkeypatch.setattr(pp, "install_passthrough", lambda: True)  # WeasyPrint's own path for this PDF
    own = _pdf_images(png, tmp_path / "own.pdf")
    assert np.array_equal(own[0], passed[0])


def test_transparent_png_still_renders(tmp_path):
    png, pixels = _png("RGBA")
    images = _pdf_images(png, tmp_path / "alpha.pdf")
    assert len(images) == 1 and np.array_equal(images[0], pixels)  # colour and soft mask


@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (300, 2)])
def test_encoded_png_decodes_to_the_same_pixels(shape):
    rgb = np.random.default_rng(1).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    png = pp.encode_rgb(rgb)
    img = Image.open(io.BytesIO(png))
    img.load()  # Pillow checks every chunk's CRC while decoding
    assert img.mode == "RGB" and np.array_equal(np.asarray(img), rgb)
    assert pp.plain_rgb_idat(png)[:2] == (shape[1], shape[0])


def test_encode_refuses_what_is_not_8_bit_rgb():
    with pytest.raises(ValueError, match="uint8"):
        pp.encode_rgb(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        pp.encode_rgb(np.zeros((4, 4, 3), dtype=float))


def test_an_untested_weasyprint_keeps_its_own_path(tmp_path, monkeypatch):
    """The pass-through patches WeasyPrint internals: on a version it was not tested with it is
    not installed, and PDFs still hold the same pixels through WeasyPrint's own path."""
    import weasyprint
    from weasyprint.images import RasterImage

    pp.install_passthrough()
    current = RasterImage.get_x_object
    original = current.__closure__[0].cell_contents if getattr(current, "_progress_kit", False) \
        else current
    monkeypatch.setattr(RasterImage, "get_x_object", original)  # as WeasyPrint ships it
    monkeypatch.setattr(weasyprint, "__version__", "71.0")
    assert pp.install_passthrough() is False
    assert RasterImage.get_x_object is original
    png, pixels = _png()
    images = _pdf_images(png, tmp_path / "own.pdf")
    assert len(images) == 1 and np.array_equal(images[0], pixels)
    assert RasterImage.get_x_object is original
    monkeypatch.setattr(weasyprint, "__version__", "70.0")
    monkeypatch.setattr(RasterImage, "get_x_object", lambda self, interpolate: None)  # moved on
    assert pp.install_passthrough() is False


def _savefig_rgb(draw, figsize, dpi):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    draw(fig.add_subplot())
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return np.asarray(Image.open(buf).convert("RGB"))


def test_figures_of_one_size_share_a_renderer_and_draw_what_savefig_draws():
    """figure_png keeps one renderer per size (its text sizes cached for the next figure); a
    second, different figure of the same size still gets exactly savefig's pixels, and so does
    a first figure of another size drawn in between."""
    from matplotlib.figure import Figure

    def line(ax):
        ax.plot([0, 1, 2, 3], [21, 14, 15, 6], marker="o", label="PHQ-9 score")
        ax.set_xlabel("session (0 = first score)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))

    def bars(ax):
        ax.bar(["a", "b", "c"], [3, 1, 2], hatch="//")
        ax.set_title("something else entirely", loc="left")

    renderers = []
    for draw, size in ((line, (7.2, 3.0)), (bars, (7.2, 3.0)), (line, (5.0, 2.0)), (bars, (7.2, 3.0))):
        fig = Figure(figsize=size, dpi=100, facecolor="white", layout="constrained")
        draw(fig.add_subplot())
        got = np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))
        assert np.array_equal(got, _savefig_rgb(draw, size, 100)), (draw.__name__, size)
        renderers.append(fig.canvas.get_renderer())
    assert renderers[0] is renderers[1] is renderers[3] and renderers[2] is not renderers[0]
    # the tick labels' and legend's glyph layouts were kept for the figures after the first
    assert any(key[0] == "PHQ-9 score" for key in pp._RENDERERS.layouts)


def test_font_subsets_from_open_arrays_give_the_same_pdf(tmp_path, monkeypatch):
    """reports/_fonts.py: the PDF is byte for byte what WeasyPrint's own ffi gives."""
    from weasyprint.pdf import fonts

    from progress_kit.reports import _fonts

    html = ("<html><body><h1>Status: ON TRACK</h1><p>PHQ-9 12 → 2 over 6 sessions; "
            "<b>reliable improvement</b>, ≥ 10 — diary on 24 of 26 days.</p></body></html>")
    assert _fonts.install() and isinstance(fonts.ffi, _fonts._OpenArrays)
    pdf_from_html(html, tmp_path / "open.pdf")
    monkeypatch.setattr(fonts, "ffi", fonts.ffi._ffi)  # WeasyPrint's own ffi ...
    monkeypatch.setattr(_fonts, "install", lambda: False)  # ... left in place for this PDF
    pdf_from_html(html, tmp_path / "sized.pdf")
    assert (tmp_path / "open.pdf").read_bytes() == (tmp_path / "sized.pdf").read_bytes()


def test_open_arrays_only_where_the_length_matches():
    from weasyprint.text.ffi import ffi

    from progress_kit.reports._fonts import _OpenArrays

    calls = []

    class Spy:
        def new(self, cdecl, init=None):
            calls.append(cdecl)
            return ffi.new(cdecl, init)

    o = _OpenArrays(Spy())
    a = o.new("hb_codepoint_t[3]", (5, 6, 7))
    assert list(a) == [5, 6, 7] and len(a) == 3
    assert list(o.new("hb_codepoint_t[4]", (5, 6))) == [5, 6, 0, 0]  # shorter: as spelled
    o.new("unsigned int *", 100)
    assert calls == ["hb_codepoint_t[]", "hb_codepoint_t[4]", "unsigned int *"]


def test_one_font_configuration_per_thread_gives_the_same_pdfs(tmp_path, monkeypatch):
    """reports/_fonts.config_for: PDFs made one after another with the kept configuration are
    byte for byte those made each with a fresh one; a page with @font-face gets its own."""
    from progress_kit.reports import _fonts

    pages = ["<html><body><h1>Status: ALERT</h1><p>GAD-7 15 → 17; <i>watch</i> · ≤ 5</p></body></html>",
             "<html><body><table><tr><th>client</th><td>C023 – 14 weeks</td></tr></table>"
             "<h3>Diary</h3><p>mood 8.5/10 on 13 of 14 days</p></body></html>"]
    kept = _fonts.config_for(pages[0])
    assert kept is not None and _fonts.config_for(pages[1]) is kept
    for i, page in enumerate(pages):
        pdf_from_html(page, tmp_path / f"kept-{i}.pdf")
    monkeypatch.setattr(_fonts, "config_for", lambda html: None)  # WeasyPrint's fresh one
    for i, page in enumerate(pages):
        pdf_from_html(page, tmp_path / f"fresh-{i}.pdf")
        assert (tmp_path / f"kept-{i}.pdf").read_bytes() == (tmp_path / f"fresh-{i}.pdf").read_bytes()
    monkeypatch.undo()
    assert _fonts.config_for("<style>@FONT-FACE { font-family: x }</style>") is None


def _texts(ax):
    """Text the kept glyphs must draw as Agg does: rotated (the y label), at many sub-pixel
    offsets (tick labels), unhinted sizes, not antialiased, and mathtext (with a rule)."""
    ax.plot([0, 1, 2, 3], [21, 14, 15, 6], marker="o", label="PHQ-9 score")
    ax.set_ylabel("PHQ-9 score (higher = worse)")
    ax.set_xlabel("session (0 = first score)")
    ax.set_title("Agg draws these glyphs", loc="left", fontsize="medium", fontweight="bold")
    ax.text(0.3, 17.3, "slanted note", rotation=33, fontsize=7.3)
    ax.text(1.1, 8.7, "jagged text", antialiased=False)
    ax.text(2.05, 19.2, r"$\frac{a}{b} \leq 10$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def test_kept_glyph_bitmaps_draw_what_savefig_draws():
    """Each glyph's bitmap is kept under its sub-pixel offset: figures drawn again (same
    offsets: no glyph rendered anew) and at other sizes and resolutions (other offsets) are
    still savefig's pixels, text rotated, not antialiased and mathtext included."""
    from matplotlib.figure import Figure

    for i, (size, dpi) in enumerate((((6.0, 3.0), 100), ((6.0, 3.0), 100), ((5.3, 2.7), 150),
                                     ((6.1, 3.3), 80))):
        fig = Figure(figsize=size, dpi=dpi, facecolor="white", layout="constrained")
        _texts(fig.add_subplot())
        before = dict(getattr(pp._RENDERERS, "glyphs", {}))
        got = np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))
        assert np.array_equal(got, _savefig_rgb(_texts, size, dpi)), (size, dpi)
        if i == 1:  # the same figure again: every glyph was kept, none rendered anew
            assert pp._RENDERERS.glyphs == before
    kept = pp._RENDERERS.glyphs
    assert any(not key[-1] for key in kept)  # the jagged text's glyphs, kept apart
    assert any(key[5] not in (0, 0.0) for key in kept)  # rotated glyphs


def test_line_metrics_are_matplotlibs():
    """The kept line metrics are those Text._get_layout reads from the font (matplotlib 3.11),
    and text measured with them has the extent a plain Agg renderer gives."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

    if not pp.text_path_tested(__import__("matplotlib").__version__, RendererAgg):
        pytest.skip("another matplotlib: its own text path is used")
    fig = Figure(figsize=(4.0, 2.0), dpi=150)
    texts = [fig.text(0.1, 0.5, "two\nlines", fontsize=s) for s in (6, 9.5, 13)]
    kept = pp._canvas_class()(fig).get_renderer()
    plain = RendererAgg(600, 300, 150)
    assert hasattr(kept, "_get_font_height_metrics") and not hasattr(plain, "_get_font_height_metrics")
    for t in texts:
        assert t.get_window_extent(kept).bounds == t.get_window_extent(plain).bounds
    assert pp.text_path_tested("3.10.8", RendererAgg) is False  # Agg's own text path there


def _long_legend(ax):
    """The axes shrink between constrained layout's passes (a long legend on the right), so
    the x axis has other ticks after the first pass than before it."""
    ax.plot(range(13), [20, 18, 19, 15, 14, 12, 12, 9, 8, 8, 7, 5, 4], marker="o",
            label="a rather long legend entry that takes half the width of the figure away")
    ax.set_xlabel("session (0 = first score)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _square(ax):
    """An equal-aspect box, shrunk at draw time after the layout placed it (as the Jacobson
    plot's), and a rotated, a multi-line and a wrapped text."""
    ax.scatter([3, 17, 22], [2, 19, 8])
    ax.set_xlim(-0.5, 27.5)
    ax.set_ylim(-0.5, 27.5)
    ax.set_aspect("equal", adjustable="box")
    ax.text(1.03, 0.0, "numbers: clients per cell\n(* = 0 to 4)", transform=ax.transAxes,
            fontsize="x-small", va="bottom")
    ax.text(2, 25, "a wrapped note " * 6, wrap=True, fontsize=7)
    ax.set_ylabel("latest PHQ-9 score")


def _datalim(ax):
    """An equal aspect kept by widening the view at draw time: the view limits change after
    the layout measured the ticks."""
    ax.plot([0, 10], [0, 3], marker="o")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("first score")


def _dates_twin(ax):
    """Concise dates (labels depend on every tick), and a twin axis sharing x."""
    import matplotlib.dates as mdates
    import pandas as pd

    days = pd.date_range("2025-11-20", periods=9, freq="45D")
    ax.plot(days, [3, 5, 4, 6, 8, 7, 9, 8, 6])
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.twinx().plot(days, [0.1, 0.4, 0.3, 0.2, 0.5, 0.6, 0.4, 0.3, 0.2], color="orange")


@pytest.mark.parametrize("draw, size", [(_long_legend, (7.2, 2.4)), (_square, (5.6, 4.6)),
                                        (_dates_twin, (7.2, 2.6)), (_datalim, (6.0, 2.4))])
def test_kept_ticks_and_text_layouts_draw_what_savefig_draws(draw, size):
    """While figure_png lays out and draws, each axis's ticks and each text's layout are kept
    until what they depend on changes (the axes' size between the layout's passes, the box an
    equal aspect shrinks, a twin's shared view); the pixels are savefig's, and afterwards
    matplotlib's own methods are back."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    own = Text._get_layout
    fig = Figure(figsize=size, dpi=150, facecolor="white", layout="constrained")
    draw(fig.add_subplot())
    got = np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))
    assert np.array_equal(got, _savefig_rgb(draw, size, 150))
    assert Text._get_layout is own
    assert not any("_update_ticks" in vars(axis) for ax in fig.axes
                   for axis in (ax.xaxis, ax.yaxis))


def test_kept_ticks_follow_the_view_and_the_locator():
    """Within the block, an axis's ticks are computed again when its view or its locator
    changes, and are matplotlib's own ticks for them."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator

    fig = Figure(figsize=(5.0, 2.0), dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 10], [0, 1])

    def locs():
        return [t.get_loc() for t in ax.xaxis._update_ticks()]

    with pp._ticks_kept(fig):
        first = locs()
        ax.set_xlim(0, 100)
        wider = locs()
        ax.xaxis.set_major_locator(FixedLocator([5, 50]))
        fixed = locs()
    assert first == [0, 2, 4, 6, 8, 10] and wider == [0, 20, 40, 60, 80, 100]
    assert fixed == [5, 50] == locs()


@pytest.mark.parametrize("change", [
    lambda t: t.set_text("something longer"), lambda t: t.set_fontsize(13),
    lambda t: t.set_fontweight("bold"), lambda t: t.set_rotation(30),
    lambda t: t.set_rotation_mode("anchor"), lambda t: t.set_horizontalalignment("right"),
    lambda t: t.set_verticalalignment("top"), lambda t: t.set_multialignment("right"),
    lambda t: t.set_linespacing(2.0), lambda t: t.figure.set_dpi(90),
    lambda t: t.set_usetex(False) or t.set_text("$x^2$ and\ntwo lines")])
def test_a_kept_text_layout_is_laid_out_again_when_the_text_changes(change):
    """Each thing ``Text._get_layout`` reads is in the kept layout's key: after a change, the
    layout is matplotlib's for the changed text, not the kept one."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    own = Text._get_layout
    fig = Figure(figsize=(4.0, 2.0), dpi=150)
    text = fig.text(0.2, 0.5, "PHQ-9 score\n(higher = worse)")
    renderer = RendererAgg(600, 300, 150)
    with pp._text_layouts_kept():
        first = text._get_layout(renderer)
        assert text._get_layout(renderer) is first  # kept
        change(text)
        again = text._get_layout(renderer)
        assert again is not first
        fresh = own(text, renderer)
    assert again[0].bounds == fresh[0].bounds and again[1:] == fresh[1:]
    assert Text._get_layout is own


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_draws_without_the_parents_glyph_layouts():
    """matplotlib drops its font objects in a forked child; the kept layouts, which refer to
    them, go too (drawing with them crashed the child with SIGSEGV), and the child's figure is
    still savefig's."""
    import os

    from matplotlib.figure import Figure

    def line(ax):
        ax.plot([0, 1, 2], [9, 4, 6], label="GAD-7 score")
        ax.legend()

    def draw():
        fig = Figure(figsize=(4.0, 2.0), dpi=80, facecolor="white", layout="constrained")
        line(fig.add_subplot())
        return np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))

    draw()
    assert pp._RENDERERS.layouts
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if it draws savefig's pixels
        ok = not getattr(pp._RENDERERS, "layouts", None) and np.array_equal(
            draw(), _savefig_rgb(line, (4.0, 2.0), 80))
        ok = ok and bool(pp._RENDERERS.glyphs)  # the bitmaps, plain arrays, serve the child
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def test_blank_axes_made_ahead_draw_what_new_ones_draw(monkeypatch):
    """keep_blank_axes makes a blank figure for each size drawn so far; blank_axes hands them
    out (same pixels as a figure made then), and makes a new one when there is none left or
    matplotlib's settings changed after the blanks were made."""
    import matplotlib

    monkeypatch.setattr(pp, "_SIZES_DRAWN", {})
    monkeypatch.setattr(pp, "_TICKS_DRAWN", {})
    monkeypatch.setattr(pp, "_BLANKS", {})
    size = (5.5, 2.1)
    new = pp.blank_axes(size, 100)
    _texts(new[1])
    pp.figure_png(new[0])
    assert pp._SIZES_DRAWN == {(size, 100): 1}
    assert pp.keep_blank_axes() == 2  # one more than drawn
    kept = pp._BLANKS[(size, 100)][-1]
    # as many ticks made ahead as the figure of that size made, and two
    assert len(kept[1].xaxis.majorTicks) == len(new[1].xaxis.majorTicks) + 2
    fig, ax = pp.blank_axes(size, 100)
    assert (fig, ax) == kept and len(pp._BLANKS[(size, 100)]) == 1
    _texts(ax)
    got = np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))
    assert np.array_equal(got, np.asarray(Image.open(io.BytesIO(pp.figure_png(new[0])))))
    assert np.array_equal(got, _savefig_rgb(_texts, size, 100))
    assert pp.blank_axes(size, 100) != kept  # the other kept one
    assert not pp._BLANKS[(size, 100)] and pp.blank_axes(size, 100)  # none left: a new one
    assert pp.keep_blank_axes() == 4  # at most four
    kept = pp._BLANKS[(size, 100)][-1]  # the next one handed out
    with matplotlib.rc_context({"axes.linewidth": 2.5}):
        fig, ax = pp.blank_axes(size, 100)
        assert fig is not kept[0] and ax.spines["left"].get_linewidth() == 2.5
    assert pp.blank_axes(size, 100) == kept  # the settings back: the kept blank again
    kept = pp._BLANKS[(size, 100)][-1]
    with matplotlib.rc_context({"backend_fallback": False, "timezone": "Europe/London"}):
        assert pp.blank_axes(size, 100) == kept  # IPython's change, not a style


def _tick_params(ax):
    """Tick parameters set after the axes were made: they reach ticks made ahead as they reach
    the first tick (and ticks made later copy it)."""
    ax.plot(range(30), [(i * 7) % 23 for i in range(30)], label="many ticks")
    ax.tick_params(axis="x", labelsize="small", colors="#D55E00", length=6)
    ax.grid(True, axis="y", color="#DDDDDD", linewidth=0.6)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0f} pts")


def _fixed_labels(ax):
    """Fixed ticks whose labels get their own font size (as the cohort's rate trend)."""
    ax.plot(range(12), [0.4 + 0.02 * i for i in range(12)], marker="o")
    ax.set_xticks(range(12))
    ax.set_xticklabels([f"M{i}\n2026" if i == 0 else f"M{i}" for i in range(12)], fontsize="small")
    ax.grid(False)


@pytest.mark.parametrize("draw", [_tick_params, _fixed_labels, _long_legend])
@pytest.mark.parametrize("ahead", [0, 3, 14])
def test_ticks_made_ahead_draw_what_savefig_draws(draw, ahead):
    """A blank whose axes have ticks made ahead (fewer than the figure needs, or more) draws
    savefig's pixels, whatever tick parameters and labels the plotting code sets."""
    fig, ax = pp._new_axes(((7.2, 2.4), 150), ahead, ahead)
    assert len(ax.xaxis.majorTicks) == max(ahead, 1)
    draw(ax)
    got = np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))
    assert np.array_equal(got, _savefig_rgb(draw, (7.2, 2.4), 150))


@pytest.mark.parametrize("change", ["family list", "font added", "hinting", "mathtext font"])
def test_figures_after_a_font_change_draw_what_savefig_draws(change, monkeypatch):
    """Glyph layouts and renderers are kept under a text's font properties: when the same
    properties find another font file (a generic family's list changed in a notebook, or a
    listed font added to matplotlib), or text is measured or laid out otherwise (hinting, a
    mathtext font), figure_png draws what savefig draws, and as before once the change is
    undone."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    serif = font_manager.findfont(font_manager.FontProperties(family="DejaVu Serif"))

    def draw(ax):
        ax.plot([0, 1], [0, 1], label="PHQ-9")
        ax.set_title(r"Weekly scores $x_i$")
        ax.set_xlabel("week")
        ax.legend()

    def ours():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4, 3), dpi=100, layout="constrained")
        draw(fig.add_subplot())
        return np.asarray(Image.open(io.BytesIO(pp.figure_png(fig))))

    if change == "font added":  # a listed font matplotlib does not know yet
        monkeypatch.setattr(manager, "ttflist", [f for f in manager.ttflist if f.fname != serif])
        monkeypatch.setitem(matplotlib.rcParams, "font.sans-serif", ["DejaVu Serif", "DejaVu Sans"])
        manager._findfont_cached.cache_clear()
    if change == "mathtext font":
        monkeypatch.setitem(matplotlib.rcParams, "mathtext.fontset", "custom")
    before = ours()
    assert np.array_equal(before, _savefig_rgb(draw, (4, 3), 100))
    with matplotlib.rc_context():
        if change == "family list":
            matplotlib.rcParams["font.sans-serif"] = ["DejaVu Serif"]
        elif change == "hinting":
            matplotlib.rcParams["text.hinting"] = "no_hinting"
        elif change == "mathtext font":
            matplotlib.rcParams["mathtext.it"] = "DejaVu Serif:italic"
        else:
            manager.addfont(serif)
        changed = ours()
        assert not np.array_equal(changed, before)  # the serif font shows
        assert np.array_equal(changed, _savefig_rgb(draw, (4, 3), 100))
    monkeypatch.undo()
    manager._findfont_cached.cache_clear()
    assert np.array_equal(ours(), _savefig_rgb(draw, (4, 3), 100))
