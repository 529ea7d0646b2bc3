"""Read PHQ-9 and GAD-7 scores from FHIR R4 resources: Observations and QuestionnaireResponses.

See :func:`read_fhir` and ``docs/ingest.md``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import EPISODE, apply_episodes, read_clients
from ..errors import shorten
from ..measures import get_measure, registry_state
from ._common import (
    CLIENT_DEFAULTS,
    Errors,
    ImportedData,
    finish,
    items_of_valid,
    kept_rows,
    map_problems,
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
_ROLES = {"Questionnaire": "used for answer weights", "CodeSystem": "used for answer weights",
          "ValueSet": "used for answer weights", "EpisodeOfCare": "read as episodes of care",
          "Encounter": "used to link scores to episodes of care",
          "Condition": "used for an episode's problem"}
_SUPPORTING = ("Questionnaire", "CodeSystem", "ValueSet", "EpisodeOfCare")
_WEIGHT_EXT = ("ordinalValue", "itemWeight", "CO-value")


# ---------------------------------------------------------------- loading


class _Res:
    """One resource and where it came from (kind and codes worked out once: bulk files are big)."""

    __slots__ = ("r", "file", "line", "entry", "full_url", "kind", "_codes", "base")

    def __init__(self, r: dict, file: str, line: int | None = None, entry: int | None = None,
                 full_url: str | None = None):
        self.r, self.file, self.line, self.entry, self.full_url = r, file, line, entry, full_url
        kind = r.get("resourceType", "?")
        self.kind = kind if kind.__class__ is str else "?"
        self._codes: list[str] | None = None
        self.base = _base_of(full_url, self.kind)

    @property
    def codes(self) -> list[str]:
        if self._codes is None:
            self._codes = _codes(self.r.get("code"))
        return self._codes

    @property
    def ident(self) -> str:
        """The resource's id as text, cut short for messages (a 1 MB id gives a short line)."""
        rid = self.r.get("id")
        return "(no id)" if rid is None else shorten(rid, MAX_ID_SHOWN)

    @property
    def label(self) -> str:
        where = f" (Bundle entry {self.entry})" if self.entry is not None else ""
        return f"{self.kind}/{self.ident}{where}"


MAX_ID_SHOWN = 64
"""Longest resource id or reference shown in a message; longer ones are cut with their length."""


def _base_of(full_url: str | None, kind: str) -> str:
    """The server base of an absolute ``fullUrl`` (``https://a/fhir/Observation/1`` -> ``https://a/fhir``)."""
    if not full_url or "://" not in full_url:
        return ""
    parts = full_url.rstrip("/").split("/")
    if len(parts) >= 5 and parts[-2] == kind:
        return "/".join(parts[:-2])
    return ""


def _load(source: Any, problems: list[dict]) -> list[_Res]:
    out: list[_Res] = []
    if isinstance(source, dict):
        _add(source, "(resource given as a dict)", None, out, problems)
    elif isinstance(source, list | tuple):
        for item in source:
            out.extend(_load(item, problems))
    else:
        path = Path(source)
        if path.is_dir():
            for p in sorted(q for q in path.rglob("*") if not q.is_dir()):
                name = str(p.relative_to(path.parent))
                if _kind_of_file(p) is None:
                    # every file of a folder is read or listed: an export that is silently left
                    # out would look like a quiet month
                    problems.append(problem(name, None, "", "", _not_read(p), "warning"))
                    continue
                out.extend(_load_file(p, name, problems))
        elif path.exists():
            if path.name.lower().endswith((".xml", ".xml.gz")):
                problems.append(problem(path.name, None, "", "", _not_read(path), "warning"))
            else:
                out.extend(_load_file(path, path.name, problems))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return out


_READ_SUFFIXES = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def _kind_of_file(path: Path) -> str | None:
    """``"json"`` or ``"ndjson"`` for the files a folder is searched for (also gzipped), else None."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _READ_SUFFIXES.get(Path(name).suffix)


def _not_read(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".xml", ".xml.gz")):
        return "not read: FHIR XML is not supported; export JSON or NDJSON instead"
    return ("not read: only .json, .ndjson and .jsonl files (optionally gzipped, .gz) are read "
            "from a folder")


try:  # orjson parses bulk exports about twice as fast; the standard library does the same job
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but keep working without it
    _fast_loads, _FastError = json.loads, json.JSONDecodeError


class _TooDeep(ValueError):
    """JSON nested deeper than any FHIR resource needs."""


MAX_DEPTH = 500
"""Deepest JSON nesting read. FHIR resources nest a few dozen levels at most (a questionnaire's
groups within groups); a file nested thousands deep is broken or hostile, and walking it would
exhaust Python's recursion limit."""


def _parse(text: str) -> Any:
    if _nesting(text) > MAX_DEPTH:
        raise _TooDeep(f"JSON nested more than {MAX_DEPTH} levels deep; not read")
    try:
        return _fast_loads(text)
    except _FastError:
        return json.loads(text)  # raises json.JSONDecodeError with line and column


_BRACKETS = re.compile(r'[\[\]{}"\\]')


