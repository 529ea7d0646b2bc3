"""A clinic day's session-preparation sheets (issue 23, part 2): ``report prep --date`` without
``--client`` prepares every client with a session booked that day (a sessions row with attended
empty, possibly in the future), one sheet each plus one combined PDF to print."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from progress_kit import demo_data
from progress_kit.reports.cli import EXIT_FAILED
from progress_kit.reports.context import load_clinic
from progress_kit.reports.day import clients_booked

DAY = "2026-11-04"  # after the demo's last day (2026-10-31): booked, not yet held


def _book(folder, rows: list[str]) -> None:
    with open(folder / "sessions.csv", "a", encoding="utf-8") as fh:
        fh.write("".join(r + "\n" for r in rows))


@pytest.fixture(scope="module")
def day_dir(tmp_path_factory):
    """A small demo clinic with three clients booked on DAY (two of therapist T01's), one on the
    next day and one already-held session on DAY, which is not a booking."""
    folder = tmp_path_factory.mktemp("day")
    clinic = demo_data(n_clients=12, months=4, seed=3, end="2026-10-31")
    clinic.write(folder)
    by = clinic.clients.set_index("client_id")["therapist_id"]
    t01 = sorted(by[by == by.iloc[0]].index)[:2]
    other = sorted(by[by != by.iloc[0]].index)[:2]
    _book(folder, [f"{t01[1]},{DAY},,treatment,", f"{other[0]},{DAY},,treatment,",
                   f"{t01[0]},{DAY},,treatment,", f"{other[1]},2026-11-05,,treatment,",
                   f"{other[1]},{DAY},true,treatment,50"])
    return folder, sorted([*t01, other[0]]), by.iloc[0], t01


def test_clients_booked_by_day_and_therapist(day_dir):
    folder, expected, therapist, t01 = day_dir
    clinic = load_clinic(folder)
    assert clients_booked(folder, clinic, DAY) == (expected, {})
    assert clients_booked(folder, clinic, DAY, therapist) == (t01, {})
    assert clients_booked(folder, clinic, "2026-11-06") == ([], {})
    with pytest.raises(ValueError, match="therapist 'T99' has no clients"):
        clients_booked(folder, clinic, DAY, "T99")


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "progress_kit", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=600)


def _pdf_clients(path) -> list[str]:
    import re

    from pypdf import PdfReader

    return [re.search(r"Client (\S+)", p.extract_text()).group(1) for p in PdfReader(path).pages]


@pytest.mark.slow
def test_the_day_renders_one_sheet_each_and_one_combined_pdf(day_dir, tmp_path):
    folder, expected, therapist, t01 = day_dir
    run = _cli("report", "prep", folder, "--date", DAY, "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    prep = tmp_path / "prep"
    for client in expected:
        for ext in ("html", "pdf", "ipynb"):
            assert (prep / f"{client}-prep-{DAY}.{ext}").is_file()
    sheets = sorted(p.name for p in prep.glob("*-prep-*.pdf"))
    assert sheets == [f"{c}-prep-{DAY}.pdf" for c in expected]  # nobody else's
    combined = prep / f"day-{DAY}.pdf"
    assert _pdf_clients(combined) == expected  # one page each, in client order
    assert oct(combined.stat().st_mode & 0o777) == "0o600"
    assert str(combined) in run.stdout.splitlines()

    run = _cli("report", "prep", folder, "--date", DAY, "--therapist", therapist, "--out", tmp_path)
    assert run.returncode == 0, run.stderr
    assert _pdf_clients(prep / f"day-{DAY}-{therapist}.pdf") == t01


def test_a_day_without_bookings_says_so(day_dir, tmp_path):
    folder, _, therapist, _ = day_dir
    run = _cli("report", "prep", folder, "--date", "2026-11-06", "--out", tmp_path)
    assert run.returncode == EXIT_FAILED
    assert "no session is booked on 2026-11-06" in run.stderr
    run = _cli("report", "prep", folder, "--date", DAY, "--therapist", "T99", "--out", tmp_path)
    assert run.returncode == EXIT_FAILED and "therapist 'T99' has no clients" in run.stderr
    run = _cli("report", "prep", folder, "--date", DAY, "--client", "C001", "--therapist",
               therapist, "--out", tmp_path)
    assert run.returncode == 2 and "--therapist chooses a day's clients" in run.stderr
    assert not list(tmp_path.rglob("*.pdf"))


@pytest.mark.slow
def test_the_day_renders_a_prep_notebook_of_your_own(day_dir, tmp_path):
    """--notebook on a clinic day: every booked client's sheet from the user's notebook, each
    given only its own client's page (issue 25)."""
    import nbformat

    from progress_kit.reports import new_notebook

    folder, expected, _, _ = day_dir
    mine = new_notebook("prep", tmp_path / "my_prep.ipynb")
    nb = nbformat.read(mine, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        'pr.show(pr.section("Our own box", f"Sheet of {sheet.client_id}: "\n'
        '                   f"{sorted(set(sheet.data.observations[\'client_id\']))}"))'))
    nbformat.write(nb, mine)
    run = _cli("report", "prep", folder, "--date", DAY, "--out", tmp_path / "out",
               "--format", "html", "--notebook", mine)
    assert run.returncode == 0, run.stderr
    for client in expected:
        page = (tmp_path / "out" / "prep" / f"{client}-prep-{DAY}.html").read_text()
        assert f"Sheet of {client}: [&#x27;{client}&#x27;]" in page or \
            f"Sheet of {client}: ['{client}']" in page
    assert (tmp_path / "out" / "prep" / f"day-{DAY}.pdf").is_file()
