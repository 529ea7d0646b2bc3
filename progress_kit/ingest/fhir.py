"""Read PHQ-9 and GAD-7 scores from FHIR R4 resources: Observations and QuestionnaireResponses.

See :func:`read_fhir` and ``docs/ingest.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..measures import _REGISTRY
from ._common import (
    Errors,
    ImportedData,
    finish,
    items_of_valid,
    problem,
    validate_items,
    validate_observations,
)

__all__ = ["read_fhir"]

LOINC = "http://loinc.org"
_LOINC_OR_NONE = (LOINC, None)
TOTALS = {"44261-6": "PHQ-9", "70274-6": "GAD-7"}
PANELS = {"44249-1": "PHQ-9", "69737-5": "GAD-7"}
_ITEM_CODES = {
    "PHQ-9": ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8"),
    "GAD-7": ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
}
ITEMS = {code: (measure, i + 1) for measure, codes in _ITEM_CODES.items()
         for i, code in enumerate(codes)}
# "How difficult have these problems made it ...": part of the form, not of the score
UNSCORED = {"69722-7": "PHQ-9", "69726-8": "GAD-7"}
ANSWERS = {"LA6568-5": 0.0, "LA6569-3": 1.0, "LA6570-1": 2.0, "LA6571-9": 3.0}
GAD7_ANSWERS = {"LA18938-3": 2.0}  # "More than half the days" as coded on GAD-7 item 2
TOTALS_BY_MEASURE = {m: [c for c, mm in TOTALS.items() if mm == m] for m in set(TOTALS.values())}
KNOWN = set(TOTALS) | set(PANELS) | set(ITEMS) | set(UNSCORED)
OBSERVATION_SCORED = {"final", "amended", "corrected"}
RESPONSE_SCORED = {"completed", "amended"}
_NAME_PATTERNS = {"PHQ-9": re.compile(r"phq[-_ .]?9", re.I), "GAD-7": re.compile(r"gad[-_ .]?7", re.I)}
_TOTAL_LINK = re.compile(r"(score|total|ts)$", re.I)
_TRAILING_INT = re.compile(r"(\d+)$")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_SUPPORTING = ("Questionnaire", "CodeSystem", "ValueSet")
_WEIGHT_EXT = ("ordinalValue", "itemWeight", "CO-value")


# ---------------------------------------------------------------- loading


class _Res:
    """One resource and where it came from (kind and codes worked out once: bulk files are big)."""

    __slots__ = ("r", "file", "line", "entry", "full_url", "kind", "_codes")

    def __init__(self, r: dict, file: str, line: int | None = None, entry: int | None = None,
                 full_url: str | None = None):
        self.r, self.file, self.line, self.entry, self.full_url = r, file, line, entry, full_url
        self.kind = str(r.get("resourceType", "?"))
        self._codes: list[str] | None = None

    @property
    def codes(self) -> list[str]:
        if self._codes is None:
            self._codes = _codes(self.r.get("code"))
        return self._codes

    @property
    def label(self) -> str:
        where = f" (Bundle entry {self.entry})" if self.entry is not None else ""
        return f"{self.kind}/{self.r.get('id', '(no id)')}{where}"


def _load(source: Any, problems: list[dict]) -> list[_Res]:
    out: list[_Res] = []
    if isinstance(source, dict):
        _add(source, "(resource given as a dict)", None, out)
    elif isinstance(source, list | tuple):
        for item in source:
            out.extend(_load(item, problems))
    else:
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".json", ".ndjson", ".jsonl"))
            for p in files:
                out.extend(_load_file(p, str(p.relative_to(path.parent)), problems))
        elif path.exists():
            out.extend(_load_file(path, path.name, problems))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return out


try:  # orjson parses bulk exports about twice as fast; the standard library does the same job
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but keep working without it
    _fast_loads, _FastError = json.loads, json.JSONDecodeError


def _parse(text: str) -> Any:
    try:
        return _fast_loads(text)
    except _FastError:
        return json.loads(text)  # raises json.JSONDecodeError with line and column


def _load_file(path: Path, name: str, problems: list[dict]) -> list[_Res]:
    out: list[_Res] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(problem(name, None, "", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return out
    if path.suffix.lower() in (".ndjson", ".jsonl"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                _add(_parse(line), name, number, out)
            except json.JSONDecodeError as exc:
                problems.append(problem(name, number, "", "", f"not valid JSON ({exc.msg} at column "
                                                              f"{exc.colno})"))
        return out
    try:
        _add(_parse(text), name, None, out)
    except json.JSONDecodeError as exc:
        problems.append(problem(name, exc.lineno, "", "", f"not valid JSON ({exc.msg} at column "
                                                          f"{exc.colno})"))
    return out


def _add(resource: Any, file: str, line: int | None, out: list[_Res],
         entry: int | None = None, full_url: str | None = None) -> None:
    if not isinstance(resource, dict):
        out.append(_Res({"resourceType": "?"}, file, line, entry))
        return
    if resource.get("resourceType") == "Bundle":
        for i, e in enumerate(resource.get("entry") or []):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                _add(e["resource"], file, line, out, i, e.get("fullUrl"))
        return
    out.append(_Res(resource, file, line, entry, full_url))


# ---------------------------------------------------------------- small readers of FHIR elements


def _codes(concept: Any) -> list[str]:
    """LOINC codes of a CodeableConcept (codings without a system count: many exports omit it)."""
    if concept.__class__ is not dict:
        return []
    out = []
    for c in concept.get("coding") or ():
        if c.__class__ is dict:
            code = c.get("code")
            if code.__class__ is str and c.get("system") in _LOINC_OR_NONE:
                out.append(code)
    return out


def _client(r: dict) -> str | None:
    subject = r.get("subject")
    ref = subject.get("reference") if subject.__class__ is dict else None
    if ref.__class__ is str and ref.startswith("Patient/") and ref.find("/", 8) < 0:
        tail = ref[8:]
        if tail and tail.strip() == tail:
            return tail  # the common case, without the general parsing below
    if not isinstance(ref, str) or not ref.strip():
        return None
    ref = ref.strip().split("/_history/")[0]
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        return ref[9:] if ref.startswith("urn:uuid:") else ref[8:]
    return ref.rstrip("/").rsplit("/", 1)[-1]


def _day(r: dict) -> tuple[str | None, str, str]:
    """The calendar day as written (no time-zone conversion), the element it came from, the text."""
    for key in ("effectiveDateTime", "effectiveInstant", "authored"):
        if isinstance(r.get(key), str):
            return _day_of(r[key]), key, r[key]
    period = r.get("effectivePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return _day_of(period["start"]), "effectivePeriod.start", period["start"]
    return None, "", ""


def _day_of(text: str) -> str | None:
    m = _DAY.match(text.strip())
    return m.group(1) if m else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _weight_from_extensions(element: Any) -> float | None:
    for ext in (element or {}).get("extension") or () if isinstance(element, dict) else ():
        if isinstance(ext, dict) and str(ext.get("url", "")).endswith(_WEIGHT_EXT):
            for key in ("valueDecimal", "valueInteger"):
                if key in ext:
                    return _number(ext[key])
    return None


# ---------------------------------------------------------------- answer weights


@dataclass
class _Context:
    """Everything found across the sources that helps read the scores."""

    by_ref: dict[str, _Res] = field(default_factory=dict)
    questionnaires: dict[str, dict] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # "system|code" and "code"

    def index(self, res: _Res) -> None:
        r = res.r
        if "id" in r:
            self.by_ref[f"{res.kind}/{r['id']}"] = res
        if res.full_url:
            self.by_ref[res.full_url] = res
        if res.kind == "Questionnaire":
            self._questionnaire(r)
        elif res.kind == "CodeSystem":
            self._codesystem(r)
        elif res.kind == "ValueSet":
            self._valueset(r)

    def _questionnaire(self, q: dict) -> None:
        for key in (q.get("url"), f"Questionnaire/{q.get('id')}", q.get("id")):
            if isinstance(key, str):
                self.questionnaires[key] = q
        for c in q.get("contained") or ():
            if isinstance(c, dict) and c.get("resourceType") == "ValueSet":
                self._valueset(c)

    def _codesystem(self, cs: dict) -> None:
        props = {p.get("code") for p in cs.get("property") or () if isinstance(p, dict)
                 and str(p.get("uri", "")).endswith(("itemWeight", "ordinalValue"))} | {"itemWeight"}
        stack = list(cs.get("concept") or ())
        while stack:
            c = stack.pop()
            if not isinstance(c, dict):
                continue
            stack.extend(c.get("concept") or ())
            for p in c.get("property") or ():
                if isinstance(p, dict) and p.get("code") in props:
                    w = _number(p.get("valueDecimal", p.get("valueInteger")))
                    if w is not None:
                        self.weights[f"{cs.get('url')}|{c.get('code')}"] = w

    def _valueset(self, vs: dict) -> None:
        for inc in (vs.get("compose") or {}).get("include") or ():
            for c in inc.get("concept") or () if isinstance(inc, dict) else ():
                w = _weight_from_extensions(c)
                if w is not None:
                    self.weights[f"{inc.get('system')}|{c.get('code')}"] = w

    def questionnaire_for(self, qr: dict) -> dict | None:
        ref = qr.get("questionnaire")
        if isinstance(ref, dict):  # STU3 wrote a Reference
            ref = ref.get("reference")
        if not isinstance(ref, str):
            return None
        if ref.startswith("#"):
            for c in qr.get("contained") or ():
                if isinstance(c, dict) and c.get("id") == ref[1:]:
                    return c
            return None
        ref = ref.split("|")[0]
        return self.questionnaires.get(ref) or self.questionnaires.get(ref.rsplit("/", 1)[-1])


def _questionnaire_items(q: dict | None) -> dict[str, dict]:
    """Questionnaire items by linkId (nested groups flattened)."""
    out: dict[str, dict] = {}
    stack = list((q or {}).get("item") or ())
    while stack:
        it = stack.pop()
        if isinstance(it, dict):
            out[str(it.get("linkId"))] = it
            stack.extend(it.get("item") or ())
    return out


def _answer_value(answer: dict, measure: str, qitem: dict | None, ctx: _Context,
                  contained: dict[str, float]) -> tuple[float | None, str]:
    """The score of one answer, and the answer as text for messages."""
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            return _number(answer[key]), str(answer[key])
    if isinstance(answer.get("valueQuantity"), dict):
        v = answer["valueQuantity"].get("value")
        return _number(v), str(v)
    if "valueString" in answer:
        return _number(answer["valueString"]), repr(answer["valueString"])
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        keys = [k for k in answer if k.startswith("value")]
        return None, keys[0] if keys else "(no value)"
    code, system = coding.get("code"), coding.get("system")
    text = f"code {code!r}" + (f" ({coding['display']})" if coding.get("display") else "")
    weight = _weight_from_extensions(coding)
    if weight is None and qitem is not None:
        for option in qitem.get("answerOption") or ():
            oc = option.get("valueCoding") if isinstance(option, dict) else None
            if isinstance(oc, dict) and oc.get("code") == code:
                weight = _weight_from_extensions(option)
                if weight is None:
                    weight = _weight_from_extensions(oc)
                break
    if weight is None and system in (LOINC, None):
        weight = ANSWERS.get(code, GAD7_ANSWERS.get(code) if measure == "GAD-7" else None)
    if weight is None:
        weight = contained.get(f"{system}|{code}", ctx.weights.get(f"{system}|{code}"))
    return weight, text


# ---------------------------------------------------------------- administrations


@dataclass(slots=True)
class _Admin:
    """One administration of a questionnaire, from one or more resources."""

    measure: str
    res: _Res
    client: str | None
    day: str | None
    day_text: str
    items: dict[int, float] = field(default_factory=dict)
    total: float | None = None
    total_text: str = ""
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value, reason)
    derived_from: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def _score(admin: _Admin) -> tuple[float | None, list[tuple[str, str, str, str]]]:
    """The administration's score, with (column, value, reason, severity) notes."""
    m = _REGISTRY[admin.measure]
    notes: list[tuple[str, str, str, str]] = []
    n, allowed = m.items or 0, m.max_missing_items
    if not admin.items:
        if admin.total is None:
            return None, [("value", admin.total_text, "no score: neither a total nor any item "
                           "answer could be read", "error")]
        return admin.total, notes
    answered = {k: v for k, v in admin.items.items() if v is not None}
    missing = [k for k in range(1, n + 1) if k not in answered]
    total_sum = sum(answered.values())
    if not missing:
        score = total_sum
    elif len(missing) <= allowed:
        score = float(np.floor(total_sum / len(answered) * n + 0.5))
        which = ", ".join(f"item {k}" for k in missing)
        notes.append(("item", which, f"{len(missing)} of {n} items missing ({which}); total prorated "
                      f"from {len(answered)} answered items to {score:g} (registry rule: at most "
                      f"{allowed} missing, round(mean x {n}))", "warning"))
    else:
        which = ", ".join(str(k) for k in missing)
        return None, [("item", which, f"{len(missing)} of {n} items missing (items {which}); at most "
                       f"{allowed} may be prorated, so there is no score", "error")]
    if admin.total is not None and admin.total != score and not (missing and admin.total == total_sum):
        what = "the item sum" if not missing else "the prorated item total"
        return None, [("value", admin.total_text, f"stated total {admin.total:g} disagrees with {what} "
                       f"{score:g}; no score", "error")]
    return score, notes


