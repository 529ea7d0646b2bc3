"""The report's figures as PNG: written fast, and embedded in the PDF as they are.

:func:`encode_rgb` writes an opaque 8-bit RGB image as a PNG with every row unfiltered and zlib
level 1. For the kit's charts (mostly flat colour) that is 2 ms a figure against Pillow's 9 ms
(adaptive filtering, level 6), and the files are 7 % smaller (docs/performance.md, round four).

WeasyPrint (up to at least 70) passes JPEG data through to the PDF, but decodes every PNG with
Pillow and compresses it again, although a PDF image stream with the PNG predictor
(``/DecodeParms << /Predictor 15 >>``) takes a PNG's ``IDAT`` data as it is. For the kit's
figures (opaque 8-bit RGB, not interlaced: :func:`progress_kit.reports.notebook._figure_png`)
that round trip is about 10 ms a figure, 7 % of a client report (docs/performance.md, round
four). :func:`install_passthrough` makes WeasyPrint take such PNGs' ``IDAT`` data directly; every other
image (transparency, palettes, 16-bit, interlaced, scaled down by a ``dpi`` option, JPEG, SVG)
takes WeasyPrint's own path. The pixels in the PDF are the same either way (tested).
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import threading
import zlib

import numpy as np

from ._libs import import_weasyprint

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB, _DEPTH_8, _NOT_INTERLACED = 2, 8, 0


def encode_rgb(rgb: np.ndarray, level: int = 1) -> bytes:
    """An ``(height, width, 3)`` uint8 array as a PNG (filter type 0 on every row).

    PNG (ISO/IEC 15948): the signature, an ``IHDR`` chunk (8-bit truecolour, not interlaced),
    one ``IDAT`` chunk holding the zlib stream of the rows, each prefixed by its filter byte,
    and ``IEND``; each chunk is length, type, data and the CRC-32 of type and data.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected a (height, width, 3) uint8 array, not {rgb.shape} {rgb.dtype}")
    height, width, _ = rgb.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # column 0: filter type 0 (None)
    rows[:, 1:] = rgb.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, _DEPTH_8, _RGB, 0, 0, _NOT_INTERLACED)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)), _chunk(b"IEND", b"")))


_RENDERERS = threading.local()
_RENDERERS_MAX = 8
_LAYOUTS_MAX = 20_000
_GLYPHS_MAX = 50_000
_CANVAS: type | None = None


