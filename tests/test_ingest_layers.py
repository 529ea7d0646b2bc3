"""The data <-> ingest circle is gone (issue 24, Structure; docs/../DESIGN layer 1).

``data`` imports neither ``ingest`` nor ``sources``; ``ingest`` uses only data's public
validation API (``data.VALIDATION_API``), never its private helpers; the function that picks a
reader for a folder or a URL (``sources.load_data``) sits above both.
"""

import ast
from pathlib import Path

import pytest

import progress_kit as pk
from progress_kit import data, sources

PKG = Path(__file__).parent.parent / "progress_kit"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module relative to progress_kit, names) of every relative import, also inside functions."""
    package = path.relative_to(PKG).parts[:-1]  # () for progress_kit/x.py, ("ingest",) below
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and 0 < node.level <= len(package) + 1:
            base = package[: len(package) - (node.level - 1)]
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.append((module, [a.name for a in node.names]))
    return found


def test_data_imports_neither_ingest_nor_the_dispatch():
    modules = {m for m, _ in _imports(PKG / "data.py")}
    assert not {m for m in modules if m.split(".")[0] in ("ingest", "sources")}, modules


def test_ingest_uses_only_the_public_validation_api_of_data():
    for path in sorted((PKG / "ingest").glob("*.py")):
        for module, names in _imports(path):
            if module == "data":
                assert set(names) <= set(data.VALIDATION_API), (path.name, names)
            if not module.startswith("ingest"):
                private = [n for n in names if n.startswith("_")]
                assert not private, (path.name, module, private)


def test_the_validation_api_exists_and_is_documented():
    for name in data.VALIDATION_API:
        obj = getattr(data, name)
        assert obj.__doc__, name
        assert not name.startswith("_")


def test_load_data_dispatches_from_above(tmp_path):
    assert pk.load_data is sources.load_data
    assert {m for m, _ in _imports(PKG / "sources.py")} >= {"data"}
    with pytest.raises(ValueError, match="is a database URL, not a data folder"):
        data.load_data("sqlite:///clinic.db")
    with pytest.raises(ValueError, match="tables= and query= apply to a database URL"):
        pk.load_data(tmp_path, tables={"observations": "x"})