# ---------------------------------------------------------------- the reader


def read_fhir(source: Any, *, errors: Errors = "raise", today: dt.date | None = None) -> ImportedData:
    """Read PHQ-9 and GAD-7 scores (totals and items) from FHIR R4 resources.

    Parameters
    ----------
    source : path, dict or list
        A JSON resource file, a Bundle of any type (collection, searchset, transaction ...), an
        NDJSON bulk-export file (``.ndjson``), a folder of these (searched recursively), a
        resource as a dict, or a list of any of these. Questionnaires and CodeSystems among the
        sources supply answer weights (``ordinalValue``, ``itemWeight``).
    errors : {"raise", "report"}
        ``"raise"`` (default) raises :class:`~progress_kit.DataValidationError` when any problem is
        an error; ``"report"`` returns the valid scores with every problem in ``.problems``.
    today : date, optional
        Dates after this day are problems (default: today).

    Returns
    -------
    ImportedData
        ``observations`` (``client_id``, ``date``, ``measure``, ``score``, ``source``), ``items``
        (``client_id``, ``date``, ``measure``, ``item``, ``response``), stub ``clients``, empty
        ``sessions``, ``problems`` and ``skipped`` (resources that are not a registered measure,
        counted by kind).

    Notes
    -----
    What is read:

    - Observations with LOINC 44261-6 (PHQ-9 total) or 70274-6 (GAD-7 total), the value in
      ``valueQuantity``, ``valueInteger``, ``valueDecimal``, a numeric ``valueString`` or a
      component with that code; item Observations (PHQ-9 44250-9 ... 44260-8, GAD-7 69725-0 ...
      69736-7) with a LOINC answer code or a number; panels 44249-1 and 69737-5, followed
      through ``hasMember`` (a value on the panel itself is read as its total).
    - QuestionnaireResponses recognised by the item codes (in the linkId, with or without a
      leading ``/``, or on the Questionnaire's item), by the Questionnaire's panel code, or by
      a questionnaire canonical naming PHQ-9 / GAD-7 (then items are numbered by the trailing
      number of their linkId and the total is the item whose linkId ends in score/total/TS).
      Answers are LOINC answer codes (LA6568-5 = 0, LA6569-3 = 1, LA6570-1 = 2, LA6571-9 = 3;
      LA18938-3 = 2 on GAD-7), an ``ordinalValue`` / ``itemWeight`` on the answer, on the
      Questionnaire's answerOption or in a CodeSystem, or ``valueInteger`` / ``valueDecimal``.
      The difficulty items (69722-7, 69726-8) are not scored. A response holding both PHQ-9
      and GAD-7 items (a combined form) gives a score for each.
    - ``client_id`` is the id part of ``subject.reference`` (``Patient/abc`` -> ``abc``, an
      absolute URL's last segment, ``urn:uuid:X`` -> ``X``). ``date`` is the calendar day as
      written in ``effectiveDateTime``, ``effectivePeriod.start`` or ``authored``: no time-zone
      conversion, so the day is the one the client and clinician saw.

    Rules:

    - Status: Observations ``final``, ``amended``, ``corrected`` and QuestionnaireResponses
      ``completed``, ``amended`` are scores. ``preliminary``/``registered`` Observations and
      ``in-progress``/``stopped`` responses are not scores yet (a later final version replaces
      them); ``entered-in-error``, ``cancelled`` and ``unknown`` are not scores. All of these
      are listed in ``problems`` as warnings.
    - One administration, one score: Observations ``derivedFrom`` a QuestionnaireResponse are the
      same administration; they must agree with it (day, total, items) or neither is scored.
      Resources giving the same score for the same client, day and measure are one score;
      different scores there are conflicting duplicates (errors).
    - A stated total that disagrees with the item sum is an error with no score. Missing items
      follow the registry rule (:func:`progress_kit.score_items`: at most ``max_missing_items``,
      prorated as ``round(mean x n_items)``) and are listed as warnings; more missing is an
      error. Totals then pass the same range and step checks as a data folder.
    - Every problem names the file (and the line, for NDJSON), the resource type and id, and the
      reason. Every resource that looks like a PHQ-9 or GAD-7 ends as a score or in
      ``problems``; other resources are counted in ``skipped``.

    Examples
    --------
    >>> obs = {"resourceType": "Observation", "id": "o1", "status": "final",
    ...        "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
    ...        "subject": {"reference": "Patient/abc"},
    ...        "effectiveDateTime": "2024-03-04T23:30:00-05:00", "valueInteger": 14}
    >>> data = read_fhir(obs)
    >>> data.observations
      client_id       date measure  score          source
    0       abc 2024-03-04   PHQ-9   14.0  Observation/o1
    """
    problems: list[dict] = []
    resources = _load(source, problems)
    ctx = _Context()
    for res in resources:
        ctx.index(res)
    skipped: Counter = Counter()
    members = _panel_members(resources, ctx)
    admins: list[_Admin] = []
    loose: dict[tuple, list[_Res]] = defaultdict(list)
    for res in resources:
        kind = res.kind
        if kind == "Observation":
            if id(res) in members:
                continue
            _observation(res, ctx, admins, loose, skipped, problems)
        elif kind == "QuestionnaireResponse":
            _response(res, ctx, admins, skipped, problems)
        else:
            skipped[(kind, "used for answer weights" if kind in _SUPPORTING else "not a score")] += 1
    simple: list[tuple] = []
    admins.extend(_loose_admins(loose, problems, simple))
    admins = _link_derived(admins, problems)
    obs, origins, items, item_origins = _tables(admins, problems, simple)
    # the source label is attached after validation: the reader would copy it cell by cell
    valid, more = validate_observations(obs.drop(columns="source"), origins, today)
    problems.extend(more)
    if len(valid):
        keys = ["client_id", "date", "measure"]
        labels = obs[keys + ["source"]].assign(date=pd.to_datetime(obs["date"], errors="coerce"))
        valid = valid.merge(labels.drop_duplicates(keys), on=keys, how="left")
    items, item_origins = items_of_valid(items, item_origins, valid)
    item_rows, item_problems = validate_items(items, item_origins, today)
    problems.extend(item_problems)
    table = pd.DataFrame([{"source": k, "what": w, "count": n} for (k, w), n in sorted(skipped.items())],
                         columns=["source", "what", "count"])
    return finish(valid, item_rows, problems, table, errors)


