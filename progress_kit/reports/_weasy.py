"""WeasyPrint's work that one process can do once for all its PDFs, and work it can skip.

A batch's reports are printed in children forked from one warmed process (the zygote), each
page through the same template and stylesheet. Measured in such a child (docs/performance.md,
round five, third session), these parts of WeasyPrint (70) repeated work whose result was
already known; each change below leaves the PDF byte for byte as it was (tested).

**The report's stylesheet, parsed once.** Every document's ``<style>`` was parsed again with
tinycss2 and its selectors compiled (7 ms of a client report's PDF). :func:`install` has
WeasyPrint's stylesheet finder take a parsed ``CSS`` from a small per-process store keyed by
the stylesheet's text, base URL and media type, so a changed ``report.css`` (or a user's own
notebook with its own styles) is parsed anew. A parsed stylesheet is read-only in WeasyPrint
(its user-agent stylesheet is shared by every document the same way). Stylesheets that add to
the document's own state while parsed (``@font-face``, ``@counter-style``, ``@layer``,
``@import``, ``@color-profile``) are always parsed as WeasyPrint does.

**Min-content widths only where they matter.** The page's margin boxes (the header and
footer lines) and each list item's bullet get a width of ``min(max(min-content, available),
max-content)``; WeasyPrint measured the min-content width (the text broken at every word)
first. When the available width is at least the max-content width, that is the max-content
width whatever the min-content width is, so it is measured only otherwise.

**One Pango context per font map, direction and language.** Every piece of text WeasyPrint
lays out or draws built a new Pango context and font description (about 400 a client
report); they depend only on the font map, direction, language and the font's properties,
and WeasyPrint never changes them after building them, so each is built once per thread.

Only for the WeasyPrint versions :data:`._png.PATCHED_WEASYPRINT` names, and only where the
WeasyPrint functions replaced here are, to the character, the ones these were written from
(:data:`_SOURCES`); otherwise WeasyPrint is left as it is.
"""

from __future__ import annotations

import hashlib
import inspect
import threading

from ._libs import import_weasyprint

_SOURCES = {
    "weasyprint.text.line_break.Layout.setup": "fb227a55094f41d4",
    "weasyprint.layout.page.OrientedBox.outer": "4576123e1a741572",
    "weasyprint.layout.preferred.shrink_to_fit": "38ecf6d5c6439df6",
    "weasyprint.css.find_stylesheets": "ac92dbb80c3fd936",
}
"""The first 16 hex digits of the SHA-256 of each replaced (or wrapped) function's source."""

_STATEFUL = ("@font-face", "@counter-style", "@layer", "@import", "@color-profile")
_SHEETS_MAX = 16
_SHEETS: dict[tuple, object] = {}
_PANGO = threading.local()
_PANGO_MAX = 64
_INSTALLED: list[bool] = []
_ORIGINALS: dict[str, object] = {}  # WeasyPrint's own functions, once replaced
_LOCK = threading.Lock()


def _fingerprint(function) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return None


def _targets() -> dict | None:
    """The WeasyPrint functions to replace, if this is a WeasyPrint they were written for."""
    try:
        import_weasyprint()
        import weasyprint
        from weasyprint import css
        from weasyprint.layout import page, preferred
        from weasyprint.text.line_break import Layout
    except ImportError:
        return None
    from ._png import weasyprint_tested

    if not weasyprint_tested(getattr(weasyprint, "__version__", "")):
        return None
    found = {"weasyprint.text.line_break.Layout.setup": Layout.setup,
             "weasyprint.layout.page.OrientedBox.outer": page.OrientedBox.outer.fset,
             "weasyprint.layout.preferred.shrink_to_fit": preferred.shrink_to_fit,
             "weasyprint.css.find_stylesheets": css.find_stylesheets}
    found = {name: _ORIGINALS.get(name, function) for name, function in found.items()}
    if any(_fingerprint(f) != _SOURCES[name] for name, f in found.items()):
        return None
    return found


def install() -> bool:
    """Make WeasyPrint skip the repeated work above; True if it is (or was) installed.

    False, and WeasyPrint left as it is, for a WeasyPrint version or source other than the ones
    this was written for.
    """
    with _LOCK:
        if _INSTALLED:
            return _INSTALLED[0]
        targets = _targets()
        if targets is not None:
            _ORIGINALS.update(targets)
            _keep_stylesheets()
            _lazy_min_content()
            _keep_pango_contexts()
        _INSTALLED.append(targets is not None)
        return _INSTALLED[0]


def kept_stylesheet(parse, string: str, base_url, media_type):
    """The parsed stylesheet for ``string`` from the store, parsed by ``parse`` if not there (or
    every time, for a stylesheet that adds to the document's state as it is parsed)."""
    lowered = string.lower()
    if any(rule in lowered for rule in _STATEFUL):
        return None
    key = (string, base_url, media_type)
    sheet = _SHEETS.get(key)
    if sheet is None:
        sheet = parse()
        if sheet.layers:  # a layer the check above did not see: not shared
            return sheet
        if len(_SHEETS) >= _SHEETS_MAX:  # a process rendering many stylesheets: start again
            _SHEETS.clear()
        _SHEETS[key] = sheet
    return sheet