def _nesting(text: str) -> int:
    """The deepest bracket nesting of a JSON text (brackets inside strings do not count).

    Cheap for ordinary resources: the regular expression does the scanning; only a file with
    more opening brackets than the limit is walked bracket by bracket.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for m in _BRACKETS.finditer(text):
        ch = m.group()
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                # an escape only matters when it is right before the next bracket or quote
                escaped = m.end() < len(text) and text[m.end()] in '"\\[]{}'
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def _read_text(path: Path, name: str, problems: list[dict]) -> str | None:
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(problem(name, None, "", "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        problems.append(problem(name, None, "", "", f"not a readable gzip file ({exc})"))
    return None


def _load_file(path: Path, name: str, problems: list[dict]) -> list[_Res]:
    out: list[_Res] = []
    text = _read_text(path, name, problems)
    if text is None:
        return out
    if _kind_of_file(path) == "ndjson":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                _add(_parse(line), name, number, out, problems)
            except json.JSONDecodeError as exc:
                problems.append(problem(name, number, "", "", f"not valid JSON ({exc.msg} at column "
                                                              f"{exc.colno})"))
            except (_TooDeep, RecursionError):
                problems.append(problem(name, number, "", "", f"JSON nested more than {MAX_DEPTH} "
                                                              "levels deep; not read"))
        return out
    try:
        _add(_parse(text), name, None, out, problems)
    except json.JSONDecodeError as exc:
        problems.append(problem(name, exc.lineno, "", "", f"not valid JSON ({exc.msg} at column "
                                                          f"{exc.colno})"))
    except (_TooDeep, RecursionError):
        problems.append(problem(name, None, "", "", f"JSON nested more than {MAX_DEPTH} levels deep; "
                                                    "not read"))
    return out


def _add(resource: Any, file: str, line: int | None, out: list[_Res], problems: list[dict],
         entry: int | None = None, full_url: str | None = None) -> None:
    if not isinstance(resource, dict):
        where = f" (Bundle entry {entry})" if entry is not None else ""
        problems.append(problem(file, line, "", shorten(resource), f"a {type(resource).__name__} "
                                f"where a FHIR resource (a JSON object) should be{where}; not read"))
        return
    if resource.get("resourceType") == "Bundle":
        entries = resource.get("entry") or []
        if not isinstance(entries, list):
            problems.append(problem(file, line, "entry", "", "Bundle.entry is not a list; not read"))
            return
        for i, e in enumerate(entries):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                url = e.get("fullUrl")
                _add(e["resource"], file, line, out, problems, i, url if isinstance(url, str) else None)
            elif isinstance(e, dict) and "resource" in e:
                _add(e["resource"], file, line, out, problems, i)
        return
    out.append(_Res(resource, file, line, entry, full_url))


# ---------------------------------------------------------------- versions


def _latest_versions(resources: list[_Res], skipped: Counter, problems: list[dict]) -> list[_Res]:
    """One copy per resource: its latest version (``meta.lastUpdated``, else ``meta.versionId``).

    Exports kept month by month hold the same resource again and again, in the same version or
    a later one; each is one administration, not several. A latest version that is
    ``entered-in-error`` retracts the earlier ones (its own status is listed where it is read).
    Copies whose order cannot be told (no usable ``meta``) and that differ are all kept: they
    then meet the duplicate rules (one score when they agree, an error when they do not).
    """
    groups: dict[tuple, list[int]] = {}
    for i, res in enumerate(resources):
        rid = res.r.get("id")
        if rid.__class__ is str and rid and res.kind in _WITH_PATIENT:
            groups.setdefault((res.base, res.kind, rid), []).append(i)
    drop: set[int] = set()
    for idx in groups.values():
        if len(idx) < 2:
            continue
        distinct: list[int] = []
        for i in idx:  # the same version again (monthly exports overlap): one copy
            if any(resources[i].r == resources[j].r for j in distinct):
                drop.add(i)
                skipped[(resources[i].kind, "the same resource read again (identical copy)")] += 1
            else:
                distinct.append(i)
        if len(distinct) < 2:
            continue
        order = _version_order([resources[i] for i in distinct])
        if order is None:  # cannot tell which is later: all kept, for the duplicate rules
            continue
        newest = resources[distinct[order[-1]]]
        retracted = newest.r.get("status") == "entered-in-error"
        for k in order[:-1]:
            old = resources[distinct[k]]
            drop.add(distinct[k])
            if retracted:
                problems.append(_note(old, "meta", _version_text(old),
                                      f"retracted: a later version ({_version_text(newest)}, "
                                      f"{newest.file}) is entered-in-error; not scored", "warning"))
            else:
                skipped[(old.kind, "earlier version (a later version of the same resource is read)")] += 1
    if not drop:
        return resources
    return [res for i, res in enumerate(resources) if i not in drop]


def _meta(res: _Res) -> dict:
    meta = res.r.get("meta")
    return meta if meta.__class__ is dict else {}


def _version_text(res: _Res) -> str:
    meta = _meta(res)
    parts = [f"version {shorten(meta['versionId'], 20)}" if "versionId" in meta else "",
             f"updated {shorten(meta['lastUpdated'], 40)}" if "lastUpdated" in meta else ""]
    return ", ".join(p for p in parts if p) or "no meta"


def _version_order(copies: list[_Res]) -> list[int] | None:
    """Positions from oldest to latest, or None when the versions cannot be ordered."""
    stamps, numbers = [], []
    for res in copies:
        meta = _meta(res)
        stamp = meta.get("lastUpdated")
        try:
            t = pd.Timestamp(stamp) if stamp.__class__ is str else None
            stamps.append(None if t is None or t.tzinfo is None else t.tz_convert("UTC"))
        except (ValueError, TypeError):
            stamps.append(None)
        vid = meta.get("versionId")
        numbers.append(int(vid) if vid.__class__ is str and vid.isdigit() else None)
    if all(s is not None for s in stamps) and len(set(stamps)) == len(stamps):
        return sorted(range(len(copies)), key=lambda k: stamps[k])
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return sorted(range(len(copies)), key=lambda k: numbers[k])
    return None


# ---------------------------------------------------------------- small readers of FHIR elements


def _codes(concept: Any) -> list[str]:
    """LOINC codes of a CodeableConcept (codings without a system count: many exports omit it)."""
    if concept.__class__ is not dict:
        return []
    coding = concept.get("coding")
    if coding.__class__ is not list:  # a wrong type is listed by _shape_ok where it matters
        return []
    out = []
    for c in coding:
        if c.__class__ is dict:
            code = c.get("code")
            if code.__class__ is str and c.get("system") in _LOINC_OR_NONE:
                out.append(code)
    return out


def _subject(res: _Res, ctx: _Context) -> tuple[str, str] | str:
    """``(server base, patient id)`` of a resource's subject, or why it has none.

    Only a Patient is a client: a score about a Group, a Device or a Practitioner is not a
    client's score. The base is the one written in an absolute reference, else the base of the
    resource's own ``fullUrl`` (a relative ``Patient/123`` lives on the same server), else ``""``.
    """
    subject = res.r.get("patient" if res.kind == "EpisodeOfCare" else "subject")
    if subject is None:
        return "no subject.reference, so whose score this is cannot be told"
    if subject.__class__ is not dict:
        return f"subject is a JSON {type(subject).__name__}, not a Reference"
    ref = subject.get("reference")
    if ref.__class__ is str and ref.startswith("Patient/") and ref.find("/", 8) < 0 \
            and "type" not in subject:
        tail = ref[8:]
        if tail and tail.strip() == tail:
            return res.base, tail  # the common case, without the general parsing below
    if not isinstance(ref, str) or not ref.strip():
        return "no subject.reference, so whose score this is cannot be told"
    ref = ref.strip().split("/_history/")[0].rstrip("/")
    kind = subject.get("type")
    shown = shorten(ref, MAX_ID_SHOWN)
    if ref.startswith(("urn:uuid:", "urn:oid:")):
        target = ctx.by_ref.get(ref)
        kind = target.kind if target is not None else kind
        if kind not in (None, "Patient"):
            return f"subject {shown} is a {shorten(kind, 40)}, not a Patient; only a client's own " \
                   "answers are scored"
        prefix = "urn:uuid:" if ref.startswith("urn:uuid:") else "urn:oid:"
        return prefix, ref[len(prefix):]
    parts = ref.split("/")
    if len(parts) < 2 or parts[-2] != "Patient" or not parts[-1] or kind not in (None, "Patient"):
        what = kind if kind not in (None, "Patient") else (parts[-2] if len(parts) >= 2 else "")
        what = f"a {shorten(what, 40)}" if what else "not a Patient reference"
        return f"subject {shown!r} is {what}, not a Patient; only a client's own answers are scored"
    return "/".join(parts[:-2]) or res.base, parts[-1]


def _read_subjects(resources: list[_Res], ctx: _Context, problems: list[dict]) -> None:
    """Work out every score's client; keep the server base where two servers share an id."""
    subjects, first_base, split = ctx.subjects, {}, set()
    for res in resources:
        if res.kind in _WITH_PATIENT:
            s = subjects[id(res)] = _subject(res, ctx)
            # an unknown base ("": an NDJSON line, an entry without fullUrl) cannot be told
            # apart, so only two different known bases split an id (a bulk export never does)
            if s.__class__ is tuple and s[0] and first_base.setdefault(s[1], s[0]) != s[0]:
                split.add(s[1])
    if not split:
        return
    where: dict[str, dict[str, _Res]] = defaultdict(dict)
    for res in resources:
        s = subjects.get(id(res))
        if s.__class__ is tuple and s[1] in split:
            where[s[1]].setdefault(s[0], res)
    for pid, bases in where.items():
        ctx.qualified.add(pid)
        names = ", ".join(repr(_client_name(b, pid)) for b in sorted(bases))
        first = next(iter(bases.values()))
        problems.append(_note(first, "subject", shorten(pid, MAX_ID_SHOWN),
                              f"patient id {shorten(pid, MAX_ID_SHOWN)!r} comes from "
                              f"{len(bases)} server bases; kept apart as the clients {names} "
                              "(they may be different people)", "warning"))


_WITH_PATIENT = ("Observation", "QuestionnaireResponse", "EpisodeOfCare")