def _canvas_class() -> type:
    """An Agg canvas that keeps one renderer per size, resolution and thread (built on first use,
    so that importing this module does not import matplotlib).

    Matplotlib measures every text it lays out (tick labels, legend entries, axis labels) and
    caches the sizes *per renderer*; a new canvas has a new renderer, so each figure measured
    the same strings again. A renderer holds nothing of a figure once it is cleared, which
    ``FigureCanvasAgg.draw`` does before every draw; kept, its cache serves the next figure
    of the same size (and, in a batch, every report forked after the warm-up drew one). The
    pixels are the same (tested against ``savefig``).
    """
    global _CANVAS
    if _CANVAS is None:
        import math

        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
        from matplotlib.font_manager import fontManager, get_font
        from matplotlib.ft2font import RenderMode

        class _Renderer(RendererAgg):
            """Agg, with each string's glyph layout kept (per thread) for the next time the same
            string is drawn in the same font, size and resolution: tick labels, legend entries
            and axis labels recur in every figure of a kind. ``draw_text`` then draws the same
            glyphs at the same places as Agg's own (the pixels are tested against ``savefig``).
            A layout refers to matplotlib's font objects, which matplotlib drops in a forked
            child (FreeType's files must not be shared): the kept layouts are dropped there too
            (:func:`_forget_layouts`).

            Each glyph's bitmap is kept too (:meth:`_draw_text_glyphs_and_boxes`), and each
            font's line metrics (:meth:`_get_font_height_metrics`)."""

            def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
                if ismath:
                    return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
                features = mtext.get_fontfeatures() if mtext is not None else None
                language = mtext.get_language() if mtext is not None else None
                flags = get_hinting_flag()
                size = prop.get_size_in_points()
                layouts = _RENDERERS.__dict__.setdefault("layouts", {})
                key = (s, hash(prop), size, self.dpi, flags,
                       None if features is None else tuple(features), language)
                items = layouts.get(key)
                if items is None:
                    font = self._prepare_font(prop)
                    items = tuple(font._layout(s, flags=flags, features=features,
                                               language=language))
                    if len(layouts) >= _LAYOUTS_MAX:
                        layouts.clear()
                    layouts[key] = items
                self._draw_text_glyphs_and_boxes(
                    gc, x, y, angle,
                    ((item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y)
                     for item in items), [])

            def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes):
                """Agg's own, with each glyph's bitmap kept (per process and thread) for the
                next time the same glyph is drawn at the same sub-pixel offset.

                FreeType places a glyph at a position in 1/64 pixel: the outline, hinted
                first, is moved there, then rasterised. Moving it by whole pixels moves the
                bitmap by whole pixels and changes no coverage value, so the bitmap is kept
                under the position's 1/64 fraction (with the font file, size, resolution,
                glyph, rotation, hinting and antialiasing) and drawn at the whole-pixel part.
                A report's tick labels, legend entries and band names recur at the same
                fractions from figure to figure and client to client; a batch's children
                find the warm-up's glyphs. The pixels are Agg's (tested against ``savefig``).
                Boxes (mathtext rules) are left to Agg.
                """
                if boxes:
                    glyphs = list(glyphs)
                    super()._draw_text_glyphs_and_boxes(gc, x, y, angle, glyphs, boxes)
                    return
                cos = math.cos(math.radians(angle))
                sin = math.sin(math.radians(angle))
                load_flags = get_hinting_flag()
                antialiased = bool(gc.get_antialiased())
                kept = _RENDERERS.__dict__.setdefault("glyphs", {})
                height = self.height
                draw = self._renderer.draw_text_image
                for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards
                    # the position as Agg gives it to FreeType, in 1/64 pixel (FreeType's y is up)
                    px = round(0x40 * (x + dx * cos - dy * sin))
                    py = round(0x40 * (height - y + dx * sin + dy * cos))
                    key = (font.fname, font.face_index, size, self.dpi, glyph_index, angle, slant,
                           extend, px & 0x3F, py & 0x3F, load_flags, antialiased)
                    glyph = kept.get(key)
                    if glyph is None:
                        font.set_size(size, self.dpi)
                        font._set_transform(
                            (0x10000 * np.array([[cos, -sin], [sin, cos]])
                             @ [[extend, extend * slant], [0, 1]]).round().astype(int), [px, py])
                        bitmap = font._render_glyph(
                            glyph_index, load_flags,
                            RenderMode.NORMAL if antialiased else RenderMode.MONO)
                        buffer = bitmap.buffer
                        if not antialiased:
                            buffer *= 0xFF
                        glyph = (buffer, bitmap.left - (px >> 6), bitmap.top - (py >> 6))
                        if len(kept) >= _GLYPHS_MAX:
                            kept.clear()
                        kept[key] = glyph
                    buffer, left, top = glyph
                    # draw_text_image's y is downwards and the bitmap's bottom side
                    draw(buffer, left + (px >> 6), int(height) - (top + (py >> 6)) + buffer.shape[0],
                         0, gc)

            def _get_font_height_metrics(self, prop):
                """The font's ascent, descent and line gap in pixels, as ``Text._get_layout``
                computes them from the font's OS/2 or hhea table (matplotlib 3.11), kept per
                font file, size and resolution: every text's layout asked the font's tables
                again. ``(None, None, None)`` lets matplotlib measure, as it does without them."""
                paths = fontManager._find_fonts_by_props(prop)
                size = prop.get_size_in_points()
                metrics = _RENDERERS.__dict__.setdefault("heights", {})
                key = (tuple(paths), size, self.dpi)
                found = metrics.get(key)
                if found is None:
                    found = metrics[key] = _height_metrics(get_font(paths), size, self.dpi)
                return found

        if not text_path_tested(matplotlib.__version__, RendererAgg):
            # another matplotlib draws text its own way: Agg's, only the renderer kept
            for name in ("draw_text", "_draw_text_glyphs_and_boxes", "_get_font_height_metrics"):
                delattr(_Renderer, name)

        class _KeptRendererCanvas(FigureCanvasAgg):
            def get_renderer(self):
                if not _same_font_settings():
                    self._lastKey = None  # its renderer's measured texts are of the old fonts
                w, h = self.get_width_height(physical=True)
                key = (w, h, self.figure.dpi)
                if self._lastKey != key:
                    kept = _RENDERERS.__dict__.setdefault("by_size", {})
                    renderer = kept.get(key)
                    if renderer is None:
                        while len(kept) >= _RENDERERS_MAX:
                            kept.pop(next(iter(kept)))
                        renderer = kept[key] = _Renderer(w, h, self.figure.dpi)
                    self.renderer, self._lastKey = renderer, key
                return self.renderer

        _CANVAS = _KeptRendererCanvas
    return _CANVAS


