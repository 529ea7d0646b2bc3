"""What the report notebooks call: load, compute every section, display.

The notebooks hold no logic of their own: each cell calls one function from here and displays
the result, so the same code runs in a batch, in nbval and when a clinician opens the notebook in
JupyterLab.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io

from IPython.display import HTML, display

from .. import __version__
from ..data import ClinicData
from . import sections as S
from .context import DEFAULT_CLIENT, DEFAULT_MONTH, ReportData, client_data, load_clinic

__all__ = ["load_clinic", "client_data", "load_reference", "client_sections", "cohort_sections",
           "show", "title", "DEFAULT_CLIENT", "DEFAULT_MONTH"]

FIG_DPI = 150
FIG_WIDTH_PX = 680  # fits A4 portrait between 15 mm margins


def load_reference(reference_dir: str | None, clinic: ClinicData) -> ClinicData:
    """Reference data for the expected course: a separate folder, or the clinic itself."""
    return load_clinic(reference_dir) if reference_dir else clinic


def client_sections(rd: ReportData, reference: ClinicData | None) -> dict[str, object]:
    """Every section of a client report, keyed by where it goes in the notebook."""
    header = S.client_header(rd)
    quality = S.data_quality(rd)
    quest = [S.questionnaire(rd, m) for m in rd.questionnaires] or [
        S.Section("no_questionnaires", "Questionnaires", "insufficient",
                  "No questionnaire scores up to the end of this month.")]
    track = [S.on_track(rd, reference, "PHQ-9"), S.sudden_gains(rd, "PHQ-9")] \
        if "PHQ-9" in rd.questionnaires else []
    diary = [S.daily_trend(rd), S.homework_mood(rd), S.sleep_mood_lag(rd), S.progress_score(rd)]
    every = [header, quality, *quest, *track, *diary]
    return {"header": header, "quality": quality, "questionnaires": quest, "tracking": track,
            "diary": diary, "summary": S.client_summary(header, every), "methods": S.methods(every)}


def cohort_sections(clinic: ClinicData, month: str, therapist_id: str | None = None,
                    group: str = "therapist_id") -> dict[str, object]:
    """Every section of the cohort report."""
    outcome = [S.talking_therapies(clinic, month, therapist_id),
               S.jacobson(clinic, month, therapist_id),
               S.slope_distribution(clinic, month, therapist_id),
               S.recovery_by_group(clinic, month, therapist_id, group=group)]
    review = [S.not_on_track(clinic, month, therapist_id)]
    service = [S.cohort_data_quality(clinic, month, therapist_id),
               S.month_over_month(clinic, month, therapist_id)]
    overview = S.cohort_overview(clinic, month, therapist_id)
    return {"overview": overview, "outcomes": outcome, "review": review, "service": service,
            "methods": S.methods([*outcome, *review, *service])}


def _figure_png(section) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=section.figsize, layout="constrained")
    section.plot(fig.add_subplot())
    buf = io.BytesIO()
    # no bbox_inches="tight": constrained layout already fits the labels and legends, and the
    # tight box costs a second full draw (figures and their PDF embedding 12% faster)
    fig.savefig(buf, format="png", dpi=FIG_DPI, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def show(*sections, level: int = 3) -> None:
    """Display sections: heading, text, table and figure (an embedded PNG) as one HTML block.

    One block per section lets the print CSS keep a figure on the same page as its heading.
    """
    for sec in sections:
        if isinstance(sec, list | tuple):
            show(*sec, level=level)
            continue
        figure = ""
        if sec.plot is not None:
            png = base64.b64encode(_figure_png(sec)).decode("ascii")
            width = min(FIG_WIDTH_PX, round(FIG_WIDTH_PX * sec.figsize[0] / 7.2))
            alt = html.escape(f"Figure: {sec.title}")
            figure = (f'<figure class="pk-figure"><img src="data:image/png;base64,{png}" '
                      f'width="{width}" alt="{alt}"></figure>')
        display(HTML(sec.to_html(level, figure=figure)))


def title(heading: str, subtitle: str) -> None:
    """The report title with the generated date and kit version (also the PDF page header)."""
    today = dt.date.today().isoformat()
    display(HTML(
        f'<header class="pk-title"><h1>{html.escape(heading)}</h1>'
        f'<p class="pk-subtitle">{html.escape(subtitle)}</p>'
        f'<p class="pk-generated">Generated {today} by progress-kit {html.escape(__version__)}. '
        f'For clinical use; contains identifiable information.</p>'
        f"</header>"))
