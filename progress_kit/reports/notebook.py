"""Under the report notebooks' steps (:mod:`progress_kit.reports.steps`): load the clinic,
display sections, the title and part headings, and what a batch computes once from the whole
clinic (:func:`prepare_batch`).

The notebooks hold no logic of their own: each cell calls one step and shows the result, so the
same code runs in a batch, in nbval and when a clinician opens the notebook in JupyterLab.
"""

from __future__ import annotations

import base64
import datetime as dt

import pandas as pd
from IPython.display import HTML, display

from .. import __version__
from ..data import ClinicData
from ..measures import get_measure
from . import sections as S
from .context import (
    DEFAULT_CLIENT,
    DEFAULT_MONTH,
    ReportData,
    client_data,
    client_data_until,
    load_clinic,
)
from .safe import parse_month
from .wording import use_wording, words

__all__ = ["load_clinic", "client_data", "client_data_until", "load_reference", "prepare_batch",
           "show", "title", "heading", "benchmarks_for", "use_wording", "words",
           "DEFAULT_CLIENT", "DEFAULT_MONTH"]

FIG_DPI = 150
FIG_WIDTH_PX = 680  # fits A4 portrait between 15 mm margins


def load_reference(reference_dir: str | None, clinic: ClinicData) -> ClinicData:
    """Reference data for the expected course: a separate folder, or the clinic itself."""
    return load_clinic(reference_dir) if reference_dir else clinic


def _expected_for(reference: ClinicData | None, measure: str | None):
    """The expected-response model for ``measure`` from the reference data (None when it cannot be built)."""
    if measure is None or reference is None or S.common._stat("expected_response") is None:
        return None
    model, _ = S.common._expected(reference, measure)
    return model


def _service(rd: ReportData, reference: ClinicData | None) -> ClinicData | None:
    """The clinic the client belongs to, when the reference is it (the status is then computed
    service-wide, as in the service report); None for a separate reference folder."""
    if reference is None or not (reference.observations["client_id"] == rd.client_id).any():
        return None
    return reference


def prepare_batch(clinic: ClinicData, month: str) -> None:
    """Compute, once, what every client report of ``month`` derives from the whole clinic.

    That is, for each questionnaire: the expected-response model (the clinic is its own
    reference) and the service-wide ``client_flags`` as of the month's last day and as of the
    previous month's (the "since last month" comparison); and an index of every table's rows
    by client, so that each report takes its client's rows by their positions
    (:func:`~progress_kit.reports.context.client_data`). They are kept by
    :func:`~progress_kit.reports.sections.common.shared` for this very ``clinic`` object; a
    report then takes only its client's row. The batch's fork server calls this in each warm
    worker, so that no report process computes them again. It also makes the blank figures of
    the sizes the worker's warm-up drew (:func:`._png.keep_blank_axes`), which each report's
    child then takes instead of making its own.
    """
    start, end = parse_month(month)
    S.common.index_client_rows(clinic)  # each report's client_data takes its rows by position
    kinds = {m: get_measure(m).kind for m in clinic.observations["measure"].unique()}
    for measure in sorted(m for m, kind in kinds.items() if kind != "diary"):
        _expected_for(clinic, measure)
    if S.common._stat("client_flags") is not None:
        for as_of in (end, start - pd.Timedelta(days=1)):
            S.service_flags(clinic, as_of)
    from ._png import keep_blank_axes

    keep_blank_axes()


def heading(text: str, sections: object = True, *, new_page: bool = True, level: int = 2) -> None:
    """A part heading (h2, or ``level``), shown only when ``sections`` (what goes under it) is
    not empty; ``new_page=False`` keeps it on the current page. A built-in heading is shown in
    the wording in use (:func:`~progress_kit.reports.wording.use_wording`)."""
    if not sections:
        return
    from .macros import heading_html
    from .wording import words

    display(HTML(heading_html(words().heading(text), level, new_page)))


def benchmarks_for(data_dir: str | None):
    """The data folder's ``benchmarks.toml`` (the kit's example for the demo clinic), or None."""
    return S.benchmarks_for(data_dir)


def _figure_png(section) -> bytes:
    """The section's figure as an opaque 8-bit RGB PNG at :data:`FIG_DPI`.

    Pixel for pixel what ``savefig(format="png", facecolor="white")`` gives (tested), for less
    work: constrained layout runs once, not once per draw (``savefig`` draws a figure with a
    layout engine twice); the figure is drawn once; and the alpha channel, opaque everywhere on
    a white figure, is left out (:func:`._png.figure_png`); the PNG is written by
    :func:`._png.encode_rgb`, which WeasyPrint then embeds as it is (docs/performance.md, rounds
    four and five).
    """
    if "figure_png" in section.facts:  # a chart the notebook drew itself (steps.section)
        return section.facts["figure_png"]
    from ._png import blank_axes, figure_png

    fig, ax = blank_axes(section.figsize, FIG_DPI)  # made ahead in a warm worker (prepare_batch)
    section.plot(ax)
    return figure_png(fig)


def show(*sections, level: int = 3) -> None:
    """Display sections: heading, text, table and figure (an embedded PNG) as one HTML block.

    One block per section lets the print CSS keep a figure on the same page as its heading. The
    HTML comes from the template's macros (:mod:`progress_kit.reports.macros`).
    """
    from .macros import figure_html

    for sec in sections:
        if isinstance(sec, list | tuple):
            show(*sec, level=level)
            continue
        figure = ""
        if sec.plot is not None:
            png = base64.b64encode(_figure_png(sec)).decode("ascii")
            width = min(FIG_WIDTH_PX, round(FIG_WIDTH_PX * sec.figsize[0] / 7.2))
            figure = figure_html(png, width, words()("figure.alt", title=sec.title))
        display(HTML(sec.to_html(level, figure=figure)))


_AUDIENCES = (None, "internal", "client", "publication")


def title(heading: str, subtitle: str, audience: str | None = None) -> None:
    """The report title with the generated date, kit version and audience (first page).

    A built-in title or subtitle is shown in the wording in use; the audience's sentence is
    ``title.audience.<audience>`` of the wording.
    """
    from .macros import title_html

    if audience not in _AUDIENCES:
        raise ValueError(f"audience {audience!r}: choose 'internal', 'publication' or 'client'")
    w = words()
    generated = w("title.generated", date=dt.date.today().isoformat(), version=__version__,
                  audience=w(f"title.audience.{audience or 'clinical'}"))
    display(HTML(title_html(w.heading(heading), w.heading(subtitle), generated)))
