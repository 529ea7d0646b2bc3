"""The declared dependencies match what the kit imports, and the version is written once."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import progress_kit

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
# used without an import statement of their own: pandas reads .xlsx through openpyxl
# (data.py), and papermill runs every report and course notebook in the ipykernel kernel
USED_INDIRECTLY = {"openpyxl": "pd.read_excel(", "ipykernel": 'kernel_name="python3"'}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def _kit_imports() -> set[str]:
    """Top-level modules imported anywhere in the package: its code, notebooks and doc examples."""
    found: set[str] = set()

    def add(source: str) -> None:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a fragment in a doc example: read its import lines alone
            found.update(re.findall(r"^\s*(?:from|import)\s+(\w+)", source, re.M))
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])

    for path in (ROOT / "progress_kit").rglob("*.py"):
        add(path.read_text("utf-8"))
    for path in (ROOT / "progress_kit").rglob("*.ipynb"):
        for cell in json.loads(path.read_text("utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                add("".join(cell["source"]))
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for block in re.findall(r"```python\n(.*?)```", path.read_text("utf-8"), re.S):
            add(block)
    return found


def test_every_runtime_dependency_is_imported_by_the_kit():
    imported = _kit_imports()
    code = "\n".join(p.read_text("utf-8") for p in (ROOT / "progress_kit").rglob("*.py"))
    for dist, use in USED_INDIRECTLY.items():
        assert use in code, f"{dist} is declared for {use!r}, which the kit no longer does"
    unused = [d for d in map(_name, PYPROJECT["project"]["dependencies"])
              if d.replace("-", "_") not in imported and d not in USED_INDIRECTLY]
    assert unused == [], f"declared but never imported by progress_kit: {unused}"


def test_pingouin_is_a_test_reference_only():
    # pingouin checks our numbers in tests; the kit itself never imports it, so users do not
    # install it (nor seaborn, which it pulls in)
    assert "pingouin" not in _kit_imports()
    runtime = set(map(_name, PYPROJECT["project"]["dependencies"]))
    assert "pingouin" not in runtime and "seaborn" not in runtime
    assert "pingouin" in set(map(_name, PYPROJECT["project"]["optional-dependencies"]["test"]))


def test_the_version_is_written_once_in_pyproject():
    assert progress_kit.__version__ == version("progress-kit") == PYPROJECT["project"]["version"]
    source = (ROOT / "progress_kit" / "__init__.py").read_text("utf-8")
    assert PYPROJECT["project"]["version"] not in source