def _panel_members(resources: list[_Res], ctx: _Context) -> set[int]:
    out = set()
    for res in resources:
        if res.kind == "Observation" and "hasMember" in res.r and not PANELS.keys().isdisjoint(res.codes):
            for ref in res.r.get("hasMember") or ():
                target = ctx.by_ref.get((ref or {}).get("reference", "")) if isinstance(ref, dict) else None
                if target is not None:
                    out.add(id(target))
    return out


def _note(res: _Res, column: str, value: Any, reason: str, severity: str = "error") -> dict:
    return problem(res.file, res.line, column, value, f"{res.label}: {reason}", severity)


def _status_ok(res: _Res, scored: set[str], problems: list[dict], what: str) -> bool:
    status = res.r.get("status")
    if status in scored:
        return True
    why = {"preliminary": "preliminary, not yet a final result",
           "registered": "registered, no result yet",
           "in-progress": "in progress, not completed",
           "stopped": "stopped before completion",
           "entered-in-error": "entered in error",
           "cancelled": "cancelled",
           "unknown": "of unknown status"}.get(status, f"status {status!r} is not a result")
    problems.append(_note(res, "status", status, f"{what} is {why}; not scored", "warning"))
    return False


def _observation(res: _Res, ctx: _Context, admins: list[_Admin], loose: dict, skipped: Counter,
                 problems: list[dict]) -> None:
    r = res.r
    codes = res.codes
    if len(codes) == 1 and codes[0] in TOTALS and "component" not in r and "derivedFrom" not in r \
            and r.get("status") in OBSERVATION_SCORED:
        # the bulk-export case: a total on its own; grouped by client and day with any items
        day, key, text = _day(r)
        loose[(TOTALS[codes[0]], _client(r), day)].append((res, key, text))
        return
    comps = [(c, _codes(c.get("code"))) for c in r.get("component") or () if isinstance(c, dict)]
    comp_known = [(c, cc) for c, cc in comps if set(cc) & (set(TOTALS) | set(ITEMS))]
    own = [c for c in codes if c in KNOWN]
    if not own and not comp_known:
        skipped[("Observation", _describe(r.get("code")))] += 1
        return
    code = own[0] if own else ""
    if code in UNSCORED and not comp_known:
        skipped[("Observation", f"LOINC {code} ({UNSCORED[code]} difficulty item, not scored)")] += 1
        return
    measure = PANELS.get(code) or TOTALS.get(code) or (ITEMS.get(code) or (None,))[0] or \
        _measure_of_codes([cc for _, cc in comp_known])
    if not _status_ok(res, OBSERVATION_SCORED, problems, f"this {measure} Observation"):
        return
    if code in ITEMS or (code in TOTALS and not comp_known):
        client, (day, key, text) = _client(r), _day(r)
        loose[(measure, client, day)].append((res, key, text))
        return
    admin = _new_admin(measure, res, problems)
    if admin is None:
        return
    if code in PANELS:
        _read_panel(admin, res, ctx, problems)
    for comp, ccodes in comp_known:
        _read_value_into(admin, comp, ccodes, res, "component", problems)
    if admin.total is None and code in PANELS and _has_value(r):
        _read_value_into(admin, r, TOTALS_BY_MEASURE[measure], res, "value", problems)
    admins.append(admin)


