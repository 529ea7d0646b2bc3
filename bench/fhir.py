"""Benchmark 3: ``read_fhir`` on a bulk-export NDJSON file of Observations.

A synthetic FHIR Bulk Data export (``Observation.ndjson``): N Observations, 70% PHQ-9 totals
(LOINC 44261-6, ``valueQuantity``), 20% GAD-7 totals (70274-6, ``valueInteger``) and 10% other
codes (PHQ-2 55758-7, skipped), for N/10 patients on distinct days, with offsets in the times.
Both sides run in this process on the same file:

* baseline: ``json.loads`` of every line and a DataFrame of subject, day, code and value, with
  no checks at all: the least any reader must do;
* kit: ``progress_kit.read_fhir(path, errors="report")``: the whole pipeline (status, subject,
  day as written, value types, one administration one score, range and step checks, problems).

Target (issue 13): at most 10 s for 100 000 Observations.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from progress_kit import read_fhir

TARGET_S = 10.0


def write_export(path: Path, n: int, seed: int = 0) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    patients = max(n // 10, 1)
    counts = {"PHQ-9": 0, "GAD-7": 0, "other": 0}
    start = np.datetime64("2020-01-01")
    with path.open("w") as out:
        for i in range(n):
            code, measure = (("44261-6", "PHQ-9"), ("70274-6", "GAD-7"), ("55758-7", "other"))[kind[i]]
            counts[measure] += 1
            day = start + np.timedelta64(int(i // patients), "D")
            obs = {"resourceType": "Observation", "id": f"o{i}", "status": "final",
                   "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                       "observation-category", "code": "survey"}]}],
                   "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                   "subject": {"reference": f"Patient/p{i % patients:06d}"},
                   "effectiveDateTime": f"{day}T{i % 24:02d}:15:00-05:00"}
            if measure == "GAD-7":
                obs["valueInteger"] = int(rng.integers(0, 22))
            else:
                obs["valueQuantity"] = {"value": int(rng.integers(0, 28 if measure == "PHQ-9" else 7)),
                                        "unit": "{score}", "system": "http://unitsofmeasure.org"}
            out.write(json.dumps(obs) + "\n")
    return counts


def baseline(path: Path) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    rows = []
    with path.open() as f:
        for line in f:
            r = json.loads(line)
            value = r.get("valueQuantity", {}).get("value", r.get("valueInteger"))
            rows.append((r["subject"]["reference"], r["effectiveDateTime"][:10],
                         r["code"]["coding"][0]["code"], value))
    pd.DataFrame(rows, columns=["subject", "date", "code", "value"])
    return time.perf_counter() - start, time.process_time() - cpu


def run(n: int = 100_000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Observation.ndjson"
        counts = write_export(path, n)
        size = path.stat().st_size
        base_s, base_cpu = baseline(path)
        start, cpu = time.perf_counter(), time.process_time()
        data = read_fhir(path, errors="report")
        kit_s, kit_cpu = time.perf_counter() - start, time.process_time() - cpu
    expected = counts["PHQ-9"] + counts["GAD-7"]
    return {"observations_in": n, "file_mb": size / 1e6, "cores": os.cpu_count(),
            "baseline_s": base_s, "kit_s": kit_s, "ratio": kit_s / base_s,
            "baseline_cpu_s": base_cpu, "kit_cpu_s": kit_cpu, "load_average": os.getloadavg()[0],
            "scores_out": len(data.observations), "scores_expected": expected,
            "skipped": int(data.skipped["count"].sum()), "problems": len(data.problems),
            "target_s": TARGET_S, "within_target": kit_s <= TARGET_S}


def to_markdown(res: dict) -> str:
    return "\n".join([
        f"{res['observations_in']:,} NDJSON Observations ({res['file_mb']:.0f} MB), {res['cores']} cores, "
        f"load average {res['load_average']:.1f} (wall time counts other processes too; CPU time "
        "is this process's own).",
        "", "| run | wall s | CPU s |", "|---|---|---|",
        f"| baseline: json.loads + DataFrame, no checks | {res['baseline_s']:.2f} | "
        f"{res['baseline_cpu_s']:.2f} |",
        f"| read_fhir (all checks) | {res['kit_s']:.2f} | {res['kit_cpu_s']:.2f} |", "",
        f"- read_fhir takes **{res['ratio']:.1f}x** the baseline; target <= {res['target_s']:.0f} s: "
        f"{'met' if res['within_target'] else 'NOT met'}",
        f"- scores out: {res['scores_out']:,} of {res['scores_expected']:,} expected; "
        f"skipped (PHQ-2): {res['skipped']:,}; problems: {res['problems']}"])
