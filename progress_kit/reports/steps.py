"""The steps of a report notebook: load the client, compute the status, draw, write, one section each.

A report notebook is a sequence of cells, each calling one function of this module (re-exported
by :mod:`progress_kit.reports`, usually imported as ``pr``) and showing what it returns::

    import progress_kit as pk
    from progress_kit import reports as pr

    report = pr.load_client(bundle, client_id, month=month)   # this client only, prepared by the kit
    pr.show(pr.status(report))                                # quotes pk.client_flags
    pr.show(pr.headline_chart(report))
    pr.show(pr.progress_note(report))

Deleting a cell removes its section (and its lines in the methods footnote); a cell of your own
adds one: :func:`section` wraps your text, table or matplotlib figure (``pk.plot_diary(...)``)
as a report section, and :func:`show` puts it on the page through the same template.

What a client's notebook gets
-----------------------------
The kit prepares, in its own process, one :class:`ClientReport` per page: that client's rows
up to the report's last day (:class:`~progress_kit.reports.context.ReportData`) and the results
it derives from the whole service for that client only: the status row of
``pk.client_flags`` (now and at the comparison date) and the client's course through the
expected-response band (``pk.client_course``, fitted on the other clients). The notebook gets
the path of that private file (mode 0600, its SHA-256 in its name, checked before it is read)
as its ``bundle`` parameter: never the data folder, the batch's data cache or another client's
rows. The status is computed once, by the kit, and quoted; no step recomputes it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data import ClinicData
from . import sections as S
from .context import DEFAULT_CLIENT, ReportData, client_data, client_data_until, load_clinic
from .notebook import _expected_for, _service, heading, title
from .notebook import show as _show_html
from .resources import PARAMETERS, REQUIRED, NotebookProblem, check_notebook, notebook_parameters

__all__ = ["ClientReport", "CohortReport", "prepare_client", "load_client", "load_cohort",
           "write_bundle", "show", "section", "title", "heading",
           "identity", "status", "trends", "headline_chart", "progress_note", "since_last_month",
           "since_last_session", "long_term", "questionnaires", "expected_range", "sudden_gains", "sessions",
           "data_quality", "diary", "diary_table", "takeaways", "scores", "intro",
           "things_to_talk_about", "methods",
           "overview", "month_over_month", "service_outcomes", "outcome_trend", "recovery_funnel",
           "jacobson", "slope_distribution", "clients_to_review", "backtest",
           "PARAMETERS", "REQUIRED", "NotebookProblem", "notebook_parameters", "check_notebook"]

CLIENT_KINDS = ("client", "prep", "share")


# ------------------------------------------------------------------ what a client's page gets


@dataclass
class ClientReport:
    """One client's page in the making: their data and the kit's service-wide results for them.

    Made by the kit (:func:`prepare_client`) and read by the notebook (:func:`load_client`).
    It holds nobody else's rows: ``data`` is cut to this client and to the page's last day;
    ``status_now`` and ``status_before`` are this client's rows of ``pk.client_flags`` (as of the
    last day, and as of the comparison date: the end of the previous month, or the last session
    before a prep sheet); ``course`` is this client's ``pk.client_course`` on the primary
    measure (client report only).

    Attributes
    ----------
    kind : {"client", "prep", "share"}
        The page: the monthly client report, the session-preparation sheet, the client's own page.
    data : ReportData
        This client's observations, sessions, diary, items and validation problems.
    measure : str or None
        The primary measure (the one the status is judged on), None without questionnaires.
    """

    kind: str
    data: ReportData
    measure: str | None
    status_now: S.Flags
    status_before: S.Flags | None = None
    course: tuple | None = None
    _parts: dict = field(default_factory=dict, repr=False, compare=False)
    _shown: list = field(default_factory=list, repr=False, compare=False)

    @property
    def client_id(self) -> str:
        return self.data.client_id

    @property
    def month(self) -> str:
        return self.data.month

    @property
    def start(self) -> pd.Timestamp:
        return self.data.start

    @property
    def end(self) -> pd.Timestamp:
        return self.data.end

    def __getstate__(self) -> dict:
        # sections hold figures (closures) and the data their cached intermediate results: a
        # bundle carries the page as prepared, and each notebook computes its sections anew
        from dataclasses import replace

        state = dict(self.__dict__)
        state["_parts"] = {}
        state["data"] = replace(self.data, derived={})
        return state


def prepare_client(clinic: ClinicData, client_id: str, *, month: str | None = None,
                   date: str | None = None, kind: str = "client",
                   reference: ClinicData | None = None) -> ClientReport:
    """This client's page, prepared from the whole clinic: their rows plus their status.

    Runs in the kit's process, never in the notebook: the notebook gets the result (through
    :func:`write_bundle` and :func:`load_client`).

    Parameters
    ----------
    clinic : ClinicData
        The validated clinic (``load_clinic``).
    client_id : str
        The client.
    month : str
        ``YYYY-MM`` for a client report (data up to the month's last day).
    date : str
        ``YYYY-MM-DD`` for a prep sheet or the client's page (data up to that day).
    kind : {"client", "prep", "share"}
    reference : ClinicData, optional
        A separate reference clinic for the expected course; by default the clinic itself, and
        then the status is ``pk.client_flags`` computed on the whole service (the band fitted
        leaving this client out), as in the cohort report.

    Returns
    -------
    ClientReport

    Examples
    --------
    >>> from progress_kit.reports.context import load_clinic
    >>> rep = prepare_client(load_clinic(), "C002", month="2026-10")
    >>> rep.kind, rep.client_id, rep.measure, rep.status_now.status
    ('client', 'C002', 'PHQ-9', 'on track')
    >>> set(rep.data.observations["client_id"])
    {'C002'}
    """
    if kind not in CLIENT_KINDS:
        raise ValueError(f"kind must be 'client', 'prep' or 'share', not {kind!r}")
    if kind == "client":
        if month is None:
            raise ValueError("a client report needs month='YYYY-MM'")
        rd = client_data(clinic, client_id, month)
    else:
        if date is None:
            raise ValueError(f"a {kind} page needs date='YYYY-MM-DD'")
        rd = client_data_until(clinic, client_id, date)
    return _prepare(rd, clinic if reference is None else reference, kind)


def _prepare(rd: ReportData, reference: ClinicData | None, kind: str) -> ClientReport:
    """The page of ``rd``'s client: the status and course from ``reference`` (the clinic itself,
    or a separate reference clinic), so that the page needs nobody else's rows."""
    measure = S.primary_measure(rd)
    expected = _expected_for(reference, measure)
    service = _service(rd, reference)
    now = S.client_status(rd, measure, expected, service=service)
    before = course = None
    if kind != "share":  # the client's page shows no status, only its alert line
        before = S.client_status(rd, measure, expected, as_of=rd.start - pd.Timedelta(days=1),
                                 service=service)
    if kind == "client" and measure is not None:
        course = S.client_course_for(rd, reference, measure, expected)
    return ClientReport(kind, rd, measure, now, before, course)


