"""Notebook tier: run the whole chain with PROFILE="smoke" and check every registered output and every file read."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers import io, paths, pipeline, registry

pytestmark = pytest.mark.notebooks

# An IPython startup file for the notebooks' kernels: an audit hook (PEP 578) writes every file the kernel opens
# (and every file it renames into place) to $NA_READ_LOG. It only records; the notebooks run as they always do.
_READ_LOG = r"""
import os, sys
_path = os.environ.get("NA_READ_LOG")
if _path:
    _log = open(_path, "a", buffering=1)
    def _na_audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode = args[1] if isinstance(args[1], str) else "r"
            _log.write(("w" if any(c in mode for c in "wax+") else "r") + "\t" + os.path.abspath(os.fsdecode(args[0])) + "\n")
        elif event in ("os.rename", "os.replace"):
            _log.write("w\t" + os.path.abspath(os.fsdecode(args[1])) + "\n")
    sys.addaudithook(_na_audit)
"""


@pytest.fixture(scope="session")
def instrumented_run(tmp_path_factory):
    """Run every notebook once per session, recording the files each kernel reads and each notebook creates.

    Instrumented rather than parsed: helpers read files for the notebooks (``table.stimuli`` reads notebook 01's
    manifest), which no reading of the notebooks' code would see.
    """
    import papermill

    logs = tmp_path_factory.mktemp("reads")
    startup = logs / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-na-read-log.py").write_text(_READ_LOG)
    results = paths.results("smoke")
    real = papermill.execute_notebook
    created = {}

    def execute(src, dst, **kwargs):
        nb = Path(src).name
        before = {p for p in results.rglob("*") if p.is_file()}
        os.environ["NA_READ_LOG"] = str(logs / f"{nb}.log")
        try:
            return real(src, dst, **kwargs)
        finally:
            os.environ.pop("NA_READ_LOG", None)
            created[nb] = {p for p in results.rglob("*") if p.is_file()} - before

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(logs / "ipython"))
        mp.setattr(papermill, "execute_notebook", execute)
        try:
            pipeline.run("smoke")
            error = None
        except SystemExit as exc:
            error = str(exc)
    index = io.load_json(paths.build("smoke") / "index.json")
    return {"entries": {e["notebook"]: e for e in index["notebooks"]}, "error": error, "logs": logs, "created": created}


@pytest.fixture(scope="session")
def smoke_run(instrumented_run):
    """(index entries by notebook, the failure message or None) of the session's smoke chain."""
    return instrumented_run["entries"], instrumented_run["error"]


def reads_of_other_notebooks(run) -> dict[str, set[tuple[str, str]]]:
    """``{notebook: {(producer, file relative to results/smoke/)}}``: what each notebook read of another's outputs.

    Caches (``cache/``) are left out: notebooks 02, 05 and 08 share the feature cache, read it when it is there and
    never need it (a miss only costs time), so it is no input.
    """
    results = paths.results("smoke").resolve()
    producer = {p.resolve(): nb for nb, files in sorted(run["created"].items()) for p in files}
    out = {}
    for nb in run["created"]:
        log = run["logs"] / f"{nb}.log"
        lines = log.read_text().splitlines() if log.exists() else []
        reads = set()
        for line in lines:
            mode, path = line.split("\t", 1)
            p = Path(path).resolve()
            if mode != "r" or results not in p.parents or p not in producer or producer[p] == nb:
                continue
            rel = p.relative_to(results).as_posix()
            if not rel.startswith("cache/"):
                reads.add((producer[p], rel))
        out[nb] = reads
    return out


def _covers(declared, producer, rel) -> bool:
    """A declared input (producer, file) covers reads of that file and of the files in its folder."""
    return any(d[0] == producer and (rel == d[1] or ("/" in d[1] and rel.startswith(d[1].rsplit("/", 1)[0] + "/")))
               for d in declared)


def test_every_file_a_notebook_reads_of_another_is_a_declared_input(instrumented_run):
    """Each read of another notebook's output is in registry.INPUTS (required) or OPTIONAL_INPUTS, and every
    declared input is read: the pipeline's skip logic sees the real file graph."""
    assert instrumented_run["error"] is None, instrumented_run["error"]
    reads = reads_of_other_notebooks(instrumented_run)
    assert any(reads.values()), "no reads were recorded: the instrumentation did not run"
    for nb, got in sorted(reads.items()):
        declared = registry.INPUTS.get(nb, ()) + registry.OPTIONAL_INPUTS.get(nb, ())
        undeclared = sorted(r for r in got if not _covers(declared, *r))
        assert not undeclared, f"{nb} reads {undeclared}, which registry.INPUTS does not list"
        unread = [d[:2] for d in declared if not any(_covers([d], *r) for r in got)]
        assert not unread, f"{nb}: registry lists {unread} as inputs, but the smoke run did not read them"


@pytest.mark.parametrize("notebook", registry.notebooks())
def test_notebook_runs_in_smoke_profile(smoke_run, notebook):
    entries, error = smoke_run
    assert notebook in entries, f"{notebook} did not run (an earlier notebook failed: {error})"
    assert entries[notebook]["status"] == "ok", entries[notebook].get("error")


