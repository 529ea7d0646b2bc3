"""The month folder: private atomic files, one lock, and who owns which report file.

Everything that holds client data (reports, executed notebooks, the batch's data cache, the
manifest, the name index) is written the same way: :func:`private_file` creates a temporary file
*exclusively* with :func:`tempfile.mkstemp` in the target folder (a random name, ``O_EXCL``, mode
0600, so a planted file or symlink is never opened), writes through that descriptor and renames
it into place. A crash leaves either the old file or the new one, never a half-written one;
leftovers of a killed run (``.pk-tmp-*``) are removed by :func:`remove_stale` under the lock.

:func:`month_lock` serialises every writer of a month folder (a batch, ``report client``,
``report cohort``): a second writer waits up to ``wait`` seconds, then refuses with a message
naming the process that holds the folder. The lock is an advisory ``flock`` on ``.lock``, which
the operating system releases when its process dies, even by SIGKILL.

:func:`claim_stems` gives every client one file-name stem per folder and records it in
``.stems.json``: a stem that belongs to one ID (in the index, or on disk from an unknown owner)
is never given to another, on any path that writes there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .safe import name_candidates

__all__ = ["private_file", "write_private", "private_dir", "month_lock", "FolderBusy",
           "claim_stems", "remove_stale", "check_private_folder", "UnsafeFolder", "write_cache_file",
           "read_cache_file", "TMP_PREFIX", "FILE_MODE"]

log = logging.getLogger(__name__)

TMP_PREFIX = ".pk-tmp-"
FILE_MODE = 0o600
DIR_MODE = 0o700
LOCK_NAME = ".lock"
INDEX_NAME = ".stems.json"
REPORT_EXTS = (".ipynb", ".html", ".pdf")


class FolderBusy(RuntimeError):
    """Another process is writing the same month folder."""


class UnsafeFolder(ValueError):
    """An output folder that another user can write (or that another user owns)."""


def remove_tree(path: str | Path) -> None:
    """Remove a private folder the kit made (a data cache, papermill's work folder); log what
    cannot be removed, since it may hold client data (the log names the path, never the data)."""
    def failed(function, name, exc):
        log.warning("could not remove %s (%s); delete it by hand: it may hold client data", name,
                    exc[1] if isinstance(exc, tuple) else exc, extra={"keep": [str(name)]})

    shutil.rmtree(path, onerror=failed)


def _fsync_dir(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (POSIX: the directory entry is data of the folder)."""
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename itself
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def private_file(target: str | Path, mode: str = "wb") -> Iterator:
    """Write ``target`` atomically and privately: yields a file object open on a fresh temp file.

    The temp file is created exclusively (``mkstemp``: random name, ``O_EXCL``, mode 0600) in
    ``target``'s folder and renamed over ``target`` when the block ends without an exception;
    otherwise it is removed. ``os.replace`` replaces a symlink at ``target`` rather than following
    it, so a planted link never redirects a write.

    The file's data are flushed to disk (``fsync``) before the rename, and the folder after it,
    so that after a power cut ``target`` holds either the old contents or the new, never a
    truncated file.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_private(target: str | Path, data: bytes | str) -> Path:
    """:func:`private_file` for a whole ``bytes`` or ``str`` payload; returns ``target``."""
    with private_file(target, "wb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)


def private_dir(parent: str | Path, purpose: str = "") -> Path:
    """A fresh directory in ``parent`` that only this user can enter (``mkdtemp``, mode 0700).

    For tools that insist on writing by path (papermill, pickle caches): nobody else can create,
    replace or link anything inside it.
    """
    return Path(tempfile.mkdtemp(dir=parent, prefix=f"{TMP_PREFIX}{purpose}"))


def _owner_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _own_private_group(gid: int) -> bool:
    """True for the user's own private group (Debian and Fedora give every user one, with umask
    002): a group that is the user's primary group, named like the user, with no other members."""
    try:
        import grp
        import pwd

        user = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return gid == user.pw_gid and group.gr_name == user.pw_name and not set(group.gr_mem) - {user.pw_name}