def write_bundle(report: ClientReport, folder: str | Path) -> Path:
    """Write ``report`` privately into ``folder`` for a notebook's ``bundle`` parameter.

    The file is ``<kind>-<SHA-256>.pkl`` (mode 0600); :func:`load_client` reads it only after
    checking its owner, its mode, its folder's and that digest
    (:func:`~progress_kit.reports.files.read_cache_file`). ``folder`` should be private: the
    renderer uses its own work folder (mode 0700), removed when the page is done.
    """
    from .files import write_cache_file

    if not isinstance(report, ClientReport):
        raise ValueError(f"write_bundle takes a ClientReport, not {type(report).__name__}")
    return write_cache_file(report, folder, report.kind)


_DEMO: dict[str, ClinicData] = {}
# the reports loaded in this process and still alive: each keeps the sections shown since it was
# loaded, for its methods footnote; a report nobody holds any more is forgotten with its sections
# (a process-wide list of every section shown grew for as long as a JupyterLab session ran)
_OPEN: list[weakref.ref] = []


def _opened(report):
    _OPEN.append(weakref.ref(report))
    return report


def _demo_clinic() -> ClinicData:
    """The built-in demo clinic (generated once per process)."""
    if "clinic" not in _DEMO:
        _DEMO["clinic"] = load_clinic(None, None)
    return _DEMO["clinic"]


