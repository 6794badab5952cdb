"""The papermill pipeline: selection, listing, docs/figures.md sync, and a clear failure message."""
from __future__ import annotations

import nbformat
import pytest

from helpers import parameters, paths, pipeline, profiles, registry

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


def _fake_notebooks(tmp_path, monkeypatch, specs, params='PROFILE = "paper"'):
    """Write tiny notebooks (name -> code of the second cell) and point the pipeline at them."""
    (tmp_path / "notebooks").mkdir()
    for name, code in specs.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
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
    _fake_notebooks(tmp_path, monkeypatch, {"95-x.ipynb": "x = 1"}, params='PROFILE = "paper"\nQUERIES = None  # a folder')
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


# --- -p checks: before any kernel starts ------------------------------------------------------------------------


@pytest.fixture
def no_kernel(monkeypatch):
    """papermill.execute_notebook raises: a test using this proves that no kernel was started."""
    import papermill

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(papermill, "execute_notebook", refuse)


def test_every_notebook_declares_its_parameters_cell_names():
    """Every UPPER_CASE name assigned in a parameters cell is declared, the tuple one included, with its comment."""
    import re

    for nb in registry.notebooks():
        cell = next(c for c in nbformat.read(paths.notebooks() / nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        names = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*(?:=|,)", cell.source, re.M))
        got = parameters.declared(nb)
        assert "PROFILE" in got and names <= set(got), (nb, names - set(got))
        assert all(p.help for p in got.values()), nb
    one = parameters.declared("01-dream-synthesis.ipynb")
    assert (one["SHARD"].value, one["N_SHARDS"].value) == (0, 1) and "split over machines" in one["N_SHARDS"].help
    assert one["SIZE"].literal and one["SIZE"].value is None


@pytest.mark.parametrize("params, expected", [
    ({"SEEED": 1}, "-p SEEED: not a parameter of any of the 9 selected notebooks; did you mean SEED (declared by"),
    ({"LAYER": ["mixed4a"]}, "did you mean LAYERS (declared by 01-dream-synthesis.ipynb)?"),
    ({"seed": 1}, "did you mean SEED"),
    ({"PROFILE": "paper"}, "choose the profile with --profile"),
    ({"LAYERS": ["mixed4a", "mixd4b"]}, "'mixd4b' is not one of the 144 study layers (helpers.nets.layers.LAYERS); did you mean 'mixed4b'?"),
    ({"LAYERS": "Mixed4c"}, "'Mixed4c' is not one of the 144 study layers (helpers.nets.layers.LAYERS); did you mean 'mixed4c'?"),
    ({"OCTAVE_LAYER": "mixed4x"}, "-p OCTAVE_LAYER: 'mixed4x' is not one of the 144 study layers"),
    ({"SIZE": "big"}, "-p SIZE 'big': 01-dream-synthesis.ipynb expects an integer (default None: the profile's value)"),
    ({"N_RENDERS": 2.5}, "expects an integer"),
    ({"MIXED_MODEL": 1}, "-p MIXED_MODEL 1: 03-ratings-statistics.ipynb expects True or False"),
    ({"SIM_SEED": True}, "-p SIM_SEED True: 03-ratings-statistics.ipynb expects an integer (default 0)"),
    ({"NATURAL_IMAGES": "no-such-folder"}, "-p NATURAL_IMAGES 'no-such-folder': no such file or folder"),
])
def test_a_bad_parameter_is_refused_before_any_kernel_starts(no_kernel, params, expected):
    with pytest.raises(SystemExit) as err:
        pipeline.run("smoke", parameters=params)
    assert expected in str(err.value), str(err.value)
    assert "\n" not in str(err.value)  # one line


def test_every_problem_of_a_command_line_at_once(no_kernel, capsys):
    with pytest.raises(SystemExit) as err:
        pipeline.main(["run", "--only", "03", "04", "-p", "LAYERS", "['mixed4a']", "-p", "SEEED", "1", "-p", "ALPHA", "0.01"])
    msg = str(err.value)
    assert msg.startswith("pipeline run: 2 problem(s) with -p, nothing was run:")
    assert "LAYERS is a parameter of 01-dream-synthesis.ipynb, which this run does not select" in msg and "SEEED" in msg


def test_good_values_pass_and_go_only_to_the_notebooks_that_declare_them(tmp_path, monkeypatch):
    nbs = registry.notebooks()
    routed = parameters.check(nbs, {"SEED": 3, "LAYERS": ["mixed4a", "conv2d0"], "ALPHA": 0.01, "SIZE": 64, "STEP": 2,
                                    "THREADS": "auto", "WORKERS": 2, "MEASURES": "paper1", "FIG2_CLASSES": [832]})
    assert all(routed[nb]["SEED"] == 3 for nb in nbs)
    assert [nb[:2] for nb in nbs if "ALPHA" in routed[nb]] == ["04", "05", "06", "08"]
    assert routed["01-dream-synthesis.ipynb"]["STEP"] == 2 and "LAYERS" not in routed["00-setup-check.ipynb"]
    note = parameters.not_declared_note(nbs, routed, {"SEED": 3, "ALPHA": 0.01})
    assert note == "ALPHA goes to 04, 05, 06, 08 only (00, 01, 02, 03, 07 do not declare it)"
    two = ["03-ratings-statistics.ipynb", "04-layer-response-figures.ipynb"]
    assert parameters.not_declared_note(two, {two[0]: {"RATINGS": 1, "SIM_SEED": 2}, two[1]: {}}, {"RATINGS": 1, "SIM_SEED": 2}) \
        == "RATINGS, SIM_SEED go to 03 only (04 does not declare them)"
    # a relative path is read from the folder the command runs in (the kernels run in notebooks/)
    (tmp_path / "r.csv").write_text("participant,layer,seed,arousal,valence\np1,conv2d0,0,10,50\n")
    (tmp_path / "p.csv").write_text("participant,attitude,self_esteem\np1,neutral,3\n")
    routed = parameters.check(["03-ratings-statistics.ipynb"], {"RATINGS": "r.csv", "PARTICIPANTS": "p.csv"}, cwd=tmp_path)
    assert routed["03-ratings-statistics.ipynb"] == {"RATINGS": str(tmp_path / "r.csv"), "PARTICIPANTS": str(tmp_path / "p.csv")}


def test_a_ratings_file_is_checked_before_the_notebooks_run(tmp_path, no_kernel):
    (tmp_path / "r.csv").write_text("participant;layer;seed;arousal;valence\np1;conv2d0;0;10;50\n")
    (tmp_path / "p.csv").write_text("participant,attitude,self_esteem\np1,neutral,3\n")
    with pytest.raises(SystemExit, match=r"-p RATINGS: .*r.csv: 1 problem\(s\) with the ratings format:\n.*separated by ';'"):
        pipeline.run("smoke", only=["03", "04"], parameters={"RATINGS": str(tmp_path / "r.csv"),
                                                              "PARTICIPANTS": str(tmp_path / "p.csv")})
    (tmp_path / "r.csv").write_text("participant,layer,seed,arousal,valence\np1,conv2d0,0,10,50\n")
    with pytest.raises(SystemExit, match="-p RATINGS without -p PARTICIPANTS: 03-ratings-statistics.ipynb needs"):
        pipeline.run("smoke", only=["03", "04"], parameters={"RATINGS": str(tmp_path / "r.csv"), "PARTICIPANTS": ""})


def test_params_lists_a_notebooks_parameters(capsys):
    pipeline.main(["params", "03", "--profile", "smoke"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("03-ratings-statistics.ipynb: parameters") and "usually only PROFILE matters" in out[0]
    rows = {ln.split()[0]: ln for ln in out[1:]}
    assert set(rows) == set(parameters.declared("03-ratings-statistics.ipynb"))
    assert "path to real ratings" in rows["RATINGS"]
    pipeline.main(["params", "01", "--profile", "class"])
    rows = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert "None -> 256" in rows["SIZE"]  # the profile's value of a None
    pipeline.main(["params", "07", "--profile", "class"])
    rows = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert "None -> 'test'" in rows["SUBSET_SPLIT"]  # a parameter named unlike its setting (split)
    for nb in registry.notebooks():  # every setting of profiles.NOTEBOOKS is some parameter's None, or internal
        names = {parameters.setting(n) for n in parameters.declared(nb)}
        assert set(profiles.NOTEBOOKS.get(nb[:2], {})) - names <= {"source", "demo_corpus", "demo_queries"}, nb


def test_list_columns_line_up():
    import io as _io

    buf = _io.StringIO()
    pipeline.list_items(buf)
    lines = buf.getvalue().splitlines()
    starts = {(ln.index(i.notebook), ln.index(" results/" if i.kind != "figure" else " figures/"))
              for ln, i in zip(lines, registry.ITEMS)}
    assert len(starts) == 1, starts  # the notebook and path columns start at the same place on every line


# --- kernels, the run index, NA_PROFILE, make ---------------------------------------------------------------------


def test_kernels_run_over_ipc_without_the_tcp_warning(tmp_path, monkeypatch, capfd):
    """ipykernel warns "Kernel is running over TCP without encryption" on its stderr (our fd 2) and the log."""
    _fake_notebooks(tmp_path, monkeypatch, {"96-ipc.ipynb": "import json, os, sys\n"
                                                            "from ipykernel.kernelapp import IPKernelApp\n"
                                                            "print(IPKernelApp.instance().transport)"})
    monkeypatch.setattr(registry, "INPUTS", {})
    pipeline.run("smoke")
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
    executed = nbformat.read(tmp_path / "build" / "smoke" / "96-ipc.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "ipc" in text and "without encryption" not in text
    assert not list(tmp_path.glob("**/kernel-ipc*"))  # no socket files left in the notebooks' folder


def test_index_has_one_row_per_notebook_and_the_failing_cells_position(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 97"), nbformat.v4.new_code_cell('PROFILE = "paper"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_markdown_cell("text"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("raise ValueError('first line | with a bar\\nsecond line\\nthird line')")]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "97-multi.ipynb")
    _ok = nbformat.v4.new_notebook(metadata=nb.metadata, cells=nb.cells[:2])
    nbformat.write(_ok, tmp_path / "notebooks" / "96-ok.ipynb")
    monkeypatch.setenv("NA_ROOT", str(tmp_path))
    monkeypatch.setenv("NA_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setattr(registry, "notebooks", lambda: ["96-ok.ipynb", "97-multi.ipynb"])
    monkeypatch.setattr(registry, "INPUTS", {})
    with pytest.raises(SystemExit) as err:
        pipeline.run("smoke")
    assert "FAILED 97-multi.ipynb at cell 5 (ValueError: first line" in str(err.value)  # 5th cell; its In [4]
    rows = [ln for ln in (tmp_path / "build" / "smoke" / "index.md").read_text().splitlines() if ln.startswith("| [")]
    assert len(rows) == 2 and all(r.count(" | ") == 3 for r in rows), rows  # four columns, a bar escaped
    assert "failed: cell 5: ValueError: first line \\| with a bar (+2 lines) ([traceback](97-multi.ipynb))" in rows[1]
    index = __import__("json").loads((tmp_path / "build" / "smoke" / "index.json").read_text())
    assert index["notebooks"][1]["cell"] == 5 and "third line" in index["notebooks"][1]["error"]  # the whole message


def test_a_missing_weights_failure_says_how_to_get_them_or_use_smoke(tmp_path, monkeypatch):
    _fake_notebooks(tmp_path, monkeypatch, {"95-w.ipynb": "class WeightsUnavailable(RuntimeError): pass\n"
                                                          "raise WeightsUnavailable('no inception5h here')"})
    monkeypatch.setattr(registry, "INPUTS", {})
    with pytest.raises(SystemExit) as err:
        pipeline.run("class")
    [_, hint] = str(err.value).splitlines()
    assert hint.startswith("No pretrained weights on this machine for the class profile") and "make smoke" in hint


def test_na_profile_sets_the_default_of_the_command_line_and_every_notebook(monkeypatch):
    seen = {}
    monkeypatch.setattr(pipeline, "run", lambda profile, **kw: seen.update(profile=profile))
    monkeypatch.delenv("NA_PROFILE", raising=False)
    assert (profiles.default(), profiles.default(cli=True)) == ("class", "smoke")
    pipeline.main(["run"])
    assert seen["profile"] == "smoke"
    monkeypatch.setenv("NA_PROFILE", "paper")
    pipeline.main(["run"])
    assert seen["profile"] == "paper" and profiles.default() == "paper"
    pipeline.main(["run", "--profile", "class"])
    assert seen["profile"] == "class"  # --profile wins
    for nb in registry.notebooks():  # each parameters cell, run as Jupyter runs it: the default follows NA_PROFILE
        cell = next(c for c in nbformat.read(paths.notebooks() / nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        for value in ("smoke", "paper"):
            monkeypatch.setenv("NA_PROFILE", value)
            ns = {"profiles": profiles}
            exec(cell.source, ns)
            assert ns["PROFILE"] == value, nb
        assert "usually only PROFILE matters" in cell.source.splitlines()[0] or "only PROFILE" in cell.source, nb
    monkeypatch.setenv("NA_PROFILE", "Paper")
    with pytest.raises(ValueError, match="NA_PROFILE must be one of paper, class, smoke, got 'Paper'"):
        profiles.default()
    with pytest.raises(SystemExit, match="NA_PROFILE must be one of"):
        pipeline.main(["run"])


def _make(*args, **env):
    import os
    import subprocess
    import sys

    return subprocess.run(["make", "--no-print-directory", f"PY={sys.executable}", "STAMP=", *args],
                          cwd=paths.root(), capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_make_help_lists_every_documented_target():
    import re

    out = _make("help").stdout
    documented = re.findall(r"^([a-z0-9-]+):[^#\n]*## ", (paths.root() / "Makefile").read_text(), re.M)
    assert {"smoke", "class", "figures", "lab", "analyse", "test", "help"} <= set(documented)
    for target in documented:
        assert re.search(rf"^  make {target} +\S", out, re.M), (target, out)
    assert _make().stdout == out  # `make` alone prints it


def test_make_analyse_needs_ratings_and_the_earlier_notebooks_outputs(tmp_path):
    r = _make("analyse")
    assert r.returncode != 0 and "make analyse RATINGS=ratings.csv PARTICIPANTS=participants.csv" in r.stdout
    (tmp_path / "r.csv").write_text("participant,layer,seed,arousal,valence\np1,conv2d0,0,10,50\n")
    r = _make("analyse", f"RATINGS={tmp_path / 'r.csv'}", "PROFILE=paper", NA_RESULTS_DIR=str(tmp_path / "results"))
    assert r.returncode != 0, r.stdout
    assert "features.parquet (from 02)" in r.stderr and "--profile paper --only 01 02" in r.stderr, r.stderr


def test_make_lab_passes_the_profile_to_every_notebook_as_na_profile():
    r = _make("-n", "lab", "PROFILE=smoke")
    assert "NA_PROFILE=smoke " in r.stdout and "jupyter lab" in r.stdout, r.stdout
    assert "NA_PROFILE=paper " in _make("-n", "lab", NA_PROFILE="paper").stdout
    assert "NA_PROFILE=class " in _make("-n", "lab", NA_PROFILE="").stdout
    r = _make("lab", "PROFILE=tiny")
    assert r.returncode != 0 and "PROFILE must be smoke, class or paper, got 'tiny'" in r.stdout


def test_the_ipc_kernel_shuts_down_without_an_interrupt_and_leaves_no_sockets():
    """jupyter_client sends SIGINT before every shutdown; an idle kernel then logged "KeyboardInterrupt caught"."""
    import asyncio
    import os
    import signal

    from helpers import kernels

    async def go():
        km = kernels.IPCKernelManager(kernel_name="python3")
        signals, real = [], km._async_signal_kernel

        async def spy(signum):
            signals.append((signum, km.shutting_down))
            await real(signum)
        km._async_signal_kernel = spy
        await km.start_kernel()
        assert km.transport == "ipc" and os.path.isdir(km._ipc_dir)
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        await km.interrupt_kernel()  # an interrupt while the kernel runs still goes out
        kc.stop_channels()
        await km.shutdown_kernel()
        return signals, km._ipc_dir

    signals, folder = asyncio.run(go())
    assert signals == [(signal.SIGINT, False)], signals  # none at shutdown
    assert not os.path.exists(folder)


def test_ratings_with_paper_2_notebooks_point_at_analyse(tmp_path, no_kernel, capsys):
    (tmp_path / "r.csv").write_text("participant,layer,seed,arousal,valence\np1,conv2d0,0,10,50\n")
    (tmp_path / "p.csv").write_text("participant,attitude,self_esteem\np1,neutral,3\n")
    with pytest.raises(AssertionError, match="a kernel was started"):  # the README's old `--from 03`
        pipeline.run("smoke", start="03", check_inputs=False,
                     parameters={"RATINGS": str(tmp_path / "r.csv"), "PARTICIPANTS": str(tmp_path / "p.csv")})
    out = capsys.readouterr().out
    assert "only notebooks 03-04 read ratings; to analyse yours alone: python -m helpers.pipeline analyse" in out
    assert "RATINGS, PARTICIPANTS go to 03 only (04, 05, 06, 07, 08 do not declare them)" in out
