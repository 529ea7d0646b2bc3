"""End-to-end renders (slow): papermill + nbconvert template + WeasyPrint, through the batch."""

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from progress_kit import demo_data
from progress_kit.reports.batch import run_batch
from progress_kit.reports.safe import safe_names

pytestmark = pytest.mark.slow

HOSTILE = ["../../x", 'a"; import os; open("PWNED", "w").close(); "']
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", re.I)


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A small demo clinic plus sparse and hostile clients, rendered by the batch with 2 jobs."""
    folder = tmp_path_factory.mktemp("clinic")
    clinic = demo_data(n_clients=8, months=2, seed=3, end="2026-10-31")
    obs, clients, sessions = clinic.observations, clinic.clients, clinic.sessions
    extra_obs = [("00123", "2026-10-06", "PHQ-9", 19.0)]
    donor = obs[obs["client_id"] == "C002"]
    for cid in HOSTILE:  # a copy of C002's data under a hostile ID
        extra_obs += [(cid, d.strftime("%Y-%m-%d"), m, s) for d, m, s in
                      zip(donor["date"], donor["measure"], donor["score"], strict=True)]
    obs = pd.concat([obs.assign(date=obs["date"].dt.strftime("%Y-%m-%d")),
                     pd.DataFrame(extra_obs, columns=obs.columns)])
    new = pd.DataFrame({"client_id": ["00123", *HOSTILE], "therapist_id": "T01",
                        "start_date": pd.Timestamp("2026-10-01"), "end_date": pd.NaT,
                        "status": "active", "problem": "depression", "session_frequency": "weekly"})
    clinic.observations = obs.assign(date=pd.to_datetime(obs["date"]))
    clinic.clients = pd.concat([clients, new], ignore_index=True)
    clinic.sessions = sessions
    clinic.truth = None
    clinic.write(folder)
    out = tmp_path_factory.mktemp("reports")
    chosen = ["C001", "C002", "00123", *HOSTILE]
    res = run_batch(folder, "2026-10", out, jobs=2, progress=False, clients=chosen)
    return folder, out / "2026-10", res, chosen, clinic


def test_batch_renders_every_client_and_the_cohort(rendered):
    _, month_dir, res, chosen, _ = rendered
    m = res.manifest
    assert m["status"].eq("ok").all(), m[["client", "error"]].to_string()
    assert len(m) == len(chosen) + 1
    for name in safe_names(chosen).values():
        for ext in ("html", "pdf", "ipynb"):
            assert (month_dir / "clients" / f"{name}.{ext}").is_file()
    for ext in ("html", "pdf", "ipynb"):
        assert (month_dir / f"cohort.{ext}").is_file()


def test_hostile_ids_stay_inside_and_never_run(rendered, tmp_path):
    folder, month_dir, _, _, _ = rendered
    root = month_dir.parent
    everything = [p.resolve() for p in root.rglob("*")]
    assert all(p.is_relative_to(root.resolve()) for p in everything)
    assert not [p for p in everything if p.name == "PWNED"]
    assert not list(folder.rglob("PWNED")) and not Path("PWNED").exists()
    assert not (root.parent / "x.html").exists()
    for cid, name in safe_names(HOSTILE).items():
        page = (month_dir / "clients" / f"{name}.html").read_text()
        assert html.escape(cid, quote=False) in page
        nb = json.loads((month_dir / "clients" / f"{name}.ipynb").read_text())
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        ns: dict = {}
        exec("".join(injected[0]["source"]), {}, ns)  # papermill's literal, read back
        assert ns["client_id"] == cid


def test_leading_zeros_and_single_score(rendered):
    _, month_dir, _, _, _ = rendered
    page = (month_dir / "clients" / "00123.html").read_text()
    assert "Client 00123" in page and "Client 123<" not in page
    assert "at least two scores are needed" in page and "1 score so far, 19 on" in page
    assert "Client 00123" in _pdf_text(month_dir / "clients" / "00123.pdf")
    nb = json.loads((month_dir / "clients" / "00123.ipynb").read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert 'client_id = "00123"' in "".join(injected[0]["source"])
    assert 'month = "2026-10"' in "".join(injected[0]["source"])


def test_html_is_clean_offline_and_clinical(rendered):
    _, month_dir, _, _, _ = rendered
    for page_path in [month_dir / "clients" / "C002.html", month_dir / "cohort.html"]:
        page = page_path.read_text()
        assert not EXTERNAL.search(page), EXTERNAL.search(page)
        assert "//cdn" not in page.lower()
        page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=\s]+", "", page)  # text only
        assert "cdn" not in page.lower() and "mathjax" not in page.lower()
        assert "require.js" not in page and "<script" not in page.lower()
        assert "<link" not in page.lower()
        for noise in ("Traceback", "Warning", "In&nbsp;[", "import ", "rn.show", "stderr"):
            assert noise not in page, noise
        assert "progress-kit 0.1.0" in page and "Generated 20" in page
        assert "@page" in page and "A4" in page
    client = (month_dir / "clients" / "C002.html").read_text()
    assert client.count("data:image/png;base64,") >= 2 and "<figure" in client


def test_reports_hold_only_their_own_client(rendered):
    _, month_dir, _, chosen, clinic = rendered
    obs = clinic.observations
    texts = {}
    for cid in ("C001", "C002"):
        page = (month_dir / "clients" / f"{cid}.html").read_text()
        texts[cid] = (page, _pdf_text(month_dir / "clients" / f"{cid}.pdf"))
    for cid, other in (("C001", "C002"), ("C002", "C001")):
        theirs = obs[(obs["client_id"] == other) & (obs["measure"] == "PHQ-9")].sort_values("date")
        fingerprint = f"first {theirs['score'].iloc[0]:g}, latest {theirs['score'].iloc[-1]:g}"
        mine = obs[(obs["client_id"] == cid) & (obs["measure"] == "PHQ-9")].sort_values("date")
        own = f"first {mine['score'].iloc[0]:g}, latest {mine['score'].iloc[-1]:g}"
        for text in texts[cid]:
            assert not re.search(rf"\b{other}\b", text)
            assert own in text.replace("\n", " ")
            if fingerprint != own:
                assert fingerprint not in text.replace("\n", " ")
    cohort = (month_dir / "cohort.html").read_text()
    assert "PHQ-9 1" not in cohort  # no per-client score sentences in the cohort report


@pytest.mark.parametrize("how", [{"engine": "kernel"}, {"scheduler": "local"}])
def test_every_engine_renders_the_same_reports(rendered, tmp_path, how, capfd, recwarn):
    """Fork server (the fixture), a kernel per report, and a Dask LocalCluster: same bytes."""
    import socket

    pytest.importorskip("distributed") if "scheduler" in how else None
    folder, month_dir, _, _, _ = rendered
    pick = ["C001", "00123"]
    capfd.readouterr()
    with socket.socket() as busy:  # the Dask dashboard's default port, taken as on a shared host
        try:
            busy.bind(("127.0.0.1", 8787))
        except OSError:
            pass
        res = run_batch(folder, "2026-10", tmp_path, jobs=2, progress=False, clients=pick,
                        formats=("html",), **how)
    noise = capfd.readouterr()
    # kernels and workers inherit our stderr: no warning reaches the user (issue 14, "Noise")
    assert "without encryption" not in noise.err and "Warning" not in noise.err, noise.err[-2000:]
    assert not [w for w in recwarn if "already in use" in str(w.message)]
    assert res.manifest["status"].eq("ok").all(), res.manifest[["client", "error"]].to_string()
    for name in [*safe_names(pick).values()]:
        got = (tmp_path / "2026-10" / "clients" / f"{name}.html").read_bytes()
        assert got == (month_dir / "clients" / f"{name}.html").read_bytes(), name
    assert (tmp_path / "2026-10" / "cohort.html").read_bytes() == (month_dir / "cohort.html").read_bytes()


def test_rendered_files_are_private_and_name_only_their_client(rendered):
    """Issue 14 items 2, 4, 16: mode 0600, no temp file left, hashes recorded, no default ID."""
    import hashlib
    import os
    import stat

    _, month_dir, res, _, _ = rendered
    files = [p for p in month_dir.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".pk-tmp-")]
    reports = [p for p in files if p.suffix in (".html", ".pdf", ".ipynb", ".csv")]
    assert reports and all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in reports)
    row = res.manifest.set_index("client").loc["C001"]
    for name, digest in zip(row["files"].split(";"), row["sha256"].split(";"), strict=True):
        assert hashlib.sha256((month_dir / name).read_bytes()).hexdigest() == digest
    notebook = (month_dir / "clients" / "C001.ipynb").read_text()
    assert "C002" not in notebook  # the parameter cell's default names nobody