def check_private_folder(path: str | Path, root: str | Path | None = None) -> None:
    """Refuse an existing output folder that someone else could plant files in.

    ``path`` and every existing folder between it and ``root`` (included) must be real folders
    (not symbolic links), owned by this user (or root), and writable by nobody else: no write
    permission for others, nor for a group other than the user's own private group. Otherwise
    another account could create or swap files there while a report runs: next month's folder
    made in advance, a data cache replaced between writing and reading (docs/security.md,
    "Shared folders"). Folders that do not exist yet are fine: the kit creates them 0700.

    Raises
    ------
    UnsafeFolder
        Naming the folder, its owner and mode, and what to do.
    """
    if not hasattr(os, "geteuid"):  # Windows: ACLs, not modes; nothing portable to check
        return
    path = Path(path).absolute()
    stop = Path(root).absolute() if root is not None else path
    folders = [path, *path.parents]
    folders = folders[: folders.index(stop) + 1] if stop in folders else [path]
    me = os.geteuid()
    for folder in folders:
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            # a link chosen by the user (e.g. --out pointing at another disk) is judged by
            # where it leads; only the link itself must be the user's
            if st.st_uid not in (me, 0):
                raise UnsafeFolder(f"{folder} is a symbolic link owned by {_owner_name(st.st_uid)}; "
                                   f"it could be re-pointed while reports are written. Use a "
                                   f"folder of your own for --out")
            st = os.stat(folder)
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeFolder(f"{folder} is not a folder")
        mode = stat.S_IMODE(st.st_mode)
        group_write = mode & stat.S_IWGRP and not _own_private_group(st.st_gid)
        if st.st_uid not in (me, 0) or mode & stat.S_IWOTH or group_write:
            who = ("others" if mode & stat.S_IWOTH else "its group" if group_write
                   else _owner_name(st.st_uid))
            raise UnsafeFolder(
                f"{folder} can be changed by {who} (owner {_owner_name(st.st_uid)}, mode "
                f"{mode:04o}): another account could plant or swap files there while reports "
                f"are written, and make this run execute its code. Use a folder only you can "
                f"write (e.g. chmod go-w {folder}, or remove a folder someone else made), or "
                f"choose another --out; see docs/security.md, 'Shared folders'")


_CACHE_NAME = re.compile(r"-([0-9a-f]{64})\.pkl$")


class _HashingWriter:
    """A file wrapper that hashes what is written through it."""

    def __init__(self, fh):
        self.fh, self.sha = fh, hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self.fh.write(data)


def write_cache_file(obj, folder: str | Path, stem: str = "clinic") -> Path:
    """Pickle ``obj`` privately into ``folder`` as ``<stem>-<SHA-256 of the bytes>.pkl``.

    The name carries the digest that :func:`read_cache_file` checks before it unpickles, so a
    file swapped in by anyone else is refused, never run. ``folder`` should be private
    (:func:`private_dir`).
    """
    import pickle

    folder = Path(folder)
    with private_file(folder / f"{stem}.part.pkl") as fh:
        writer = _HashingWriter(fh)
        pickle.dump(obj, writer, protocol=pickle.HIGHEST_PROTOCOL)
        target = folder / f"{stem}-{writer.sha.hexdigest()}.pkl"
    os.replace(folder / f"{stem}.part.pkl", target)
    _fsync_dir(folder)
    return target


def read_cache_file(path: str | Path):
    """Unpickle a cache written by :func:`write_cache_file`, after checking that it is safe.

    Unpickling runs code, so the file is loaded only if it and its folder belong to this user,
    nobody else can write them (file 0600, folder without group or other write), it is a
    regular file reached without a symbolic link, and its bytes have the SHA-256 in its name.

    Raises
    ------
    ValueError
        Naming the file and which check failed; nothing is unpickled.
    """
    import pickle

    path = Path(path)
    match = _CACHE_NAME.search(path.name)
    if not match:
        raise ValueError(f"{path} is not a data cache written by the batch (its name carries no "
                         f"digest); refusing to load it")
    check_private_folder(path.parent)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ValueError(f"{path}: cannot open the data cache safely ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        me = os.geteuid() if hasattr(os, "geteuid") else st.st_uid
        if not stat.S_ISREG(st.st_mode) or st.st_uid != me or stat.S_IMODE(st.st_mode) & 0o077:
            raise ValueError(f"{path} is not a private file of this user (owner uid {st.st_uid}, "
                             f"mode {stat.S_IMODE(st.st_mode):04o}); refusing to load it")
        # hashed, then unpickled through the same descriptor: only this user could change the
        # file in between (checked above), and streaming keeps a large cache out of memory twice
        sha = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
        if sha.hexdigest() != match.group(1):
            raise ValueError(f"{path} does not hold the data the batch wrote (its SHA-256 differs "
                             f"from its name); refusing to load it")
        fh.seek(0)
        return pickle.load(fh)


def make_folder(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed; new folders are private (0700)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    return path


# ---------------------------------------------------------------- the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def month_lock(folder: str | Path, *, wait: float = 0.0, what: str = "progress-kit",
               root: str | Path | None = None) -> Iterator[Path]:
    """Hold the lock on a month folder for the duration of the block.

    Parameters
    ----------
    folder : path
        The month folder (created if needed). It, and the folders between it and ``root``, must
        be writable by this user only (:func:`check_private_folder`).
    wait : float
        Seconds to wait for another writer to finish; 0 (default) refuses at once.
    what : str
        What holds the lock (shown to a writer that has to wait or is refused).

    Raises
    ------
    FolderBusy
        When the folder is still locked after ``wait`` seconds.
    UnsafeFolder
        When another user could write the folder or one of its parents up to ``root``.
    """
    check_private_folder(folder, root)  # before anything is created in it
    folder = make_folder(folder)
    check_private_folder(folder, root)  # and again: someone may have made it just before us
    path = folder / LOCK_NAME
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError:
        if path.is_symlink():  # O_NOFOLLOW refused a planted link
            raise ValueError(f"{path} is a symbolic link, not the kit's lock file; remove it") from None
        raise  # e.g. PermissionError on a read-only folder: the caller names it
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() if hasattr(os, "pread") \
                    else ""
                raise FolderBusy(f"{folder} is being written by another run ({holder or 'unknown'}); "
                                 f"wait for it to finish, or pass --wait SECONDS to queue behind it")
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what}, pid {os.getpid()} on {socket.gethostname()}, since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0) if hasattr(os, "pwrite") else None
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the flock