def _describe(concept: Any) -> str:
    """``LOINC 55758-7 (PHQ-2 total score)`` for the skipped-resources table."""
    for c in (concept or {}).get("coding") or () if isinstance(concept, dict) else ():
        if isinstance(c, dict) and c.get("code"):
            system = "LOINC" if c.get("system") == LOINC else (c.get("system") or "code")
            return f"{system} {c['code']}" + (f" ({c['display']})" if c.get("display") else "")
    return "no code"


def _has_value(r: dict) -> bool:
    return any(k.startswith("value") for k in r)


def _measure_of_codes(code_lists: Iterable[list[str]]) -> str:
    votes = Counter()
    for codes in code_lists:
        for c in codes:
            m = TOTALS.get(c) or PANELS.get(c) or (ITEMS.get(c) or (None,))[0]
            if m:
                votes[m] += 1
    return votes.most_common(1)[0][0]


def _new_admin(measure: str, res: _Res, problems: list[dict]) -> _Admin | None:
    r = res.r
    client = _client(r)
    day, key, text = _day(r)
    if client is None:
        problems.append(_note(res, "subject", "", f"{measure}: no subject.reference, so whose score "
                                                   "this is cannot be told; not scored"))
        return None
    if day is None:
        what = f"{key} {text!r} is not a full calendar day" if key else \
            "no effectiveDateTime, effectivePeriod.start or authored"
        problems.append(_note(res, key or "effectiveDateTime", text, f"{measure}: {what}; not scored"))
        return None
    admin = _Admin(measure, res, client, day, text)
    admin.refs = [f"{res.kind}/{r.get('id')}"] + ([res.full_url] if res.full_url else [])
    admin.derived_from = [d.get("reference") for d in r.get("derivedFrom") or ()
                          if isinstance(d, dict) and isinstance(d.get("reference"), str)]
    return admin