def load_client(bundle: str | Path | None = None, client_id: str | None = None, *,
                month: str | None = None, date: str | None = None,
                kind: str = "client") -> ClientReport:
    """Load the client: the first step of a client report, prep sheet or client's page.

    Parameters
    ----------
    bundle : path or None
        The notebook's ``bundle`` parameter: this client's page as the kit prepared it. None
        (a notebook opened as it is, e.g. in JupyterLab) prepares the page from the built-in
        demo clinic, for ``client_id`` or, when that is None too, its example client ``C002``.
    client_id, month, date : str, optional
        The notebook's parameters; with a bundle they must agree with it (a clear error names
        the difference), since the page's title quotes them.
    kind : {"client", "prep", "share"}
        Which page the notebook makes (``month`` for a client report, ``date`` otherwise).

    Returns
    -------
    ClientReport
        Holding only this client's rows and their status; the other steps take it.

    Examples
    --------
    >>> report = load_client(None, month="2026-10")
    >>> report.client_id, report.month, report.status_now.status
    ('C002', '2026-10', 'on track')
    >>> load_client(None, "C005", date="2026-10-20", kind="prep").end
    Timestamp('2026-10-20 00:00:00')
    """
    if bundle is None:
        report = prepare_client(_demo_clinic(), client_id or DEFAULT_CLIENT, month=month,
                                date=date, kind=kind)
    else:
        from .files import read_cache_file

        report = read_cache_file(bundle)  # checked (owner, mode, digest) before it is unpickled
        if not isinstance(report, ClientReport):
            raise ValueError(f"{bundle} is not a client's page prepared by progress-kit")
        wanted = {"kind": kind, "client_id": client_id,
                  "month": month if kind == "client" else None,
                  "date": date if kind != "client" else None}
        have = {"kind": report.kind, "client_id": report.client_id,
                "month": report.month if report.kind == "client" else None,
                "date": report.end.strftime("%Y-%m-%d") if report.kind != "client" else None}
        for key, value in wanted.items():
            if value is not None and value != have[key]:
                raise ValueError(f"the notebook's {key} is {value!r}, but the page the kit "
                                 f"prepared is for {key} {have[key]!r}")
    return _opened(report)


# ------------------------------------------------------------------ showing sections


def section(title: str, message: str = "", *, figure=None, table: pd.DataFrame | None = None,
            lines: list[str] | None = None, method: str = "") -> S.Section:
    """A section of your own: a heading, text, bullet lines, a table and a figure.

    Parameters
    ----------
    title : str
        Its heading.
    message : str
        A paragraph under the heading.
    figure : matplotlib Figure or Axes, optional
        A chart you drew (e.g. ``pk.plot_diary(...)``), embedded as a PNG like the kit's charts.
    table : DataFrame, optional
    lines : list of str, optional
        Bullet points.
    method : str
        How the numbers were produced: it goes into the methods footnote (:func:`methods`).

    Returns
    -------
    Section
        Show it with :func:`show`.

    Examples
    --------
    >>> sec = section("My note", "Written by the service.", lines=["one", "two"])
    >>> sec.title, sec.lines
    ('My note', ['one', 'two'])
    """
    sec = S.Section("custom", title, message=message, table=table, lines=lines, method=method)
    if figure is not None:
        fig = getattr(figure, "figure", figure)  # an Axes knows its figure
        if not hasattr(fig, "savefig"):
            raise ValueError(f"figure must be a matplotlib Figure or Axes, not {type(figure).__name__}")
        sec.facts["figure_png"] = _png_of(fig)
        sec.figsize = tuple(fig.get_size_inches())
        sec.plot = _already_drawn  # shown as it was drawn: notebook.show embeds figure_png
    return sec


def _already_drawn(ax) -> None:
    raise ValueError("this section's figure was drawn by the notebook; it is embedded as a PNG")


def _png_of(fig) -> bytes:
    """A figure the notebook drew, as an opaque PNG at the reports' resolution; the figure is
    closed, so that a kernel's inline backend does not show it a second time."""
    import io

    from .notebook import FIG_DPI

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI, facecolor="white")
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001, S110 (a figure not made by pyplot needs no closing)
        pass
    return buf.getvalue()


def show(*sections, level: int = 3) -> None:
    """Put sections on the page: heading, text, table and figure, through the report template.

    Takes what the steps return (a section, a list of them, or None, shown as nothing), a
    :func:`section` of your own, or a matplotlib Figure or Axes (embedded as a PNG). What is
    shown is what the methods footnote (:func:`methods`) describes.

    Examples
    --------
    >>> show(None, [])  # nothing to show: no output
    """
    for sec in sections:
        if sec is None:
            continue
        if isinstance(sec, list | tuple):
            show(*sec, level=level)
            continue
        if not isinstance(sec, S.Section):
            sec = section("", figure=sec)
        _OPEN[:] = [r for r in _OPEN if r() is not None]
        for r in _OPEN:
            r()._shown.append(sec)
        _show_html(sec, level=level)


