"""Where the report notebooks and the nbconvert template live, and keeping the copies in sync.

The sources are ``notebooks/`` (with ``notebooks/teaching/``) and ``templates/`` at the top of the
repository (where people edit and nbval runs them). A copy of each ships inside the package
(``progress_kit/notebooks`` and ``progress_kit/templates``) so that a pip-installed kit can
render; the report renderer always uses the packaged copy, ``teach render`` the source checkout's
notebooks where there is one. ``python -m progress_kit.reports.resources`` refreshes the
copies from the sources, and a test fails when they differ.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
from pathlib import Path

__all__ = ["package_dir", "notebook_path", "template_dir", "source_root", "out_of_sync", "sync"]

NOTEBOOKS = ("client_report.ipynb", "cohort_report.ipynb", "session_prep.ipynb", "client_share.ipynb",
             "explore.ipynb")
TEMPLATE = "clinical"


def package_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def notebook_path(kind: str) -> Path:
    """The packaged notebook for ``kind``: "client", "cohort", "prep" (the session-preparation
    sheet) or "share" (the client's own page)."""
    names = {"prep": "session_prep.ipynb", "share": "client_share.ipynb"}
    if kind not in ("client", "cohort", "prep", "share"):
        raise ValueError(f"report kind must be 'client', 'cohort', 'prep' or 'share', not {kind!r}")
    name = names.get(kind, f"{kind}_report.ipynb")
    return package_dir() / "notebooks" / name


def template_dir() -> Path:
    """The folder that holds the ``clinical`` nbconvert template (pass as extra base dir)."""
    return package_dir() / "templates"


def source_root() -> Path | None:
    """The repository root when running from a source checkout, else None."""
    root = package_dir().parent
    return root if (root / "notebooks").is_dir() and (root / "templates").is_dir() else None


def _pairs(root: Path):
    for name in NOTEBOOKS:
        yield root / "notebooks" / name, package_dir() / "notebooks" / name
    for src in sorted((root / "notebooks" / "teaching").glob("[0-9]*.ipynb")):
        yield src, package_dir() / "notebooks" / "teaching" / src.name
    key = root / "notebooks" / "teaching" / "course_key.toml"  # the answers check() compares with
    if key.is_file():
        yield key, package_dir() / "notebooks" / "teaching" / key.name
    for src in sorted((root / "templates" / TEMPLATE).iterdir()):
        yield src, package_dir() / "templates" / TEMPLATE / src.name


def _strays(root: Path) -> list[Path]:
    """Packaged template files that no longer have a source (deleted or renamed there)."""
    copies = {dst for _, dst in _pairs(root)}
    folder = package_dir() / "templates" / TEMPLATE
    return sorted(p for p in folder.iterdir() if p.is_file() and p not in copies) \
        if folder.is_dir() else []


def out_of_sync() -> list[str]:
    """Packaged copies that differ from their sources, or have none (empty outside a checkout)."""
    root = source_root()
    if root is None:
        return []
    differ = [dst for src, dst in _pairs(root)
              if not dst.exists() or not filecmp.cmp(src, dst, shallow=False)]
    return [str(p.relative_to(package_dir().parent)) for p in [*differ, *_strays(root)]]


def sync() -> list[str]:
    """Copy the sources over the packaged copies; returns what changed."""
    root = source_root()
    if root is None:
        raise RuntimeError("not a source checkout: nothing to sync")
    changed = out_of_sync()
    for src, dst in _pairs(root):
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    for stray in _strays(root):
        stray.unlink()
    return changed


if __name__ == "__main__":
    print("\n".join(f"updated {p}" for p in sync()) or "packaged copies are up to date",
          file=sys.stderr)