def _client_name(base: str, pid: str) -> str:
    if base.startswith("urn:"):
        return f"{base}{pid}"
    return f"{base}/Patient/{pid}" if base else f"Patient/{pid}"


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
    weights: dict[str, float] = field(default_factory=dict)  # "system|code"
    valuesets: dict[str, dict] = field(default_factory=dict)  # by canonical url
    subjects: dict[int, tuple[str, str] | str] = field(default_factory=dict)  # by id(resource)
    qualified: set[str] = field(default_factory=set)  # patient ids seen on several servers
    seen: list[_Admin] = field(default_factory=list)  # every administration begun, scored or not

    def client(self, res: _Res) -> str | None:
        """The client ID of a score's resource (None when it has no Patient subject)."""
        s = self.subjects.get(id(res))
        if s is None:
            s = self.subjects[id(res)] = _subject(res, self)
        if s.__class__ is not tuple:
            return None
        base, pid = s
        return _client_name(base, pid) if pid in self.qualified else pid

    def why_no_client(self, res: _Res) -> str:
        s = self.subjects.get(id(res))
        return s if isinstance(s, str) else "no subject.reference, so whose score this is cannot be told"

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
        if isinstance(vs.get("url"), str):
            self.valuesets[vs["url"]] = vs
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
                  contained: dict[str, float], q: dict | None = None) -> tuple[float | None, str, str]:
    """The score of one answer, the answer as text for messages, and why it is no score (or "")."""
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            return _number(answer[key]), shorten(answer[key]), ""
    if "valueQuantity" in answer:
        return _quantity(answer["valueQuantity"])
    if "valueString" in answer:
        return _number(answer["valueString"]), repr(shorten(answer["valueString"])), ""
    coding = answer.get("valueCoding")
    if not isinstance(coding, dict):
        keys = [k for k in answer if k.startswith("value")]
        return None, keys[0] if keys else "(no value)", ""
    code, system = coding.get("code"), coding.get("system")
    if code.__class__ is not str or (system is not None and system.__class__ is not str):
        return None, f"valueCoding {shorten(coding)}", ""
    display = coding.get("display")
    text = f"code {shorten(code)!r}" + (f" ({shorten(display)})" if isinstance(display, str) else "")
    weight = _weight_from_extensions(coding)
    if weight is None and qitem is not None:
        for option in qitem.get("answerOption") or ():
            oc = option.get("valueCoding") if isinstance(option, dict) else None
            if isinstance(oc, dict) and oc.get("code") == code and oc.get("system") in (system, None):
                weight = _weight_from_extensions(option)
                if weight is None:
                    weight = _weight_from_extensions(oc)
                break
    if weight is None and system in (LOINC, None):
        weight = ANSWERS.get(code, GAD7_ANSWERS.get(code) if measure == "GAD-7" else None)
    if weight is None and system is not None:
        weight = contained.get(f"{system}|{code}", ctx.weights.get(f"{system}|{code}"))
    if weight is None and system is None and qitem is not None:
        # a code without its system (the SDC PHQ-9 example): the item's own answer value set
        # says which code system it is from, and so which weights apply; nothing wider is guessed
        found = {w for s in _answer_systems(qitem, q, ctx)
                 if (w := contained.get(f"{s}|{code}", ctx.weights.get(f"{s}|{code}"))) is not None}
        weight = found.pop() if len(found) == 1 else None
    return weight, text, ""


def _answer_systems(qitem: dict, q: dict | None, ctx: _Context) -> list[str]:
    """The code systems of a Questionnaire item's ``answerValueSet`` (contained or supplied)."""
    ref = qitem.get("answerValueSet")
    if not isinstance(ref, str):
        return []
    vs = None
    if ref.startswith("#"):
        vs = next((c for c in (q or {}).get("contained") or () if isinstance(c, dict)
                   and c.get("resourceType") == "ValueSet" and c.get("id") == ref[1:]), None)
    else:
        vs = ctx.valuesets.get(ref.split("|")[0])
    if not isinstance(vs, dict):
        return []
    compose = vs.get("compose") if isinstance(vs.get("compose"), dict) else {}
    return [inc["system"] for inc in compose.get("include") or ()
            if isinstance(inc, dict) and isinstance(inc.get("system"), str)]


SCORE_UNITS = {"", "{score}", "score", "{scores}", "1", "{points}", "points", "pts", "pts."}
"""Units a questionnaire score may carry in ``valueQuantity`` (compared lower-cased): none, the
UCUM annotation ``{score}`` or the word ``score``, UCUM's dimensionless ``1`` (the SDC IG's PHQ-9
Questionnaire) and points (``pts.``, the MII PROMs example). Anything else (``kg``, ``mmHg``) is
not a questionnaire score, and is a problem rather than a number read."""


def _quantity(q: Any) -> tuple[float | None, str, str]:
    """The value of a ``valueQuantity``, its text, and why it is not a score ("" when it is)."""
    if q.__class__ is not dict:
        return None, shorten(q), f"valueQuantity is a JSON {type(q).__name__}, not a Quantity"
    v = q.get("value")
    text = shorten(v)
    for key in ("code", "unit"):
        unit = q.get(key)
        if unit is None:
            continue
        if unit.__class__ is not str or unit.strip().lower() not in SCORE_UNITS:
            return None, f"{text} {shorten(unit, 20)}", (
                f"valueQuantity.{key} {shorten(unit, 20)!r} is not a score unit (no unit, "
                "{score}, score, 1 or pts.)")
    return _number(v), text, ""


# ---------------------------------------------------------------- administrations


@dataclass(slots=True)
class _Admin:
    """One administration of a questionnaire, from one or more resources."""

    measure: str
    res: _Res
    client: str | None
    day: str | None
    day_text: str
    items: dict[int, float | None] = field(default_factory=dict)
    total: float | None = None
    total_text: str = ""
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value, reason)
    derived_from: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    answers: dict[int, list[tuple[float | None, str]]] = field(default_factory=dict)

    def put(self, n: int, value: float | None, text: str) -> None:
        """Record an answer to item ``n``; a second answer to the same item is kept to settle."""
        self.answers.setdefault(n, []).append((value, text))
        if n not in self.items or self.items[n] is None:
            self.items[n] = value


def _settle_repeats(admin: _Admin) -> list[tuple[str, str, str, str]]:
    """Items answered more than once in one administration: the worse answer counts.

    A form should hold one answer per item. Two different answers (item 9 answered 1, then 0)
    cannot both be right; taking the worse one (the higher, for a measure where lower is better)
    never hides a risk: the critical-item alert fires if either answer calls for it, and the
    total errs towards more severe. Each is listed; an unreadable answer is an error elsewhere.
    """
    notes = []
    m = get_measure(admin.measure)
    worse = max if m.better == "lower" else min
    critical = dict(m.critical_items)
    for n, answers in sorted(admin.answers.items()):
        if len(answers) < 2:
            continue
        values = [v for v, _ in answers]
        shown = ", ".join(t for _, t in answers)
        if any(v is None for v in values):
            continue
        risk = f" (a critical item: {critical[n]})" if n in critical else ""
        if len(set(values)) == 1:
            notes.append((f"item {n}", shown, f"item {n}{risk} is answered {len(values)} times with "
                          f"the same answer ({shown}); counted once", "warning"))
            continue
        pick = worse(values)
        admin.items[n] = pick
        notes.append((f"item {n}", shown, f"item {n}{risk} has {len(values)} different answers "
                      f"({shown}); scored with the worse one, {pick:g}: check the form with the "
                      "client", "warning"))
    return notes


def _score(admin: _Admin) -> tuple[float | None, list[tuple[str, str, str, str]]]:
    """The administration's score, with (column, value, reason, severity) notes."""
    m = get_measure(admin.measure)
    notes = _settle_repeats(admin)
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
        return None, notes + [("item", which, f"{len(missing)} of {n} items missing (items {which}); "
                               f"at most {allowed} may be prorated, so there is no score", "error")]
    if admin.total is not None and admin.total != score and not (missing and admin.total == total_sum):
        what = "the item sum" if not missing else "the prorated item total"
        return None, notes + [("value", admin.total_text, f"stated total {admin.total:g} disagrees "
                               f"with {what} {score:g}; no score", "error")]
    return score, notes