# ------------------------------------------------------------------ the client's steps


def _part(report, name: str, make):
    """A section of ``report``, computed once (a later step or the footnote reuses it)."""
    if name not in report._parts:
        report._parts[name] = make()
    return report._parts[name]


def _need(report: ClientReport, *kinds: str, what: str) -> None:
    if not isinstance(report, ClientReport):
        raise ValueError(f"{what} takes the report from load_client, not {type(report).__name__}")
    if report.kind not in kinds:
        raise ValueError(f"{what} is part of a {' or '.join(kinds)} page, not of a {report.kind} page")


def _quest(rep: ClientReport) -> list:
    rd, measure = rep.data, rep.measure
    if rep.kind != "client":
        return _part(rep, "quest", lambda: [S.questionnaire(rd, m, figure=False)
                                            for m in rd.questionnaires])
    order = sorted(rd.questionnaires, key=lambda m: m != measure)
    return _part(rep, "quest", lambda: [S.questionnaire(rd, m, figure=m != measure) for m in order]
                 or [S.Section("no_questionnaires", "Questionnaires", "insufficient",
                               "No questionnaire scores up to the end of this month.")])


def _diary(rep: ClientReport):
    make = S.diary_month if rep.kind == "client" else S.prep_diary
    return _part(rep, "diary", lambda: make(rep.data))


def _track(rep: ClientReport) -> list:
    def make():
        if not rep.measure:
            return []
        return [S.on_track(rep.data, None, rep.measure, figure=False, flags=rep.status_now,
                           course=rep.course), S.sudden_gains(rep.data, rep.measure)]
    return _part(rep, "track", make)


def _more(rep: ClientReport) -> list:
    rd = rep.data
    return _part(rep, "more", lambda: [S.homework_mood(rd), S.sleep_mood_lag(rd, figure=False),
                                       S.progress_score(rd)] if _diary(rep).facts.get("n_days")
                 else [])


def _conflict(rep: ClientReport) -> str:
    return _part(rep, "conflict", lambda: S.discrepancy(rep.status_now, _quest(rep), _diary(rep)))


def _header(rep: ClientReport):
    return _part(rep, "header", lambda: S.client_header(rep.data))


def status(report: ClientReport) -> S.Section:
    """The status box: ``pk.client_flags``'s verdict for this client, with its reasons.

    The kit computed the status once (on the whole service, as the cohort report does) when it
    prepared the page; this step quotes it and never applies a rule again. On a client report
    it also says when the questionnaires and the diary disagree.

    Examples
    --------
    >>> status(load_client(None, month="2026-10")).facts["flags"].status
    'on track'
    """
    _need(report, "client", "prep", what="status")
    conflict = _conflict(report) if report.kind == "client" else ""
    return _part(report, "status", lambda: S.status_banner(report.data, report.status_now,
                                                           report.measure, conflict))


def identity(report: ClientReport) -> S.Section:
    """Who and what the report is about: therapist, start, problem, sessions (page 1's first line).

    Examples
    --------
    >>> identity(load_client(None, month="2026-10")).key
    'identity'
    """
    _need(report, "client", what="identity")
    return _part(report, "identity", lambda: S.client_identity(report.data, _header(report)))


def trends(report: ClientReport) -> S.Section:
    """The trend words (questionnaires by their slope, diary mood over two weeks) and the
    tracker's prompts.

    Examples
    --------
    >>> trends(load_client(None, month="2026-10")).message.startswith("Trends:")
    True
    """
    _need(report, "client", "prep", what="trends")
    return _part(report, "trends", lambda: S.trends_and_prompts(report.data, _quest(report),
                                                                _diary(report)))


def headline_chart(report: ClientReport) -> S.Section:
    """The headline chart: the primary measure by session, with the expected range and the
    early-warning limit the status judged each score by, and any sudden gain.

    Examples
    --------
    >>> headline_chart(load_client(None, month="2026-10")).plot is not None
    True
    """
    _need(report, "client", what="headline_chart")
    track = _track(report)
    return _part(report, "headline", lambda: S.headline(report.data, report.measure,
                                                         track[0] if track else None,
                                                         track[1] if track else None))


def progress_note(report: ClientReport) -> S.Section:
    """Lines to copy into the progress note: each measure's change, the diary, the status.

    Examples
    --------
    >>> len(progress_note(load_client(None, month="2026-10")).lines) > 1
    True
    """
    _need(report, "client", what="progress_note")
    track = _track(report)
    return _part(report, "note", lambda: S.progress_note(
        report.data, report.status_now, _quest(report), track[0] if track else None,
        _diary(report), _conflict(report)))