def _read_panel(admin: _Admin, res: _Res, ctx: _Context, problems: list[dict]) -> None:
    for ref in res.r.get("hasMember") or ():
        key = ref.get("reference", "") if isinstance(ref, dict) else ""
        member = ctx.by_ref.get(key)
        if member is None:
            problems.append(_note(res, "hasMember", key, f"{admin.measure} panel member {key!r} is not "
                                                         "among the sources; its answer is missing",
                                  "warning"))
            continue
        codes = member.codes
        if not set(codes) & (set(TOTALS) | set(ITEMS)):
            continue  # e.g. the difficulty item
        if not _status_ok(member, OBSERVATION_SCORED, problems, f"this {admin.measure} panel member"):
            continue
        _read_value_into(admin, member.r, codes, member, "value", problems)


def _read_value_into(admin: _Admin, element: dict, codes: list[str], res: _Res, where: str,
                     problems: list[dict]) -> None:
    """Put one coded value (a total or an item) into the administration."""
    value, text, column = _element_value(element, admin.measure)
    for code in codes:
        if code in TOTALS:
            if value is None:
                problems.append(_note(res, column, text, f"{admin.measure} total has no numeric value"))
                admin.errors.append((column, text, "unreadable total"))
            admin.total, admin.total_text = value, text
            return
        if code in ITEMS:
            n = ITEMS[code][1]
            if value is None:
                problems.append(_note(res, column, text, f"{admin.measure} item {n} ({code}): answer "
                                                         f"{text} has no score"))
                admin.errors.append((column, text, "unreadable item"))
            admin.items[n] = value
            return