def _keep_stylesheets() -> None:
    """WeasyPrint's stylesheet finder builds a ``<style>``'s ``CSS`` by name from its module:
    that name gives kept sheets for ``CSS(string=...)`` and WeasyPrint's class otherwise."""
    from weasyprint import css

    real = css.CSS

    def kept_css(*args, string=None, **kwargs):
        if args or string is None:
            return real(*args, string=string, **kwargs)
        base_url, media_type = kwargs.get("base_url"), kwargs.get("media_type", "print")
        sheet = kept_stylesheet(lambda: real(string=string, base_url=base_url,
                                             url_fetcher=kwargs.get("url_fetcher"),
                                             media_type=media_type),
                                string, base_url, media_type)
        return real(string=string, **kwargs) if sheet is None else sheet

    kept_css._progress_kit = True
    css.CSS = kept_css


def _lazy_min_content() -> None:
    """``min(max(min_content, x), max_content)`` is ``max_content`` when ``x >= max_content``:
    measure the min-content width only when it can change the result."""
    from weasyprint.layout import absolute, inline, page, preferred
    from weasyprint.layout import float as floats

    def outer(self, new_outer_width):
        wanted = new_outer_width - self.sugar
        widest = self.max_content_size
        self.inner = widest if wanted >= widest else min(max(self.min_content_size, wanted), widest)

    def shrink_to_fit(context, box, available_content_width):
        widest = preferred.max_content_width(context, box, outer=False)
        if available_content_width >= widest:
            return widest
        return min(max(preferred.min_content_width(context, box, outer=False),
                       available_content_width), widest)

    page.OrientedBox.outer = page.OrientedBox.outer.setter(outer)
    for module in (preferred, absolute, floats, inline):  # each imported the function by name
        if getattr(module, "shrink_to_fit", None) is not None:
            module.shrink_to_fit = shrink_to_fit


def _keep_pango_contexts() -> None:
    """``Layout.setup`` as WeasyPrint 70 writes it, with the Pango context (per font map,
    direction and language) and font description (per font properties) kept per thread."""
    from weasyprint.text import fonts
    from weasyprint.text.constants import LST_TO_ISO, PANGO_DIRECTION
    from weasyprint.text.ffi import FROM_UNITS, ffi, gobject, pango, unicode_to_char_p
    from weasyprint.text.line_break import Layout

    def context_for(style):
        if style["font_language_override"] != "normal":
            override = style["font_language_override"]
            lang = LST_TO_ISO.get(override.lower(), override)
        else:
            lang = style["lang"] or None
        font_map = style.font_config.font_map
        kept = _PANGO.__dict__.setdefault("contexts", {})
        key = (font_map, style["direction"], lang)
        found = kept.get(key)
        if found is None:
            context = ffi.gc(pango.pango_font_map_create_context(font_map),
                             gobject.g_object_unref)
            pango.pango_context_set_round_glyph_positions(context, False)
            pango.pango_context_set_base_dir(context, PANGO_DIRECTION[style["direction"]])
            if lang:
                lang_p, _ = unicode_to_char_p(lang)
                language = pango.pango_language_from_string(lang_p)
                pango.pango_context_set_language(context, language)
            else:
                language = pango.pango_language_get_default()
            if len(kept) >= _PANGO_MAX:  # a context holds its font map: keep few
                kept.clear()
            found = kept[key] = (context, language)
        return found

    def description_for(style):
        variations = style["font_variation_settings"]
        key = (tuple(style["font_family"]), style["font_style"], style["font_stretch"],
               style["font_weight"], style["font_size"], style["font_variant_caps"],
               variations if variations == "normal" else tuple(map(tuple, variations)))
        kept = _PANGO.__dict__.setdefault("descriptions", {})
        found = kept.get(key)
        if found is None:
            if len(kept) >= _PANGO_MAX:
                kept.clear()
            found = kept[key] = fonts.get_font_description(style)
        return found

    def setup(self, style):
        self.style = style
        self.first_line_direction = 0
        context, self.language = context_for(style)
        assert not isinstance(style["font_family"], str), "font_family should be a list"
        font_description = description_for(style)
        self.layout = ffi.gc(pango.pango_layout_new(context), gobject.g_object_unref)
        pango.pango_layout_set_auto_dir(self.layout, False)
        pango.pango_layout_set_font_description(self.layout, font_description)

        if style["text_decoration_line"] != "none":
            metrics = ffi.gc(pango.pango_context_get_metrics(context, font_description,
                                                             self.language),
                             pango.pango_font_metrics_unref)
            self.ascent = FROM_UNITS * pango.pango_font_metrics_get_ascent(metrics)
            self.underline_position = FROM_UNITS * (
                pango.pango_font_metrics_get_underline_position(metrics))
            self.strikethrough_position = FROM_UNITS * (
                pango.pango_font_metrics_get_strikethrough_position(metrics))
            self.underline_thickness = FROM_UNITS * (
                pango.pango_font_metrics_get_underline_thickness(metrics))
            self.strikethrough_thickness = FROM_UNITS * (
                pango.pango_font_metrics_get_strikethrough_thickness(metrics))
        else:
            self.ascent = None
            self.underline_position = None
            self.strikethrough_position = None

        features = fonts.font_features(
            style["font_kerning"], style["font_variant_ligatures"],
            style["font_variant_position"], style["font_variant_caps"],
            style["font_variant_numeric"], style["font_variant_alternates"],
            style["font_variant_east_asian"], style["font_feature_settings"])
        if features:
            features = ",".join(f"{key} {value}" for key, value in features.items()).encode()
            attr = style.font_config.font_features.setdefault(
                features, pango.pango_attr_font_features_new(features))
            attr_list = pango.pango_attr_list_new()
            pango.pango_attr_list_insert(attr_list, attr)
            pango.pango_layout_set_attributes(self.layout, attr_list)

    setup._progress_kit = True
    Layout.setup = setup