def since_last_month(report: ClientReport) -> S.Section:
    """What changed since the end of last month: the status then and now, this month's scores
    and sessions.

    Examples
    --------
    >>> since_last_month(load_client(None, month="2026-10")).title
    'Since last month'
    """
    _need(report, "client", what="since_last_month")
    return _part(report, "since", lambda: S.since_last_month(
        report.data, report.status_now, report.status_before, _header(report), _diary(report)))


def since_last_session(report: ClientReport) -> S.Section:
    """What changed since the client's last session (the prep sheet's last box).

    Examples
    --------
    >>> since_last_session(load_client(None, date="2026-10-20", kind="prep")).title
    'Since the last session'
    """
    _need(report, "prep", what="since_last_session")
    return _part(report, "since", lambda: S.since_last_session(report.data, report.status_now,
                                                               report.status_before))


def long_term(report: ClientReport) -> S.Section | None:
    """A returning client's long-term chart: every episode of care on one time axis, the earlier
    ones faint (``pk.plot_episodes``); None for a client in a first episode. The rest of the
    report is about the current episode.

    Examples
    --------
    >>> long_term(load_client(None, month="2026-10")) is None  # the demo client's first episode
    True
    """
    _need(report, "client", what="long_term")
    return _part(report, "history", lambda: S.long_term(report.data, report.measure))


def questionnaires(report: ClientReport) -> list[S.Section]:
    """One section per questionnaire (the primary measure first): scores, reliable and
    clinically significant change, slope.

    Examples
    --------
    >>> [s.facts["measure"] for s in questionnaires(load_client(None, month="2026-10"))]
    ['PHQ-9', 'GAD-7']
    """
    _need(report, "client", what="questionnaires")
    return _quest(report)


def expected_range(report: ClientReport) -> S.Section | None:
    """The expected range and the early-warning limit on the primary measure (the limits the
    status judged each score by), or None without questionnaires.

    Examples
    --------
    >>> expected_range(load_client(None, month="2026-10")).key
    'on_track'
    """
    _need(report, "client", what="expected_range")
    track = _track(report)
    return track[0] if track else None


def sudden_gains(report: ClientReport) -> S.Section | None:
    """Sudden gains and losses on the primary measure (Tang & DeRubeis), or None without
    questionnaires.

    Examples
    --------
    >>> sudden_gains(load_client(None, month="2026-10")).key
    'sudden_gains'
    """
    _need(report, "client", what="sudden_gains")
    track = _track(report)
    return track[1] if track else None


def sessions(report: ClientReport) -> S.Section:
    """Sessions attended and booked, weeks in therapy, diary days: the month in numbers.

    Examples
    --------
    >>> sessions(load_client(None, month="2026-10")).key
    'header'
    """
    _need(report, "client", what="sessions")
    return _header(report)


def data_quality(report) -> S.Section:
    """Missing diary days and this client's rows that validation rejected (client report), or
    the service's data quality (cohort report).

    Examples
    --------
    >>> data_quality(load_client(None, month="2026-10")).key
    'quality'
    """
    if isinstance(report, CohortReport):
        return _part(report, "quality", lambda: S.cohort_data_quality(report.cohort))
    _need(report, "client", what="data_quality")
    return _part(report, "quality", lambda: S.data_quality(report.data))


def diary(report: ClientReport) -> S.Section | list[S.Section]:
    """The diary: the month's days with its associations (client report: a list), or the last
    14 days (prep sheet, the client's own page).

    Examples
    --------
    >>> diary(load_client(None, date="2026-10-20", kind="prep")).key
    'prep_diary'
    """
    _need(report, *CLIENT_KINDS, what="diary")
    if report.kind == "share":
        return _part(report, "share_diary", lambda: S.share_diary(report.data))
    if report.kind == "prep":
        return _diary(report)
    more = _more(report)
    links = _part(report, "links", lambda: S.Section(
        "diary_links", "", lines=[f"{s.title}: {s.message}" for s in more]) if more else None)
    return [_diary(report), *([links] if links else [])]