def _element_value(e: dict, measure: str) -> tuple[float | None, str, str]:
    if isinstance(e.get("valueQuantity"), dict):
        v = e["valueQuantity"].get("value")
        return _number(v), str(v), "valueQuantity"
    for key in ("valueInteger", "valueDecimal"):
        if key in e:
            return _number(e[key]), str(e[key]), key
    if "valueString" in e:
        return _number(e["valueString"]), repr(e["valueString"]), "valueString"
    if isinstance(e.get("valueCodeableConcept"), dict):
        for code in _codes(e["valueCodeableConcept"]):
            w = ANSWERS.get(code, GAD7_ANSWERS.get(code) if measure == "GAD-7" else None)
            if w is not None:
                return w, code, "valueCodeableConcept"
        shown = [c.get("code") for c in e["valueCodeableConcept"].get("coding") or ()]
        return None, f"codes {shown}", "valueCodeableConcept"
    if isinstance(e.get("dataAbsentReason"), dict):
        why = _codes(e["dataAbsentReason"]) or [e["dataAbsentReason"].get("text", "")]
        return None, f"dataAbsentReason {why}", "dataAbsentReason"
    return None, "(no value)", "value[x]"


def _loose_admins(loose: dict, problems: list[dict], simple: list[tuple]) -> list[_Admin]:
    """Item and total Observations outside any panel: one administration per client, day, measure.

    A total alone on its day (the bulk-export case) goes to ``simple`` as a ready row.
    """
    out = []
    for (measure, client, day), group in loose.items():
        first, key, text = group[0]
        if len(group) == 1 and client is not None and day is not None and \
                not TOTALS.keys().isdisjoint(first.codes):
            # the common bulk-export case: one total, nothing else on that day
            value, value_text, column = _element_value(first.r, measure)
            if value is None:
                problems.append(_note(first, column, value_text,
                                      f"{measure} total has no numeric value; not scored"))
            elif "derivedFrom" in first.r:
                admin = _Admin(measure, first, client, day, text, total=value, total_text=value_text)
                admin.refs = [f"Observation/{first.r.get('id')}"]
                admin.derived_from = [d.get("reference") for d in first.r["derivedFrom"]
                                      if isinstance(d, dict) and isinstance(d.get("reference"), str)]
                out.append(admin)
            else:
                simple.append((client, day, measure, value, first))
            continue
        group = [g[0] for g in group]
        first = group[0]
        admin = _new_admin(measure, first, problems)
        if admin is None:
            for res in group[1:]:
                problems.append(_note(res, "subject", "", f"{measure}: grouped with {first.label}, "
                                                          "which cannot be placed; not scored"))
            continue
        totals = []
        for res in group:
            codes = res.codes
            if set(codes) & set(TOTALS):
                value, text, column = _element_value(res.r, measure)
                if value is None:
                    problems.append(_note(res, column, text, f"{measure} total has no numeric value"))
                    admin.errors.append((column, text, "unreadable total"))
                totals.append((res, value))
            else:
                _read_value_into(admin, res.r, codes, res, "value", problems)
            admin.derived_from += [d.get("reference") for d in res.r.get("derivedFrom") or ()
                                   if isinstance(d, dict) and isinstance(d.get("reference"), str)]
            admin.refs += [f"Observation/{res.r.get('id')}"] + ([res.full_url] if res.full_url else [])
        values = {v for _, v in totals if v is not None}
        if len(values) > 1:
            names = ", ".join(r.label for r, _ in totals)
            for res, v in totals:
                problems.append(_note(res, "value", v, f"{measure} total for client {admin.client} on "
                                                       f"{admin.day} differs between {names}; not scored"))
            continue
        admin.total = values.pop() if values else None
        admin.total_text = "" if admin.total is None else f"{admin.total:g}"
        if admin.errors:
            continue
        out.append(admin)
    return out


