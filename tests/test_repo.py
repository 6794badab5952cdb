"""Repository hygiene: clean notebooks, one parameters cell, registry and docs/figures.md in sync."""
from __future__ import annotations

import json
import re

import pytest

from helpers import paths, registry

NOTEBOOKS = sorted(paths.notebooks().glob("*.ipynb"))


def test_every_registered_notebook_exists():
    missing = [nb for nb in registry.notebooks() if not (paths.notebooks() / nb).exists()]
    assert not missing


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_clean(nb_path):
    nb = json.loads(nb_path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{nb_path.name}: cells {dirty} carry outputs; strip them (nbstripout) before committing"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_shape(nb_path):
    assert re.fullmatch(r"\d\d-[a-z0-9-]+\.ipynb", nb_path.name)
    nb = json.loads(nb_path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# " + nb_path.name[:2])
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    src = "".join(tagged[0]["source"])
    assert re.search(r"^PROFILE = profiles\.default\(\)  #", src, re.M), "parameters cell: PROFILE = profiles.default() ($NA_PROFILE, else \"class\")"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for c in cells:
        if c["cell_type"] == "code":
            text = "".join(c["source"])
            assert "sys.path" not in text and "import *" not in text, f"{nb_path.name}: no sys.path edits or star imports"


def test_docs_list_the_registry():
    table = (paths.root() / "docs" / "figures.md").read_text()
    assert registry.markdown_table() in table, "docs/figures.md's table is stale: run `python -m helpers.pipeline docs`"


def test_registry_ids_unique():
    ids = [i.id for i in registry.ITEMS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_papermill_reads_every_parameter_with_its_help(nb_path, caplog):
    """papermill's parameter reader (``papermill --help-notebook``, and a warning on every run) gives up on a line
    whose comment holds " = "; every parameter must come through with its comment as help."""
    import logging

    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(str(nb_path), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    with caplog.at_level(logging.WARNING, logger="papermill"):
        params = PythonTranslator.inspect(cell)
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    names = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", cell.source, re.M)
    assert {p.name for p in params} >= set(names) - {"SHARD", "N_SHARDS"}  # `A, B = 0, 1` is one line of two
    assert all(p.help for p in params), [p.name for p in params if not p.help]


def test_benchmarks_name_the_machine_and_its_matrix_units():
    """Every benchmark prints helpers.testing.machine.describe(): CPU, count, the bf16/AMX flags, the load."""
    import os

    from helpers.testing import machine

    line = machine.describe()
    assert f"{os.cpu_count()} CPUs" in line and "AMX " in line and "load average" in line
    for script in ("dream", "precision", "mixed", "artsearch"):
        assert "machine" in (paths.root() / "benchmarks" / f"{script}.py").read_text()