def diary_table(report: ClientReport) -> pd.DataFrame:
    """This client's diary as a wide daily table (``date`` and one column per diary measure),
    up to the page's last day: what ``pk.plot_diary`` and the diary statistics take.

    Examples
    --------
    >>> table = diary_table(load_client(None, month="2026-10"))
    >>> list(table.columns[:2])
    ['client_id', 'date']
    """
    _need(report, *CLIENT_KINDS, what="diary_table")
    from .. import daily_table

    diary_rows = report.data.diary
    if not len(diary_rows):
        return pd.DataFrame({"client_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]")})
    return daily_table(diary_rows)


def takeaways(report: ClientReport) -> S.Section:
    """What the client took away from sessions and used, from the diary (prep sheet and the
    client's page).

    Examples
    --------
    >>> takeaways(load_client(None, date="2026-10-20", kind="prep")).key
    'prep_takeaways'
    """
    _need(report, "prep", "share", what="takeaways")
    make = S.prep_takeaways if report.kind == "prep" else S.share_takeaways
    return _part(report, "takeaways", lambda: make(report.data))


def scores(report: ClientReport) -> S.Section:
    """The latest questionnaire scores (prep sheet, with the status), or the forms in plain
    words with the usual range (the client's page).

    Examples
    --------
    >>> scores(load_client(None, date="2026-10-20", kind="prep")).title
    'Latest questionnaire scores'
    """
    _need(report, "prep", "share", what="scores")
    if report.kind == "prep":
        return _part(report, "scores", lambda: S.prep_scores(report.data, report.status_now))
    return _part(report, "scores", lambda: S.share_scores(report.data, first=report.measure))


def intro(report: ClientReport) -> S.Section:
    """The client's page: what the page is for, in plain words.

    Examples
    --------
    >>> intro(load_client(None, date="2026-10-20", kind="share")).key
    'share_intro'
    """
    _need(report, "share", what="intro")
    return _part(report, "intro", lambda: S.share_intro(report.data))


def things_to_talk_about(report: ClientReport) -> S.Section:
    """The client's page: things to talk about (with a neutral line when the clinician's status
    is alert; the status itself is never shown).

    Examples
    --------
    >>> things_to_talk_about(load_client(None, date="2026-10-20", kind="share")).key
    'share_talk'
    """
    _need(report, "share", what="things_to_talk_about")
    return _part(report, "talk", lambda: S.share_talk(report.data, report.status_now))


# ------------------------------------------------------------------ the cohort's steps


@dataclass
class CohortReport:
    """The service (cohort) report in the making: the month's cohort statistics.

    ``cohort`` is :class:`~progress_kit.reports.sections.Cohort`; the steps take the report.
    """

    cohort: S.Cohort
    _parts: dict = field(default_factory=dict, repr=False)
    _shown: list = field(default_factory=list, repr=False)

    @property
    def month(self) -> str:
        return self.cohort.month

    @property
    def audience(self) -> str:
        return self.cohort.audience


def load_cohort(data_dir: str | Path | None = None, month: str = "2026-10",
                therapist_id: str | None = None, *, group: str = "therapist_id",
                audience: str = "internal", data_cache: str | Path | None = None,
                date_format: str | None = None) -> CohortReport:
    """Load the service for the cohort report: the first step of a cohort notebook.

    Parameters
    ----------
    data_dir, data_cache, date_format : optional
        The notebook's parameters: the data folder (None: the built-in demo clinic), or the
        batch's validated cache, and the date format, as for :func:`load_clinic`. The folder's
        ``benchmarks.toml`` is drawn on the trend and the funnel.
    month : str
        ``YYYY-MM``.
    therapist_id : str, optional
        Only this therapist's clients.
    group : str
        The clients column to break recovery down by.
    audience : {"internal", "publication"}
        ``publication``: NHS Digital suppression and rounding, no client named.

    Examples
    --------
    >>> rep = load_cohort(None, "2026-10")
    >>> rep.month, rep.audience
    ('2026-10', 'internal')
    """
    clinic = _demo_clinic() if data_dir is None and data_cache is None else \
        load_clinic(data_dir, data_cache, date_format=date_format)
    c = S.Cohort(clinic, month, therapist_id, audience=audience, group=group,
                 benchmarks=S.benchmarks_for(data_dir))
    return _opened(CohortReport(c))


def _cohort(report, what: str) -> S.Cohort:
    if not isinstance(report, CohortReport):
        raise ValueError(f"{what} takes the report from load_cohort, not {type(report).__name__}")
    return report.cohort