def _response(res: _Res, ctx: _Context, admins: list[_Admin], skipped: Counter,
              problems: list[dict]) -> None:
    r = res.r
    contained = _Context()
    for c in r.get("contained") or ():
        if isinstance(c, dict):
            contained.index(_Res(c, res.file))
    q = ctx.questionnaire_for(r) or contained.questionnaire_for(r)
    qitems = _questionnaire_items(q)
    coded = [(link, answers, _item_code(link, qitems.get(link)))
             for link, answers in _response_items(r.get("item") or ())]
    measures = _response_measures(r, q, [c for _, _, c in coded])
    if not measures:
        ref = r.get("questionnaire")
        skipped[("QuestionnaireResponse", f"questionnaire {ref}" if ref else "no questionnaire")] += 1
        return
    if not _status_ok(res, RESPONSE_SCORED, problems, f"this {' and '.join(measures)} "
                                                      "QuestionnaireResponse"):
        return
    weights = {**ctx.weights, **contained.weights}
    # a combined form (PHQ-9 and GAD-7 in one response) gives one administration per measure
    for measure in measures:
        admin = _new_admin(measure, res, problems)
        if admin is not None and _read_response(admin, res, coded, qitems, ctx, weights, problems):
            admins.append(admin)


def _read_response(admin: _Admin, res: _Res, coded: list, qitems: dict, ctx: _Context,
                   weights: dict[str, float], problems: list[dict]) -> bool:
    """Fill one administration from a response's answers; False when it cannot be scored."""
    measure = admin.measure
    n = _REGISTRY[measure].items or 0
    by_code = any(c in ITEMS or c in TOTALS for _, _, c in coded)
    for link, answers, code in coded:
        number, is_total = None, False
        if by_code:
            if TOTALS.get(code) == measure:
                is_total = True
            elif code in ITEMS and ITEMS[code][0] == measure:
                number = ITEMS[code][1]
        elif _TOTAL_LINK.search(link.rsplit("/", 1)[-1].rsplit(".", 1)[-1]):
            is_total = True
        else:
            m = _TRAILING_INT.search(link)
            if m and 1 <= int(m.group(1)) <= n:
                number = int(m.group(1))
        if (number is None and not is_total) or not answers:
            continue
        value, text = _answer_value(answers[0], measure, qitems.get(link), ctx, weights)
        if is_total:
            admin.total, admin.total_text = value, text
            if value is None:
                problems.append(_note(res, f"item[{link}]", text, f"{measure} total {text} is not a "
                                                                  "number; not scored"))
                return False
            continue
        if value is None:
            problems.append(_note(res, f"item[{link}]", text, f"{measure} item {number}: answer {text} "
                                                              "has no score (no LOINC answer code, "
                                                              "ordinalValue or itemWeight); not scored"))
            return False
        admin.items[number] = value
    return True


def _response_items(items: Iterable[Any]) -> Iterator[tuple[str, list[dict]]]:
    for it in items:
        if not isinstance(it, dict):
            continue
        answers = [a for a in it.get("answer") or () if isinstance(a, dict)]
        yield str(it.get("linkId", "")), answers
        yield from _response_items(it.get("item") or ())
        for a in answers:
            yield from _response_items(a.get("item") or ())


def _item_code(link: str, qitem: dict | None) -> str:
    for code in _codes({"coding": (qitem or {}).get("code") or []}):
        if code in KNOWN:
            return code
    last = link.strip().rstrip("/").rsplit("/", 1)[-1]
    return last if last in KNOWN else ""


