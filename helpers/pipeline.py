"""Run the numbered notebooks in order with papermill, and list what they reproduce.

Usage::

    python -m helpers.pipeline list                       # every registered table and figure
    python -m helpers.pipeline run --profile smoke        # all notebooks, stand-in weights, tiny sizes
    python -m helpers.pipeline run --profile paper        # the papers' settings (pretrained weights)
    python -m helpers.pipeline run --only 03 04           # a subset, by number or name
    python -m helpers.pipeline run --from 05              # from a notebook on
    python -m helpers.pipeline run --paper 2 --keep-going # Paper 2 only; a failure does not stop unrelated notebooks
    python -m helpers.pipeline run -p SEED 1              # a notebook parameter (a name no notebook declares is refused)
    python -m helpers.pipeline params 03                  # a notebook's parameters, defaults and meaning
    python -m helpers.pipeline analyse r.csv p.csv        # notebooks 03-04 on your ratings (make analyse)
    python -m helpers.pipeline docs                       # refresh the table of figures in docs/figures.md
    python -m helpers.pipeline submit 01 --shards 24 --partition gpu --gpus-per-task 1 --dry-run  # SLURM (docs/cluster.md)

``--profile`` defaults to ``$NA_PROFILE``, else ``smoke``. Executed notebooks go to ``build/<profile>/``; ``build/<profile>/index.json`` and
``index.md`` record status, duration and the registered outputs of each notebook (paths
relative to the repository root). ``registry.INPUTS`` says which notebook reads which
other's files: a notebook whose input is missing is skipped with the reason, and with
``--keep-going`` a failure stops only the notebooks that need its outputs. A failure exits
non-zero naming the notebook and the failing cell, after a summary of the whole run.
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

from helpers import cluster, io, parameters as notebook_parameters, paths, profiles, registry


def select(names: list[str], *, only=None, start=None) -> list[str]:
    """Filter notebook file names by ``only`` (numbers or names) and ``start`` (first one).

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``tests/test_pipeline.py``.
    """
    def matches(nb, key):
        key = str(key)
        return nb == key or nb.startswith(key.zfill(2) + "-") or nb.removesuffix(".ipynb") == key

    out = list(names)
    if only:
        out = [nb for nb in out if any(matches(nb, k) for k in only)]
        unknown = [k for k in only if not any(matches(nb, k) for nb in names)]
        if unknown:
            raise SystemExit(f"--only: no notebook matches {unknown}; notebooks are {names}")
    if start is not None:
        idx = [i for i, nb in enumerate(out) if matches(nb, start)]
        if not idx:
            raise SystemExit(f"--from: no notebook matches {start!r}; notebooks are {names}")
        out = out[idx[0]:]
    return out


def _missing_inputs(nb: str, profile: str, status: dict, parameters: dict) -> str | None:
    """Why ``nb`` cannot run (an input notebook failed or was skipped, or its file is absent), or None."""
    for producer, rel, *replaced_by in registry.INPUTS.get(nb, ()):
        if replaced_by and parameters.get(replaced_by[0]):  # e.g. QUERIES= points notebook 07 elsewhere
            continue
        if status.get(producer) in ("failed", "skipped"):
            return f"needs {rel} from {producer}, which {status[producer]} in this run"
        path = paths.results(profile, create=False) / rel
        if not path.exists():
            return f"needs {paths.display(path)} from {producer}; run {producer[:2]} first"
    return None


def run(profile: str = "smoke", *, only=None, start=None, paper=None, parameters: dict | None = None,
        kernel: str = "python3", log_output: bool = False, keep_going: bool = False, check_inputs: bool = True) -> dict:
    """Execute the selected notebooks in order; return the index (also written to disk).

    Args:
        profile: "paper", "class" or "smoke".
        only, start: select notebooks (see :func:`select`); paper: "1" or "2" (``registry.PAPERS``).
        keep_going: after a failure, still run the notebooks that do not read the failed one's
            outputs (``registry.INPUTS``); the others are skipped with the reason.
        check_inputs: skip a notebook whose input files (``registry.INPUTS``) are absent.

    Ends with a summary (printed and in ``build/<profile>/index.md``): what ran, what failed and
    why, what was skipped because an input was missing.

    Raises:
        SystemExit: naming the notebook and cell, when a notebook fails (at once, or after the
            others with ``keep_going``).

    Used in: no notebook; by :func:`helpers.pipeline.main`; ``benchmarks/aesthetics.py``,
        ``benchmarks/artsearch.py``, ``benchmarks/biggan.py``, ``benchmarks/class_chain.py`` and 20 more.
    """
    profiles.check(profile)
    names = registry.notebooks()
    if paper is not None:
        if str(paper) not in registry.PAPERS:
            raise SystemExit(f"--paper: expected one of {sorted(registry.PAPERS)}, got {paper!r}")
        names = [nb for nb in names if nb in registry.PAPERS[str(paper)]]
    todo = select(names, only=only, start=start)
    routed = notebook_parameters.check(todo, dict(parameters or {}))  # before any kernel: SystemExit naming each problem
    note = notebook_parameters.not_declared_note(todo, routed, parameters or {})
    if note:
        print(f"-p: {note}", flush=True)
    if "RATINGS" in (parameters or {}) and any(nb[:2] > "04" for nb in todo):  # e.g. --from 03: all of Paper 2 too
        print("-p RATINGS: only notebooks 03-04 read ratings; to analyse yours alone: python -m helpers.pipeline "
              "analyse RATINGS PARTICIPANTS (make analyse)", flush=True)
    # imported here: papermill takes 2.8 s to import (measured), and `list` / `docs` / a refused -p do not need it
    import papermill as pm

    from helpers import kernels  # jupyter_client: only for a run
    out_dir = paths.build(profile)
    index = {"profile": profile, "notebooks": []}
    status: dict[str, str] = {}
    failures = []
    for n, nb in enumerate(todo, 1):
        src = paths.notebooks() / nb
        dst = out_dir / nb
        entry = {"notebook": nb, "output": paths.display(dst)}
        why = _missing_inputs(nb, profile, status, routed[nb]) if check_inputs else None
        if why is None and not check_inputs:
            bad = [p for p in registry.needs(nb) if status.get(p) in ("failed", "skipped")]
            why = f"needs outputs of {', '.join(bad)}, which did not run" if bad else None
        if why:
            print(f"[{n}/{len(todo)}] {nb}: SKIPPED ({why})", flush=True)
            entry.update(status="skipped", seconds=0.0, error=why)
            status[nb] = "skipped"
            index["notebooks"].append(entry)
            _write_index(index, out_dir)
            continue
        print(f"[{n}/{len(todo)}] {nb} (profile={profile}) ...", flush=True)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(src), str(dst), parameters={"PROFILE": profile, **routed[nb]},
                                kernel_name=kernel, cwd=str(paths.notebooks()), progress_bar=False,
                                log_output=log_output, kernel_manager_class=kernels.IPCKernelManager)
        except pm.PapermillExecutionError as exc:
            cell = _cell_position(dst, exc.cell_index)
            entry.update(status="failed", seconds=round(time.perf_counter() - t0, 1), cell=cell,
                         error=f"cell {cell}: {exc.ename}: {exc.evalue}")
            status[nb] = "failed"
            index["notebooks"].append(entry)
            _write_index(index, out_dir)
            msg = (f"FAILED {nb} at cell {cell} ({exc.ename}: {exc.evalue}); "
                   f"see the executed notebook {paths.display(dst)}")
            if exc.ename == "WeightsUnavailable":
                msg += "\n" + WEIGHTS_HINT.format(profile=profile)
            print(f"      {msg}", flush=True)
            failures.append(msg)
            if not keep_going:
                print(summary(index), flush=True)
                raise SystemExit(msg) from None
            continue
        entry.update(status="ok", seconds=round(time.perf_counter() - t0, 1))
        entry["products"] = {i.id: {"path": paths.display(i.path(profile)), "exists": i.path(profile).exists()}
                             for i in registry.for_notebook(nb)}
        missing = [k for k, v in entry["products"].items() if not v["exists"]]
        status[nb] = "ok"
        index["notebooks"].append(entry)
        _write_index(index, out_dir)
        note = f"; MISSING {missing}" if missing else ""
        print(f"      ok in {entry['seconds']:.1f} s, {len(entry['products']) - len(missing)} outputs{note}", flush=True)
    print(summary(index), flush=True)
    if failures:
        raise SystemExit("\n".join(failures))
    return index


WEIGHTS_HINT = ("No pretrained weights on this machine for the {profile} profile: let the notebook download them "
                "(the message above names each file and URL), or run the stand-ins: make smoke (--profile smoke; "
                "NA_PROFILE=smoke for make lab).")


def _cell_position(executed, cell_index: int) -> int:
    """The failing cell's position in the notebook as written (1-based, every cell counted, as Jupyter lists them).

    papermill's ``cell_index`` counts the executed copy, which holds one more cell (the injected parameters),
    and its ``exec_count`` counts only the cells run so far.
    """
    import nbformat

    try:
        cells = nbformat.read(str(executed), as_version=4).cells
    except (OSError, ValueError):
        return cell_index + 1
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:cell_index])
    return cell_index - injected + 1


def _first_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return (lines[0] if lines else "") + more


def analyse(ratings_file, participants_file="", profile: str | None = None, **kwargs) -> dict:
    """Run notebooks 03 and 04 on real ratings (``make analyse RATINGS=... PARTICIPANTS=...``).

    Checks first that notebooks 01 and 02 have made their outputs at ``profile`` (the stimuli and their
    features: ``registry.INPUTS``), and says which command makes them if not; then runs ``--only 03 04``
    with ``RATINGS`` and ``PARTICIPANTS`` (both files are checked before a kernel starts).

    Used in: no notebook; by :func:`helpers.pipeline.main` (``make analyse``); ``tests/test_pipeline.py``.
    """
    profile = profile or profiles.default(cli=True)
    profiles.check(profile)
    ours = ("03-ratings-statistics.ipynb", "04-layer-response-figures.ipynb")
    missing = sorted({(producer, rel) for nb in ours for producer, rel, *_ in registry.INPUTS.get(nb, ())
                      if producer not in ours and not (paths.results(profile, create=False) / rel).exists()})
    if missing:
        which = sorted({producer[:2] for producer, _ in missing})
        files = ", ".join(f"{paths.display(paths.results(profile, create=False) / rel)} (from {producer[:2]})"
                          for producer, rel in missing)
        raise SystemExit(f"analyse: notebooks 03-04 read the stimuli and features of notebooks 01-02 at profile "
                         f"{profile}, and {files} {'is' if len(missing) == 1 else 'are'} missing. Make them first: "
                         f"python -m helpers.pipeline run --profile {profile} --only {' '.join(which)}"
                         f" (make {'class' if profile == 'class' else 'paper1' if profile == 'paper' else 'smoke'} "
                         f"makes them too), or pass the PROFILE whose outputs you have")
    params = {"RATINGS": str(ratings_file), "PARTICIPANTS": str(participants_file or "")}
    return run(profile, only=["03", "04"], parameters=params, **kwargs)


def summary(index: dict) -> str:
    """What ran, what failed and why, and what was skipped, as a few printable lines (one per notebook).

    Used in: no notebook; by :func:`helpers.pipeline.run`; ``tests/test_study_stats.py``.
    """
    by = {s: [e for e in index["notebooks"] if e["status"] == s] for s in ("ok", "failed", "skipped")}
    lines = [f"Summary (profile {index['profile']}): {len(by['ok'])} ran, {len(by['failed'])} failed, "
             f"{len(by['skipped'])} skipped"]
    lines += [f"  ok       {e['notebook']} ({e['seconds']:.1f} s)" for e in by["ok"]]
    lines += [f"  FAILED   {e['notebook']}: {_first_line(e['error'])}" for e in by["failed"]]
    lines += [f"  skipped  {e['notebook']}: {e['error']}" for e in by["skipped"]]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _write_index(index: dict, out_dir: Path) -> None:
    """index.json (every field, whole error messages) and index.md: one table row per notebook, an error as its
    first line with a link to the executed notebook, which holds the traceback."""
    io.save_json(index, out_dir / "index.json")
    lines = [f"# Pipeline run, profile `{index['profile']}`", "", "| notebook | status | seconds | outputs |", "|---|---|---|---|"]
    for e in index["notebooks"]:
        prods = "<br>".join(f"{k}: `{v['path']}`" + ("" if v["exists"] else " (missing)") for k, v in e.get("products", {}).items())
        status = e["status"]
        if e["status"] == "failed":
            status += f": {_md_cell(_first_line(e['error']))} ([traceback]({e['notebook']}))"
        elif e.get("error"):
            status += f": {_md_cell(_first_line(e['error']))}"
        lines.append(f"| [{e['notebook']}]({e['notebook']}) | {status} | {e['seconds']} | {_md_cell(prods)} |")
    lines += ["", "```", summary(index), "```"]
    io.write_bytes(out_dir / "index.md", ("\n".join(lines) + "\n").encode())


def list_items(stream=None) -> None:
    """Print the registry, one line per item: id, notebook, output path.

    Used in: no notebook; by :func:`helpers.pipeline.main`.
    """
    stream = stream or sys.stdout
    wid = max(len(i.id) for i in registry.ITEMS)
    wnb = max(len(i.notebook) for i in registry.ITEMS)
    for i in registry.ITEMS:
        folder = "figures" if i.kind == "figure" else "results"
        print(f"{i.id:<{wid}}  {i.notebook:<{wnb}}  {folder}/<profile>/{i.output}", file=stream)


def list_parameters(notebook: str, profile: str | None = None, stream=None) -> None:
    """Print a notebook's parameters: name, default (and the profile's value for a ``None`` default), comment.

    Used in: no notebook; by :func:`helpers.pipeline.main` (``pipeline params 03``).
    """
    stream = stream or sys.stdout
    [nb] = select(registry.notebooks(), only=[notebook])
    params = notebook_parameters.declared(nb)
    table = profiles.NOTEBOOKS.get(nb[:2], {})
    rows = []
    for p in params.values():
        default = p.source
        key = notebook_parameters.setting(p.name)
        if profile and p.literal and p.value is None and key in table:
            default += f" -> {table[key][profile]!r}"
        rows.append((p.name, default, p.help))
    wn = max(len(r[0]) for r in rows)
    rows = [(n, d if len(d) <= 40 else d[:37] + "...", t) for n, d, t in rows]
    wd = max(len(r[1]) for r in rows)
    print(f"{nb}: parameters (python -m helpers.pipeline run --only {nb[:2]} -p NAME VALUE); "
          f"usually only PROFILE matters", file=stream)
    for name, default, text in rows:
        print(f"  {name:<{wn}}  {default:<{wd}}  {text}", file=stream)


TABLE_START = "<!-- registry:start (generated by `python -m helpers.pipeline docs`) -->"
TABLE_END = "<!-- registry:end -->"


def update_figure_table(path=None) -> bool:
    """Rewrite the registry table between the markers of ``docs/figures.md``; return True when it changed.

    Used in: no notebook; by :func:`helpers.pipeline.main`; ``tests/test_pipeline.py``.
    """
    path = Path(path or paths.root() / "docs" / "figures.md")
    text = path.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{path}: markers {TABLE_START!r} / {TABLE_END!r} not found")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = f"{head}{TABLE_START}\n{registry.markdown_table()}\n{TABLE_END}{tail}"
    if new != text:
        io.write_bytes(path, new.encode())
    return new != text


def submit(args) -> dict:
    """``python -m helpers.pipeline submit 01 --profile paper --shards 24 ...``: a notebook's long job on SLURM.

    An array job of shards, then a job that runs the notebook (:mod:`helpers.cluster`; ``docs/cluster.md``).
    Notes when the notebook reads another notebook's outputs that are not there yet.

    Used in: no notebook; by :func:`helpers.pipeline.main`; ``tests/test_slurm.py``.
    """
    key = cluster.job_key(args.notebook)
    why = _missing_inputs(cluster.JOBS[key]["notebook"], args.profile, {}, cluster._parse_params(args.param))
    if why:
        print(f"note: notebook {key} {why}; its job runs it anyway (--no-check-inputs: smoke falls back to demo "
              "inputs, other profiles stop with the notebook's error)")
    return cluster.submit_from_args(args)


def main(argv=None) -> int:
    """``python -m helpers.pipeline run|analyse|params|list|docs``: parse the command line and run it; returns the exit status.

    Used in: the command line (``python -m helpers.pipeline``, ``make figures|smoke|class|list``).
    """
    try:
        default_profile, bad_env = profiles.default(cli=True), None
    except ValueError as exc:  # a bad NA_PROFILE: one line for `run`, not a traceback
        default_profile, bad_env = None, str(exc)
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="print every registered table and figure")
    sub.add_parser("docs", help="refresh the table of figures in docs/figures.md")
    pp = sub.add_parser("params", help="list a notebook's parameters (names for -p), their defaults and meaning")
    pp.add_argument("notebook", help="notebook number or name, e.g. 03")
    pp.add_argument("--profile", choices=list(profiles.PROFILES), help="also show this profile's value of each None")
    a = sub.add_parser("analyse", help="notebooks 03-04 on your ratings (after 01-02 at the same profile)")
    a.add_argument("ratings", help="ratings file (.csv or .parquet; format: helpers/study/ratings.py)")
    a.add_argument("participants", nargs="?", default="", help="participants table (attitude, self_esteem)")
    a.add_argument("--profile", choices=list(profiles.PROFILES), default=default_profile,
                   help="the profile whose notebook 01-02 outputs to use (default: $NA_PROFILE, else smoke)")
    r = sub.add_parser("run", help="execute the notebooks with papermill")
    r.add_argument("--profile", choices=list(profiles.PROFILES), default=default_profile,
                   help="paper: the papers' settings (hours); class: pretrained weights, small sizes (minutes); "
                        "smoke: stand-in weights, tiny (no download). Default: $NA_PROFILE, else smoke "
                        f"(here: {default_profile or bad_env})")
    r.add_argument("--paper", choices=sorted(registry.PAPERS), help="only the notebooks of Paper 1 or Paper 2")
    r.add_argument("--only", nargs="+", help="notebook numbers or names to run")
    r.add_argument("--keep-going", action="store_true",
                   help="after a failure, still run the notebooks that do not read its outputs (make figures does)")
    r.add_argument("--no-check-inputs", dest="check_inputs", action="store_false",
                   help="run a notebook even when an input file from an earlier notebook is absent")
    r.add_argument("--from", dest="start", help="first notebook to run (number or name)")
    r.add_argument("--log-output", action="store_true", help="echo cell output while running")
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a notebook parameter (value parsed as a Python literal when possible); a name no selected "
                        "notebook declares is refused; `params 03` lists a notebook's names")
    cluster.add_submit_arguments(sub.add_parser("submit", help="run a notebook's long job as SLURM array jobs"))
    args = parser.parse_args(argv)
    if args.cmd == "submit":
        submit(args)
        return 0
    if args.cmd == "list":
        list_items()
        return 0
    if args.cmd == "params":
        list_parameters(args.notebook, args.profile)
        return 0
    if args.cmd == "docs":
        print("docs/figures.md updated" if update_figure_table() else "docs/figures.md already up to date")
        return 0
    if args.profile is None:
        raise SystemExit(f"python -m helpers.pipeline {args.cmd}: {bad_env}; or pass --profile")
    if args.cmd == "analyse":
        analyse(args.ratings, args.participants, args.profile)
        return 0
    params = {}
    for k, v in args.param:
        try:
            params[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            params[k] = v
    run(args.profile, only=args.only, start=args.start, paper=args.paper, parameters=params, log_output=args.log_output,
        keep_going=args.keep_going, check_inputs=args.check_inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