def overview(report: CohortReport) -> S.Section:
    """The month at a glance: clients, referrals, sessions, questionnaires.

    Examples
    --------
    >>> overview(load_cohort(None, "2026-10")).key
    'overview'
    """
    c = _cohort(report, "overview")
    return _part(report, "overview", lambda: S.cohort_overview(c))


def month_over_month(report: CohortReport) -> S.Section:
    """This month against the last: the service's counts and rates side by side.

    Examples
    --------
    >>> month_over_month(load_cohort(None, "2026-10")).key
    'mom'
    """
    c = _cohort(report, "month_over_month")
    return _part(report, "mom", lambda: S.month_over_month(c))


def service_outcomes(report: CohortReport) -> S.Section:
    """NHS Talking Therapies outcomes (recovery, reliable improvement ...) with Wilson intervals.

    Examples
    --------
    >>> service_outcomes(load_cohort(None, "2026-10")).key
    'tt'
    """
    c = _cohort(report, "service_outcomes")
    return _part(report, "outcomes", lambda: S.service_outcomes(c))


def outcome_trend(report: CohortReport) -> S.Section:
    """The outcome rates month by month, with benchmarks where the folder has them.

    Examples
    --------
    >>> outcome_trend(load_cohort(None, "2026-10")).key
    'trend'
    """
    c = _cohort(report, "outcome_trend")
    return _part(report, "trend", lambda: S.outcome_trend(c))


def recovery_funnel(report: CohortReport) -> S.Section:
    """Recovery by therapist (or ``group``) in a funnel plot against the service's rate.

    Examples
    --------
    >>> recovery_funnel(load_cohort(None, "2026-10")).key
    'recovery'
    """
    c = _cohort(report, "recovery_funnel")
    return _part(report, "funnel", lambda: S.recovery_funnel(c))


def jacobson(report: CohortReport) -> S.Section:
    """The Jacobson plot of intake against latest scores (binned in a publication report).

    Examples
    --------
    >>> jacobson(load_cohort(None, "2026-10")).key
    'jacobson'
    """
    c = _cohort(report, "jacobson")
    return _part(report, "jacobson", lambda: S.jacobson(c))


def slope_distribution(report: CohortReport) -> S.Section:
    """How the clients' weekly slopes are spread (improving, stable, worsening).

    Examples
    --------
    >>> slope_distribution(load_cohort(None, "2026-10")).key
    'slopes'
    """
    c = _cohort(report, "slope_distribution")
    return _part(report, "slopes", lambda: S.slope_distribution(c))


def clients_to_review(report: CohortReport) -> list[S.Section]:
    """The clients to review by name and those discharged with a deterioration; empty in a
    publication report, which names nobody.

    Examples
    --------
    >>> [s.key for s in clients_to_review(load_cohort(None, "2026-10"))]
    ['review', 'discharged']
    >>> clients_to_review(load_cohort(None, "2026-10", audience="publication"))
    []
    """
    c = _cohort(report, "clients_to_review")
    return _part(report, "review", lambda: [] if c.publication else [
        S.clients_to_review(c), S.discharged_with_deterioration(c)])


def backtest(report: CohortReport) -> S.Section:
    """How well the on-track signal predicted this service's outcomes (the backtest).

    Examples
    --------
    >>> backtest(load_cohort(None, "2026-10")).key
    'backtest'
    """
    c = _cohort(report, "backtest")
    return _part(report, "backtest", lambda: S.on_track_backtest(c))


# ------------------------------------------------------------------ the methods footnote


def _canonical(report) -> list:
    """The kit's sections with a method, in the footnote's order, each once it is computed."""
    p = report._parts
    if isinstance(report, CohortReport):
        return [p.get(k) for k in ("outcomes", "trend", "funnel", "jacobson", "slopes")] + \
            list(p.get("review") or []) + [p.get("quality"), p.get("mom"), p.get("backtest")]
    if report.kind == "prep":
        return [p.get("status"), p.get("diary"), p.get("trends")]
    return [p.get("status"), p.get("history"), p.get("header"), p.get("quality"),
            *(p.get("quest") or []),
            *(p.get("track") or []), p.get("diary"), *(p.get("more") or []), p.get("trends")]