def _response_measures(r: dict, q: dict | None, codes: list[str]) -> list[str]:
    """The measures a response holds: from its item codes, else its Questionnaire, else its name."""
    found = []
    for c in codes:
        m = TOTALS.get(c) or (ITEMS.get(c) or (None,))[0]
        if m and m not in found:
            found.append(m)
    if found:
        return found
    for code in _codes({"coding": (q or {}).get("code") or []}):
        if code in PANELS:
            return [PANELS[code]]
    names = [r.get("questionnaire") if isinstance(r.get("questionnaire"), str) else "",
             (q or {}).get("url", ""), (q or {}).get("name", ""), (q or {}).get("title", "")]
    for measure, pattern in _NAME_PATTERNS.items():
        if any(isinstance(s, str) and pattern.search(s) for s in names):
            return [measure]
    return []


def _link_derived(admins: list[_Admin], problems: list[dict]) -> list[_Admin]:
    """Observations derived from a QuestionnaireResponse are that administration: merge or flag."""
    if not any(a.derived_from for a in admins):
        return admins
    by_ref = {}
    for a in admins:
        if a.res.kind == "QuestionnaireResponse":
            for ref in a.refs:
                by_ref[(ref, a.measure)] = a  # a combined form is one administration per measure
    out, rejected = [], set()
    for a in admins:
        source = next((by_ref[(d, a.measure)] for d in a.derived_from if (d, a.measure) in by_ref), None)
        if a.res.kind != "Observation" or source is None:
            out.append(a)
            continue
        diffs = _differences(a, source)
        if diffs:
            reason = (f"{a.measure} derived from {source.res.label} but " + "; ".join(diffs)
                      + "; neither is scored")
            problems.append(_note(a.res, "derivedFrom", source.res.label, reason))
            problems.append(_note(source.res, "", a.res.label,
                                  f"{a.measure}: {a.res.label} derived from it disagrees: "
                                  + "; ".join(diffs) + "; neither is scored"))
            rejected.add(id(source))
    return [a for a in out if id(a) not in rejected]


def _differences(obs: _Admin, qr: _Admin) -> list[str]:
    diffs = []
    if obs.client != qr.client:
        diffs.append(f"its subject is {obs.client!r}, the response's is {qr.client!r}")
    if obs.day != qr.day:
        diffs.append(f"it is dated {obs.day} and the response {qr.day}")
    s_obs, _ = _score(obs)
    s_qr, _ = _score(qr)
    if s_obs is not None and s_qr is not None and s_obs != s_qr:
        diffs.append(f"its total is {s_obs:g} and the response's {s_qr:g}")
    for k in sorted(set(obs.items) & set(qr.items)):
        if obs.items[k] != qr.items[k]:
            diffs.append(f"item {k} is {obs.items[k]:g} here and {qr.items[k]:g} in the response")
    return diffs


def _tables(admins: list[_Admin], problems: list[dict], simple: list[tuple]):
    obs_rows, origins, item_rows, item_origins = [], [], [], []
    seen: dict[tuple, tuple[float, bool]] = {}
    for a in admins:
        if a.errors:
            continue
        score, notes = (a.total, ()) if not a.items and a.total is not None else _score(a)
        for column, value, reason, severity in notes:
            problems.append(_note(a.res, column, value, f"{a.measure}: {reason}", severity))
        if score is None:
            continue
        key = (a.client, a.day, a.measure)
        if key in seen and seen[key][0] == score:
            # the same administration reported twice (e.g. a response and its Observation): one
            # score, with the items of whichever resource carries them
            if not seen[key][1] and a.items:
                _add_items(a, item_rows, item_origins)
                seen[key] = (score, True)
            continue
        seen[key] = (score, bool(a.items))
        label = f"{a.res.kind}/{a.res.r.get('id', '')}"
        obs_rows.append((a.client, a.day, a.measure, f"{score:g}", label))
        origins.append((a.res.file, a.res.line, f"{a.res.label}: "))
        _add_items(a, item_rows, item_origins)
    for client, day, measure, score, res in simple:
        key = (client, day, measure)
        if key in seen and seen[key][0] == score:
            continue
        seen[key] = (score, False)
        obs_rows.append((client, day, measure, f"{score:g}", f"Observation/{res.r.get('id', '')}"))
        origins.append((res.file, res.line, f"{res.label}: "))
    obs = pd.DataFrame(obs_rows, columns=["client_id", "date", "measure", "score", "source"])
    items = pd.DataFrame(item_rows, columns=["client_id", "date", "measure", "item", "response"])
    return obs, origins, items, item_origins


def _add_items(a: _Admin, rows: list, origins: list) -> None:
    for n, v in sorted(a.items.items()):
        if v is not None:
            rows.append((a.client, a.day, a.measure, n, v))
            origins.append((a.res.file, a.res.line, f"{a.res.label}: "))
