"""The reports' words: every fixed phrase and sentence pattern, read from a TOML file.

The built-in wording is ``progress_kit/templates/clinical/wording.toml`` (with a comment on each
group of keys). A service changes any of it, without touching code, with its own file of the keys
it wants to change, usually ``wording.toml`` in its data folder: every report of that folder
(``report``, ``batch``) then uses it, and the batch re-renders when it changes. In a notebook of
one's own, :func:`use_wording` picks a file. ``docs/reports.md`` ("Change the wording") has a
worked example.

A phrase with computed numbers is a :meth:`str.format` pattern with named fields
(``"{n} scores from {first} to {latest}"``): a service may reorder the fields or change their
number format (``{mood:+.1f}``), but must keep every field of the built-in pattern and add none;
an unknown key, a key that is not text, or a missing or extra field is refused with the file,
the line, the key and the field.
"""

from __future__ import annotations

import re
import string
import tomllib
from functools import lru_cache
from pathlib import Path

__all__ = ["Wording", "WORDING_FILE", "WORDING_ENV", "load_wording", "wording_file", "use_wording",
           "words", "default_wording_path"]

WORDING_FILE = "wording.toml"
"""The name of a service's wording file in its data folder."""

WORDING_ENV = "PROGRESS_KIT_WORDING"
"""Environment variable naming a service's wording file. ``report`` and ``batch`` set it (from the
data folder's ``wording.toml``) so that every process they start, kernels and forked report
processes included, shows the same words."""


def default_wording_path() -> Path:
    """The built-in wording (beside the report template it is shown by)."""
    from .resources import template_dir

    return template_dir() / "clinical" / WORDING_FILE


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _fields(pattern: str) -> set[str]:
    """The named fields of a format pattern (``{n:+.1f}`` -> ``n``)."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(pattern):
        if field is not None:
            names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    return names


def _pattern_regex(pattern: str) -> re.Pattern:
    """A regular expression that reads a format pattern's fields back from its text."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.+?)")
    return re.compile("".join(parts))


def _line_of(text: str, key: str) -> int | None:
    """The line of ``key``'s last part in a TOML text (for the error message), if found."""
    last = re.escape(key.rsplit(".", 1)[-1])
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf'\s*(?:"{last}"|\'{last}\'|{last})\s*=', line):
            return i
    return None


def _read(path: Path) -> tuple[dict[str, object], str]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the wording file ({exc.strerror or exc})") from None
    try:
        return _flatten(tomllib.loads(text)), text
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None


