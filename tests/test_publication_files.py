"""Publication files cannot be mixed up with internal ones (issue 24, item 6): ``batch --audience
publication`` writes the documented ``published-cohort.*`` and never replaces ``cohort.*``, and
the other way round. Rendering is faked in-process (the names are the batch's, not the engine's)."""

import json
from pathlib import Path

import pandas as pd

from progress_kit.reports import batch as batch_mod
from progress_kit.reports.render import RenderResult


def _clinic(folder: Path, ids=("C1", "C2"), month="2026-10") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"client_id": ids, "date": f"{month}-05", "measure": "PHQ-9",
                  "score": 10}).to_csv(folder / "observations.csv", index=False)
    pd.DataFrame({"client_id": ids, "therapist_id": "T1", "start_date": "2026-09-01",
                  "end_date": "", "status": "active", "problem": "depression",
                  "session_frequency": "weekly"}).to_csv(folder / "clients.csv", index=False)
    pd.DataFrame({"client_id": ids, "date": f"{month}-05", "attended": "true",
                  "kind": "treatment"}).to_csv(folder / "sessions.csv", index=False)
    return folder


def _install(monkeypatch):
    def client(data_dir, client_id, month, out_dir, *, stem, **kw):
        paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("ipynb", "html")]
        for p in paths:
            p.write_text(client_id)
        return RenderResult(paths)

    def cohort(data_dir, month, out_dir, *, stem, audience="internal", **kw):
        paths = [Path(out_dir) / f"{stem}.{ext}" for ext in ("ipynb", "html")]
        for p in paths:
            p.write_text(json.dumps({"audience": audience}))
        return RenderResult(paths)

    monkeypatch.setattr(batch_mod, "render_client", client)
    monkeypatch.setattr(batch_mod, "render_cohort", cohort)


def _batch(data, out, audience):
    return batch_mod.run_batch(data, "2026-10", out, formats=("html",), progress=False,
                               engine="kernel", audience=audience)


def _audience_of(path: Path) -> str:
    return json.loads(path.read_text())["audience"]


def test_publication_batch_writes_published_names_beside_the_internal_report(tmp_path, monkeypatch):
    _install(monkeypatch)
    data, out = _clinic(tmp_path / "data"), tmp_path / "reports"
    folder = out / "2026-10"
    _batch(data, out, "internal")
    _batch(data, out, "publication")
    assert _audience_of(folder / "cohort.html") == "internal"
    assert _audience_of(folder / "published-cohort.html") == "publication"
    # and the other way round: an internal run after a publication one leaves the published file
    _batch(data, out, "internal")
    assert _audience_of(folder / "published-cohort.html") == "publication"
    assert _audience_of(folder / "cohort.html") == "internal"
    rows = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    cohorts = rows[rows["kind"] == "cohort"].set_index("client")["files"].to_dict()
    assert cohorts == {"(cohort)": "cohort.ipynb;cohort.html",
                       "(published cohort)": "published-cohort.ipynb;published-cohort.html"}


def test_each_audience_stays_up_to_date_after_the_other_runs(tmp_path, monkeypatch):
    _install(monkeypatch)
    data, out = _clinic(tmp_path / "data"), tmp_path / "reports"
    _batch(data, out, "publication")
    _batch(data, out, "internal")
    res = _batch(data, out, "publication")
    row = res.manifest.set_index("client").loc["(published cohort)"]
    assert row["status"] == "up to date"
