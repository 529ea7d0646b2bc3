"""A private on-disk cache of a data folder's validated clinic and its whole-clinic results.

``report client``, ``report prep`` and the day's prep sheets each read and validate the whole data
folder and compute the same whole-clinic results (the expected-response models, the service-wide
``client_flags``) before drawing one client's page. This cache keeps them between commands, one
file per data folder, keyed by everything they depend on:

* the kit's version and the digest of its sources, notebooks and template (a fixed formula never
  meets an old result);
* the names and contents of the folder's table files (an edited file is a new key);
* the validation options (``today``, which decides what counts as a future date, and the date
  format).

A key that does not match is a miss: the clinic is validated again and the file replaced.

**Safety.** The cache is a pickle, and unpickling runs code, so it is loaded only from a folder
that nobody else can write: the folder (``$PROGRESS_KIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/progress-kit``, else ``~/.cache/progress-kit``) must be a real directory (not a
link) owned by this user with no permission for group or others (0700), and the file a regular
file owned by this user with mode 0600. Both are checked on the opened descriptors
(``O_NOFOLLOW``, ``fstat``), so the checked file is the loaded one. A folder that fails the check
is never loaded from or written to: the command then runs without the cache and says why once.
Files are written as every report file is: created exclusively under a random name, mode 0600,
then renamed into place. ``PROGRESS_KIT_CACHE_DIR=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from pathlib import Path

from ..data import ClinicData

__all__ = ["cache_folder", "ClinicCache", "CACHE_ENV"]

CACHE_ENV = "PROGRESS_KIT_CACHE_DIR"
_FORMAT = 1  # bump when what a cache file holds changes


def cache_folder() -> Path | None:
    """Where the cache lives, or None when ``PROGRESS_KIT_CACHE_DIR=off``."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in ("off", "none", "0", "") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "progress-kit"


def _private(st: os.stat_result, kind: int) -> str:
    """'' if ``st`` is a ``kind`` (dir or file) owned by this user with no group/other access."""
    if stat.S_IFMT(st.st_mode) != kind:
        return "is not a regular " + ("folder" if kind == stat.S_IFDIR else "file")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return "belongs to another user"
    if st.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(st.st_mode):o}, needs 0700/0600)"
    return ""


def _open_folder(folder: Path) -> int:
    """The cache folder opened (created 0700 if missing) and checked; raises OSError/ValueError."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    why = _private(os.fstat(fd), stat.S_IFDIR)
    if why:
        os.close(fd)
        raise ValueError(f"cache folder {folder} {why}; not used")
    return fd


def _code_digest() -> str:
    from .batch import _code_digest as digest  # the batch's up-to-date check: one copy

    return digest()


class ClinicCache:
    """The cache entry of one data folder under given validation options.

    ``load()`` returns the cached clinic (and puts the cached whole-clinic results back where
    :func:`~progress_kit.reports.sections.common.shared` finds them), or None on a miss;
    ``save(clinic)`` writes the clinic and the whole-clinic results computed for it so far.
    :attr:`path` is the entry's file, also what report processes get as ``data_cache``.
    """

    def __init__(self, data_dir: str | Path, options: str = "", folder: Path | None = None):
        from .context import files_digest, input_files

        self.folder = cache_folder() if folder is None else folder
        data_dir = Path(data_dir).resolve()
        where = hashlib.sha256(str(data_dir).encode("utf-8", "surrogatepass")).hexdigest()[:20]
        key = hashlib.sha256("\x1f".join([
            str(_FORMAT), _code_digest(), files_digest(input_files(data_dir)), options,
        ]).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        self._prefix = f"clinic-{where}-"
        self.name = f"{self._prefix}{key}.pkl"
        self.path = None if self.folder is None else self.folder / self.name
        self.problem = ""  # why the cache is not used, when it is not
        self._held = -1  # how many whole-clinic results the loaded entry had (-1: a miss)

    def load(self) -> ClinicData | None:
        if self.folder is None:
            return None
        try:
            fd = _open_folder(self.folder)
        except (OSError, ValueError) as exc:
            self._disable(exc)
            return None
        try:
            try:
                f = os.open(self.name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=fd)
            except FileNotFoundError:
                return None
            with os.fdopen(f, "rb") as fh:
                why = _private(os.fstat(fh.fileno()), stat.S_IFREG)
                if why:
                    self._disable(ValueError(f"cache file {self.path} {why}; not used"))
                    return None
                entry = pickle.load(fh)  # a private file in a private folder, both checked above
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            self._disable(exc)
            return None
        finally:
            os.close(fd)
        clinic, results = entry["clinic"], entry["shared"]
        _restore_shared(clinic, results)
        self._held = len(results)
        return clinic

    def save(self, clinic: ClinicData, only_if_new: bool = False) -> None:
        """Write the entry (replacing this folder's older entries); a failure only disables it.

        ``only_if_new``: skip the write when the entry was loaded and no whole-clinic result
        has been computed since.
        """
        if self.folder is None or self.problem:
            return
        from .files import private_file

        results = _collect_shared(clinic)
        if only_if_new and 0 <= self._held and len(results) <= self._held:
            return
        try:
            os.close(_open_folder(self.folder))
            with private_file(self.path) as fh:
                pickle.dump({"clinic": clinic, "shared": results}, fh,
                            protocol=pickle.HIGHEST_PROTOCOL)
            for old in self.folder.glob(f"{self._prefix}*.pkl"):
                if old.name != self.name:
                    old.unlink(missing_ok=True)  # this folder's entry for data that changed
        except (OSError, ValueError, pickle.PicklingError) as exc:
            self._disable(exc)
            return
        self._held = len(results)

    def _disable(self, exc: BaseException) -> None:
        self.problem = str(exc) or type(exc).__name__
        print(f"progress-kit: not using the cache: {self.problem}", file=sys.stderr)


_FRAMES = ("observations", "sessions", "items", "clients")


def _collect_shared(clinic: ClinicData) -> list[tuple]:
    """The whole-clinic results kept for ``clinic``'s own tables, as (name, tables, args, value)."""
    from .._cohort import unchanged
    from .sections.common import _SHARED

    mine = {id(getattr(clinic, n, None)): n for n in _FRAMES if getattr(clinic, n, None) is not None}
    out = []
    for (name, _, args), entry in list(_SHARED.items()):
        frames, held = entry[0], entry[1]
        if not all(f is None or unchanged(h, f) for h, f in zip(held, frames, strict=True)):
            continue  # a column was written since: the result may no longer be this data's
        names = tuple(None if f is None else mine.get(id(f)) for f in frames)
        if all(n is not None or f is None for n, f in zip(names, frames, strict=True)):
            out.append((name, names, args, entry[2]))
    return out


def _restore_shared(clinic: ClinicData, results: list[tuple]) -> None:
    from .sections.common import shared

    for name, names, args, value in results:
        frames = tuple(None if n is None else getattr(clinic, n) for n in names)
        shared(name, frames, args, lambda value=value: value)