class Wording:
    """The phrases of the reports, by key: the built-in ones with a service's changes.

    ``w("status.word.alert")`` is a phrase; ``w("client.questionnaire.scores", n=3, ...)`` fills
    a pattern's named fields. ``source`` is the service's file (None for the built-in wording).
    """

    __slots__ = ("phrases", "source", "_titles")

    def __init__(self, phrases: dict[str, str], source: Path | None = None):
        self.phrases = phrases
        self.source = source
        self._titles: tuple[dict, list] | None = None

    def __call__(self, key: str, /, **fields) -> str:
        # always formatted, so that "{{" is a brace whether or not the phrase has fields
        return self.phrases[key].format(**fields)

    def __getitem__(self, key: str) -> str:
        return self.phrases[key]

    def heading(self, text: str) -> str:
        """A heading or title as the wording has it: ``text`` when it is a key of the wording,
        the built-in ``heading.*`` or ``title.*`` phrase ``text`` is (its fields read back from
        ``text``: ``"Monthly progress report, 2026-11"``), else ``text`` itself.

        So the built-in notebooks, which pass the built-in words, show a service's headings.
        """
        if text in self.phrases:
            return self.phrases[text]
        exact, patterns = self._title_index()
        if text in exact:
            return self.phrases[exact[text]]
        for key, regex in patterns:
            hit = regex.fullmatch(text)
            if hit:
                return self.phrases[key].format(**hit.groupdict())
        return text

    def _title_index(self) -> tuple[dict, list]:
        if self._titles is None:
            exact, patterns = {}, []
            for key, text in _defaults().items():
                if not key.startswith(("heading.", "title.report.", "title.subtitle.")):
                    continue
                if _fields(text):
                    patterns.append((key, _pattern_regex(text)))
                else:
                    exact[text] = key
            self._titles = (exact, patterns)
        return self._titles

    def group(self, prefix: str) -> dict[str, str]:
        """Every phrase under ``prefix`` (``"status.word"``), keyed by the rest of its key."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self.phrases.items() if k.startswith(prefix + ".")}


@lru_cache(maxsize=1)
def _defaults() -> dict[str, str]:
    path = default_wording_path()
    phrases, _ = _read(path)
    bad = [k for k, v in phrases.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{path}: {bad[0]!r} is not text")
    return phrases  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _load(path: str | None, mtime_ns: int, size: int) -> Wording:
    base = _defaults()
    if path is None:
        return Wording(base)
    file = Path(path)
    changes, text = _read(file)
    for key, value in changes.items():
        where = f"{file}" + (f", line {n}" if (n := _line_of(text, key)) else "")
        if key not in base:
            close = [k for k in base if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}: unknown wording key {key!r}{hint}; the keys are those of "
                             f"{default_wording_path()}")
        if not isinstance(value, str):
            raise ValueError(f"{where}: key {key!r} must be text, not {type(value).__name__}")
        try:
            got = _fields(value)
        except ValueError as exc:
            raise ValueError(f"{where}: key {key!r}: not a valid pattern ({exc})") from None
        want = _fields(base[key])
        if got - want:
            raise ValueError(f"{where}: key {key!r}: unknown field {{{sorted(got - want)[0]}}}; "
                             f"this phrase has " + (", ".join(f"{{{f}}}" for f in sorted(want))
                                                    or "no fields"))
        if want - got:
            raise ValueError(f"{where}: key {key!r}: the field {{{sorted(want - got)[0]}}} is "
                             f"missing; this phrase needs "
                             + ", ".join(f"{{{f}}}" for f in sorted(want)))
    return Wording({**base, **changes}, file.resolve())  # type: ignore[dict-item]


def load_wording(path: str | Path | None = None) -> Wording:
    """The built-in wording with the changes in ``path`` (a TOML file), checked.

    Parsed once per file version (path, modification time and size) and process.

    Raises
    ------
    ValueError
        Naming the file, the line, the key and the field: an unknown key, a value that is not
        text, or a pattern whose named fields differ from the built-in phrase's.

    Examples
    --------
    >>> w = load_wording()
    >>> w("status.word.alert")
    'ALERT'
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "wording.toml"
    >>> _ = f.write_text('[status.word]\\nalert = "REVIEW NOW"\\n')
    >>> load_wording(f)("status.word.alert")
    'REVIEW NOW'
    """
    if path is None:
        return _load(None, 0, 0)
    stat = Path(path).stat() if Path(path).is_file() else None
    if stat is None:
        raise ValueError(f"{path}: no such wording file")
    return _load(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def wording_file(data_dir: str | Path | None) -> Path | None:
    """``wording.toml`` in ``data_dir`` when there is one there, else None."""
    if data_dir is None:
        return None
    path = Path(data_dir) / WORDING_FILE
    return path.resolve() if path.is_file() else None


_ACTIVE: list[Wording] = []


def _from_environment() -> str | None:
    import os

    return os.environ.get(WORDING_ENV) or None


def use_wording(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> Wording:
    """Make the reports of this process use the built-in wording with the changes in ``path``;
    without it, in ``data_dir``'s ``wording.toml`` when there is one, else in the file named by
    :data:`WORDING_ENV` (set by ``report`` and ``batch``), else none. Returns the wording.

    :func:`progress_kit.reports.notebook.load_clinic` calls it with the data folder, so a
    service's file applies to every report of that folder; in a notebook of one's own, call it
    after ``load_clinic`` to use another file. ``use_wording()`` goes back to the built-in words
    (or the command line's file).
    """
    chosen = path if path is not None else wording_file(data_dir) or _from_environment()
    wording = load_wording(chosen)
    _ACTIVE[:] = [wording]
    return wording


def words() -> Wording:
    """The wording in use: :func:`use_wording`'s choice, else the file named by
    :data:`WORDING_ENV`, else the built-in one."""
    return _ACTIVE[0] if _ACTIVE else load_wording(_from_environment())