# ---------------------------------------------------------------- stale files


def remove_stale(*folders: str | Path) -> list[str]:
    """Remove what killed runs left behind in ``folders``: temp files, temp folders, data caches.

    Call it only while holding :func:`month_lock` (then no live run owns any of them). Symlinks
    are removed, never followed. Returns the names removed.
    """
    removed = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            name = entry.name
            legacy = name.startswith(".cache-") or (name.startswith(".") and ".tmp" in name)
            if not (name.startswith(TMP_PREFIX) or legacy):
                continue
            if entry.is_dir(follow_symlinks=False):
                remove_tree(entry.path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
            removed.append(name)
    return removed


# ---------------------------------------------------------------- who owns which stem


def _read_index(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path} is not a regular file; move it away and run again")
    try:
        stems = json.loads(path.read_text(encoding="utf-8"))["stems"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in stems.items()):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{path} is not a progress-kit name index; move it away (reports already "
                         f"in the folder then keep their names only if their notebooks say whose "
                         f"they are)") from None
    return stems


def _owner_on_disk(folder: Path, stem: str, kind: str) -> str | None:
    """Whose report ``stem`` is, read from its executed notebook's injected parameters."""
    import ast

    key = {"client": "client_id", "therapist": "therapist_id"}[kind]
    try:
        nb = json.loads((folder / f"{stem}.ipynb").read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                for node in ast.parse("".join(cell["source"])).body:  # parsed, never run
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == key:
                        value = ast.literal_eval(node.value)
                        return value if isinstance(value, str) else None
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return None
    return None


def claim_stems(folder: str | Path, ids: Iterable[str], *, kind: str = "client",
                prefix: str = "") -> dict[str, str]:
    """One file-name stem per ID in ``folder``, unique there and never another ID's.

    An ID keeps the stem it was given before (``.stems.json``). A new ID gets the first of
    :func:`~progress_kit.reports.safe.name_candidates` whose case-folded form no other ID owns
    and no file of unknown owner uses (a report left by an older kit counts as the ID's own when
    its executed notebook names that ID). Call it while holding :func:`month_lock`.

    Returns
    -------
    dict
        ``{id: stem}``; files are ``folder/<stem>.ipynb|.html|.pdf``.
    """
    folder = make_folder(folder)
    index_path = folder / INDEX_NAME
    index = _read_index(index_path)
    owner_key = {stem: owner for stem, owner in index.items()}
    mine = {owner: stem for stem, owner in owner_key.items() if owner.startswith(f"{kind}:")}
    taken = {stem.lower() for stem in index}
    on_disk = {}
    for p in folder.iterdir():
        for ext in REPORT_EXTS:
            if p.name.endswith(ext):
                on_disk.setdefault(p.name[: -len(ext)].lower(), p.name[: -len(ext)])
    out, changed = {}, False
    for cid in ids:
        cid = str(cid)
        key = f"{kind}:{cid}"
        if key in mine:
            out[cid] = mine[key]
            continue
        for cand in (f"{prefix}{c}" for c in name_candidates(cid)):
            low = cand.lower()
            if low in taken:
                continue
            if low in on_disk and _owner_on_disk(folder, on_disk[low], kind) != cid:
                continue
            break
        else:  # four different hash lengths all taken: not a realistic case, but never overwrite
            raise ValueError(f"no free file name for {kind} {cid!r} in {folder}")
        index[cand], mine[key], out[cid], changed = key, cand, cand, True
        taken.add(cand.lower())
    if changed:
        write_private(index_path, json.dumps({"version": 1, "stems": index}, indent=0,
                                             ensure_ascii=True, sort_keys=True))
    return out


def is_regular(path: str | Path) -> bool:
    """True for an existing regular file that is not a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False
