"""The papermill pipeline: selection, listing, docs/figures.md sync, and a clear failure message."""
from __future__ import annotations

import nbformat
import pytest

from helpers import pipeline, registry

NBS = ["00-setup-check.ipynb", "01-dream-synthesis.ipynb", "02-image-features.ipynb", "03-ratings-statistics.ipynb"]


def test_select_only_and_from():
    assert pipeline.select(NBS, only=["01", "03"]) == [NBS[1], NBS[3]]
    assert pipeline.select(NBS, start="02") == NBS[2:]
    assert pipeline.select(NBS, only=["02-image-features"]) == [NBS[2]]
    with pytest.raises(SystemExit, match="no notebook matches"):
        pipeline.select(NBS, only=["9"])


def test_list_prints_one_line_per_item(capsys):
    pipeline.main(["list"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(registry.ITEMS)
    assert lines[registry.ITEMS.index(registry.by_id("paper1:table1"))].split()[:2] == ["paper1:table1", "03-ratings-statistics.ipynb"]
    with pytest.raises(KeyError, match="known:"):
        registry.by_id("paper3:fig1")


def test_update_figure_table_rewrites_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{pipeline.TABLE_START}\nstale\n{pipeline.TABLE_END}\noutro\n")
    assert pipeline.update_figure_table(readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert registry.markdown_table() in text
    assert not pipeline.update_figure_table(readme)


def test_failing_notebook_is_named_with_its_cell(tmp_path, monkeypatch, capsys):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('PROFILE = "paper"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('boom')")]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "98-ok-then-fail.ipynb")
    monkeypatch.setenv("NA_ROOT", str(tmp_path))
    monkeypatch.setenv("NA_BUILD_DIR", str(tmp_path / "build"))  # keep the notebook tier's index intact
    monkeypatch.setattr(registry, "notebooks", lambda: ["98-ok-then-fail.ipynb"])
    with pytest.raises(SystemExit) as err:
        pipeline.run("smoke")
    msg = str(err.value)
    assert "FAILED 98-ok-then-fail.ipynb" in msg and "ValueError" in msg and "boom" in msg and "cell" in msg


def _fake_notebooks(tmp_path, monkeypatch, specs):
    """Write tiny notebooks (name -> code of the second cell) and point the pipeline at them."""
    (tmp_path / "notebooks").mkdir()
    for name, code in specs.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell('PROFILE = "paper"', metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, tmp_path / "notebooks" / name)
    monkeypatch.setenv("NA_ROOT", str(tmp_path))
    monkeypatch.setenv("NA_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("NA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(registry, "notebooks", lambda: sorted(specs))


def test_keep_going_runs_independent_notebooks_and_skips_dependents(tmp_path, monkeypatch, capsys):
    write = "import os; from helpers import paths; (paths.results(PROFILE) / '{f}').write_text('x')"
    specs = {"91-a.ipynb": "raise RuntimeError('no ArtBench yet')", "92-b.ipynb": "x = 1",
             "93-c.ipynb": write.format(f="c.txt"), "94-d.ipynb": "x = 2"}
    _fake_notebooks(tmp_path, monkeypatch, specs)
    monkeypatch.setattr(registry, "INPUTS", {"92-b.ipynb": (("91-a.ipynb", "a.txt"),), "94-d.ipynb": (("93-c.ipynb", "c.txt"),)})
    with pytest.raises(SystemExit, match="FAILED 91-a.ipynb"):
        pipeline.run("smoke", keep_going=True)
    out = capsys.readouterr().out
    index = {e["notebook"]: e for e in __import__("json").loads((tmp_path / "build" / "smoke" / "index.json").read_text())["notebooks"]}
    assert [index[n]["status"] for n in sorted(specs)] == ["failed", "skipped", "ok", "ok"]
    assert "91-a.ipynb" in index["92-b.ipynb"]["error"] and "no ArtBench yet" in index["91-a.ipynb"]["error"]
    assert "Summary (profile smoke): 2 ran, 1 failed, 1 skipped" in out and "skipped  92-b.ipynb" in out
    assert "Summary" in (tmp_path / "build" / "smoke" / "index.md").read_text()
    assert not index["93-c.ipynb"]["output"].startswith("/")  # paths relative to the project root
    # without --keep-going the run stops at the failure
    with pytest.raises(SystemExit):
        pipeline.run("smoke")
    index = __import__("json").loads((tmp_path / "build" / "smoke" / "index.json").read_text())["notebooks"]
    assert [e["notebook"] for e in index] == ["91-a.ipynb"]


def test_missing_input_file_is_skipped_with_the_reason(tmp_path, monkeypatch, capsys):
    _fake_notebooks(tmp_path, monkeypatch, {"95-x.ipynb": "x = 1"})
    monkeypatch.setattr(registry, "INPUTS", {"95-x.ipynb": (("90-y.ipynb", "y.csv", "QUERIES"),)})
    index = pipeline.run("smoke")
    assert index["notebooks"][0]["status"] == "skipped" and "y.csv" in index["notebooks"][0]["error"]
    assert pipeline.run("smoke", parameters={"QUERIES": "elsewhere"})["notebooks"][0]["status"] == "ok"


def test_papers_and_inputs_name_real_notebooks():
    nbs = set(registry.notebooks())
    assert all(set(v) <= nbs for v in registry.PAPERS.values())
    assert set(registry.PAPERS["1"]) & set(registry.PAPERS["2"]) == {"00-setup-check.ipynb"}
    assert all(nb in nbs and all(e[0] in nbs for e in v) for nb, v in registry.INPUTS.items())
    assert registry.needs("04-layer-response-figures") == ["03-ratings-statistics.ipynb", "02-image-features.ipynb",
                                                           "01-dream-synthesis.ipynb"]
    assert pipeline.select(list(registry.PAPERS["2"])) == ["00-setup-check.ipynb", "05-biggan-perturbation.ipynb",
                                                           "06-biggan-block-resampling.ipynb", "07-nearest-painting.ipynb"]
