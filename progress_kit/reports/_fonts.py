"""WeasyPrint's fonts: one font configuration per thread, and font subsets without parsing a C
declaration per font.

**One font configuration.** Each ``write_pdf`` without a ``font_config`` builds a new
:class:`weasyprint.text.fonts.FontConfiguration`, whose Pango font map then measures and shapes
every glyph of the document afresh. :func:`config_for` keeps one per thread and gives it to
every PDF whose HTML declares no ``@font-face`` (which would add fonts to it for the documents
after): the PDF is byte for byte the same (tested), and 10-12 % faster (25 ms of a client
report's 0.2 s). A batch's zygote builds it while warming up, so each report's process starts
with the fonts measured.

WeasyPrint (70) subsets each font of a PDF with HarfBuzz, and passes it the glyphs to keep as
``ffi.new(f"hb_codepoint_t[{n}]", values)``: a C type spelled with the array's length. cffi
caches parsed types by their spelling, so every new length is parsed again by pycparser, about
2 ms each; a report's two fonts make four new lengths (their glyph counts), 8-12 ms of a PDF's
0.2 s. ``ffi.new("hb_codepoint_t[]", values)`` makes the same array (its length is that of
``values``) from one cached type.

:func:`install` gives WeasyPrint's font module an ``ffi`` that spells such arrays open-ended
and passes everything else to WeasyPrint's own ``ffi``. The PDF is byte for byte the same
(tested). Only for the WeasyPrint versions :data:`._png.PATCHED_WEASYPRINT` names.
"""

from __future__ import annotations

import re
import threading

from ._libs import import_weasyprint

_CONFIGS = threading.local()
_SIZED = re.compile(r"([A-Za-z_][A-Za-z0-9_ ]*)\[(\d+)\]")


class _OpenArrays:
    """``ffi`` with ``new("T[n]", values)`` made as ``new("T[]", values)`` when ``values`` has
    exactly ``n`` items (the same array); every other call and attribute goes to ``ffi``."""

    def __init__(self, ffi):
        self._ffi = ffi

    def new(self, cdecl, init=None):
        match = _SIZED.fullmatch(cdecl) if isinstance(cdecl, str) and init is not None else None
        if match is not None:
            try:
                same = len(init) == int(match[2])
            except TypeError:  # an initialiser without a length
                same = False
            if same:
                return self._ffi.new(f"{match[1]}[]", init)
        return self._ffi.new(cdecl, init)

    def __getattr__(self, name):
        return getattr(self._ffi, name)


def install() -> bool:
    """Give WeasyPrint's font module the open-array ``ffi``; True if it is (or was) installed.

    False, and WeasyPrint left as it is, for a WeasyPrint version other than the ones this was
    written for.
    """
    try:
        import_weasyprint()
        import weasyprint
        from weasyprint.pdf import fonts
    except ImportError:
        return False
    from ._png import weasyprint_tested

    if isinstance(fonts.ffi, _OpenArrays):
        return True
    if not weasyprint_tested(getattr(weasyprint, "__version__", "")):
        return False
    fonts.ffi = _OpenArrays(fonts.ffi)
    return True


def config_for(html: str):
    """The thread's kept ``FontConfiguration`` for a page without ``@font-face``, else None
    (WeasyPrint then builds a fresh one for that page alone, as it always does)."""
    if "@font-face" in html.lower():
        return None
    config = getattr(_CONFIGS, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _CONFIGS.config = FontConfiguration()
    return config