@pytest.mark.parametrize("item", registry.ITEMS, ids=[i.id for i in registry.ITEMS])
def test_registered_output_exists_after_smoke(smoke_run, item):
    entries, error = smoke_run
    assert entries.get(item.notebook, {}).get("status") == "ok", f"{item.notebook} failed: {error}"
    path = item.path("smoke")
    assert path.exists(), f"{item.id}: {item.notebook} did not write {path}"
    assert path.stat().st_size > 0
    if item.kind == "figure":
        assert path.with_suffix(".pdf").exists(), f"{item.id}: no PDF beside {path}"


def test_smoke_feature_table_has_no_failed_measure_group(smoke_run):
    """A measure group that raises on every image (the Aesthetics Toolbox group did, on the smoke profile's
    96-px images) still lets notebook 02 run, with those columns empty: catch that here."""
    import pandas as pd

    entries, error = smoke_run
    assert entries.get("02-image-features.ipynb", {}).get("status") == "ok", error
    feats = pd.read_parquet(paths.results("smoke") / "features.parquet")
    errors = feats["error"].fillna("").astype(str) if "error" in feats else pd.Series([], dtype=str)
    assert not errors.str.len().any(), errors[errors.str.len() > 0].head(3).tolist()
    assert (feats["status"] == "ok").all()
    empty = [c for c in feats.columns if feats[c].isna().all() and c not in ("error", "fourier_slope_mather")]
    assert not empty, f"columns empty for every image: {empty}"


# --- what a reader of an executed notebook sees (issue 24, section 4) -----------------------------------------
_TQDM_FALLBACK = re.compile(r"\d+%\|")  # tqdm's text bar ("  0%|          | 0/144"), frozen in a saved notebook


def _absolute_markers() -> list[str]:
    """Strings that only a machine-specific absolute path contains: the repository, the home folder, the test
    session's folders (where a user's NA_* folders would be), and a pathlib repr."""
    marks = {str(paths.root().resolve()) + "/", str(Path.home().resolve()) + "/", "PosixPath(", "WindowsPath("}
    marks |= {str(Path(os.environ[v]).resolve()) for v in paths.DISPLAY_VARS if os.environ.get(v)}
    return sorted(marks)


def output_problems(nb_path) -> list[str]:
    """Everything in an executed notebook's outputs that a reader should not see, one line each.

    Tracebacks; anything on stderr (warnings, kernel noise); machine-specific absolute paths; tqdm's text
    fallback of a widget bar; the same image shown twice.
    """
    import hashlib

    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    marks, seen, problems = _absolute_markers(), {}, []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for n, cell in enumerate(code_cells, 1):
        where = f"code cell {n} ({cell.source.splitlines()[0][:60] if cell.source else ''!r})"
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                problems.append(f"{where}: traceback {out.get('ename')}: {str(out.get('evalue'))[:120]}")
                continue
            if kind == "stream":
                texts = [out.get("text", "")]
                if out.get("name") == "stderr":
                    problems.append(f"{where}: stderr {out.get('text', '')[:160]!r}")
            else:
                data = out.get("data", {})
                texts = [v if isinstance(v, str) else "".join(v) for k, v in data.items() if k.startswith("text/")]
                for k, v in data.items():
                    if k.startswith("image/"):
                        digest = hashlib.sha1(("".join(v) if isinstance(v, list) else str(v)).encode()).hexdigest()
                        if digest in seen:
                            problems.append(f"{where}: the image of {seen[digest]} is shown again")
                        seen.setdefault(digest, where)
            for text in texts:
                problems += [f"{where}: absolute path {m!r} in {text[max(0, text.find(m) - 40):text.find(m) + 80]!r}"
                             for m in marks if m in text]
                if _TQDM_FALLBACK.search(text) or "\r" in text:
                    problems.append(f"{where}: a progress bar's text fallback {text[:80]!r}")
    return problems


@pytest.mark.parametrize("notebook", registry.notebooks())
def test_executed_notebook_shows_no_traceback_warning_path_or_duplicate(smoke_run, notebook):
    entries, error = smoke_run
    assert entries.get(notebook, {}).get("status") == "ok", f"{notebook} did not run: {error}"
    problems = output_problems(paths.build("smoke") / notebook)
    assert not problems, f"{notebook}:\n" + "\n".join(problems)


def test_the_output_check_catches_what_it_looks_for(tmp_path):
    """The checker above, on a notebook made to have every problem once."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    img = {"image/png": "iVBORw0KGgo="}
    nb.cells = [nbformat.v4.new_code_cell("a", outputs=[
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"PosixPath('{paths.root()}/x')"}, execution_count=1),
        nbformat.v4.new_output("stream", name="stdout", text="dream:   0%|          | 0/144\n"),
        nbformat.v4.new_output("display_data", data=img), nbformat.v4.new_output("display_data", data=img)])]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    got = "\n".join(output_problems(tmp_path / "bad.ipynb"))
    for what in ("traceback ValueError", "stderr", "absolute path", "PosixPath(", "text fallback", "shown again"):
        assert what in got, what
    clean = nbformat.v4.new_notebook()
    clean.cells = [nbformat.v4.new_code_cell("b", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="dream: 144/144 img in 00:41\nsaved figures/smoke/a.png\n"),
        nbformat.v4.new_output("display_data", data=img)])]
    nbformat.write(clean, tmp_path / "clean.ipynb")
    assert output_problems(tmp_path / "clean.ipynb") == []