def _critical_left_out(admin: _Admin) -> list[tuple[str, str, str]]:
    """(column, value, reason) for each critical item of an administration that gets no score.

    Without a score the item answers are not written either, so an answer that calls for a risk
    review (PHQ-9 item 9 answered 1 or more, or answered with something that cannot be scored)
    is named on its own line rather than lost with the rest.
    """
    out = []
    m = get_measure(admin.measure)
    for n, description in m.critical_items:
        answers = admin.answers.get(n) or []
        calls = [t for v, t in answers if v is None or v >= 1]  # the registry's flag rule
        if calls:
            out.append((f"item {n}", ", ".join(calls),
                        f"{admin.measure} item {n} (a critical item: {description}) was answered "
                        f"{', '.join(calls)} in this administration, which is not scored (see the "
                        "other problems for this resource); review it with the client"))
    return out


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
      absolute URL's last segment, ``urn:uuid:X`` -> ``X``); only a Patient subject is a client,
      and an id that comes from two server bases keeps its base (``https://a/fhir/Patient/1``).
      ``valueQuantity`` must carry no unit or a score unit (``{score}``, ``score``, ``1``,
      ``pts.``). ``.ndjson.gz`` is read; other files of a folder are listed as not read.
      ``date`` is the calendar day as
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
    - Versions: of several versions of one resource only the latest (``meta.lastUpdated``, else
      a numeric ``meta.versionId``) is read; a latest ``entered-in-error`` retracts the others.
    - A panel's members must be about the panel's subject, or the panel is an error.
    - An item answered twice with different answers counts with the worse one (the higher for
      PHQ-9 and GAD-7), listed as a warning; a critical item answered in an administration that
      gets no score is listed as an error of its own.
    - A stated total that disagrees with the item sum is an error with no score. Missing items
      follow the registry rule (:func:`progress_kit.score_items`: at most ``max_missing_items``,
      prorated as ``round(mean x n_items)``) and are listed as warnings; more missing is an
      error. Totals then pass the same range and step checks as a data folder.
    - Every problem names the file (and the line, for NDJSON), the resource type and id, and the
      reason; an element of the wrong JSON type or JSON nested more than ``MAX_DEPTH`` levels is
      a problem for that resource or file, never an exception. Every resource that looks like
      a PHQ-9 or GAD-7 ends as a score or in ``problems``; other resources are counted in
      ``skipped``.

    Episodes of care: where the sources hold ``EpisodeOfCare`` resources, ``clients`` has one
    row per episode (``episode_id`` = the resource's id, ``client_id`` from ``patient``,
    ``start_date`` / ``end_date`` from ``period``, ``therapist_id`` = the id of
    ``careManager``), validated like a clients file (episodes of one client must not overlap).
    ``status`` maps as :data:`EPISODE_STATUS`: ``planned``, ``waitlist``, ``active`` and
    ``onhold`` are ``active``, ``finished`` is ``finished``, ``cancelled`` is ``dropped``; an
    ``entered-in-error`` episode is none (a warning). ``problem`` is the kit's problem named by a
    ``diagnosis`` Condition among the sources (R4's Reference, R5's CodeableReferences by
    Reference or by concept, STU3's ``condition``) or by ``type`` (:data:`PROBLEM_CODES`: ICD-10
    F32/F33 depression, F41.1 gad, F41.2 mixed_anxiety_depression, F43.1 ptsd, F40.1
    social_anxiety, and their SNOMED CT codes; or a registry problem's name), else blank with a
    warning that shows what the episode said (an element of another JSON type than FHIR's is
    not read, and is shown as it is). Each score goes to the episode its ``encounter``'s
    ``Encounter.episodeOfCare`` names, else to the episode whose period holds its day, else it
    is an error on its resource and is not kept; a named episode must agree with the day (the
    data folder's rule). Patients without an EpisodeOfCare keep one episode (a stub row, blank
    ``episode_id`` and ``problem``); a Condition of theirs that names one of the kit's problems
    is a warning saying so (a Condition alone is not read as a client's problem).

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
    skipped: Counter = Counter()
    resources = _latest_versions(_load(source, problems), skipped, problems)
    ctx = _Context()
    resources = [res for res in resources if _shape_ok(res, problems)]
    for res in resources:
        try:
            ctx.index(res)
        except _MALFORMED as exc:
            problems.append(_malformed(res, exc))
    _read_subjects(resources, ctx, problems)
    members = _panel_members(resources, ctx)
    admins: list[_Admin] = []
    loose: dict[tuple, list[_Res]] = defaultdict(list)
    any_episode = any(res.kind == "EpisodeOfCare" for res in resources)
    for res in resources:
        kind = res.kind
        try:
            if kind == "Observation":
                if id(res) in members:
                    continue
                _observation(res, ctx, admins, loose, skipped, problems)
            elif kind == "QuestionnaireResponse":
                _response(res, ctx, admins, skipped, problems)
            else:
                # an Encounter or Condition only helps where there are episodes of care
                role = _ROLES.get(kind, "not a score") if kind in _SUPPORTING or any_episode \
                    else "not a score"
                skipped[(kind, role)] += 1
        except _MALFORMED as exc:  # an element of a shape the checks above did not foresee
            problems.append(_malformed(res, exc))
    simple: list[tuple] = []
    admins.extend(_loose_admins(loose, ctx, problems, simple))
    admins = _link_derived(admins, problems)
    obs, origins, items, item_origins = _tables(admins, problems, simple, ctx)
    # the source label is attached after validation: the reader would copy it cell by cell
    valid, more = validate_observations(obs.drop(columns=["source", LINK]), origins, today)
    problems.extend(more)
    keys = ["client_id", "date", "measure"]
    if len(valid):
        labels = obs[keys + ["source", LINK]].assign(date=pd.to_datetime(obs["date"], errors="coerce"))
        valid = valid.merge(labels.drop_duplicates(keys), on=keys, how="left")
    clients = None
    episodes = [res for res in resources if res.kind == "EpisodeOfCare"]
    if episodes:  # episodes of care: the clients table, and each score's episode
        clients, valid = _episodes_of_care(episodes, ctx, valid, obs, origins, problems, today)
    problems.extend(_problems_left_in_conditions(resources, ctx, valid, clients))
    valid = valid.drop(columns=LINK, errors="ignore")
    items, item_origins = items_of_valid(items, item_origins, valid)
    item_rows, item_problems = validate_items(items, item_origins, today)
    problems.extend(item_problems)
    if clients is not None and len(item_rows):  # an item is in its administration's episode
        item_rows = item_rows.merge(valid[keys + [EPISODE]].drop_duplicates(keys), on=keys,
                                    how="left")
    problems.extend(_critical_not_scored(ctx, valid))
    table = pd.DataFrame([{"source": k, "what": w, "count": n} for (k, w), n in sorted(skipped.items())],
                         columns=["source", "what", "count"])
    return finish(valid, item_rows, problems, table, errors, clients=clients)


_MALFORMED = (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError)

# elements read by this module, with the JSON type FHIR gives them; a resource with another
# type there is a problem for that resource alone, never a traceback for the whole import
_SHAPES: dict[str, tuple[type, ...]] = {
    "status": (str,), "code": (dict,), "subject": (dict,), "effectiveDateTime": (str,),
    "effectiveInstant": (str,), "authored": (str,), "effectivePeriod": (dict,),
    "valueQuantity": (dict,), "valueCodeableConcept": (dict,), "dataAbsentReason": (dict,),
    "component": (list,), "hasMember": (list,), "derivedFrom": (list,), "item": (list,),
    "contained": (list,), "meta": (dict,), "questionnaire": (str, dict), "id": (str,),
}
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "true/false", type(None): "null"}


def _shape_ok(res: _Res, problems: list[dict]) -> bool:
    """False (with a problem naming the element) when an element read here has the wrong JSON type."""
    r = res.r
    if res.kind not in ("Observation", "QuestionnaireResponse"):
        return True
    for key, value in r.items():  # a resource has fewer elements than there are shapes
        types = _SHAPES.get(key)
        if types is not None and value is not None and value.__class__ not in types:  # null: absent
            want = " or ".join(_JSON_NAMES[t] for t in types)
            got = _JSON_NAMES.get(r[key].__class__, type(r[key]).__name__)
            problems.append(_note(res, key, shorten(r[key]), f"element {key!r} is {got} where FHIR "
                                  f"has {want}; this resource is not read"))
            return False
        if key in _CONCEPTS and value is not None:
            coding = value.get("coding")
            if coding is not None and coding.__class__ is not list:
                got = _JSON_NAMES.get(coding.__class__, type(coding).__name__)
                problems.append(_note(res, f"{key}.coding", shorten(coding), f"element "
                                      f"'{key}.coding' is {got} where FHIR has an array; this "
                                      "resource is not read"))
                return False
    return True


_CONCEPTS = ("code", "valueCodeableConcept")


def _malformed(res: _Res, exc: BaseException) -> dict:
    if isinstance(exc, _BadElement):
        return _note(res, "", "", f"{exc}; this resource is not read")
    what = "nested too deeply" if isinstance(exc, RecursionError) else \
        f"{type(exc).__name__}: {shorten(exc, 120)}"
    return _note(res, "", "", f"this resource could not be read ({what}); not scored")


def _critical_not_scored(ctx: _Context, valid: pd.DataFrame) -> list[dict]:
    """A line per critical item answered in an administration that ended without a score."""
    if not ctx.seen:
        return []
    kept = set()
    if len(valid):
        kept = set(zip(valid["client_id"], valid["date"].dt.strftime("%Y-%m-%d"), valid["measure"],
                       strict=True))
    out, done = [], set()
    for admin in ctx.seen:
        if (admin.client, admin.day, admin.measure) in kept or not admin.answers:
            continue
        for column, value, reason in _critical_left_out(admin):
            if (id(admin.res), column) not in done:
                done.add((id(admin.res), column))
                out.append(_note(admin.res, column, value, reason))
    return out


def _panel_members(resources: list[_Res], ctx: _Context) -> set[int]:
    """Observations read through a panel: only those about the panel's own subject."""
    out = set()
    for res in resources:
        if res.kind == "Observation" and isinstance(res.r.get("hasMember"), list) and \
                not PANELS.keys().isdisjoint(res.codes):
            client = ctx.client(res)
            for ref in res.r.get("hasMember") or ():
                key = ref.get("reference") if isinstance(ref, dict) else None
                target = ctx.by_ref.get(key) if isinstance(key, str) else None
                if target is not None and client is not None and ctx.client(target) == client:
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
        loose[(TOTALS[codes[0]], ctx.client(res), day)].append((res, key, text))
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
        client, (day, key, text) = ctx.client(res), _day(r)
        loose[(measure, client, day)].append((res, key, text))
        return
    admin = _new_admin(measure, res, ctx, problems)
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
            system = "LOINC" if c.get("system") == LOINC else shorten(c.get("system") or "code", 80)
            display = c.get("display")
            return f"{system} {shorten(c['code'], 40)}" + \
                (f" ({shorten(display, 80)})" if isinstance(display, str) else "")
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


def _new_admin(measure: str, res: _Res, ctx: _Context, problems: list[dict]) -> _Admin | None:
    r = res.r
    client = ctx.client(res)
    day, key, text = _day(r)
    if client is None:
        problems.append(_note(res, "subject", "", f"{measure}: {ctx.why_no_client(res)}; not scored"))
        return None
    if day is None:
        what = f"{key} {shorten(text)!r} is not a full calendar day" if key else \
            "no effectiveDateTime, effectivePeriod.start or authored"
        problems.append(_note(res, key or "effectiveDateTime", text, f"{measure}: {what}; not scored"))
        return None
    admin = _Admin(measure, res, client, day, text)
    admin.refs = [f"{res.kind}/{r.get('id')}"] + ([res.full_url] if res.full_url else [])
    admin.derived_from = [d.get("reference") for d in r.get("derivedFrom") or ()
                          if isinstance(d, dict) and isinstance(d.get("reference"), str)]
    ctx.seen.append(admin)
    return admin


def _read_panel(admin: _Admin, res: _Res, ctx: _Context, problems: list[dict]) -> None:
    for ref in res.r.get("hasMember") or ():
        key = ref.get("reference", "") if isinstance(ref, dict) else ""
        member = ctx.by_ref.get(key) if key.__class__ is str else None
        if member is None:
            problems.append(_note(res, "hasMember", key, f"{admin.measure} panel member "
                                  f"{shorten(key, MAX_ID_SHOWN)!r} is not among the sources; its "
                                  "answer is missing", "warning"))
            continue
        codes = member.codes
        if not set(codes) & (set(TOTALS) | set(ITEMS)):
            continue  # e.g. the difficulty item
        other = ctx.client(member)
        if other != admin.client:
            # a panel is one client's answers: another subject's Observation is never counted
            # for this client (it is read as its own subject's, where it has one)
            whose = f"subject {other!r}" if other is not None else "no Patient subject"
            reason = (f"{admin.measure} panel member {member.label} has {whose}, not this panel's "
                      f"subject {admin.client!r}; the panel is not scored")
            problems.append(_note(res, "hasMember", shorten(key, MAX_ID_SHOWN), reason))
            admin.errors.append(("hasMember", key, "member of another subject"))
            continue
        if not _status_ok(member, OBSERVATION_SCORED, problems, f"this {admin.measure} panel member"):
            continue
        _read_value_into(admin, member.r, codes, member, "value", problems)


def _read_value_into(admin: _Admin, element: dict, codes: list[str], res: _Res, where: str,
                     problems: list[dict]) -> None:
    """Put one coded value (a total or an item) into the administration."""
    value, text, column, why = _element_value(element, admin.measure)
    for code in codes:
        if code in TOTALS:
            if value is None:
                problems.append(_note(res, column, text, f"{admin.measure} total "
                                                         f"{why or 'has no numeric value'}"))
                admin.errors.append((column, text, "unreadable total"))
            elif admin.total is not None and admin.total != value:
                problems.append(_note(res, column, text, f"{admin.measure}: two different totals in "
                                      f"one administration ({admin.total:g} and {value:g}); no score"))
                admin.errors.append((column, text, "conflicting totals"))
            admin.total, admin.total_text = value, text
            return
        if code in ITEMS:
            n = ITEMS[code][1]
            if value is None:
                problems.append(_note(res, column, text, f"{admin.measure} item {n} ({code}): answer "
                                      f"{text} {why or 'has no score'}"))
                admin.errors.append((column, text, "unreadable item"))
            admin.put(n, value, text)
            return


def _element_value(e: dict, measure: str) -> tuple[float | None, str, str, str]:
    """(value, its text, the element it came from, why it is not a score or "")."""
    if "valueQuantity" in e:
        value, text, why = _quantity(e["valueQuantity"])
        return value, text, "valueQuantity", why
    for key in ("valueInteger", "valueDecimal"):
        if key in e:
            return _number(e[key]), shorten(e[key]), key, ""
    if "valueString" in e:
        return _number(e["valueString"]), repr(shorten(e["valueString"])), "valueString", ""
    if isinstance(e.get("valueCodeableConcept"), dict):
        for code in _codes(e["valueCodeableConcept"]):
            w = ANSWERS.get(code, GAD7_ANSWERS.get(code) if measure == "GAD-7" else None)
            if w is not None:
                return w, code, "valueCodeableConcept", ""
        coding = e["valueCodeableConcept"].get("coding")
        shown = [c.get("code") for c in coding if isinstance(c, dict)] if isinstance(coding, list) else []
        return None, shorten(f"codes {shown}"), "valueCodeableConcept", ""
    if isinstance(e.get("dataAbsentReason"), dict):
        why = _codes(e["dataAbsentReason"]) or [e["dataAbsentReason"].get("text", "")]
        return None, shorten(f"dataAbsentReason {why}"), "dataAbsentReason", ""
    return None, "(no value)", "value[x]", ""


def _loose_admins(loose: dict, ctx: _Context, problems: list[dict], simple: list[tuple]
                  ) -> list[_Admin]:
    """Item and total Observations outside any panel: one administration per client, day, measure.

    A total alone on its day (the bulk-export case) goes to ``simple`` as a ready row.
    """
    out = []
    for (measure, client, day), group in loose.items():
        first, key, text = group[0]
        if len(group) == 1 and client is not None and day is not None and \
                not TOTALS.keys().isdisjoint(first.codes):
            # the common bulk-export case: one total, nothing else on that day
            value, value_text, column, why = _element_value(first.r, measure)
            if value is None:
                problems.append(_note(first, column, value_text,
                                      f"{measure} total {why or 'has no numeric value'}; not scored"))
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
        admin = _new_admin(measure, first, ctx, problems)
        if admin is None:
            for res in group[1:]:
                why = ctx.why_no_client(res) if client is None else \
                    f"grouped with {first.label}, which cannot be placed"
                problems.append(_note(res, "subject", "", f"{measure}: {why}; not scored"))
            continue
        totals = []
        for res in group:
            codes = res.codes
            if set(codes) & set(TOTALS):
                value, text, column, why = _element_value(res.r, measure)
                if value is None:
                    problems.append(_note(res, column, text, f"{measure} total "
                                                             f"{why or 'has no numeric value'}"))
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
        skipped[("QuestionnaireResponse", f"questionnaire {shorten(ref, 80)}" if ref
                 else "no questionnaire")] += 1
        return
    if not _status_ok(res, RESPONSE_SCORED, problems, f"this {' and '.join(measures)} "
                                                      "QuestionnaireResponse"):
        return
    weights = {**ctx.weights, **contained.weights}
    # a combined form (PHQ-9 and GAD-7 in one response) gives one administration per measure
    for measure in measures:
        admin = _new_admin(measure, res, ctx, problems)
        if admin is not None and _read_response(admin, res, coded, qitems, ctx, weights, problems, q):
            admins.append(admin)


_NO_WEIGHT = ("has no score (no LOINC answer code, and no ordinalValue or itemWeight for it in a "
              "Questionnaire, ValueSet or CodeSystem among the sources)")


def _read_response(admin: _Admin, res: _Res, coded: list, qitems: dict, ctx: _Context,
                   weights: dict[str, float], problems: list[dict], q: dict | None = None) -> bool:
    """Fill one administration from a response's answers; False when it cannot be scored.

    Every answer is read before deciding, so each unscored item is listed, not just the first.
    """
    measure = admin.measure
    m = get_measure(measure)
    n = m.items or 0
    critical = dict(m.critical_items)
    # items are told by their LOINC codes when the response codes its items; otherwise (the
    # SDC example codes only its total) by the trailing number of the linkId
    by_code = any(ITEMS.get(c, ("",))[0] == measure for _, _, c in coded)
    ok = True
    for link, answers, code in coded:
        number, is_total = None, False
        if TOTALS.get(code) == measure:
            is_total = True
        elif code in ITEMS:
            number = ITEMS[code][1] if ITEMS[code][0] == measure else None
        elif code in KNOWN or by_code:
            pass  # another measure's code, a difficulty item, or an uncoded item among coded ones
        elif _TOTAL_LINK.search(link.rsplit("/", 1)[-1].rsplit(".", 1)[-1]):
            is_total = True
        else:
            found = _TRAILING_INT.search(link)
            if found and 1 <= int(found.group(1)) <= n:
                number = int(found.group(1))
        if (number is None and not is_total) or not answers:
            continue
        for answer in answers:
            value, text, why = _answer_value(answer, measure, qitems.get(link), ctx, weights, q)
            shown = f"item[{shorten(link, MAX_ID_SHOWN)}]"
            if is_total:
                if value is None:
                    problems.append(_note(res, shown, text, f"{measure} total {text} "
                                          f"{why or 'is not a number'}; not scored"))
                    ok = False
                elif admin.total is not None and admin.total != value:
                    problems.append(_note(res, shown, text, f"{measure}: the total is answered twice "
                                          f"({admin.total:g} and {value:g}); not scored"))
                    ok = False
                admin.total, admin.total_text = value, text
                continue
            admin.put(number, value, text)
            if value is None:
                risk = f" (a critical item: {critical[number]})" if number in critical else ""
                problems.append(_note(res, shown, text, f"{measure} item {number}{risk}: answer {text} "
                                      f"{why or _NO_WEIGHT}; not scored"))
                ok = False
    return ok


class _BadElement(ValueError):
    """An element inside a resource of a JSON type FHIR does not allow there."""


def _response_items(items: Any, where: str = "item") -> Iterator[tuple[str, list[dict]]]:
    """(linkId, answers) of every item, nested ones too; a malformed item or answer raises.

    A skipped malformed answer would look like a missing one (and be prorated), so the whole
    response is refused instead, with the element named.
    """
    _expect(items, list, where)
    for i, it in enumerate(items):
        _expect(it, dict, f"{where}[{i}]")
        link = it.get("linkId", "")
        answers = it.get("answer") or []
        _expect(answers, list, f"{where}[{i}].answer")
        for j, a in enumerate(answers):
            _expect(a, dict, f"{where}[{i}].answer[{j}]")
        yield shorten(link, 200) if link.__class__ is str else str(link), answers
        yield from _response_items(it.get("item") or [], f"{where}[{i}].item")
        for j, a in enumerate(answers):
            yield from _response_items(a.get("item") or [], f"{where}[{i}].answer[{j}].item")


def _expect(value: Any, kind: type, where: str) -> None:
    if value.__class__ is not kind:
        got = _JSON_NAMES.get(value.__class__, type(value).__name__)
        raise _BadElement(f"{where} is {got} where FHIR has {_JSON_NAMES[kind]}")


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


def _tables(admins: list[_Admin], problems: list[dict], simple: list[tuple], ctx: _Context):
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
        obs_rows.append((a.client, a.day, a.measure, f"{score:g}", label, _encounter_episodes(a.res, ctx)))
        origins.append((a.res.file, a.res.line, f"{a.res.label}: "))
        _add_items(a, item_rows, item_origins)
    for client, day, measure, score, res in simple:
        key = (client, day, measure)
        if key in seen and seen[key][0] == score:
            continue
        seen[key] = (score, False)
        obs_rows.append((client, day, measure, f"{score:g}", f"Observation/{res.r.get('id', '')}",
                         _encounter_episodes(res, ctx)))
        origins.append((res.file, res.line, f"{res.label}: "))
    obs = pd.DataFrame(obs_rows, columns=["client_id", "date", "measure", "score", "source", LINK])
    items = pd.DataFrame(item_rows, columns=["client_id", "date", "measure", "item", "response"])
    return obs, origins, items, item_origins


def _add_items(a: _Admin, rows: list, origins: list) -> None:
    for n, v in sorted(a.items.items()):
        if v is not None:
            rows.append((a.client, a.day, a.measure, n, v))
            origins.append((a.res.file, a.res.line, f"{a.res.label}: "))


# ---------------------------------------------------------------- episodes of care

LINK = "_episode_link"
"""Working column: the EpisodeOfCare ids a score's encounter names ("" when none)."""

EPISODE_STATUS = {"planned": "active", "waitlist": "active", "active": "active",
                  "onhold": "active", "finished": "finished", "cancelled": "dropped"}
"""FHIR ``EpisodeOfCare.status`` to the kit's client status. ``entered-in-error`` is no episode."""

PROBLEM_CODES = {
    # ICD-10 (WHO; ICD-10-CM codes below these match by their leading characters)
    "F32": "depression", "F33": "depression", "F41.1": "gad", "F41.2": "mixed_anxiety_depression",
    "F43.1": "ptsd", "F40.1": "social_anxiety",
    # SNOMED CT: depressive disorder, generalized anxiety disorder, posttraumatic stress
    # disorder, social phobia
    "35489007": "depression", "21897009": "gad", "47505003": "ptsd", "25501002": "social_anxiety",
}
"""Diagnosis codes read as the kit's problems (the registry's ``problems`` and depression)."""


def _encounter_episodes(res: _Res, ctx: _Context) -> str:
    """The ids of the EpisodeOfCare resources the resource's encounter belongs to, joined by a
    unit separator; "" without an encounter, or when the Encounter is not among the sources."""
    enc = res.r.get("encounter")
    ref = enc.get("reference") if enc.__class__ is dict else None
    target = ctx.by_ref.get(ref.split("/_history/")[0]) if ref.__class__ is str else None
    if target is None or target.kind != "Encounter":
        return ""
    out = []
    links = target.r.get("episodeOfCare")
    for link in links if links.__class__ is list else ():
        ref = link.get("reference") if link.__class__ is dict else None
        if ref.__class__ is str:
            found = ctx.by_ref.get(ref.split("/_history/")[0])
            out.append(str(found.r.get("id")) if found is not None and found.kind == "EpisodeOfCare"
                       else f"(not among the sources: {shorten(ref, MAX_ID_SHOWN)})")
    return "\x1f".join(out)


def _registry_problems() -> set[str]:
    return {"depression"} | {p for m in registry_state().values() for p in m.problems}


def _concept_problem(concept: Any, known: set[str]) -> str | None:
    """The kit's problem a CodeableConcept names: a diagnosis code of :data:`PROBLEM_CODES`, or
    a code, display or text that is a registry problem's name (``social anxiety`` is
    ``social_anxiety``)."""
    if concept.__class__ is not dict:
        return None
    texts = [concept.get("text")]
    coding = concept.get("coding")
    for c in coding if coding.__class__ is list else ():
        if c.__class__ is not dict:
            continue
        code = c.get("code")
        if code.__class__ is str:
            code = code.strip().upper()
            for n in range(len(code), 2, -1):  # F32.1 -> F32; F43.10 -> F43.1
                if code[:n] in PROBLEM_CODES:
                    return PROBLEM_CODES[code[:n]]
            texts.append(c.get("code"))
        texts.append(c.get("display"))
    for text in texts:
        if text.__class__ is str:
            name = re.sub(r"[\s\-]+", "_", text.strip().lower())
            if name in known:
                return name
    return None


def _episode_problem(res: _Res, ctx: _Context, problems: list[dict]) -> str:
    """The episode's problem from its ``diagnosis`` (the Condition's code, when the Condition is
    among the sources) and then its ``type``; "" with a warning that shows what they said when
    neither maps."""
    r, known = res.r, _registry_problems()
    concepts, shown = [], []
    for ref, concept, said in _diagnosis_conditions(r):
        if concept is not None:
            concepts.append(concept)
        target = ctx.by_ref.get(ref) if ref is not None else None
        if target is not None and target.kind == "Condition":
            concepts.append(target.r.get("code"))
        shown.append(said)
    types = r.get("type")
    for t in types if types.__class__ is list else ():
        concepts.append(t)
        shown.append(_concept_words(t) or _raw(t))
    if types and types.__class__ is not list:
        shown.append(_raw(types))  # not a list of concepts: not read, shown
    for concept in concepts:
        found = _concept_problem(concept, known)
        if found:
            return found
    shown = list(dict.fromkeys(w for w in shown if w))
    if shown:
        problems.append(_note(res, "diagnosis", ", ".join(shown), "neither its diagnosis nor its "
                              f"type ({', '.join(shown)}) is one of the kit's problems "
                              f"({', '.join(sorted(known))}); problem left blank, so the client is "
                              "judged on PHQ-9", "warning"))
    return ""


def _problems_left_in_conditions(resources: list[_Res], ctx: _Context, valid: pd.DataFrame,
                                 clients: pd.DataFrame | None) -> list[dict]:
    """A warning on each Condition that names one of the kit's problems for a client with
    scores but no EpisodeOfCare: such a client's problem stays blank (a Condition alone does not
    say which course of care it belongs to, and an old one may not be this referral's), so the
    status judges them on PHQ-9; the warning says so and how to give the problem."""
    if valid.empty:
        return []
    seen = set(valid["client_id"].astype(str))
    if clients is not None and len(clients):
        with_episode = clients[clients[EPISODE].fillna("").astype(str) != ""]
        seen -= set(with_episode["client_id"].astype(str))
    if not seen:
        return []
    known, out = _registry_problems(), []
    for res in resources:
        if res.kind != "Condition":
            continue
        r = res.r
        verification = _concept_words(r.get("verificationStatus"))
        if verification in ("entered-in-error", "refuted"):
            continue
        found = _concept_problem(r.get("code"), known)
        client = ctx.client(res) if found else None
        if client is None or client not in seen:
            continue
        out.append(_note(res, "code", _concept_words(r.get("code")),
                         f"names the problem {found} for client {shorten(client, MAX_ID_SHOWN)}, "
                         "who has no EpisodeOfCare: a Condition alone is not read as a client's "
                         "problem, so theirs is blank and they are judged on PHQ-9. Give it in "
                         "clients.csv, or send their EpisodeOfCare with this Condition as its "
                         "diagnosis", "warning"))
    return out


def _diagnosis_conditions(r: dict) -> list[tuple[str | None, dict | None, str]]:
    """An EpisodeOfCare's conditions as ``(reference, concept, what it says)``, in any FHIR
    release: R4's ``diagnosis.condition`` (a Reference), R5's (a list of CodeableReferences,
    each a Reference and/or a CodeableConcept) and STU3's ``condition`` (a list of References).

    "What it says" is what a warning shows: the reference, else the concept's codes, displays
    or text, else the Reference's display, else the element itself as JSON, shortened. Only
    elements of the types FHIR gives are read; one of another JSON type (a text where a
    Reference belongs, an object where a list does) is not, and is shown that way, so that no
    diagnosis the episode names is left out of the warning unseen."""
    found = []
    diagnosis = r.get("diagnosis")
    for d in diagnosis if diagnosis.__class__ is list else ([diagnosis] if diagnosis else []):
        cond = d.get("condition") if d.__class__ is dict and diagnosis.__class__ is list else None
        if cond.__class__ is list:  # R5: CodeableReferences
            found.extend(_condition(c.get("reference"), c.get("concept"), c)
                         if c.__class__ is dict else _condition(None, None, c) for c in cond)
        elif cond is not None:  # R4: a Reference
            found.append(_condition(cond, None, cond))
        elif d:
            found.append(_condition(None, None, d))
    stu3 = r.get("condition")
    for c in stu3 if stu3.__class__ is list else ([stu3] if stu3 else []):
        # STU3: References
        found.append(_condition(c if stu3.__class__ is list else None, None, c))
    return found


def _condition(ref: Any, concept: Any, element: Any) -> tuple[str | None, dict | None, str]:
    text = ref.get("reference") if ref.__class__ is dict else None
    text = text if text.__class__ is str and text else None
    concept = concept if concept.__class__ is dict else None
    display = ref.get("display") if ref.__class__ is dict else None
    said = (shorten(text, MAX_ID_SHOWN) if text else "") or _concept_words(concept) or \
        (shorten(display, 40) if display.__class__ is str and display else "") or _raw(element)
    return text, concept, said


def _concept_words(concept: Any) -> str:
    """A CodeableConcept as a warning shows it: its codes, else its displays, else its text."""
    if concept.__class__ is not dict:
        return ""
    coding = concept.get("coding")
    coding = [c for c in coding if c.__class__ is dict] if coding.__class__ is list else []
    for part in ("code", "display"):
        words = [shorten(c[part], 40) for c in coding
                 if c.get(part).__class__ is str and c.get(part)]
        if words:
            return ", ".join(words)
    text = concept.get("text")
    return shorten(text, 40) if text.__class__ is str and text else ""


def _raw(element: Any) -> str:
    """An element of any JSON type, shortened, for a warning."""
    try:
        text = json.dumps(element, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(element)
    return "" if text in ("null", "{}", "[]", '""') else shorten(text, 60)


def _episode_row(res: _Res, ctx: _Context, problems: list[dict]) -> dict | None:
    """One clients row (as text, for :func:`read_clients`) from an EpisodeOfCare, or None."""
    r = res.r
    status = r.get("status")
    if status == "entered-in-error":
        problems.append(_note(res, "status", status, "entered in error; not an episode", "warning"))
        return None
    client = ctx.client(res)
    if client is None:
        why = ctx.why_no_client(res).replace("subject", "patient")
        problems.append(_note(res, "patient", "", f"{why}; not an episode"))
        return None
    period = r.get("period") if r.get("period").__class__ is dict else {}
    start, end = period.get("start"), period.get("end")
    manager = r.get("careManager")
    ref = manager.get("reference") if manager.__class__ is dict else None
    therapist = ref.rstrip("/").rsplit("/", 1)[-1] if ref.__class__ is str and ref.strip() else \
        CLIENT_DEFAULTS["therapist_id"]
    return {"client_id": client, EPISODE: str(r.get("id") or ""),
            "therapist_id": therapist,
            "start_date": (_day_of(start) or start) if start.__class__ is str else "",
            "end_date": (_day_of(end) or end) if end.__class__ is str else "",
            "status": EPISODE_STATUS.get(status, status if status.__class__ is str else ""),
            "problem": _episode_problem(res, ctx, problems),
            "session_frequency": CLIENT_DEFAULTS["session_frequency"]}


_LINE = re.compile(r"\bline (\d+)")
_ELEMENT_OF = {"client_id": "patient", EPISODE: "id", "start_date": "period.start",
               "end_date": "period.end", "therapist_id": "careManager"}


def _episodes_of_care(episodes: list[_Res], ctx: _Context, valid: pd.DataFrame,
                      obs: pd.DataFrame, origins: list, problems: list[dict], today
                      ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The clients table from the EpisodeOfCare resources, and the scores with their episode.

    A patient with EpisodeOfCare resources has one clients row per episode; any other client
    seen gets a stub row (one episode, blank ``episode_id``). The rows pass
    :func:`read_clients` (overlaps, repeated ids, dates, statuses), each problem naming its
    resource. A score goes to the episode its ``encounter``'s ``Encounter.episodeOfCare``
    names, else to the episode whose ``period`` holds its date; else it is an error on its
    resource and is not kept. :func:`apply_episodes` then checks each score as a data folder's
    row is checked (an episode named by the encounter must agree with the date), so the
    written folder reads back the same.
    """
    rows, where = [], []
    for res in episodes:
        try:
            row = _episode_row(res, ctx, problems)
        except _MALFORMED as exc:
            problems.append(_malformed(res, exc))
            continue
        if row is not None:
            rows.append(row)
            where.append((res.file, res.line, f"{res.label}: "))
    with_episodes = {row["client_id"] for row in rows}
    for client, first in valid.groupby("client_id")["date"].min().items() if len(valid) else ():
        if client not in with_episodes:
            rows.append({"client_id": client, EPISODE: "", **CLIENT_DEFAULTS,
                         "start_date": f"{first:%Y-%m-%d}", "end_date": ""})
            where.append(("(stub clients for patients without an EpisodeOfCare)", None, ""))
    if not rows:  # no usable EpisodeOfCare and no score: stub clients as without episodes
        return None, valid
    frame = pd.DataFrame(rows, columns=["client_id", EPISODE, "therapist_id", "start_date",
                                        "end_date", "status", "problem", "session_frequency"])
    clients, found = read_clients(frame, errors="report", today=today)
    labels = [w[2].rstrip(": ") or "a stub client" for w in where]

    def named(m: re.Match) -> str:  # "line 3" of the frame -> the resource of that row
        i = int(m.group(1)) - 2
        return labels[i] if 0 <= i < len(labels) else m.group(0)

    mapped = map_problems(found, where)
    for p in mapped:
        p["reason"] = _LINE.sub(named, p["reason"])
        p["column"] = _ELEMENT_OF.get(p["column"], p["column"])  # the resource's own element
    problems.extend(mapped)
    client_lines = kept_rows(frame, found) + 1  # the frame's own lines (header = 1)
    return clients.reset_index(drop=True), _scores_in_episodes(
        valid, obs, origins, clients, client_lines, with_episodes, labels, problems)


def _scores_in_episodes(valid: pd.DataFrame, obs: pd.DataFrame, origins: list,
                        clients: pd.DataFrame, client_lines: np.ndarray, with_episodes: set,
                        labels: list[str], problems: list[dict]) -> pd.DataFrame:
    if valid.empty:
        return valid.assign(**{EPISODE: pd.Series(dtype=object)})
    keys = ["client_id", "date", "measure"]
    # each score's resource, for its messages
    first = obs[keys].assign(_at=np.arange(len(obs))).drop_duplicates(keys)
    at = valid[keys].assign(date=valid["date"].dt.strftime("%Y-%m-%d")).merge(
        first, on=keys, how="left")["_at"].to_numpy()
    where = [origins[int(i)] if pd.notna(i) else ("(converted rows)", None, "") for i in at]
    ep = clients[["client_id", EPISODE, "start_date", "end_date"]]
    rejected = set(clients.attrs.get("rejected_episodes", {}))
    ids = valid["client_id"].to_numpy(dtype=object)
    link = valid[LINK].fillna("").to_numpy(dtype=object)
    # the episode whose period holds the date (episodes of one client do not overlap)
    pairs = valid[["client_id", "date"]].assign(_row=np.arange(len(valid))).merge(ep, on="client_id")
    inside = (pairs["date"] >= pairs["start_date"]) & (
        pairs["end_date"].isna() | (pairs["date"] <= pairs["end_date"]))
    by_date = pd.Series(pairs.loc[inside, EPISODE].to_numpy(),
                        index=pairs.loc[inside, "_row"].to_numpy())
    by_date = by_date[~by_date.index.duplicated()].reindex(range(len(valid)))
    mine = ep.groupby("client_id")[EPISODE].agg(set).to_dict()
    given = np.full(len(valid), "", dtype=object)
    bad = np.zeros(len(valid), bool)
    for i in np.flatnonzero(np.isin(ids, list(with_episodes - rejected))):
        file, line, label = where[i]
        day = f"{valid['date'].iat[i]:%Y-%m-%d}"
        if link[i]:
            named = [e for e in link[i].split("\x1f") if e in mine.get(ids[i], ())]
            if len(named) == 1:
                given[i] = named[0]
                continue
            reason = (f"its encounter belongs to EpisodeOfCare {link[i].replace(chr(31), ', ')}, "
                      f"{'not one' if not named else 'more than one'} of patient "
                      f"{shorten(ids[i])!r}'s EpisodeOfCare resources; not assigned to an episode")
            problems.append(problem(file, line, "encounter", link[i].replace("\x1f", ", "),
                                    f"{label}{reason}"))
            bad[i] = True
        elif pd.notna(by_date.iat[i]):
            given[i] = by_date.iat[i]
        else:
            spans = "; ".join(
                f"{e.episode_id} {e.start_date:%Y-%m-%d} to "
                f"{'open' if pd.isna(e.end_date) else f'{e.end_date:%Y-%m-%d}'}"
                for e in ep[ep["client_id"] == ids[i]].sort_values("start_date").itertuples())
            problems.append(problem(file, line, "date", day, f"{label}dated {day}, outside the "
                                    f"period of every EpisodeOfCare of patient {shorten(ids[i])!r} "
                                    f"({spans}) and with no encounter naming one; not assigned "
                                    "to an episode"))
            bad[i] = True
    frame = valid[~bad].assign(**{EPISODE: given[~bad]}).reset_index(drop=True)
    kept_where = [w for w, b in zip(where, bad, strict=True) if not b]
    out, _, found = apply_episodes(frame, np.arange(len(frame)) + 2, "scores", clients,
                                   client_lines, "\x00", row_word="line")
    for p in found:
        file, line, label = kept_where[int(p["line"]) - 2]
        reason = re.sub(r"\x00 line (\d+)", lambda m: _label_at(labels, int(m.group(1))),
                        p["reason"])
        problems.append(problem(file, line, p["column"], p["value"], f"{label}{reason}"))
    return out


def _label_at(labels: list[str], line: int) -> str:
    return labels[line - 2] if 0 <= line - 2 < len(labels) else f"line {line}"