def methods(report) -> S.Section | None:
    """The methods footnote: which method and thresholds produced each label shown so far.

    Only the sections this notebook has shown (:func:`show`) are described, in a fixed order
    (the kit's sections first, then your own with a ``method``): deleting a section's cell
    takes its lines out of the footnote. None for the client's own page, which has no footnote.

    Examples
    --------
    >>> from IPython.utils.capture import capture_output
    >>> report = load_client(None, month="2026-10")
    >>> with capture_output():
    ...     show(status(report))
    >>> methods(report).lines[0].startswith("Status (primary measure PHQ-9)")
    True
    """
    if isinstance(report, ClientReport) and report.kind == "share":
        return None
    shown = report._shown
    ids = {id(s) for s in shown}
    p = report._parts
    if isinstance(report, ClientReport) and p.get("links") is not None and id(p["links"]) in ids:
        ids.update(id(s) for s in p.get("more") or [])  # their lines sit under the diary
    canon = [s for s in _canonical(report) if s is not None]
    known = {id(s) for v in p.values() for s in (v if isinstance(v, list) else [v])}
    picked = [s for s in canon if id(s) in ids]
    picked += [s for s in shown if id(s) not in known and s.method]
    foot = S.methods(picked)
    return foot if isinstance(report, CohortReport) else S.small_print(foot)


# ------------------------------------------------------------------ every section at once


def client_sections(rd: ReportData, reference: ClinicData | None) -> dict[str, object]:
    """Every section of a client report, keyed by part: the notebook's steps all at once.

    ``page1`` is the decision page (status banner, headline chart, progress-note lines, since
    last month); the rest are the detail pages. Every value is a section or a list of sections
    (the batch's warm-up shows them all); the banner's ``facts["flags"]`` holds the client's
    ``client_flags`` row. For code that computes a whole page at once (tests, the warm-up).
    """
    return sections_dict(rd, reference, "client")


def prep_sections(rd: ReportData, reference: ClinicData | None) -> dict[str, object]:
    """Every section of the session-preparation sheet (``rd`` from ``client_data_until``)."""
    return sections_dict(rd, reference, "prep")


def share_sections(rd: ReportData, reference: ClinicData | None) -> dict[str, object]:
    """Every section of the client's own page (``rd`` from ``client_data_until``).

    The status is computed as for the prep sheet, only to add the neutral alert line
    (:data:`~progress_kit.reports.sections.share.ALERT_LINE`); it is never shown.
    """
    return sections_dict(rd, reference, "share")


def sections_dict(rd: ReportData, reference: ClinicData | None, kind: str) -> dict[str, object]:
    """Every section of a ``kind`` page, keyed by part (:func:`client_sections` and its siblings)."""
    rep = _prepare(rd, reference, kind)
    if kind == "share":
        return {"intro": intro(rep), "diary": diary(rep), "takeaways": takeaways(rep),
                "scores": scores(rep), "talk": things_to_talk_about(rep)}
    if kind == "prep":
        out = {"status": status(rep), "trends": trends(rep), "diary": diary(rep),
               "takeaways": takeaways(rep), "scores": scores(rep), "since": since_last_session(rep)}
    else:
        out = {"identity": identity(rep), "status": status(rep), "trends": trends(rep),
               "headline": headline_chart(rep), "note": progress_note(rep),
               "since": since_last_month(rep), "header": sessions(rep),
               "quality": data_quality(rep),
               "questionnaires": [s for s in (long_term(rep), *questionnaires(rep)) if s],
               "tracking": _track(rep), "diary": diary(rep)}
        out["page1"] = [out[k] for k in ("status", "trends", "headline", "note", "since")]
    out["methods"] = S.small_print(S.methods([s for s in _canonical(rep) if s is not None]))
    return out


def cohort_sections(clinic: ClinicData, month: str, therapist_id: str | None = None,
                    group: str = "therapist_id", *, audience: str = "internal",
                    benchmarks=None) -> dict[str, object]:
    """Every section of the cohort report, for the ``internal`` or the ``publication`` audience,
    keyed by part: the cohort notebook's steps all at once.

    ``benchmarks``: a table from :func:`progress_kit.read_benchmarks` (or None), drawn on the
    trend and the funnel. A publication report names no client: it has no review list.
    """
    rep = CohortReport(S.Cohort(clinic, month, therapist_id, audience=audience, group=group,
                                benchmarks=benchmarks))
    out = {"overview": overview(rep),
           "outcomes": [service_outcomes(rep), outcome_trend(rep), recovery_funnel(rep),
                        jacobson(rep), slope_distribution(rep)],
           "review": clients_to_review(rep), "service": [data_quality(rep), month_over_month(rep)],
           "backtest": backtest(rep)}
    out["methods"] = S.methods([s for s in _canonical(rep) if s is not None])
    return out