MATPLOTLIB_TEXT_TESTED = ((3, 11),)
"""Matplotlib versions (major, minor) whose Agg text drawing (``RendererAgg.draw_text`` and
``_draw_text_glyphs_and_boxes``) and ``Text._get_layout`` line metrics the kept renderer's
copies were written against and tested with (pixels against ``savefig``). With any other
version the renderer is kept, but draws and measures text as Agg does."""


def text_path_tested(version: str, renderer_class) -> bool:
    """True when matplotlib ``version`` is one of :data:`MATPLOTLIB_TEXT_TESTED` and its
    Agg renderer draws glyphs through ``_draw_text_glyphs_and_boxes``.

    Examples
    --------
    >>> class Agg:
    ...     def _draw_text_glyphs_and_boxes(self, gc, x, y, angle, glyphs, boxes): ...
    >>> text_path_tested("3.11.2", Agg), text_path_tested("3.12.0", Agg)
    (True, False)
    >>> text_path_tested("3.11.2", object)
    False
    """
    try:
        major, minor = (int(part) for part in str(version).split(".")[:2])
    except ValueError:
        return False
    return (major, minor) in MATPLOTLIB_TEXT_TESTED and hasattr(
        renderer_class, "_draw_text_glyphs_and_boxes")


def _height_metrics(font, size: float, dpi: float) -> tuple:
    """``Text._get_layout``'s line metrics of ``font`` (matplotlib 3.11, text.py): the first of
    the OS/2 typographic or the hhea ascent, descent and line gap, scaled to pixels, in the same
    arithmetic; ``(None, None, None)`` when the font has neither table."""
    for table_name, linegap_key, ascent_key, descent_key in (
            ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
            ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
        scale = 1 / units_per_em * size * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[linegap_key] * scale
    return None, None, None


_TEXT_SETTINGS = ("font.", "text.", "mathtext.")
"""The settings (by prefix) that decide which font file a text resolves to (``findfont``'s family
lists), how it is measured and drawn (hinting, kerning, antialiasing) and how mathtext is laid
out. Matplotlib's ``savefig`` reads them afresh with a new renderer every time; a kept renderer
and the kept glyph layouts hold what they gave."""
_TEXT_KEYS: tuple[str, ...] | None = None


def _font_settings() -> tuple:
    """The text settings (:data:`_TEXT_SETTINGS`) as they are, and the font manager with the
    fonts it knows."""
    global _TEXT_KEYS
    import matplotlib
    from matplotlib import font_manager

    rc = matplotlib.rcParams
    if _TEXT_KEYS is None:
        _TEXT_KEYS = tuple(k for k in dict.keys(rc) if k.startswith(_TEXT_SETTINGS))
    manager = font_manager.fontManager
    values = (dict.get(rc, key) for key in _TEXT_KEYS)
    return (id(manager), len(manager.ttflist), len(manager.afmlist),
            *(tuple(v) if isinstance(v, list) else v for v in values))


def _same_font_settings() -> bool:
    """False, after dropping the kept renderers and glyph layouts, when a text setting
    (:data:`_TEXT_SETTINGS`) or the font manager changed since they were kept.

    Both are kept under a text's font *properties*: a glyph layout (``draw_text``) holds the font
    it was laid out in, and matplotlib caches each renderer's text sizes (and its mathtext
    layouts) by properties too. After ``rcParams["font.sans-serif"]`` changes, say, or a font is
    added, the same properties find another file: a kept layout would draw the old font's
    glyphs, and a kept renderer give the old font's sizes; after ``text.hinting`` or a
    ``mathtext`` font changes, a kept renderer would measure and lay out as before. Checked once
    per draw, when the canvas hands out its renderer."""
    settings = _font_settings()
    if _RENDERERS.__dict__.get("font_settings") == settings:
        return True
    for kept in ("layouts", "by_size"):
        _RENDERERS.__dict__.pop(kept, None)
    _RENDERERS.font_settings = settings
    return False


def _forget_layouts() -> None:
    """In a forked child: drop the kept glyph layouts, whose fonts matplotlib has just dropped
    (``os.register_at_fork`` in ``matplotlib.font_manager``); drawing with them would crash."""
    _RENDERERS.__dict__.pop("layouts", None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_layouts)


_BLANKS: dict[tuple, list] = {}
_BLANKS_RC: dict | None = None
_BLANKS_MAX = 4
_SIZES_DRAWN: dict[tuple, int] = {}  # (figsize, dpi) -> figures handed out
_TICKS_DRAWN: dict[tuple, tuple[int, int]] = {}  # (figsize, dpi) -> most x and y ticks made


def blank_axes(figsize: tuple[float, float], dpi: float):
    """A new white, constrained-layout ``Figure`` of ``figsize`` inches at ``dpi`` with one
    subplot, as ``(figure, axes)``: one made ahead of time by :func:`keep_blank_axes` when
    there is one (and matplotlib's settings are the same as when it was made), else a new one.

    Making a figure and its axes takes about 4.5 ms (the axes' spines, axes, first ticks and
    texts), and its ticks about 0.4 ms each; made in a batch's warm worker before it forks, a
    report's child finds them made.
    """
    key = (tuple(figsize), dpi)
    _SIZES_DRAWN[key] = _SIZES_DRAWN.get(key, 0) + 1
    kept = _BLANKS.get(key)
    if kept and _same_style():
        fig, ax = kept.pop()
    else:
        fig, ax = _new_axes(key)
    fig._progress_kit_blank = key  # figure_png counts its ticks (_count_ticks)
    return fig, ax


def keep_blank_axes() -> int:
    """Make, ahead of time, blank figures of each size this process has drawn through
    :func:`blank_axes` (one more than it drew, at most four), for the next calls; returns how
    many. Their axes have as many ticks made as the last figures of their size drew, and two.

    A batch's warm worker draws a demo report's figures, then calls this before it forks a
    child per report (:func:`progress_kit.reports.notebook.prepare_batch`): each child takes
    its figures from its copy. A blank made before matplotlib's settings (``rcParams``) changed
    is not used.
    """
    global _BLANKS_RC
    _BLANKS.clear()
    for key, drawn in _SIZES_DRAWN.items():
        ticks = [min(_TICKS_AHEAD_MAX, 2 + n) for n in _TICKS_DRAWN.get(key, (0, 0))]
        _BLANKS[key] = [_new_axes(key, *ticks) for _ in range(min(drawn + 1, _BLANKS_MAX))]
    _BLANKS_RC = dict(_rc_params())
    return sum(map(len, _BLANKS.values()))


_TICKS_AHEAD_MAX = 14


def _new_axes(key: tuple, xticks: int = 0, yticks: int = 0):
    """A new white, constrained-layout figure of ``key`` (figsize, dpi) with one subplot, whose
    x and y axes have ``xticks`` and ``yticks`` major ticks made already.

    Matplotlib makes an axis's ticks when first asked for that many (``Axis.get_major_ticks``),
    mostly while constrained layout measures the figure: about 0.4 ms a tick, 14 a figure. A
    tick it makes then is a new tick given the axis's tick parameters and the first tick's
    properties; one made ahead is the same new tick, and the plotting code's tick parameters
    (``tick_params``, ``grid``) reach it as they reach the first tick, since matplotlib applies
    them to every tick an axis has. Extra ticks are never drawn or measured: an axis draws and
    measures only as many as its locator gives.
    """
    from matplotlib.figure import Figure

    figsize, dpi = key
    fig = Figure(figsize=figsize, dpi=dpi, facecolor="white", layout="constrained")
    ax = fig.add_subplot()
    if xticks:
        ax.xaxis.get_major_ticks(xticks)
    if yticks:
        ax.yaxis.get_major_ticks(yticks)
    return fig, ax


def _count_ticks(fig) -> None:
    """After a figure from :func:`blank_axes` was drawn: the most major ticks its axes made."""
    key = getattr(fig, "_progress_kit_blank", None)
    if key is not None and fig.axes:
        ax = fig.axes[0]
        seen = _TICKS_DRAWN.get(key, (0, 0))
        _TICKS_DRAWN[key] = (max(seen[0], len(ax.xaxis.majorTicks)),
                             max(seen[1], len(ax.yaxis.majorTicks)))


def _rc_params():
    import matplotlib

    return matplotlib.rcParams


_NOT_STYLE = frozenset((
    "interactive", "backend", "webagg.port", "webagg.address", "webagg.port_retries",
    "webagg.open_in_browser", "backend_fallback", "toolbar", "timezone",
    "figure.max_open_warning", "figure.raise_window", "savefig.directory", "tk.window_focus",
    "docstring.hardcopy", "date.epoch"))
"""The settings matplotlib does not count as style (``matplotlib.style``'s own list): none is
read when a figure and its axes are made (the time zone and the date epoch are read when dates
are plotted and drawn, as with any figure). IPython changes ``backend_fallback`` when a
report's notebook starts, after the blanks were made."""


def _same_style() -> bool:
    """True when matplotlib's settings, apart from :data:`_NOT_STYLE`, are those the blanks
    were made with (:func:`keep_blank_axes`)."""
    if _BLANKS_RC is None:
        return False
    rc = _rc_params()
    if dict.__eq__(_BLANKS_RC, rc):
        return True
    if len(rc) != len(_BLANKS_RC):
        return False
    return all(k in _NOT_STYLE or v == dict.__getitem__(rc, k) for k, v in _BLANKS_RC.items())


def figure_png(fig) -> bytes:
    """A white, constrained-layout matplotlib ``Figure`` as an opaque RGB PNG.

    Pixel for pixel what ``fig.savefig(format="png", facecolor="white")`` gives at the figure's
    dpi (tested), for less work: constrained layout runs once, not once per draw (``savefig``
    draws a figure with a layout engine twice); the figure is drawn once, on a renderer kept
    for figures of its size (:func:`_canvas_class`); the alpha channel, opaque everywhere on
    a white figure, is left out; and :func:`encode_rgb` writes the PNG. The reports' figures and
    the explorer's charts are drawn here (docs/performance.md, rounds four and five). While it
    lays out and draws, each axis computes its ticks once per view and size (:func:`_ticks_kept`)
    and each text its layout once per string, font and alignment (:func:`_text_layouts_kept`).
    """
    canvas = _canvas_class()(fig)
    with _ticks_kept(fig), _text_layouts_kept():
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
            fig.set_layout_engine("none")  # keep the positions constrained layout has just found
        canvas.draw()
    _count_ticks(fig)
    # the renderer is kept for the next figure: the pixels are copied out (encode_rgb) first
    return encode_rgb(_rgb(canvas))


def _rgb(canvas) -> np.ndarray:
    """The canvas's pixels without their alpha channel, as a contiguous ``(height, width, 3)``
    array: Pillow's RGBA to RGB conversion drops the alpha in one pass, a third of the time
    NumPy takes to copy a strided three-of-four-bytes view (~0.7 ms against 1.9 ms for a
    report figure)."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return np.asarray(image.convert("RGB"))


@contextlib.contextmanager
def _ticks_kept(fig):
    """Within the block, each axis of ``fig`` computes its ticks only when its view or its
    axes' box on the figure has changed since the last time.

    Matplotlib asks an axis for its ticks (``Axis._update_ticks``: locate, format, place each
    tick, keep those in view) every time anything measures or draws it: about 20 times a
    figure, from constrained layout's two passes over the axis, the spines and the axis label
    positions, and the draw. Once the plotting code has finished, the ticks depend only on the
    view limits, the axes' size (how many ticks fit) and the locators and formatters, which
    are in the key: with the same key, the ticks from the last call are the ticks, positions
    and labels a new call would give. Taken off again on the way out.
    """
    axes = [axis for ax in fig.get_axes() for axis in ax._axis_map.values()]
    for axis in axes:
        axis._update_ticks = functools.partial(_kept_ticks, axis, type(axis)._update_ticks, {})
    try:
        yield
    finally:
        for axis in axes:
            axis.__dict__.pop("_update_ticks", None)


def _kept_ticks(axis, update, last: dict) -> list:
    major, minor = axis.major, axis.minor
    key = (tuple(axis.get_view_interval()), axis.axes.bbox.bounds, id(major.locator),
           id(major.formatter), id(minor.locator), id(minor.formatter))
    if last.get("key") != key:
        last["ticks"], last["key"] = update(axis), key
    return list(last["ticks"])


_TEXT_LOCK = threading.Lock()
_TEXT_USERS = [0, None]  # blocks open in any thread, and matplotlib's own Text._get_layout


@contextlib.contextmanager
def _text_layouts_kept():
    """Within the block, each text keeps its layout (``Text._get_layout``: its lines' sizes,
    alignment offsets and box) until its string, font, alignment, rotation, line spacing,
    resolution or renderer changes.

    Matplotlib lays a text out every time it is measured or drawn: about 115 times a figure
    (tick labels measured by constrained layout's two passes, by the axis label positions, by
    the spines and again when drawn; the legend's entries likewise). The layout depends only on
    what is in the key (matplotlib 3.11, ``text.py``; wrapped text is laid out anew each time,
    as it depends on the text's position). ``Text._get_layout`` is replaced while any block is
    open, in any thread; a thread without a block of its own gets matplotlib's.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.text import Text

    if not text_path_tested(matplotlib.__version__, RendererAgg):
        yield
        return
    outer = getattr(_RENDERERS, "text_layouts", None)
    _RENDERERS.text_layouts = {}
    with _TEXT_LOCK:
        if not _TEXT_USERS[0]:
            _TEXT_USERS[1] = Text._get_layout
            Text._get_layout = _kept_text_layout
        _TEXT_USERS[0] += 1
    try:
        yield
    finally:
        _RENDERERS.text_layouts = outer
        with _TEXT_LOCK:
            _TEXT_USERS[0] -= 1
            if not _TEXT_USERS[0]:
                Text._get_layout = _TEXT_USERS[1]


def _kept_text_layout(text, renderer):
    """``Text._get_layout`` through the block's kept layouts (:func:`_text_layouts_kept`)."""
    kept = getattr(_RENDERERS, "text_layouts", None)
    if kept is None or text.get_wrap():
        return _TEXT_USERS[1](text, renderer)
    key = (id(renderer), text.get_figure(root=True).dpi, text._text, hash(text._fontproperties),
           text.get_usetex(), text.get_parse_math(), text._linespacing, text.get_rotation(),
           text.get_rotation_mode(), text._horizontalalignment, text._verticalalignment,
           text._get_multialignment())
    found = kept.get(text)
    if found is None or found[0] != key:
        found = kept[text] = (key, _TEXT_USERS[1](text, renderer))
    return found[1]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def plain_rgb_idat(png: bytes) -> tuple[int, int, bytes] | None:
    """``(width, height, zlib data)`` of an 8-bit RGB, non-interlaced PNG, else None.

    The zlib data is the ``IDAT`` chunks joined, which is what a PDF ``/FlateDecode`` stream
    with ``/Predictor 15 /Colors 3 /BitsPerComponent 8`` decodes (ISO 32000-1, 7.4.4.4).
    """
    if not png.startswith(_SIGNATURE) or png[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", png[16:29])
    if (depth, colour, interlace) != (_DEPTH_8, _RGB, _NOT_INTERLACED):
        return None
    chunks, pos = [], 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            chunks.append(png[pos + 8:pos + 8 + length])
        elif kind in (b"tRNS", b"PLTE"):  # a transparent colour or palette: not plain RGB
            return None
        elif kind == b"IEND":
            return (width, height, b"".join(chunks)) if chunks else None
        pos += 12 + length
    return None


PATCHED_WEASYPRINT = (70, 70)
"""WeasyPrint major versions whose ``RasterImage.get_x_object(self, interpolate, dpi_ratio)``
the pass-through was tested against (pyproject.toml bounds WeasyPrint to them too). With any
other version the patch is not installed and every image takes WeasyPrint's own path."""


def patchable(version: str, method) -> bool:
    """True when WeasyPrint ``version`` and its ``RasterImage.get_x_object`` are the ones the
    pass-through was written for (major version in :data:`PATCHED_WEASYPRINT`, same signature).

    Examples
    --------
    >>> patchable("70.0", lambda self, interpolate, dpi_ratio: None)
    True
    >>> patchable("71.0", lambda self, interpolate, dpi_ratio: None)
    False
    """
    import inspect

    try:
        params = list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return False
    return weasyprint_tested(version) and params == ["self", "interpolate", "dpi_ratio"]


def weasyprint_tested(version: object) -> bool:
    """True when WeasyPrint ``version``'s major version is in :data:`PATCHED_WEASYPRINT`, the
    versions the kit's WeasyPrint shortcuts (here, ``_fonts``, ``_weasy``) were written for.

    Examples
    --------
    >>> weasyprint_tested("70.0"), weasyprint_tested("71.0"), weasyprint_tested("")
    (True, False, False)
    """
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        return False
    low, high = PATCHED_WEASYPRINT
    return low <= major <= high


def install_passthrough() -> bool:
    """Make WeasyPrint embed plain RGB PNGs as they are; True if it is (or was) installed.

    False, and WeasyPrint left as it is, when WeasyPrint is not a version the patch was tested
    with (:func:`patchable`): it then decodes and re-encodes PNGs itself, as it always does.
    """
    try:
        import pydyf

        import_weasyprint()
        import weasyprint
        from weasyprint.images import RasterImage
    except ImportError:
        return False
    original = RasterImage.get_x_object
    if getattr(original, "_progress_kit", False):
        return True
    if not patchable(getattr(weasyprint, "__version__", ""), original):
        return False

    def get_x_object(self, interpolate, dpi_ratio):
        if dpi_ratio == 1 and self.format == "PNG" and self.mode == "RGB":
            plain = plain_rgb_idat(self.image_data.data)
            if plain is not None and plain[:2] == (self.width, self.height):
                return pydyf.Stream([self.cache_image_data(plain[2], slot="stream")], pydyf.Dictionary({
                    "Type": "/XObject", "Subtype": "/Image", "Width": self.width,
                    "Height": self.height, "ColorSpace": "/DeviceRGB", "BitsPerComponent": 8,
                    "Interpolate": "true" if interpolate else "false", "Filter": "/FlateDecode",
                    "DecodeParms": pydyf.Dictionary({"Predictor": 15, "Columns": self.width,
                                                     "Colors": 3})}))
        return original(self, interpolate, dpi_ratio)

    get_x_object._progress_kit = True
    RasterImage.get_x_object = get_x_object
    return True
