"""The papermill pipeline: selection, listing, README sync, and a clear failure message."""
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


def test_update_readme_rewrites_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{pipeline.README_START}\nstale\n{pipeline.README_END}\noutro\n")
    assert pipeline.update_readme(readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "stale" not in text
    assert registry.markdown_table() in text
    assert not pipeline.update_readme(readme)


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
